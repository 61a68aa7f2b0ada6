// The readiness step's real script, run here with the host's commands stood in for: what it does when cloud-init
// succeeds, hangs or fails, and when the package archive fails a few times or for good.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readinessCommand } from "../../components/targets/aws/ec2-host";
import { HOST_PACKAGES } from "../../components/targets/aws/user-data";
import { platformHostFile } from "../../components/targets/platform-host";
import { runTool } from "../helpers/tools";

describe("EC2 host readiness (platform-host/ec2-ready.sh)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-ready-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const log = path.join(dir, "calls.log");
    stub("cloud-init", [
      `echo "cloud-init $*" >> '${log}'`,
      'case "$*" in',
      '  "status --wait") case "$CLOUD_INIT" in hang) exec /bin/sleep 60;; fail) exit 1;; warn) exit 2;; esac;;',
      '  "status --long") echo "status: $CLOUD_INIT";;',
      "esac",
    ].join("\n"));
    // Like sudo, takes VAR=value words before the command.
    stub("sudo", 'exec env "$@"');
    // Fails the first APT_FAILURES installs.
    stub("apt-get", [
      `echo "apt-get $*" >> '${log}'`,
      `count=$(grep -c '^apt-get install' '${log}')`,
      'case "$*" in install*) [ "$count" -gt "${APT_FAILURES:-0}" ] || { echo "E: Failed to fetch" >&2; exit 100; };; esac',
    ].join("\n"));
    for (const name of ["systemctl", "install", "sleep", "docker", "chmod"]) stub(name, `echo "${name} $*" >> '${log}'`);
    // The data volume (test/integration/data-volume.test.ts runs its script on a real device): formatted and mounted.
    stub("blkid", 'case "$*" in *TYPE*) echo ext4;; *UUID*) echo 0b9e3d1c-1111-2222-3333-444455556666;; esac');
    stub("mountpoint", `echo "mountpoint $*" >> '${log}'`);
    stub("blockdev", "echo 0");
    stub("dumpe2fs", "true");
    fs.writeFileSync(path.join(dir, "disk"), "");
    fs.writeFileSync(path.join(dir, "fstab"), "LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n");
    // What the script writes as root goes to the test folder, named after the target file.
    stub("tee", `echo "tee $*" >> '${log}'; cat > '${dir}/written-'"$(basename "$1")"`);
    fs.writeFileSync(path.join(dir, "cloud-init-output.log"), "Setting up docker.io ...\nE: Unable to fetch some archives\n");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const ready = (env: Record<string, string>) => {
    const result = runTool("sh", ["-c", readinessCommand("logging", "/opt/aws-log-platform", "vol-0123456789abcdef0")], "dash", {
      env: {
        ...process.env,
        DATA_VOLUME_DEVICE: path.join(dir, "disk"),
        FSTAB: path.join(dir, "fstab"),
        SYSTEMD_DIR: path.join(dir, "systemd"),
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        CLOUD_INIT_OUTPUT_LOG: path.join(dir, "cloud-init-output.log"),
        CLOUD_INIT_WAIT_SECONDS: "2",
        ...env,
      },
    });
    const calls = fs.readFileSync(path.join(dir, "calls.log"), "utf8");
    return { ...result, calls };
  };

  it("a healthy first boot: installs nothing new, starts the host services, owns the bundle root", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "ok" });
    assert.equal(status, 0, stderr);
    assert.match(calls, new RegExp(`^apt-get install --no-upgrade -y -q -o DPkg::Lock::Timeout=300 ${HOST_PACKAGES.join(" ")}$`, "m"));
    assert.doesNotMatch(calls, /apt-get update/);
    assert.match(calls, /^systemctl enable --now docker\.service prometheus-node-exporter\.service$/m);
    assert.match(calls, /^install -d -o ubuntu -g ubuntu -m 0755 \/opt\/aws-log-platform$/m);
    assert.match(calls, /^docker compose version$/m);
  });

  it("mounts the data volume where Docker keeps its volumes, at every boot before Docker, before the host services start", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "ok" });
    assert.equal(status, 0, stderr);
    assert.ok(calls.indexOf("mountpoint") >= 0 && calls.indexOf("mountpoint") < calls.indexOf("systemctl enable --now docker.service"), calls);
    assert.match(fs.readFileSync(path.join(dir, "fstab"), "utf8"),
      /^LABEL=cloudimg-rootfs \/ ext4 discard,errors=remount-ro 0 1\nUUID=0b9e3d1c-1111-2222-3333-444455556666 \/var\/lib\/docker\/volumes ext4 defaults,nofail,x-systemd.device-timeout=5min 0 2\n$/);
    assert.match(fs.readFileSync(path.join(dir, "systemd", "docker.service.d", "data-volume.conf"), "utf8"), /^RequiresMountsFor=\/var\/lib\/docker\/volumes$/m);
  });

  it("a data volume that never appears: fails naming it and the device, starts nothing", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "ok", DATA_VOLUME_DEVICE: path.join(dir, "no-such-disk"), DEVICE_WAIT_SECONDS: "0" });
    assert.equal(status, 1);
    assert.match(stderr, /data volume vol-0123456789abcdef0 \(.*no-such-disk\): no such device after 0s/);
    assert.match(stderr, /logging host \(.+\): the data volume vol-0123456789abcdef0 could not be mounted/);
    assert.doesNotMatch(calls, /systemctl enable|docker compose/);
  });

  it("installs the container health probe and runs it every 30 s with a systemd timer", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "ok" });
    assert.equal(status, 0, stderr);
    assert.equal(fs.readFileSync(path.join(dir, "written-platform-container-health"), "utf8").trim(), platformHostFile("container-health.sh").trim());
    assert.match(calls, /^chmod 0755 \/usr\/local\/libexec\/platform-container-health$/m);
    assert.match(fs.readFileSync(path.join(dir, "written-platform-container-health.service"), "utf8"), /^ExecStart=\/usr\/local\/libexec\/platform-container-health$/m);
    assert.match(fs.readFileSync(path.join(dir, "written-platform-container-health.timer"), "utf8"), /^OnUnitActiveSec=30s$/m);
    assert.match(calls, /^systemctl enable --now platform-container-health\.timer$/m);
  });

  it("cloud-init's recoverable warnings (exit 2) count as done", () => {
    const { status, stderr } = ready({ CLOUD_INIT: "warn" });
    assert.equal(status, 0, stderr);
    assert.equal(stderr, "");
  });

  it("cloud-init still running: gives up after the bound, naming the host, the status and the output log", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "hang" });
    assert.equal(status, 1);
    assert.match(stderr, /^logging host \(.+\): cloud-init is still running after 2s$/m);
    assert.match(stderr, /status: hang/);
    assert.match(stderr, /E: Unable to fetch some archives/);
    assert.doesNotMatch(calls, /apt-get/, "must not fight a running cloud-init for the package lock");
  });

  it("cloud-init failed on a mirror hiccup: reports it, retries the install until it works, and the host is ready", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "fail", APT_FAILURES: "2" });
    assert.equal(status, 0, stderr);
    assert.match(stderr, /^logging host \(.+\): cloud-init failed \(exit 1\); installing the host's packages again$/m);
    assert.equal(calls.match(/^apt-get install/gm)?.length, 3);
    assert.equal(calls.match(/^apt-get update/gm)?.length, 2);
    assert.match(calls, /^sleep 10$/m);
    assert.match(calls, /^sleep 20$/m);
    assert.match(calls, /^systemctl enable --now/m);
  });

  it("an archive that keeps failing: stops after the attempts with the reason, never starts anything", () => {
    const { status, stderr, calls } = ready({ CLOUD_INIT: "fail", APT_FAILURES: "99" });
    assert.equal(status, 1);
    assert.match(stderr, new RegExp(`installing ${HOST_PACKAGES.join(" ")} failed 5 times`));
    assert.equal(calls.match(/^apt-get install/gm)?.length, 5);
    assert.doesNotMatch(calls, /systemctl|docker compose/);
  });
});
