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
