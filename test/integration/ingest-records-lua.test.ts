import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";

const SCRIPT = path.join(REPO_ROOT, "hosts/web/ingest/records.lua");

/**
 * The ingest endpoint's record shaping (hosts/web/ingest/records.lua) run by a real LuaJIT, the Lua of Fluent Bit's
 * images, with the arguments Fluent Bit passes (plugins/filter_lua/lua.c: tag, time, then for five-argument functions
 * the record's group attributes and metadata). Each case prints the record the filters return, as JSON lines.
 */
function shape(calls: string[]): Record<string, unknown>[] {
  const luajit = (process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, "luajit")).find((file) => fs.existsSync(file));
  assert.ok(luajit, "luajit is not installed: apt-get install luajit (listed in .ci/apt-packages.txt)");
  const script = [
    fs.readFileSync(SCRIPT, "utf8"),
    // A JSON printer for flat records (what Fluent Bit would encode), keys sorted.
    `local function show(code, ts, a, b)
       local record = b or a
       local keys = {}
       for k in pairs(record) do keys[#keys + 1] = k end
       table.sort(keys)
       local parts = {}
       for _, k in ipairs(keys) do
         local v = record[k]
         local text = type(v) == "string" and string.format("%q", v) or tostring(v)
         parts[#parts + 1] = string.format("%q", k) .. ":" .. text
       end
       print("{" .. table.concat(parts, ",") .. "}")
     end`,
    ...calls,
  ].join("\n");
  const out = execFileSync(luajit, ["-"], { input: script, encoding: "utf8", env: { ...process.env, HOST_MEMBER: "web" } });
  return out.trim().split("\n").map((line) => JSON.parse(line.replace(/\\\n/g, "\\n")) as Record<string, unknown>);
}

describe("ingest endpoint records.lua under LuaJIT", () => {
  it("names a forward record's service by its fields, else by the tag the client sent; the text goes to log", () => {
    const [tagged, named, structured] = shape([
      `show(finish_forward("forward.payments", 1, { log = "card declined", level = "ERROR" }))`,
      `show(finish_forward("forward.anything", 1, { log = "x", ["service.name"] = "search-api" }))`,
      `show(finish_forward("forward.orders", 1, { msg = "parsed JSON line", severity = "Warning" }))`,
    ]);
    assert.equal(tagged["service.name"], "payments");
    assert.equal(tagged["log.level"], "error");
    assert.equal(tagged["ingest.protocol"], "forward");
    assert.equal(named["service.name"], "search-api");
    assert.equal(structured.log, "parsed JSON line");
    assert.equal(structured.msg, undefined, "moved, not copied");
    assert.equal(structured["log.level"], "warning");
  });

  it("lifts an OTLP record's resource and attributes, severity and trace context, never over the record's own fields", () => {
    const group = `{ resource = { attributes = { ["service.name"] = "checkout", ["host.name"] = "pay-1", region = "resource" } } }`;
    const metadata = `{ otlp = { severity_text = "WARN", trace_id = "\\091\\142\\255", span_id = "\\238\\225", attributes = { ["order.id"] = 42, region = "attribute" } } }`;
    const [lifted, bare, numbered] = shape([
      `local c, t, m, r = lift_otlp("otlp", 1, ${group}, ${metadata}, { log = "slow payment" }) show(finish_otlp("otlp", t, r))`,
      // A record of the same group without attributes or severity still gets the resource's service.
      `local c, t, m, r = lift_otlp("otlp", 1, ${group}, { otlp = {} }, { event = "login" }) show(finish_otlp("otlp", t, r))`,
      // A severity number without its text (17-20: ERROR).
      `local c, t, m, r = lift_otlp("otlp", 1, ${group}, { otlp = { severity_number = 18 } }, { log = "x" }) show(finish_otlp("otlp", t, r))`,
    ]);
    assert.deepEqual(
      [lifted["service.name"], lifted["host.name"], lifted["order.id"], lifted.region, lifted["log.level"], lifted["trace.id"], lifted["span.id"]],
      ["checkout", "pay-1", 42, "attribute", "warn", "5b8eff", "eee1"],
    );
    assert.equal(lifted["ingest.protocol"], "otlp");
    assert.equal(bare["service.name"], "checkout");
    assert.equal(bare["log.level"], undefined);
    assert.equal(numbered["log.level"], "error");
  });

  it("cuts a line over 256 KiB and flags it; gives every record an id of its own, per protocol and start", () => {
    const records = shape([
      `show(finish_forward("forward.big", 1, { log = string.rep("x", 262145) }))`,
      `show(finish_forward("forward.a", 1, { log = "a" }))`,
      `show(finish_otlp("otlp", 1, { log = "b" }))`,
      `show(finish_forward("forward.a", 1, { log = "a" }))`,
    ]);
    assert.equal((records[0].log as string).length, 262144);
    assert.equal(records[0]["log.truncated"], true);
    assert.equal(records[1]["log.truncated"], undefined);
    const ids = records.map((r) => r.log_id as string);
    assert.equal(new Set(ids).size, ids.length, "identical records stay distinct documents");
    for (const id of ids) assert.match(id, /^web:(forward|otlp):\d+\.\d+:\d+$/);
    assert.equal(records[0]["service.name"], "big");
    assert.equal(shape([`show(finish_forward("other", 1, { log = "no prefix" }))`])[0]["service.name"], "unknown");
  });

  it("moves a service's own log_id and fluentbit_time aside, and a blank field name, which Elasticsearch refuses", () => {
    const [record] = shape([`show(finish_forward("forward.a", 1, { log = "x", log_id = "theirs", fluentbit_time = "t", [""] = 1, [" "] = 2 }))`]);
    assert.equal(record._log_id, "theirs");
    assert.equal(record._fluentbit_time, "t");
    assert.equal(record.fluentbit_time, undefined, "the kafka output adds its own");
    assert.match(record.log_id as string, /^web:forward:/);
    assert.ok(record._blank_key === 1 || record._blank_key === 2);
    assert.deepEqual(Object.keys(record).filter((key) => key.trim() === ""), []);
  });
});
