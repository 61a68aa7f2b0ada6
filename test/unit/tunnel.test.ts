import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { KNOWN_HOSTS, openTunnel, sshArgs, TunnelOutputs, TunnelSpec, writeKeyFile } from "../../tunnel/tunnel";
import { main, parseTunnelOutputs } from "../../tunnel/index";
import { REPO_ROOT } from "../../components/platform/repo";
import { freePort } from "../helpers/local-servers";

const LOGGING: TunnelSpec = { member: "logging", host: "203.0.113.10", sshPort: 22, ports: [5601, 9200] };
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n";

/** The value after each occurrence of a flag. */
const valuesOf = (args: string[], flag: string) => args.flatMap((arg, i) => (arg === flag ? [args[i + 1]] : []));

describe("tunnel: ssh arguments, key file, and the processes", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tunnel-test-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("forwards each UI port of a host from 127.0.0.1 to the host's own 127.0.0.1, and nothing else", () => {
    const args = sshArgs(LOGGING, "ubuntu", "/tmp/key", "/p/known_hosts");
    assert.deepEqual(valuesOf(args, "-L"), ["127.0.0.1:5601:127.0.0.1:5601", "127.0.0.1:9200:127.0.0.1:9200"]);
    assert.equal(args[0], "-N", "no remote command");
    assert.equal(args.at(-1), "ubuntu@203.0.113.10");
    assert.deepEqual(valuesOf(args, "-i"), ["/tmp/key"]);
    assert.deepEqual(valuesOf(args, "-p"), ["22"]);
    assert.deepEqual(valuesOf(args, "-o").sort(), [
      "BatchMode=yes", "ExitOnForwardFailure=yes", "IdentitiesOnly=yes", "ServerAliveCountMax=4", "ServerAliveInterval=15",
      "StrictHostKeyChecking=accept-new", "UserKnownHostsFile=/p/known_hosts",
    ]);
    assert.equal(path.dirname(path.dirname(KNOWN_HOSTS)), REPO_ROOT, "known_hosts is the project's, not ~/.ssh's");
  });

  it("forwards a UI whose local end localPorts moved to the host's own port of it (hostPorts)", () => {
    const moved: TunnelSpec = { ...LOGGING, ports: [15601, 9200], hostPorts: [5601, 9200] };
    assert.deepEqual(valuesOf(sshArgs(moved, "ubuntu", "/tmp/key"), "-L"), ["127.0.0.1:15601:127.0.0.1:5601", "127.0.0.1:9200:127.0.0.1:9200"]);
    assert.deepEqual(parseTunnelOutputs({ sshUser: "u", sshPrivateKey: "k", tunnels: [moved] }).tunnels, [moved]);
    assert.throws(() => parseTunnelOutputs({ sshUser: "u", sshPrivateKey: "k", tunnels: [{ ...moved, hostPorts: ["5601"] }] }), /\/tunnels\/0\/hostPorts\/0 must be integer/);
  });

  it("writes the key 0600 in a private folder, and removes it", () => {
    const key = writeKeyFile(KEY, dir);
    assert.equal(fs.statSync(key.file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(key.file, "utf8"), KEY);
    key.remove();
    assert.equal(fs.existsSync(path.dirname(key.file)), false);
  });

  /** A stand-in ssh: logs its arguments and key file mode, then listens on the -L ports, or fails for the host named. */
  function fakeSsh(failFor?: string): { ssh: string; calls: () => { args: string[]; keyMode: number }[] } {
    const log = path.join(dir, "calls.jsonl");
    const ssh = path.join(dir, "ssh");
    fs.writeFileSync(ssh, `#!${process.execPath}
const fs = require("fs"), net = require("net");
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ args, keyMode: fs.statSync(args[args.indexOf("-i") + 1]).mode & 0o777 }) + "\\n");
const host = args.at(-1).split("@")[1];
if (host === ${JSON.stringify(failFor ?? null)}) { console.error("ssh: connect to host " + host + " port 22: Connection timed out"); process.exit(255); }
args.forEach((a, i) => { if (a === "-L") net.createServer((s) => s.end()).listen(Number(args[i + 1].split(":")[1]), "127.0.0.1"); });
`, { mode: 0o755 });
    return { ssh, calls: () => fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l)) };
  }

  async function outputsOnFreePorts(): Promise<TunnelOutputs> {
    const [a, b, c] = [await freePort(), await freePort(), await freePort()];
    assert.equal(new Set([a, b, c]).size, 3);
    return {
      sshUser: "ubuntu",
      sshPrivateKey: KEY,
      tunnels: [{ ...LOGGING, ports: [a, b] }, { member: "monitoring", host: "203.0.113.13", sshPort: 22, ports: [c] }],
    };
  }

  it("runs one ssh per host, resolves once every local port answers, and removes the key when closed", async () => {
    const outputs = await outputsOnFreePorts();
    const fake = fakeSsh();
    const tunnel = await openTunnel(outputs, { ssh: fake.ssh, knownHosts: path.join(dir, "known_hosts"), timeoutMs: 10_000 });
    const calls = fake.calls();
    assert.deepEqual(calls.map((c) => c.args.at(-1)).sort(), ["ubuntu@203.0.113.10", "ubuntu@203.0.113.13"]);
    assert.deepEqual(calls.map((c) => c.keyMode), [0o600, 0o600]);
    const keyFile = valuesOf(calls[0].args, "-i")[0];
    assert.ok(fs.existsSync(keyFile));
    await tunnel.close();
    assert.equal(fs.existsSync(keyFile), false, "the key outlived the tunnel");
    const port = outputs.tunnels[1].ports[0];
    const refused = await new Promise<boolean>((resolve) => net.connect(port, "127.0.0.1").on("error", () => resolve(true)).on("connect", () => resolve(false)));
    assert.ok(refused, "ssh still forwards after close");
  });

  it("fails with ssh's own message when one ssh exits, stops the others, and still removes the key", async () => {
    const outputs = await outputsOnFreePorts();
    const fake = fakeSsh("203.0.113.10");
    await assert.rejects(openTunnel(outputs, { ssh: fake.ssh, knownHosts: path.join(dir, "known_hosts"), timeoutMs: 10_000 }),
      /tunnel: logging \(ubuntu@203\.0\.113\.10:22\): ssh ended \(exit 255\): ssh: connect to host 203\.0\.113\.10 port 22: Connection timed out/);
    assert.equal(fs.existsSync(path.dirname(valuesOf(fake.calls()[0].args, "-i")[0])), false);
    const port = outputs.tunnels[1].ports[0];
    const refused = await new Promise<boolean>((resolve) => net.connect(port, "127.0.0.1").on("error", () => resolve(true)).on("connect", () => resolve(false)));
    assert.ok(refused, "the monitoring ssh still forwards after the logging one failed");
  });

  it("refuses a local port that something here already holds, before starting ssh", async () => {
    const outputs = await outputsOnFreePorts();
    const holder = net.createServer().listen(outputs.tunnels[0].ports[1], "127.0.0.1");
    await new Promise((resolve) => holder.once("listening", resolve));
    try {
      await assert.rejects(openTunnel(outputs, { ssh: path.join(dir, "never-run") }), new RegExp(`127\\.0\\.0\\.1:${outputs.tunnels[0].ports[1]} already in use`));
    } finally {
      holder.close();
    }
  });
});

