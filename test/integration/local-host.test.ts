// The local target's host image, checked here without a Docker engine: the Dockerfile's pins, the entrypoint run for
// real (sshd with a generated key on loopback, SFTP for the bundle copies), and the readiness script's paths.
import { strict as assert } from "assert";
import { spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { localReadinessCommand } from "../../components/targets/docker/docker-host";
import { PLATFORM_HOST_DIR } from "../../components/targets/platform-host";
import { runTool } from "../helpers/tools";
import { freePort, waitFor } from "../helpers/local-servers";

describe("local host image (platform-host/)", function () {
  this.timeout(60_000);

  describe("Dockerfile (no linter for it in Debian: a contract instead)", () => {
    const dockerfile = fs.readFileSync(path.join(PLATFORM_HOST_DIR, "Dockerfile"), "utf8");
    const instructions = dockerfile.split("\n").filter((line) => /^[A-Z]+\s/.test(line));

    it("builds on one base image pinned to an exact version", () => {
      const bases = instructions.filter((line) => line.startsWith("FROM "));
      assert.equal(bases.length, 1);
      assert.match(bases[0], /^FROM [a-z0-9./-]+:\d+\.\d+\.\d+[\w.-]*$/, `${bases[0]}: not an exact version`);
      assert.doesNotMatch(bases[0], /:latest|:stable/);
    });

    it("downloads nothing outside the base's package archive (no curl|sh, no ADD of a URL)", () => {
      assert.doesNotMatch(dockerfile, /(curl|wget)[^\n]*\|\s*(ba)?sh/);
      assert.ok(!instructions.some((line) => /^ADD\s+https?:/.test(line)), "ADD of a URL");
      assert.ok(instructions.filter((line) => line.startsWith("RUN ")).every((line) => /^RUN apk add --no-cache /.test(line)), "a RUN that is not an apk install");
    });

    it("copies only files that exist beside it, and starts through the tested entrypoint", () => {
      for (const line of instructions.filter((l) => l.startsWith("COPY "))) {
        const source = line.split(/\s+/)[1];
        assert.ok(fs.existsSync(path.join(PLATFORM_HOST_DIR, source)), `${line}: ${source} missing`);
      }
      assert.match(dockerfile, /^COPY entrypoint\.sh \/usr\/local\/bin\/platform-host-entrypoint$/m);
      assert.match(dockerfile, /^COPY container-health\.sh \/usr\/local\/libexec\/platform-container-health$/m);
      assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/local\/bin\/platform-host-entrypoint"\]$/m);
      // The base image keeps docker in /usr/local/bin, which is not on the PATH sshd gives a command.
      assert.match(dockerfile, /ln -s \/usr\/local\/bin\/docker \/usr\/bin\/docker/);
      for (const tool of ["openssh-server", "python3", "rsync", "sudo", "bash", "curl", "prometheus-node-exporter"]) {
        assert.match(dockerfile, new RegExp(`apk add [^\\n]*\\b${tool}\\b`), `the bundle steps need ${tool}`);
      }
    });
  });

  describe("entrypoint, run here: sshd answers on loopback with the deploy's key", () => {
    const user = "lp-ssh-test";
    let dir: string;
    let port: number;
    let host: ChildProcess;
    const calls = () => fs.readFileSync(path.join(dir, "calls.log"), "utf8");
    const ssh = (key: string, ...command: string[]) => runTool("ssh", [
      "-i", key, "-p", String(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `${user}@127.0.0.1`, ...command,
    ], "openssh-client");

    before(async function () {
      if (process.getuid?.() !== 0) assert.fail("this test starts sshd and adds a user: run it as root (CI does)");
      runTool("sshd", ["-V"], "openssh-server");
      if (runTool("id", [user], "coreutils").status !== 0) {
        assert.equal(runTool("useradd", ["--create-home", "--shell", "/bin/sh", user], "passwd").status, 0);
      }
      // Like the image: no password, but not a locked account (sshd refuses keys for those).
      runTool("usermod", ["-p", "*", user], "passwd");
      // sshd's StrictModes refuses keys below a world-writable folder such as /tmp.
      dir = fs.mkdtempSync("/run/local-host-test-");
      // sshd reads the keys as the user, like /etc/ssh in the image.
      fs.chmodSync(dir, 0o755);
      fs.mkdirSync(path.join(dir, "ssh"));
      fs.writeFileSync(path.join(dir, "ssh", "sshd_config"),
        fs.readFileSync(path.join(PLATFORM_HOST_DIR, "sshd_config"), "utf8").split("/etc/ssh").join(path.join(dir, "ssh")));
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      for (const stub of ["node_exporter", "sysctl"]) {
        fs.writeFileSync(path.join(bin, stub), `#!/bin/sh\necho "${stub} $*" >> '${path.join(dir, "calls.log")}'\n`, { mode: 0o755 });
      }
      for (const name of ["deploy", "stranger"]) {
        assert.equal(runTool("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, name)], "openssh-client").status, 0);
      }
      port = await freePort();
      host = spawn("sh", [path.join(PLATFORM_HOST_DIR, "entrypoint.sh"), "sleep", "60"], {
        detached: true,
        stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "host.log"), "w")],
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          HOST_ROLE: "logging",
          SSH_PUBLIC_KEY: fs.readFileSync(path.join(dir, "deploy.pub"), "utf8").trim(),
          SSH_USER: user,
          SSH_CONFIG_DIR: path.join(dir, "ssh"),
          SSH_PORT: String(port),
          SSH_LISTEN_ADDRESS: "127.0.0.1",
        },
      });
      await waitFor(`sshd on 127.0.0.1:${port}`, 10_000, () => accepts(port));
    });

    after(() => {
      if (host?.pid) process.kill(-host.pid, "SIGTERM");
      runTool("userdel", ["--remove", user], "passwd");
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("lets the deploy's key run a command", () => {
      const result = ssh(path.join(dir, "deploy"), "echo", "ready");
      assert.equal(result.status, 0, `${result.stderr}\nsshd: ${fs.readFileSync(path.join(dir, "host.log"), "utf8")}`);
      assert.equal(result.stdout.trim(), "ready");
    });

    it("serves SFTP, which the bundle copies use", () => {
      const result = runTool("sftp", [
        "-i", path.join(dir, "deploy"), "-P", String(port), "-b", "-", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `${user}@127.0.0.1`,
      ], "openssh-client", { input: "pwd\n" });
      assert.equal(result.status, 0, result.stderr);
    });

    it("refuses any other key", () => {
      assert.equal(ssh(path.join(dir, "stranger"), "true").status, 255);
    });

    it("made its own host key, started node_exporter with the probe's textfiles, and set vm.max_map_count on the logging host", () => {
      assert.ok(fs.existsSync(path.join(dir, "ssh", "ssh_host_ed25519_key")));
      assert.match(calls(), /^node_exporter --web\.listen-address=:9100 --collector\.textfile\.directory=\/var\/lib\/prometheus\/node-exporter$/m);
      assert.match(calls(), /^sysctl -w vm\.max_map_count=262144$/m);
    });
  });

  describe("readiness (platform-host/local-ready.sh) with the host's commands stood in for", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-ready-"));
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(dir, "calls.log");
      const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      stub("sudo", 'exec "$@"');
      // `docker info` fails until ENGINE_UP_AFTER calls have been made.
      stub("docker", [
        `echo "docker $*" >> '${log}'`,
        `case "$1" in info) n=$(grep -c '^docker info' '${log}'); [ "$n" -gt "\${ENGINE_UP_AFTER:-0}" ] || { echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1; };; esac`,
      ].join("\n"));
      for (const name of ["install", "sleep"]) stub(name, `echo "${name} $*" >> '${log}'`);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const ready = (env: Record<string, string>) => {
      const result = runTool("sh", ["-c", localReadinessCommand("kafka", "/opt/aws-log-platform")], "dash", {
        env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, ENGINE_WAIT_SECONDS: "3", ...env },
      });
      return { ...result, calls: fs.readFileSync(path.join(dir, "calls.log"), "utf8") };
    };

    it("waits for the engine that starts late, then owns the bundle root", () => {
      const { status, stderr, calls } = ready({ ENGINE_UP_AFTER: "2" });
      assert.equal(status, 0, stderr);
      assert.equal(calls.match(/^docker info$/gm)?.length, 3);
      assert.match(calls, /^install -d -o ubuntu -g ubuntu -m 0755 \/opt\/aws-log-platform$/m);
      assert.match(calls, /^docker compose version$/m);
    });

    it("an engine that never answers: fails after the bound, naming the host and the engine's error", () => {
      const { status, stderr, calls } = ready({ ENGINE_UP_AFTER: "99" });
      assert.equal(status, 1);
      assert.match(stderr, /^kafka host \(.+\): its Docker engine did not answer within 3s: Cannot connect to the Docker daemon/m);
      assert.match(stderr, /docker logs/);
      assert.doesNotMatch(calls, /^install /m);
    });
  });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => { socket.end(); resolve(true); });
    socket.on("error", () => resolve(false));
  });
}
