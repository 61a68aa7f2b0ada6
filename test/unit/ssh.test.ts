import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LOCAL_PASSPHRASE, STATE_DIR } from "../../local/pulumi";
import { main, parseArgv } from "../../ssh/index";
import { endpointOf, knownHostName, parseSshOutputs, pinHostKey, sshArgs } from "../../ssh/ssh";
import { StubCall, StubRule, stubEnv, writeStubs } from "../helpers/command-stubs";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOldHostKeyOfTheWebHost0000000000000000000 root@web";
const NEW_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINewHostKeyAfterTheRecreate00000000000000 root@web";

const dockerOutputs = {
  sshUser: "ubuntu",
  sshPrivateKey: KEY,
  hosts: {
    logging: { publicIp: "127.0.0.1", privateIp: "10.42.0.10", sshPort: 2201 },
    web: { publicIp: "127.0.0.1", privateIp: "10.42.0.11", sshPort: 2202 },
    kafka: { publicIp: "127.0.0.1", privateIp: "10.42.0.12", sshPort: 2203 },
    monitoring: { publicIp: "127.0.0.1", privateIp: "10.42.0.13", sshPort: 2204 },
  },
};
const awsOutputs = {
  sshUser: "ubuntu",
  sshPrivateKey: KEY,
  hosts: { logging: { publicIp: "203.0.113.10", privateIp: "10.42.0.5", sshPort: 22 }, web: { publicIp: "203.0.113.11", privateIp: "10.42.0.6", sshPort: 22 } },
};

/** `docker ps` as the engine prints it with our format: the web host publishes 127.0.0.1:2202 (and 22020 is another). */
const PS = [
  "0123abcd\taws-log-platform-local-logging\t127.0.0.1:2201->22/tcp, 127.0.0.1:5601->5601/tcp, 127.0.0.1:9200->9200/tcp",
  "4567ef01\tsomething-else\t127.0.0.1:22020->22/tcp",
  "89abcdef\taws-log-platform-local-web\t127.0.0.1:8080->80/tcp, 127.0.0.1:2202->22/tcp",
].join("\n") + "\n";

const valuesOf = (args: string[], flag: string) => args.flatMap((arg, i) => (arg === flag ? [args[i + 1]] : []));

