#!/bin/sh
# Writes, for node_exporter's textfile collector, each compose container's health and restart count as Docker knows
# them. Docker's engine metrics count failed checks and starts per engine, not per container; this names the
# container by its compose service, as the log pipeline does. Run every 30 s by the host (timer or loop).
set -eu
dir=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
ids=$(docker ps --all --quiet)
# One line per compose container: service|name|health|restarts ('|' appears in none of them).
# shellcheck disable=SC2086 # one word per container id
rows=$([ -z "$ids" ] || docker inspect --format \
  '{{index .Config.Labels "com.docker.compose.service"}}|{{.Name}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.RestartCount}}' \
  $ids | grep -v '^|' || true)

# Prints one metric family: its samples must stay together in the exposition format.
family() {
  printf '%s\n' "$rows" | while IFS='|' read -r service name health restarts; do
    [ -n "$service" ] || continue
    case "$1" in
      unhealthy) value=$([ "$health" = unhealthy ] && echo 1 || echo 0) ;;
      restarts) value=$restarts ;;
    esac
    echo "$2{service=\"$service\",container=\"${name#/}\"} $value"
  done
}

tmp=$(mktemp "$dir/.containers.prom.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# HELP platform_container_unhealthy 1 while Docker reports the container's healthcheck as unhealthy, else 0."
  echo "# TYPE platform_container_unhealthy gauge"
  family unhealthy platform_container_unhealthy
  echo "# HELP platform_container_restarts_total Restarts of the container by its restart policy (Docker's RestartCount)."
  echo "# TYPE platform_container_restarts_total counter"
  family restarts platform_container_restarts_total
} > "$tmp"
chmod 0644 "$tmp"
# A rename: node_exporter never reads a half-written file.
mv "$tmp" "$dir/containers.prom"
trap - EXIT
