#!/bin/sh
# The host's data volume (an EBS volume of its own, kept when the instance is replaced), mounted where Docker keeps
# its named volumes, so every role's data lives on it. Run as root by the readiness step on every run, safe to run
# again: the first run on a volume formats it, every later one only mounts it and grows its file system to the
# volume's size. A host that ran before it had a data volume moves its Docker volumes onto it once.
# The program prepends DATA_VOLUME_ID (vol-...). The tests set DATA_VOLUME_DEVICE, DOCKER_VOLUMES_DIR, FSTAB,
# SYSTEMD_DIR and DEVICE_WAIT_SECONDS.
set -eu
: "${DATA_VOLUME_ID:?}"
# Nitro instances show an EBS volume as an NVMe device whose serial is the volume id without its dash.
device=${DATA_VOLUME_DEVICE:-/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$(printf '%s' "$DATA_VOLUME_ID" | tr -d -)}
target=${DOCKER_VOLUMES_DIR:-/var/lib/docker/volumes}
fstab=${FSTAB:-/etc/fstab}
systemd_dir=${SYSTEMD_DIR:-/etc/systemd/system}
wait_seconds=${DEVICE_WAIT_SECONDS:-300}

fail() {
  echo "data volume $DATA_VOLUME_ID ($device): $1" >&2
  exit 1
}

# The attachment completes before this runs; the device node may still take a moment to appear.
waited=0
until [ -e "$device" ]; do
  [ "$waited" -lt "$wait_seconds" ] || fail "no such device after ${waited}s"
  sleep 5
  waited=$((waited + 5))
done

# Formatted only when the low-level probe finds no signature at all (blkid exit 2): a volume that holds anything,
# or that cannot be read, is never formatted.
rc=0
fstype=$(blkid -p -s TYPE -o value "$device") || rc=$?
if [ "$rc" -eq 2 ]; then
  mkfs.ext4 -q -L platform-data "$device"
  fstype=ext4
elif [ "$rc" -ne 0 ]; then
  fail "blkid failed (exit $rc)"
fi
[ "$fstype" = ext4 ] || fail "holds a $fstype file system, not the ext4 this platform makes: not touching it"
uuid=$(blkid -p -s UUID -o value "$device")

# True when the volume has grown (dataVolumeGiB raised) beyond its file system by more than a few blocks.
grown() {
  fs_bytes=$(dumpe2fs -h "$device" 2>/dev/null | awk -F: '/^Block count/ { count = $2 } /^Block size/ { size = $2 } END { print count * size }')
  [ "$(blockdev --getsize64 "$device")" -gt $((fs_bytes + 1048576)) ]
}

# Every boot mounts it before Docker starts; without it Docker does not start at all, rather than run on an empty
# directory of the root volume.
{ awk -v target="$target" '$2 != target' "$fstab"; printf 'UUID=%s %s ext4 defaults,nofail,x-systemd.device-timeout=5min 0 2\n' "$uuid" "$target"; } > "$fstab.platform-new"
mv "$fstab.platform-new" "$fstab"
mkdir -p "$systemd_dir/docker.service.d"
# TimeoutStopSec: systemd would kill Docker after 90 s, before the 120 s Elasticsearch and Kafka get to stop cleanly
# (dockerd waits for the longest stop timeout of its containers, plus 5 s).
cat > "$systemd_dir/docker.service.d/data-volume.conf" <<UNIT
[Unit]
RequiresMountsFor=$target
[Service]
TimeoutStopSec=180
UNIT
systemctl daemon-reload

if ! mountpoint -q "$target"; then
  # Docker must not hold the directory while it moves: its containers stop cleanly and their restart policies bring
  # them back when it starts again.
  systemctl stop docker.socket docker.service
  mkdir -p "$target"
  if grown; then
    e2fsck -f -p "$device" >&2 || fail "e2fsck found errors it could not fix before growing the file system"
    out=$(resize2fs "$device" 2>&1) || fail "resize2fs failed: $out"
  fi
  staging=$(mktemp -d)
  mount "$device" "$staging"
  if [ -z "$(find "$staging" -mindepth 1 -maxdepth 1 ! -name lost+found)" ] && [ -n "$(find "$target" -mindepth 1 -maxdepth 1)" ]; then
    echo "data volume $DATA_VOLUME_ID: moving the Docker volumes of $target onto it" >&2
    cp -a "$target/." "$staging/"
    sync
    find "$target" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  fi
  umount "$staging"
  rmdir "$staging"
  mount -T "$fstab" "$target"
  systemctl start docker.service
fi
# A volume grown in config while mounted grows online (ext4).
if grown; then
  out=$(resize2fs "$device" 2>&1) || fail "resize2fs failed: $out"
fi
