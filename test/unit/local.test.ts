import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../components/platform/repo";
import { COMMANDS, main } from "../../local/index";
import { backendUrl, chooseStack, LOCAL_PASSPHRASE, LOCAL_STACK, STATE_DIR } from "../../local/pulumi";
import { StubCall, stubEnv, writeStubs } from "../helpers/command-stubs";

/**
 * Runs the real command in a child process, as `npm run local` would, on a project folder, with stdin closed: a pipe
 * that ends at once, so a pulumi that was handed this stdin would show it as a pipe, not /dev/null.
 */
function runCommand(argv: string[], projectDir: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const script = `require(${JSON.stringify(path.join(REPO_ROOT, "local", "index.ts"))})` +
    `.main(${JSON.stringify(argv)}, { projectDir: ${JSON.stringify(projectDir)} }).then((code) => { process.exitCode = code; });`;
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: REPO_ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.end();
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (out += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

/** Pulumi's own check of a passphrase against a stack file's salt (pkg/secrets/passphrase/manager.go, config/crypt.go). */
function opensSalt(passphrase: string, encryptionSalt: string): boolean {
  const [version, salt, ...message] = encryptionSalt.split(":");
  const [messageVersion, nonce, sealed] = message;
  assert.equal(version, "v1");
  assert.equal(messageVersion, "v1");
  const key = crypto.pbkdf2Sync(passphrase, Buffer.from(salt, "base64"), 1_000_000, 32, "sha256");
  const data = Buffer.from(sealed, "base64");
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
  decipher.setAuthTag(data.subarray(data.length - 16));
  try {
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString() === "pulumi";
  } catch {
    return false;
  }
}

describe("local: npm run local and local:down against a stand-in pulumi", () => {
  let dir: string;
  let project: string;
  let bin: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-test-"));
    project = path.join(dir, "project");
    bin = path.join(dir, "bin");
    fs.mkdirSync(project);
    fs.mkdirSync(bin);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const stubPulumi = (rules: { args: string[]; code?: number; stdout?: string }[] = []) =>
    writeStubs(bin, { pulumi: [...rules, { args: ["version"], stdout: "v3.248.0\n" }] });
  const argsOf = (calls: StubCall[]) => calls.map((call) => call.args.join(" "));

  it("creates or selects the local stack in the project's own backend, then updates it: no prompt possible", async function () {
    this.timeout(60_000);
    const pulumi = stubPulumi();
    // Whatever the user is logged in to, and whatever stack they selected, are not used.
    const { code, out } = await runCommand(["up"], project, stubEnv(bin, { PULUMI_BACKEND_URL: "https://api.pulumi.com", PULUMI_STACK: "dev" }));
    assert.equal(code, 0, out);
    const calls = pulumi.calls();
    assert.deepEqual(argsOf(calls), [
      "version --non-interactive",
      "stack select local --create --secrets-provider passphrase --non-interactive",
      "up --stack local --yes --skip-preview --non-interactive",
    ]);
    for (const call of calls) {
      assert.equal(call.cwd, fs.realpathSync(project));
      assert.equal(call.stdin, "devnull", `${call.args.join(" ")} could have read an answer`);
      assert.equal(call.env.PULUMI_BACKEND_URL, `file://${project}`);
      assert.equal(call.env.PULUMI_CONFIG_PASSPHRASE, LOCAL_PASSPHRASE);
      assert.equal(call.env.PULUMI_CONFIG_PASSPHRASE_FILE, undefined);
    }
    assert.equal(fs.statSync(path.join(project, STATE_DIR)).mode & 0o777, 0o700, "the state is readable by others");
    assert.match(out, /state in \.pulumi\/.*secrets under the local stack's fixed passphrase/);
    assert.match(out, /npm run ssh -- <member>/);
  });

  it("keeps the user's own passphrase, from the variable or a file, and passes extra flags to pulumi up", async () => {
    for (const own of [{ PULUMI_CONFIG_PASSPHRASE: "mine" }, { PULUMI_CONFIG_PASSPHRASE: "" }, { PULUMI_CONFIG_PASSPHRASE_FILE: "/secret/phrase" }]) {
      fs.rmSync(path.join(bin, "calls.jsonl"), { force: true });
      const pulumi = stubPulumi();
      const lines: string[] = [];
      const code = await main(["up", "--refresh"], { projectDir: project, env: stubEnv(bin, own), print: (l) => lines.push(l) });
      assert.equal(code, 0, lines.join("\n"));
      const calls = pulumi.calls();
      assert.equal(argsOf(calls).at(-1), "up --stack local --yes --skip-preview --non-interactive --refresh");
      for (const call of calls) {
        assert.deepEqual([call.env.PULUMI_CONFIG_PASSPHRASE, call.env.PULUMI_CONFIG_PASSPHRASE_FILE], [own.PULUMI_CONFIG_PASSPHRASE, own.PULUMI_CONFIG_PASSPHRASE_FILE]);
      }
      assert.match(lines[0], /secrets under your PULUMI_CONFIG_PASSPHRASE/);
    }
  });

  it("stops at the first failing command, with a hint about the salt when the passphrase is the user's", async () => {
    const pulumi = stubPulumi([{ args: ["stack", "select"], code: 255 }]);
    const lines: string[] = [];
    assert.equal(await main(["up"], { projectDir: project, env: stubEnv(bin), print: (l) => lines.push(l) }), 255);
    assert.deepEqual(argsOf(pulumi.calls()).map((a) => a.split(" ")[0]), ["version", "stack"], "pulumi up ran after a failed select");
    assert.doesNotMatch(lines.join("\n"), /incorrect passphrase/);
    const own: string[] = [];
    assert.equal(await main(["up"], { projectDir: project, env: stubEnv(bin, { PULUMI_CONFIG_PASSPHRASE: "mine" }), print: (l) => own.push(l) }), 255);
    assert.match(own.join("\n"), /"incorrect passphrase".*encryptionsalt.*Unset PULUMI_CONFIG_PASSPHRASE/);
  });

  it("local:down destroys the stack in the same backend, keeps the stack, and does nothing where nothing was deployed", async function () {
    this.timeout(60_000);
    const pulumi = stubPulumi();
    const nothing = await runCommand(["down"], project, stubEnv(bin));
    assert.equal(nothing.code, 0, nothing.out);
    assert.match(nothing.out, /nothing to remove/);
    assert.deepEqual(pulumi.calls(), []);

    fs.mkdirSync(path.join(project, STATE_DIR));
    const { code, out } = await runCommand(["down"], project, stubEnv(bin));
    assert.equal(code, 0, out);
    const calls = pulumi.calls();
    assert.deepEqual(argsOf(calls), ["version --non-interactive", "destroy --stack local --yes --skip-preview --non-interactive"]);
    assert.ok(calls.every((call) => call.stdin === "devnull" && call.env.PULUMI_BACKEND_URL === `file://${project}` && call.env.PULUMI_CONFIG_PASSPHRASE === LOCAL_PASSPHRASE));
    assert.ok(!argsOf(calls).some((args) => /--remove|stack rm/.test(args)), "the stack (and Pulumi.local.yaml) must stay");
  });

  it("fails clearly, touching nothing, when the Pulumi CLI is not installed", async function () {
    this.timeout(60_000);
    const empty = path.join(dir, "empty");
    fs.mkdirSync(empty);
    const { code, out } = await runCommand(["up"], project, { ...stubEnv(bin), PATH: empty });
    assert.equal(code, 1, out);
    assert.match(out, /the Pulumi CLI \(pulumi\) is not on PATH: install it \(https:\/\/www\.pulumi\.com\/docs\/install\//);
    assert.equal(fs.existsSync(path.join(project, STATE_DIR)), false);
  });

  it("runs any pulumi command on the local stack for those who want the plain commands", async () => {
    const pulumi = stubPulumi();
    const code = await main(["pulumi", "stack", "output", "kibanaPassword", "--show-secrets"], { projectDir: project, env: stubEnv(bin), print: () => undefined });
    assert.equal(code, 0);
    const [call] = pulumi.calls();
    assert.deepEqual(call.args, ["stack", "output", "kibanaPassword", "--show-secrets"]);
    assert.deepEqual([call.env.PULUMI_BACKEND_URL, call.env.PULUMI_CONFIG_PASSPHRASE, call.env.PULUMI_STACK], [`file://${project}`, LOCAL_PASSPHRASE, "local"]);
    assert.equal(await main(["pulumi"], { projectDir: project, env: stubEnv(bin), print: () => undefined }), 2);
    assert.equal(await main(["sideways"], { projectDir: project, env: stubEnv(bin), print: () => undefined }), 2);
    const help: string[] = [];
    assert.equal(await main(["up", "--help"], { projectDir: project, env: stubEnv(bin), print: (l) => help.push(l) }), 0);
    assert.match(help[0], /^usage: npm run local/);
    assert.equal(pulumi.calls().length, 1, "a request for help ran pulumi");
  });

  it("reads the local stack from the project's backend, any other from the user's", () => {
    fs.mkdirSync(path.join(project, STATE_DIR));
    const user = { PULUMI_BACKEND_URL: "s3://bucket", PATH: "/bin" };
    assert.deepEqual(chooseStack(project, undefined, user).stack, LOCAL_STACK);
    assert.equal(chooseStack(project, undefined, user).env.PULUMI_BACKEND_URL, backendUrl(project));
    assert.deepEqual(chooseStack(project, "dev", user).env, user);
    fs.rmdirSync(path.join(project, STATE_DIR));
    assert.deepEqual(chooseStack(project, undefined, user), { stack: undefined, env: user, where: "the selected stack of your Pulumi backend" });
    assert.deepEqual(chooseStack(project, "local", user).env, user, "a local stack in the user's own backend (pulumi login --local)");
  });

  it("ships Pulumi.local.yaml with the salt of the fixed passphrase: Pulumi keeps it and never asks", function () {
    this.timeout(20_000);
    const file = parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${LOCAL_STACK}.yaml`), "utf8")) as { encryptionsalt?: string; config: Record<string, unknown> };
    assert.equal(file.config["aws-log-platform:target"], "docker");
    assert.ok(file.encryptionsalt, "Pulumi.local.yaml has no encryptionsalt: Pulumi would write one (and ask for a passphrase)");
    assert.ok(opensSalt(LOCAL_PASSPHRASE, file.encryptionsalt), "the salt was not made with LOCAL_PASSPHRASE");
    assert.ok(!opensSalt("another", file.encryptionsalt));
    assert.deepEqual(COMMANDS.select.slice(0, 4), ["stack", "select", LOCAL_STACK, "--create"]);
  });
});
