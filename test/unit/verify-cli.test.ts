import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@elastic/elasticsearch";
import { Deps, main, parseCommandLine } from "../../verify/index";
import { parseOutputs, pulumiOutputs, StackOutputs } from "../../verify/outputs";
import { ROLES } from "../../components/platform/roles";
import { formatResult, joinProblems, verdict } from "../../verify/report";
import { clusterOutputs, FIXTURE_DIRS, mockedElasticsearch, sendJson, StandIn, startStandIn, testOutputs } from "../helpers/verify-stand-ins";

describe("verify: command line, outputs and verdict", () => {
  it("parses the stack name and options, rejecting nonsense", () => {
    const { stack, options } = parseCommandLine(["prod", "--since", "5", "--samples", "3", "--wait", "60", "--timeout", "4"]);
    assert.equal(stack, "prod");
    assert.deepEqual(
      [options.recentMinutes, options.latencySamples, options.latencyWaitMs, options.timeoutMs],
      [5, 3, 60_000, 4000],
    );
    assert.equal(parseCommandLine([]).stack, undefined);
    assert.throws(() => parseCommandLine(["--samples", "0"]), /--samples must be a positive number/);
    assert.throws(() => parseCommandLine(["--samples", "1.5"]), /whole number/);
    assert.throws(() => parseCommandLine(["a", "b"]), /one stack name at most/);
    assert.throws(() => parseCommandLine(["--bogus"]), /Unknown option/);
  });

  it("names every missing or malformed output", () => {
    const { kibanaUrl, ...rest } = testOutputs();
    assert.ok(kibanaUrl);
    const broken = { ...rest, hosts: { ...rest.hosts, kafka: { publicIp: "" } }, grafanaUrl: "grafana:3000" };
    assert.throws(() => parseOutputs(broken), (err: Error) => {
      assert.match(err.message, /must have required property 'kibanaUrl'/);
      assert.match(err.message, /\/grafanaUrl must match pattern/);
      assert.match(err.message, /\/hosts\/kafka must have required property 'privateIp'/);
      return true;
    });
    assert.deepEqual(parseOutputs(testOutputs()), testOutputs());
  });

  it("reads hosts keyed by member name, every role's first member under the role's name, and no gap or stranger", () => {
    assert.deepEqual(parseOutputs(clusterOutputs()), clusterOutputs());
    const { hosts } = clusterOutputs();
    const host = hosts["logging-2"];
    const without = (name: string) => ({ ...clusterOutputs(), hosts: Object.fromEntries(Object.entries(hosts).filter(([n]) => n !== name)) });
    assert.throws(() => parseOutputs(without("logging-2")), /\/hosts\/logging-3 comes without the members before it/);
    assert.throws(() => parseOutputs(without("kafka")), /\/hosts must have required property 'kafka'/);
    assert.throws(() => parseOutputs({ ...clusterOutputs(), hosts: { ...hosts, search: host } }), /\/hosts must NOT have additional properties/);
    assert.throws(() => parseOutputs({ ...clusterOutputs(), hosts: { ...hosts, "logging-4": { publicIp: "x" } } }), /\/hosts\/logging-4 must have required property 'privateIp'/);
  });

  it("checks the tunnels it opens as the tunnel command does", () => {
    const tunnels = [{ member: "logging", host: "203.0.113.10", sshPort: 22, ports: [5601] }];
    assert.deepEqual(parseOutputs({ ...testOutputs(), tunnels }).tunnels, tunnels);
    assert.throws(() => parseOutputs({ ...testOutputs(), tunnels: [{ ...tunnels[0], sshPort: "22" }] }), /\/tunnels\/0\/sshPort must be integer/);
  });

  describe("reading outputs through the Pulumi CLI", () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "verify-pulumi-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const fakePulumi = (script: string) => {
      const file = path.join(dir, "pulumi");
      writeFileSync(file, `#!/bin/sh\n${script}\n`);
      chmodSync(file, 0o755);
      return file;
    };

    it("asks for JSON with secrets, for the named stack, in the project folder", async () => {
      const pulumi = fakePulumi(`printf '{"args":"%s","cwd":"%s"}' "$*" "$(pwd)"`);
      assert.deepEqual(await pulumiOutputs(dir, "dev", pulumi).read(), { args: "stack output --json --show-secrets --non-interactive --stack dev", cwd: dir });
      assert.deepEqual(await pulumiOutputs(dir, undefined, pulumi).read(), { args: "stack output --json --show-secrets --non-interactive", cwd: dir });
    });

    it("fails with Pulumi's own message, or says to install the CLI", async () => {
      const pulumi = fakePulumi(`echo "error: no stack named 'nope' found" >&2; exit 255`);
      await assert.rejects(pulumiOutputs(dir, "nope", pulumi).read(), /failed: error: no stack named 'nope' found/);
      await assert.rejects(pulumiOutputs(dir, "dev", path.join(dir, "missing")).read(), /is not on PATH: install it/);
    });
  });

  it("formats one line per check with its timing, and a verdict that fails on any failure", () => {
    assert.equal(formatResult({ name: "X", status: "PASS", detail: "ok", seconds: 1.234 }), `PASS  ${"X".padEnd(38)}    1.23s  ok`);
    const base = { seconds: 0, detail: "" };
    assert.deepEqual(verdict([{ ...base, name: "a", status: "PASS" }, { ...base, name: "b", status: "WARN" }]), {
      line: "VERDICT: PASS, 2 checks passed; 1 warning(s): b",
      exitCode: 0,
    });
    assert.equal(verdict([{ ...base, name: "a", status: "FAIL" }, { ...base, name: "b", status: "PASS" }]).exitCode, 1);
    assert.equal(joinProblems(["a", "b", "c"], 2), "a; b; and 1 more");
  });
});