describe("ssh: npm run ssh -- <member> against stand-in pulumi, docker and ssh", () => {
  let dir: string;
  let project: string;
  let bin: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-test-"));
    project = path.join(dir, "project");
    bin = path.join(dir, "bin");
    fs.mkdirSync(project);
    fs.mkdirSync(bin);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const stubs = (outputs: unknown, hostKey = HOST_KEY, extra: Record<string, StubRule[]> = {}) => writeStubs(bin, {
    pulumi: [{ args: ["stack", "output"], stdout: JSON.stringify(outputs) }],
    docker: [{ args: ["ps"], stdout: PS }, { args: ["exec", "89abcdef", "cat", "/etc/ssh/ssh_host_ed25519_key.pub"], stdout: `${hostKey}\n` }],
    ssh: [],
    ...extra,
  });
  const run = async (argv: string[], env = stubEnv(bin)) => {
    const lines: string[] = [];
    const code = await main(argv, { projectDir: project, env, print: (line) => lines.push(line) });
    return { code, text: lines.join("\n") };
  };
  const only = (calls: StubCall[], command: string) => calls.filter((call) => call.command === command);

  it("on the docker target: the local stack's outputs, the member's port, the key 0600, the host key from the engine", async () => {
    fs.mkdirSync(path.join(project, STATE_DIR));
    const fake = stubs(dockerOutputs);
    const { code, text } = await run(["web", "sudo", "docker", "ps"]);
    assert.equal(code, 0, text);
    const calls = fake.calls();

    const [outputs] = only(calls, "pulumi");
    assert.deepEqual(outputs.args, ["stack", "output", "--json", "--show-secrets", "--non-interactive", "--stack", "local"]);
    assert.deepEqual([outputs.env.PULUMI_BACKEND_URL, outputs.env.PULUMI_CONFIG_PASSPHRASE, outputs.stdin], [`file://${project}`, LOCAL_PASSPHRASE, "devnull"]);
    assert.deepEqual(only(calls, "docker").map((call) => call.args[0]), ["ps", "exec"]);

    const [ssh] = only(calls, "ssh");
    const keyFile = valuesOf(ssh.args, "-o").find((o) => o.startsWith("IdentityFile="))!.slice("IdentityFile=".length);
    assert.equal(path.dirname(keyFile), path.join(project, ".ssh"), "the key is not in the project's .ssh/");
    assert.equal(ssh.keyMode, 0o600);
    assert.equal(fs.readFileSync(keyFile, "utf8"), KEY);
    assert.equal(fs.statSync(path.join(project, ".ssh")).mode & 0o777, 0o700);
    assert.deepEqual(valuesOf(ssh.args, "-p"), ["2202"]);
    assert.deepEqual(valuesOf(ssh.args, "-o"), [
      `IdentityFile=${keyFile}`, "IdentitiesOnly=yes", `UserKnownHostsFile=${path.join(project, ".ssh", "known_hosts")}`, "StrictHostKeyChecking=yes",
    ]);
    assert.deepEqual(ssh.args.slice(-4), ["ubuntu@127.0.0.1", "sudo", "docker", "ps"]);
    assert.equal(ssh.knownHosts, `[127.0.0.1]:2202 ${HOST_KEY.split(" ").slice(0, 2).join(" ")}\n`);
  });

  it("a recreated local host (new host key, same port) replaces its line in known_hosts and keeps the others", async () => {
    fs.mkdirSync(path.join(project, STATE_DIR));
    const knownHosts = path.join(project, ".ssh", "known_hosts");
    fs.mkdirSync(path.dirname(knownHosts));
    fs.writeFileSync(knownHosts, `[127.0.0.1]:2201 ssh-ed25519 AAAALOGGING\n203.0.113.10 ssh-ed25519 AAAAEC2\n`);
    stubs(dockerOutputs, HOST_KEY);
    assert.equal((await run(["web"])).code, 0);
    fs.rmSync(path.join(bin, "calls.jsonl"));
    const fake = stubs(dockerOutputs, NEW_HOST_KEY);
    assert.equal((await run(["web"])).code, 0);
    const [ssh] = only(fake.calls(), "ssh");
    const lines = (ssh.knownHosts ?? "").trim().split("\n");
    assert.deepEqual(lines, [
      "[127.0.0.1]:2201 ssh-ed25519 AAAALOGGING",
      "203.0.113.10 ssh-ed25519 AAAAEC2",
      `[127.0.0.1]:2202 ${NEW_HOST_KEY.split(" ").slice(0, 2).join(" ")}`,
    ]);
  });

  it("on aws: the user's backend and selected stack, port 22, the host key accepted the first time; no docker", async () => {
    const fake = stubs(awsOutputs);
    const { code, text } = await run(["logging", "-L", "5601:127.0.0.1:5601"], stubEnv(bin, { PULUMI_BACKEND_URL: "s3://state" }));
    assert.equal(code, 0, text);
    const calls = fake.calls();
    const [outputs] = only(calls, "pulumi");
    assert.deepEqual(outputs.args, ["stack", "output", "--json", "--show-secrets", "--non-interactive"]);
    assert.deepEqual([outputs.env.PULUMI_BACKEND_URL, outputs.env.PULUMI_CONFIG_PASSPHRASE], ["s3://state", undefined]);
    assert.deepEqual(only(calls, "docker"), []);
    const [ssh] = only(calls, "ssh");
    assert.deepEqual(valuesOf(ssh.args, "-p"), ["22"]);
    assert.ok(ssh.args.includes("StrictHostKeyChecking=accept-new"));
    assert.deepEqual(ssh.args.slice(-3), ["ubuntu@203.0.113.10", "-L", "5601:127.0.0.1:5601"]);
    assert.equal(ssh.keyMode, 0o600);
  });

  it("--stack names another stack: the user's backend even where the local stack's state is", async () => {
    fs.mkdirSync(path.join(project, STATE_DIR));
    const fake = stubs(awsOutputs);
    assert.equal((await run(["--stack", "dev", "web"])).code, 0);
    const [outputs] = only(fake.calls(), "pulumi");
    assert.deepEqual(outputs.args.slice(-2), ["--stack", "dev"]);
    assert.equal(outputs.env.PULUMI_BACKEND_URL, undefined);
  });

  it("an unknown member fails listing the stack's members, and starts no ssh", async () => {
    fs.mkdirSync(path.join(project, STATE_DIR));
    const fake = stubs(dockerOutputs);
    const { code, text } = await run(["webb"]);
    assert.equal(code, 1);
    assert.match(text, /no member webb in this stack; its members: logging, web, kafka, monitoring/);
    assert.deepEqual(only(fake.calls(), "ssh"), []);
    assert.equal((await run([])).code, 2);
    assert.equal((await run(["--verbose", "web"])).code, 2);
  });

  it("fails clearly when the local host is not running, or the stack's outputs cannot be read", async () => {
    fs.mkdirSync(path.join(project, STATE_DIR));
    stubs(dockerOutputs, HOST_KEY, { docker: [{ args: ["ps"], stdout: "" }] });
    const down = await run(["kafka"]);
    assert.equal(down.code, 1);
    assert.match(down.text, /no running container of this Docker engine publishes 127\.0\.0\.1:2203: is the local stack up \(npm run local\)\?/);
    stubs(dockerOutputs, HOST_KEY, { pulumi: [{ args: ["stack", "output"], code: 255, stderr: "error: no stack named 'local' found\n" }] });
    const failed = await run(["web"]);
    assert.equal(failed.code, 1);
    assert.match(failed.text, /stack local in \.pulumi\/ \(npm run local\)\) failed: error: no stack named 'local' found/);
    assert.match((await run(["web"], { ...stubEnv(bin), PATH: path.join(dir, "nowhere") })).text, /the Pulumi CLI \(pulumi\) is not on PATH/);
  });
});

