#!/bin/sh
# Writes, for node_exporter's textfile collector, whether Docker reports each running container's healthcheck as
# unhealthy. Docker's engine metrics count failed checks per engine, and cAdvisor knows nothing of health: this names
# the container, by its compose service like the log pipeline does. Run every 30 s by the host (timer or loop).
set -eu
dir=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
tmp=$(mktemp "$dir/.containers.prom.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# HELP platform_container_unhealthy 1 while Docker reports the container's healthcheck as unhealthy, else 0."
  echo "# TYPE platform_container_unhealthy gauge"
  # '|' appears in no service, container name or status; a whitespace separator would swallow an empty service.
  docker ps --format '{{.Label "com.docker.compose.service"}}|{{.Names}}|{{.Status}}' |
    while IFS='|' read -r service name status; do
      [ -n "$service" ] || continue
      case "$status" in *"(unhealthy)"*) unhealthy=1 ;; *) unhealthy=0 ;; esac
      printf 'platform_container_unhealthy{service="%s",container="%s"} %s\n' "$service" "$name" "$unhealthy"
    done
} > "$tmp"
chmod 0644 "$tmp"
# A rename: node_exporter never reads a half-written file.
mv "$tmp" "$dir/containers.prom"
trap - EXIT