describe("verify: the whole command against stand-ins", () => {
  const servers: StandIn[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  /** Every part healthy, except what `broken` names. */
  async function platform(broken: { kibana?: boolean } = {}): Promise<{ outputs: StackOutputs; es: Client }> {
    const start = async (h: Parameters<typeof startStandIn>[0]) => {
      const s = await startStandIn(h);
      servers.push(s);
      return s.url;
    };
    const gatewayUrl = await start((_req, res) => sendJson(res, 200, { status: "ok" }));
    const kibanaUrl = await start((req, res) =>
      sendJson(res, broken.kibana && req.url?.endsWith("/all-gateway-logs") ? 404 : 200, {}),
    );
    const grafanaUrl = await start((req, res) => sendJson(res, 200, req.url?.endsWith("/health") ? { status: "OK" } : { dashboard: {} }));
    const operator = `Basic ${Buffer.from("operator:operator-password").toString("base64")}`;
    const prometheusUrl = await start((req, res) => req.headers.authorization !== operator
      ? sendJson(res, 401, "Unauthorized")
      : sendJson(res, 200, {
        status: "success",
        data: req.url?.startsWith("/api/v1/targets")
          ? { activeTargets: [{ labels: { job: "node", role: "web" }, scrapeUrl: "http://10.42.1.11:9100/metrics", health: "up", lastError: "" }] }
          : req.url?.startsWith("/api/v1/query")
            ? { resultType: "vector", result: (req.url.includes("kafka_brokers") ? ["kafka"] : ROLES).map((member) => ({ metric: { member }, value: [0, "1"] })) }
            : { alerts: [] },
      }),
    );
    const { mock, es } = mockedElasticsearch();
    const properties = ["component-templates/pipeline-logs.json", "index-templates/gateway-access.json"].map(
      (f) => JSON.parse(readFileSync(path.join(FIXTURE_DIRS.indexTemplates, f), "utf8")).template.mappings.properties,
    );
    const mappings = { properties: Object.assign({}, ...properties) };
    mock.add({ method: "GET", path: "/_cluster/health" }, () => ({ status: "green", number_of_nodes: 1, active_shards: 5, unassigned_shards: 0 }));
    mock.add({ method: "GET", path: "/_index_template/:name" }, (p) => {
      const name = String(p.path).split("/").pop();
      return { index_templates: [{ name, index_template: { index_patterns: [`${name}-*`], composed_of: [], template: { settings: { index: { lifecycle: { name } } } } } }] };
    });
    mock.add({ method: "GET", path: "/_ilm/policy/:name" }, (p) => ({ [String(p.path).split("/").pop()!]: { policy: {} } }));
    mock.add({ method: "POST", path: "/:index/_count" }, () => ({ count: 7 }));
    mock.add({ method: "GET", path: "/:index/_mapping" }, () => ({ "gateway-access-2025.06.01": { mappings } }));
    mock.add({ method: "POST", path: "/:index/_search" }, (params) => decodeURIComponent(String(params.path)).startsWith("/apps-")
      // The ingest check's record, found by its marker (the forward stub below took it).
      ? { hits: { hits: [{ _index: "apps-2025.06.01", _id: "a1", _source: {
        log: (params.body as { query: { match_phrase: { log: string } } }).query.match_phrase.log, "service.name": "platform-verify", "ingest.protocol": "forward",
      } }] } }
      : decodeURIComponent(String(params.path)).startsWith("/containers-")
        ? { hits: { hits: [] }, aggregations: { members: { buckets: ["logging", "web", "kafka", "monitoring"].map((key) => ({ key, doc_count: 1 })) } } }
        : { hits: { hits: [{ _id: "d1", _source: { "@timestamp": "2025-06-01T10:00:00Z", response: { status: 200 }, host: { name: "web" } } }] } });
    return { outputs: testOutputs({ gatewayUrl, kibanaUrl, grafanaUrl, prometheusUrl }), es };
  }

  async function run(argv: string[], p: { outputs: StackOutputs; es: Client } | Error, tunnel?: Deps["tunnel"]) {
    const lines: string[] = [];
    const code = await main(argv, {
      outputs: () => ({ read: async () => { if (p instanceof Error) throw p; return p.outputs; } }),
      elasticsearch: () => (p instanceof Error ? assert.fail("no client without outputs") : p.es),
      dirs: FIXTURE_DIRS,
      print: (line) => lines.push(line),
      tunnel: tunnel ?? (() => assert.fail("no tunnel on the docker target")),
      forward: async () => ({ serverHostname: "ingest", chunk: "c1" }),
    });
    return { code, lines };
  }

  it("opens the stack's SSH tunnel on aws for the whole run, and closes it after", async () => {
    const p = await platform();
    const tunnels = [{ member: "monitoring", host: "203.0.113.13", sshPort: 22, ports: [9090] }];
    const events: string[] = [];
    const { code, lines } = await run([], { ...p, outputs: { ...p.outputs, tunnels } }, async (outputs) => {
      events.push(`open ${JSON.stringify(outputs.tunnels)}`);
      return { exited: new Promise<string>(() => undefined), close: async () => void events.push("close") };
    });
    assert.equal(code, 0, lines.join("\n"));
    assert.deepEqual(events, [`open ${JSON.stringify(tunnels)}`, "close"]);
    const failed = await run([], { ...p, outputs: { ...p.outputs, tunnels } }, async () => {
      throw new Error("tunnel: monitoring (ubuntu@203.0.113.13:22): ssh ended (exit 255): Permission denied");
    });
    assert.equal(failed.code, 1);
    assert.match(failed.lines.at(-1)!, /^verify: tunnel: .*Permission denied/);
  });

  it("prints one line per check and exits 0 when every part works", async () => {
    const { code, lines } = await run(["dev", "--samples", "2"], await platform());
    assert.equal(lines[0], "Verifying stack dev, environment dev");
    assert.equal(lines.filter((l) => l.startsWith("PASS ")).length, 14, lines.join("\n"));
    assert.equal(lines.at(-1), "VERDICT: PASS, 14 checks passed");
    assert.equal(code, 0);
  });

  it("exits 1 and names the failed check when a part misbehaves", async () => {
    const { code, lines } = await run([], await platform({ kibana: true }));
    assert.match(lines.find((l) => l.startsWith("FAIL "))!, /^FAIL {2}Kibana saved objects .*search\/all-gateway-logs/);
    assert.equal(lines.at(-1), "VERDICT: FAIL, 1 of 14 checks failed: Kibana saved objects");
    assert.equal(code, 1);
  });

  it("exits 2 with the usage when the outputs cannot be read or the arguments are wrong", async () => {
    const unreadable = await run([], new Error("the Pulumi CLI (pulumi) is not on PATH"));
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.lines[0], /^verify: the Pulumi CLI/);
    assert.match(unreadable.lines[1], /^usage: npm run verify/);
    assert.equal((await run(["--samples", "x"], new Error("unused"))).code, 2);
    assert.equal((await run(["--help"], new Error("unused"))).code, 0);
  });
});
