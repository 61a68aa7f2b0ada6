#!/bin/sh
# Readiness of a local platform host, run over SSH before any bundle step: its Docker engine answers. Safe to rerun.
# The program prepends HOST_ROLE, BUNDLE_ROOT and SSH_USER.
set -u
: "${HOST_ROLE:?}" "${BUNDLE_ROOT:?}" "${SSH_USER:?}"
wait_seconds=${ENGINE_WAIT_SECONDS:-120}

waited=0
until error=$(sudo docker info 2>&1 >/dev/null); do
  if [ "$waited" -ge "$wait_seconds" ]; then
    echo "$HOST_ROLE host ($(hostname)): its Docker engine did not answer within ${wait_seconds}s: $error" >&2
    echo "The engine's own log: docker logs <this host's container> on your machine." >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
sudo install -d -o "$SSH_USER" -g "$SSH_USER" -m 0755 "$BUNDLE_ROOT"
docker compose version >/dev/null
