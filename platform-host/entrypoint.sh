#!/bin/sh
# Starts a local platform host: SSH with the deploy's key, node_exporter with the container health probe, then the
# command (the Docker engine).
# HOST_ROLE and SSH_PUBLIC_KEY come from the program; SSH_CONFIG_DIR, SSH_PORT and SSH_LISTEN_ADDRESS let a test run
# the same script outside a container.
set -eu
: "${HOST_ROLE:?}" "${SSH_PUBLIC_KEY:?}"
ssh_user=${SSH_USER:-ubuntu}
ssh_dir=${SSH_CONFIG_DIR:-/etc/ssh}

# Written at every start: a new key in the stack takes effect with the container's next start.
mkdir -p "$ssh_dir/authorized_keys"
printf '%s\n' "$SSH_PUBLIC_KEY" > "$ssh_dir/authorized_keys/$ssh_user"
chmod 0644 "$ssh_dir/authorized_keys/$ssh_user"
[ -f "$ssh_dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/ssh_host_ed25519_key"

# vm.max_map_count is the kernel's, not the container's: a privileged host container can set it for Elasticsearch.
if [ "$HOST_ROLE" = logging ] && ! sysctl -w vm.max_map_count=262144 >/dev/null; then
  echo "warning: could not set vm.max_map_count; Elasticsearch needs it: run 'sudo sysctl -w vm.max_map_count=262144' on the Docker host" >&2
fi

mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$ssh_dir/sshd_config" -o "ListenAddress=${SSH_LISTEN_ADDRESS:-0.0.0.0}:${SSH_PORT:-22}" &
textfiles=/var/lib/prometheus/node-exporter
mkdir -p "$textfiles"
node_exporter --web.listen-address=:9100 --collector.textfile.directory="$textfiles" >/dev/null 2>&1 &
# The probe needs the engine, which starts last: until then it fails quietly and tries again.
(while :; do TEXTFILE_DIR="$textfiles" /usr/local/libexec/platform-container-health 2>/dev/null || true; sleep 30; done) &
exec "$@"
