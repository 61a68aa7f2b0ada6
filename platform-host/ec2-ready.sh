#!/bin/sh
# Readiness of a new or restarted host, run over SSH before any bundle step. Safe to run again at any time.
# The program prepends HOST_ROLE, HOST_PACKAGES, HOST_SERVICES, BUNDLE_ROOT, SSH_USER, CONTAINER_HEALTH_PROBE
# (the text of container-health.sh), DATA_VOLUME_ID and DATA_VOLUME_SCRIPT (the text of data-volume.sh).
set -u
: "${HOST_ROLE:?}" "${HOST_PACKAGES:?}" "${HOST_SERVICES:?}" "${BUNDLE_ROOT:?}" "${SSH_USER:?}" "${CONTAINER_HEALTH_PROBE:?}"
: "${DATA_VOLUME_ID:?}" "${DATA_VOLUME_SCRIPT:?}"
wait_seconds=${CLOUD_INIT_WAIT_SECONDS:-900}
output_log=${CLOUD_INIT_OUTPUT_LOG:-/var/log/cloud-init-output.log}
install_attempts=${PACKAGE_INSTALL_ATTEMPTS:-5}

report() {
  echo "$HOST_ROLE host ($(hostname)): $1" >&2
  cloud-init status --long >&2 || true
  echo "--- last lines of $output_log:" >&2
  tail -n 40 "$output_log" >&2 || true
}

# Exit 2 is a recoverable error (deprecated keys and the like): such a host is usable.
rc=0
timeout "$wait_seconds" cloud-init status --wait >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 124 ]; then
  report "cloud-init is still running after ${wait_seconds}s"
  exit 1
fi
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
  report "cloud-init failed (exit $rc); installing the host's packages again"
fi

# Converges what a failed first boot left out (an archive mirror hiccup). --no-upgrade: a no-op when everything is
# installed, so a rerun after a stop/start never upgrades Docker under running containers.
attempt=1
# shellcheck disable=SC2086 # one word per package
until sudo DEBIAN_FRONTEND=noninteractive apt-get install --no-upgrade -y -q -o DPkg::Lock::Timeout=300 $HOST_PACKAGES >/dev/null; do
  if [ "$attempt" -ge "$install_attempts" ]; then
    report "installing $HOST_PACKAGES failed $attempt times"
    exit 1
  fi
  sleep $((attempt * 10))
  attempt=$((attempt + 1))
  sudo apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null || true
done
# Before Docker runs anything of the bundle: its volumes live on the data volume.
if ! sudo DATA_VOLUME_ID="$DATA_VOLUME_ID" sh -c "$DATA_VOLUME_SCRIPT"; then
  report "the data volume $DATA_VOLUME_ID could not be mounted"
  exit 1
fi
# shellcheck disable=SC2086 # one word per unit
sudo systemctl enable --now $HOST_SERVICES
sudo install -d -o "$SSH_USER" -g "$SSH_USER" -m 0755 "$BUNDLE_ROOT"

# The container health probe for node_exporter, every 30 s; rewritten at each run, so a new probe arrives with a deploy.
printf '%s\n' "$CONTAINER_HEALTH_PROBE" | sudo tee /usr/local/libexec/platform-container-health >/dev/null
sudo chmod 0755 /usr/local/libexec/platform-container-health
sudo tee /etc/systemd/system/platform-container-health.service >/dev/null <<'UNIT'
[Unit]
Description=Docker container health for node_exporter's textfile collector
After=docker.service
[Service]
Type=oneshot
ExecStart=/usr/local/libexec/platform-container-health
UNIT
sudo tee /etc/systemd/system/platform-container-health.timer >/dev/null <<'UNIT'
[Unit]
Description=Docker container health every 30 s
[Timer]
OnBootSec=30s
OnUnitActiveSec=30s
AccuracySec=5s
[Install]
WantedBy=timers.target
UNIT
sudo systemctl daemon-reload
sudo systemctl enable --now platform-container-health.timer
docker compose version >/dev/null
