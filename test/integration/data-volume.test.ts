// The data volume's real script (platform-host/data-volume.sh) on a real block device: a loop device over a file in a
// temporary folder, formatted, mounted and grown by the real mkfs.ext4, mount and resize2fs. Only systemctl (Docker)
// is stood in for. Needs root and a free loop device, as the CI machine has.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { platformHostFile } from "../../components/targets/platform-host";

const VOLUME_ID = "vol-0123456789abcdef0";

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")}: ${result.error?.message ?? result.stderr}`);
  }
  return result.stdout.trim();
}

describe("the data volume on a real block device (platform-host/data-volume.sh)", function () {
  this.timeout(120_000);
  let dir: string;
  let image: string;
  let device: string;
  let target: string;

  before(function () {
    if (process.getuid?.() !== 0) assert.fail("these tests mount a loop device: run them as root (CI does)");
    const probe = spawnSync("losetup", ["--find"], { encoding: "utf8" });
    if (probe.status !== 0) assert.fail(`no free loop device (losetup --find: ${probe.stderr.trim() || probe.error?.message}): util-linux and /dev/loop* are needed`);
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "data-volume-"));
    image = path.join(dir, "volume.img");
    fs.writeFileSync(image, "");
    fs.truncateSync(image, 64 * 1024 * 1024);
    device = run("losetup", ["--find", "--show", image]);
    target = path.join(dir, "docker-volumes");
    fs.mkdirSync(target);
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "systemctl"), `#!/bin/sh\necho "systemctl $*" >> '${dir}/systemctl.log'\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "fstab"), "LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n");
  });

  afterEach(() => {
    spawnSync("umount", [target]);
    spawnSync("losetup", ["--detach", device]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const mountVolume = (env: Record<string, string> = {}) => {
    fs.rmSync(path.join(dir, "systemctl.log"), { force: true });
    const result = spawnSync("sh", ["-c", platformHostFile("data-volume.sh")], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        DATA_VOLUME_ID: VOLUME_ID,
        DATA_VOLUME_DEVICE: device,
        DOCKER_VOLUMES_DIR: target,
        FSTAB: path.join(dir, "fstab"),
        SYSTEMD_DIR: path.join(dir, "systemd"),
        DEVICE_WAIT_SECONDS: "0",
        ...env,
      },
    });
    const systemctl = fs.existsSync(path.join(dir, "systemctl.log")) ? fs.readFileSync(path.join(dir, "systemctl.log"), "utf8") : "";
    return { ...result, systemctl };
  };
  const mounted = () => spawnSync("mountpoint", ["-q", target]).status === 0;
  const sizeKiB = () => Number(run("df", ["--output=size", "-k", target]).split("\n")[1]);

  it("first run: formats the blank volume, mounts it with Docker stopped, and records it for every boot", () => {
    const { status, stderr, systemctl } = mountVolume();
    assert.equal(status, 0, stderr);
    assert.ok(mounted(), "mounted on the Docker volumes folder");
    assert.equal(run("blkid", ["-p", "-s", "TYPE", "-o", "value", device]), "ext4");
    const uuid = run("blkid", ["-p", "-s", "UUID", "-o", "value", device]);
    assert.match(fs.readFileSync(path.join(dir, "fstab"), "utf8"), new RegExp(`^UUID=${uuid} ${target} ext4 defaults,nofail,x-systemd\\.device-timeout=5min 0 2$`, "m"));
    assert.match(systemctl, /^systemctl stop docker\.socket docker\.service\nsystemctl start docker\.service$/m);
  });

  it("a later run (a reboot, a replaced instance): mounts what is there and never formats it again", () => {
    assert.equal(mountVolume().status, 0);
    fs.mkdirSync(path.join(target, "logging_es-data", "_data"), { recursive: true });
    fs.writeFileSync(path.join(target, "logging_es-data", "_data", "node.lock"), "the node's data");
    run("umount", [target]);

    const { status, stderr } = mountVolume();
    assert.equal(status, 0, stderr);
    assert.ok(mounted());
    assert.equal(fs.readFileSync(path.join(target, "logging_es-data", "_data", "node.lock"), "utf8"), "the node's data");
    assert.equal(fs.readFileSync(path.join(dir, "fstab"), "utf8").match(/docker-volumes/g)?.length, 1, "one fstab line, however many runs");
  });

  it("already mounted: leaves Docker running", () => {
    assert.equal(mountVolume().status, 0);
    const { status, stderr, systemctl } = mountVolume();
    assert.equal(status, 0, stderr);
    assert.doesNotMatch(systemctl, /stop|start/);
  });

  it("a host that ran before it had a data volume: its Docker volumes move onto the new volume", () => {
    fs.mkdirSync(path.join(target, "kafka_kafka-data", "_data"), { recursive: true });
    fs.writeFileSync(path.join(target, "metadata.db"), "volume labels");
    fs.writeFileSync(path.join(target, "kafka_kafka-data", "_data", "meta.properties"), "cluster.id=abc");
    const { status, stderr } = mountVolume();
    assert.equal(status, 0, stderr);
    assert.equal(fs.readFileSync(path.join(target, "kafka_kafka-data", "_data", "meta.properties"), "utf8"), "cluster.id=abc");
    assert.equal(fs.readFileSync(path.join(target, "metadata.db"), "utf8"), "volume labels");
    run("umount", [target]);
    assert.deepEqual(fs.readdirSync(target), [], "nothing left behind on the root volume");
  });

  // Grown while unmounted (this machine's kernel refuses the online resize2fs a running EC2 host does).
  it("a volume grown in config: the file system grows to it before it is mounted", () => {
    assert.equal(mountVolume().status, 0);
    const before = sizeKiB();
    run("umount", [target]);
    fs.truncateSync(image, 128 * 1024 * 1024);
    run("losetup", ["--set-capacity", device]);
    const { status, stderr } = mountVolume();
    assert.equal(status, 0, stderr);
    assert.ok(sizeKiB() > before * 1.8, `grown from ${before} KiB to ${sizeKiB()} KiB`);
  });

  it("a volume the size of its file system is not resized again", () => {
    assert.equal(mountVolume().status, 0);
    fs.writeFileSync(path.join(dir, "bin", "resize2fs"), "#!/bin/sh\necho resized >&2\nexit 1\n", { mode: 0o755 });
    const { status, stderr } = mountVolume();
    assert.equal(status, 0, stderr);
  });

  it("a volume holding anything else is never formatted: fails naming it", () => {
    run("mkswap", [device]);
    const { status, stderr } = mountVolume();
    assert.equal(status, 1);
    assert.match(stderr, new RegExp(`data volume ${VOLUME_ID} \\(${device}\\): holds a swap file system, not the ext4 this platform makes: not touching it`));
    assert.equal(run("blkid", ["-p", "-s", "TYPE", "-o", "value", device]), "swap");
    assert.ok(!mounted());
  });
});