describe("tunnel: command", () => {
  const run = async (argv: string[], outputs: unknown) => {
    const lines: string[] = [];
    let opened = false;
    const code = await main(argv, {
      outputs: () => ({ read: async () => outputs }),
      open: async () => {
        opened = true;
        return { exited: new Promise<string>(() => undefined), close: async () => undefined };
      },
      print: (line) => lines.push(line),
      stopped: Promise.resolve(),
    });
    return { code, lines, opened };
  };

  it("opens the stack's tunnels and prints the local URLs; on the docker target it opens nothing", async () => {
    const aws = await run([], { sshUser: "ubuntu", sshPrivateKey: KEY, tunnels: [LOGGING] });
    assert.deepEqual([aws.code, aws.opened], [0, true]);
    assert.ok(aws.lines.includes("logging: http://127.0.0.1:5601 http://127.0.0.1:9200"), aws.lines.join("\n"));
    const docker = await run([], { sshUser: "ubuntu", sshPrivateKey: KEY, tunnels: [] });
    assert.deepEqual([docker.code, docker.opened], [0, false]);
    assert.match(docker.lines[0], /no tunnel needed/);
  });

  it("exits 2 naming the outputs an older stack lacks, and on bad arguments", async () => {
    const old = await run([], { sshUser: "ubuntu", sshPrivateKey: KEY });
    assert.equal(old.code, 2);
    assert.match(old.lines[0], /must have required property 'tunnels'.*Run `pulumi up`/);
    assert.throws(() => parseTunnelOutputs({ sshUser: "u", sshPrivateKey: "k", tunnels: [{ ...LOGGING, ports: [] }] }), /\/tunnels\/0\/ports must NOT have fewer than 1 items/);
    assert.equal((await run(["a", "b"], {})).code, 2);
    assert.equal((await run(["--help"], {})).code, 0);
  });
});
