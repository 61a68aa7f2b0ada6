import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import Module from "node:module";
import os from "node:os";
import path from "node:path";
import { CLOUDTRAIL_FUNCTION_DIR, buildCloudTrailFunction } from "../../components/cloudtrail/function-build";
import { DIGEST_KEY, s3Event } from "../fixtures/cloudtrail/log-files";

/**
 * Loads the bundle in a child process from a folder of its own, as the nodejs24.x runtime does, recording every
 * module it asks for, then runs `script` (with `handler` in scope) and prints a JSON report.
 */
function runBundle(folder: string, script: string, env: Record<string, string> = {}): { status: number | null; report: { exports: Record<string, string>; required: string[]; refused: string[]; result?: unknown }; stderr: string } {
  const probe = `
    const Module = require("node:module");
    const required = [];
    const refused = [];
    const load = Module._load;
    Module._load = function (request, ...rest) {
      try {
        const loaded = load.call(this, request, ...rest);
        required.push(request);
        return loaded;
      } catch (error) {
        refused.push(request);
        throw error;
      }
    };
    const bundle = require("./index.js");
    const exports = Object.fromEntries(Object.entries(bundle).map(([name, value]) => [name, typeof value]));
    const handler = bundle.handler;
    (async () => { ${script} })().then(
      (result) => process.stdout.write(JSON.stringify({ exports, required, refused, result }) + "\\n"),
      (error) => process.stdout.write(JSON.stringify({ exports, required, refused, result: { error: error.message } }) + "\\n"),
    );
  `;
  const child = spawnSync(process.execPath, ["-e", probe], {
    cwd: folder, encoding: "utf8", timeout: 60_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_REGION: "us-east-1", ...env },
  });
  const line = child.stdout.trim().split("\n").pop() ?? "";
  assert.ok(line.startsWith("{"), `no report from the bundle (status ${child.status}):\n${child.stdout}\n${child.stderr}`);
  return { status: child.status, report: JSON.parse(line), stderr: child.stderr };
}

describe("cloudtrail-to-kafka bundle (components/cloudtrail/function-build.ts)", function () {
  this.timeout(60_000);
  let built: string;
  let isolated: string;

  before(async () => {
    built = await buildCloudTrailFunction();
    // Outside the repository, so that no node_modules folder above it can supply a dependency the bundle lacks.
    isolated = fs.mkdtempSync(path.join(os.tmpdir(), "cloudtrail-bundle-"));
    fs.copyFileSync(path.join(built, "index.js"), path.join(isolated, "index.js"));
  });
  after(() => isolated && fs.rmSync(isolated, { recursive: true, force: true }));

  it("holds only index.js, the same bytes on a second build (an unchanged function is not redeployed)", async () => {
    assert.deepEqual(fs.readdirSync(built), ["index.js"]);
    const first = fs.readFileSync(path.join(built, "index.js"));
    assert.equal(await buildCloudTrailFunction(), built);
    assert.ok(first.equals(fs.readFileSync(path.join(built, "index.js"))), "the second build differs");
  });

  it("exports `handler` and loads nothing but Node's own modules: its dependencies are bundled", () => {
    const { report } = runBundle(isolated, "return null;");
    assert.equal(report.exports.handler, "function");
    const foreign = report.required.filter((request) => request !== "./index.js" && !Module.isBuiltin(request));
    assert.deepEqual(foreign, [], "modules the bundle loads from outside itself");
    // What it looks for and does without: only the Kafka client's optional packages (it falls back to its own code).
    const kafkaClient = JSON.parse(fs.readFileSync(path.join(CLOUDTRAIL_FUNCTION_DIR, "node_modules", "@platformatic", "kafka", "package.json"), "utf8"));
    for (const request of report.refused) assert.ok(request in kafkaClient.optionalDependencies, `the bundle looked for ${request}`);
  });

  it("runs on this Node: a digest file is skipped without any Kafka or S3 connection", () => {
    const { report, stderr } = runBundle(isolated, `
      const lines = [];
      console.log = (line) => lines.push(line);
      await handler(${JSON.stringify(s3Event(DIGEST_KEY))});
      return lines;
    `, { KAFKA_BOOTSTRAP_SERVERS: "192.0.2.1:9092", KAFKA_TOPIC: "platform.cloudtrail.events.dev.json" });
    assert.deepEqual(report.result, [`cloudtrail-to-kafka: skipped digest file s3://platform-dev-cloudtrail/${DIGEST_KEY}`], stderr);
  });

  it("fails an invocation whose environment lacks the Kafka settings, naming the variable", () => {
    const { report } = runBundle(isolated, `return handler(${JSON.stringify(s3Event(DIGEST_KEY))});`, { KAFKA_TOPIC: "t" });
    assert.deepEqual(report.result, { error: 'KAFKA_BOOTSTRAP_SERVERS is "", expected comma-separated host:port' });
  });
});