describe("ssh: arguments and files", () => {
  it("splits the stack option, the member and what goes to ssh", () => {
    assert.deepEqual(parseArgv(["-s", "dev", "kafka-2", "-v", "uptime"]), { help: false, stack: "dev", member: "kafka-2", rest: ["-v", "uptime"] });
    assert.deepEqual(parseArgv(["--stack=local", "web"]), { help: false, stack: "local", member: "web", rest: [] });
    assert.throws(() => parseArgv(["--stack"]), /needs a stack name/);
  });

  it("quotes file paths with blanks and doubles % (ssh expands %-tokens in both), and names hosts as known_hosts does", () => {
    const endpoint = endpointOf(parseSshOutputs(dockerOutputs), "monitoring");
    assert.deepEqual(endpoint, { member: "monitoring", host: "127.0.0.1", port: 2204, local: true });
    const args = sshArgs(endpoint, "ubuntu", "/my project/100%/id", "/my project/100%/known_hosts");
    assert.ok(args.includes(`UserKnownHostsFile="/my project/100%%/known_hosts"`), args.join(" "));
    assert.ok(args.includes(`IdentityFile="/my project/100%%/id"`), args.join(" "));
    assert.equal(knownHostName("203.0.113.10", 22), "203.0.113.10");
    assert.equal(knownHostName("127.0.0.1", 2201), "[127.0.0.1]:2201");
    assert.throws(() => parseSshOutputs({ sshUser: "u", hosts: {} }), /must have required property 'sshPrivateKey'.*Run `pulumi up`/);
    assert.throws(() => endpointOf({ ...dockerOutputs, hosts: { web: { publicIp: "127.0.0.1" } } }, "web"), /no SSH port for web/);
  });

  it("pins a host key into a fresh known_hosts file, 0600", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-pin-"));
    try {
      const file = path.join(dir, "sub", "known_hosts");
      pinHostKey(file, "127.0.0.1", 2202, HOST_KEY);
      assert.equal(fs.readFileSync(file, "utf8"), `[127.0.0.1]:2202 ${HOST_KEY.split(" ").slice(0, 2).join(" ")}\n`);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.throws(() => pinHostKey(file, "127.0.0.1", 2202, "nonsense"), /not an OpenSSH public key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
