import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";
import { LINE_ID_KEYS, ReadAt, byAlias, containerLog, lineId, parseConfig, prop } from "../helpers/fluent-bit";

/** The forwarder's line_id Lua filter (forwarder/fluent-bit.yaml) run by a real LuaJIT, the Lua of Fluent Bit's images. */
describe("forwarder line_id filter under LuaJIT", () => {
  const forwarder = parseConfig(fs.readFileSync(path.join(REPO_ROOT, "forwarder", "fluent-bit.yaml"), "utf8"));

  it("gives the ids the pipeline model gives (test/helpers/fluent-bit.ts lineId), under LuaJIT as Fluent Bit runs it", () => {
      const luajit = (process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, "luajit")).find((file) => fs.existsSync(file));
      assert.ok(luajit, "luajit is not installed: apt-get install luajit (listed in .ci/apt-packages.txt)");
      const lua = String(prop(byAlias(forwarder.pipeline?.filters, "line_id"), "code"));
      const cases: [ReadAt, string][] = [
        [{ path: containerLog(), offset: 0 }, "2025-01-01T00:00:00.000000000Z"],
        [{ path: containerLog("0".repeat(64)), offset: 10 * 1024 * 1024 + 12345 }, "2025-01-01T00:00:00.5Z"],
        [{ path: "/var/log/other.log", offset: 7 }, "2025-01-01T00:00:00Z"],
      ];
      // A complete line (Docker's newline at the end: `\n` in the Lua source), and one flushed unfinished.
      const calls = cases.flatMap(([at, time]) => ["l\\n", "l"].map((log) =>
        `show(line_id("docker.x", 1735689600.5, { log = "${log}", time = ${JSON.stringify(time)}, ${LINE_ID_KEYS.path} = ${JSON.stringify(at.path)}, ${LINE_ID_KEYS.offset} = ${at.offset} }))`));
      const script = [
        lua,
        `function show(code, ts, r) print(code, r["${LINE_ID_KEYS.id}"], r["${LINE_ID_KEYS.path}"] == nil and r["${LINE_ID_KEYS.offset}"] == nil) end`,
        ...calls,
        // No position (not a tail record): untouched.
        "local c, t, r = line_id(\"docker.x\", 1, { log = \"l\" }) print(c, r.log)",
      ].join("\n");
      const out = execFileSync(luajit, ["-"], { input: script, encoding: "utf8" }).trim().split("\n");
      assert.deepEqual(out, [...cases.flatMap(([at, time]) => [false, true].map((unfinished) => `2\t${lineId(at, time, unfinished)}\ttrue`)), "0\tl"]);
    });
});

/**
 * The forwarder's refusal_reason Lua filter (forwarder/fluent-bit.yaml) under LuaJIT, on the lines a real Fluent Bit
 * 5.1.1 ingest endpoint logged while refusing senders and serving healthy ones (test/fixtures/monitoring/
 * ingest-refusal-lines.txt): the reason each refusal is counted under, one line per refused connection, and nothing
 * for the rest, the "unexpected eof" every TLS client's close logs among them.
 */
describe("forwarder refusal_reason filter under LuaJIT", () => {
  const forwarder = parseConfig(fs.readFileSync(path.join(REPO_ROOT, "forwarder", "fluent-bit.yaml"), "utf8"));
  const fixture = path.join(REPO_ROOT, "test", "fixtures", "monitoring", "ingest-refusal-lines.txt");
  const cases = fs.readFileSync(fixture, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => {
    const [reason, line] = l.split("\t");
    return { reason, line };
  });

  it("names the reason of each refused connection's line and drops every other line, the copy holding the reason alone", () => {
    const luajit = (process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, "luajit")).find((file) => fs.existsSync(file));
    assert.ok(luajit, "luajit is not installed: apt-get install luajit (listed in .ci/apt-packages.txt)");
    assert.ok(cases.length >= 40 && ["shared_key", "user", "handshake", "no_tls", "client_certificate"].every((r) => cases.some((c) => c.reason === r)));
    const lua = String(prop(byAlias(forwarder.pipeline?.filters, "refusal_reason"), "code"));
    const script = [
      lua,
      // The record as the copy has it (Docker's keys; the line with its newline trimmed), and one without a line.
      "local function show(code, ts, r) if code == -1 then print('-') else local keys = {} for k in pairs(r) do keys[#keys + 1] = k end print(code .. ' ' .. r.reason .. ' ' .. table.concat(keys, ',') .. ' ' .. ts) end end",
      ...cases.map(({ line }) => `show(refusal_reason("ingest.lines", 1735689600.5, { log = ${JSON.stringify(line)}, stream = "stderr" }))`),
      'show(refusal_reason("ingest.lines", 1, { stream = "stderr" }))',
    ].join("\n");
    const out = execFileSync(luajit, ["-"], { input: script, encoding: "utf8" }).trim().split("\n");
    assert.deepEqual(out, [...cases.map(({ reason }) => (reason === "-" ? "-" : `2 ${reason} reason 1735689600.5`)), "-"]);
  });
});
