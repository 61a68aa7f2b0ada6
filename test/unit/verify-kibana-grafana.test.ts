import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { grafanaDashboards, grafanaDatasources } from "../../verify/grafana";
import { kibanaObjects } from "../../verify/kibana";
import { flattenMapping, loadDashboardUids, loadDatasourceUids, loadIndexTemplate, loadKibanaObjects } from "../../verify/provisioning";
import { closedPort, FIXTURE_DIRS, Handler, sendJson, StandIn, startStandIn, testOutputs } from "../helpers/verify-stand-ins";

describe("verify: provisioning loaders", () => {
  it("reads saved-object ids from the NDJSON exports, skipping the export summary", () => {
    assert.deepEqual(loadKibanaObjects(FIXTURE_DIRS.kibanaObjects), [
      { type: "index-pattern", id: "gateway-access", title: "gateway-access-*" },
      { type: "search", id: "all-gateway-logs", title: "All gateway logs" },
    ]);
  });

  it("reads datasource uids from the provisioning YAML and dashboard uids from JSON in subfolders", () => {
    assert.deepEqual(loadDatasourceUids(FIXTURE_DIRS.grafanaDatasources).map((d) => d.uid), ["prometheus", "elasticsearch-gateway"]);
    assert.deepEqual(loadDashboardUids(FIXTURE_DIRS.grafanaDashboards).map((d) => d.uid), ["hosts", "log-pipeline"]);
  });

  it("finds the gateway template by its index pattern, with its fields and ILM policy", () => {
    const t = loadIndexTemplate(FIXTURE_DIRS.indexTemplates, "gateway-access-*");
    assert.equal(path.basename(t.file), "gateway-access.json");
    assert.equal(t.fields.get("@timestamp"), "date", "fields of the composed component template are included");
    assert.equal(t.fields.get("host.name"), "keyword");
    assert.equal(t.policy, "gateway-access");
    assert.equal(t.fields.get("request.uri.text"), "match_only_text");
    assert.equal(t.fields.get("request.headers"), "flattened");
    assert.equal(t.fields.get("response.status"), "short");
  });

  describe("fail clearly on files verify cannot use", () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "verify-loaders-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("a missing or empty folder", () => {
      assert.throws(() => loadKibanaObjects(path.join(dir, "nope")), /nope is missing/);
      assert.throws(() => loadDashboardUids(dir), /no Grafana dashboards found/);
    });

    it("a datasource or dashboard without a fixed uid", () => {
      writeFileSync(path.join(dir, "ds.yaml"), "datasources:\n  - name: Loose\n    type: prometheus\n");
      assert.throws(() => loadDatasourceUids(dir), /datasource Loose has no fixed uid/);
      writeFileSync(path.join(dir, "d.json"), '{"title":"No uid"}');
      assert.throws(() => loadDashboardUids(dir), /dashboard has no fixed uid/);
    });

    it("no template, or two, for the pattern", () => {
      assert.throws(() => loadIndexTemplate(FIXTURE_DIRS.indexTemplates, "containers-*"), /found 0/);
      const body = '{"index_patterns":["x-*"],"template":{"mappings":{"properties":{"a":{"type":"keyword"}}}}}';
      writeFileSync(path.join(dir, "a.json"), body);
      writeFileSync(path.join(dir, "b.json"), body);
      assert.throws(() => loadIndexTemplate(dir, "x-*"), /expected one index template for x-\* .* found 2/);
    });

    it("a template composed of a component template that is not there", () => {
      writeFileSync(path.join(dir, "y.json"), '{"index_patterns":["y-*"],"composed_of":["gone"]}');
      assert.throws(() => loadIndexTemplate(dir, "y-*"), /y\.json is composed of gone, but no gone\.json component template/);
    });
  });

  it("flattens nested objects and multi-fields the way dotted mappings read", () => {
    const nested = flattenMapping({
      request: { properties: { uri: { type: "keyword", fields: { text: { type: "text" } } }, headers: { type: "flattened" } } },
      "response.status": { type: "short" },
      events: { type: "nested", properties: { at: { type: "date" } } },
    });
    assert.deepEqual(Object.fromEntries(nested), {
      "request.uri": "keyword",
      "request.uri.text": "text",
      "request.headers": "flattened",
      "response.status": "short",
      events: "nested",
      "events.at": "date",
    });
  });
});

describe("verify: Kibana and Grafana checks", () => {
  let server: StandIn | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const objects = () => loadKibanaObjects(FIXTURE_DIRS.kibanaObjects);
  const datasources = () => loadDatasourceUids(FIXTURE_DIRS.grafanaDatasources);
  const dashboards = () => loadDashboardUids(FIXTURE_DIRS.grafanaDashboards);

  /** Kibana stand-in: answers 200 for the saved objects it holds, 404 for others. */
  function kibana(held: string[], status = 200): Handler {
    return (req, res) => {
      const key = (req.url ?? "").replace("/api/saved_objects/", "");
      if (status !== 200) sendJson(res, status, { message: "Kibana server is not ready yet" });
      else if (held.includes(key)) sendJson(res, 200, { id: key.split("/")[1], type: key.split("/")[0], attributes: {} });
      else sendJson(res, 404, { statusCode: 404, error: "Not Found", message: `Saved object [${key}] not found` });
    };
  }

  it("Kibana passes when every saved object exists under its fixed id", async () => {
    server = await startStandIn(kibana(["index-pattern/gateway-access", "search/all-gateway-logs"]));
    assert.equal(await kibanaObjects(testOutputs({ kibanaUrl: server.url }), objects(), 2000), "2 saved objects present");
    assert.deepEqual(server.seen, ["/api/saved_objects/index-pattern/gateway-access", "/api/saved_objects/search/all-gateway-logs"]);
  });

  it("Kibana fails naming the missing object", async () => {
    server = await startStandIn(kibana(["index-pattern/gateway-access"]));
    await assert.rejects(kibanaObjects(testOutputs({ kibanaUrl: server.url }), objects(), 2000), /1 of 2 saved objects missing: search\/all-gateway-logs \(All gateway logs\)/);
  });

  it("Kibana: asks as platform-check, and fails saying the password output is wrong on a 401", async () => {
    const users: string[] = [];
    server = await startStandIn((req, res) => {
      users.push(Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString());
      sendJson(res, 401, { statusCode: 401, error: "Unauthorized", message: "[security_exception] unable to authenticate user" });
    });
    await assert.rejects(
      kibanaObjects(testOutputs({ kibanaUrl: server.url }, { elasticsearchCheckPassword: "stale-password" }), objects(), 2000),
      /^Error: Kibana refused platform-check's password \(HTTP 401\): the stack output elasticsearchCheckPassword/,
    );
    assert.deepEqual(users, ["platform-check:stale-password"]);
  });

  it("Kibana fails on an error status", async () => {
    server = await startStandIn(kibana([], 503));
    await assert.rejects(kibanaObjects(testOutputs({ kibanaUrl: server.url }), objects(), 2000), /Kibana answered HTTP 503 .*not ready yet/);
  });

  it("Kibana fails naming the logging host, and on the docker target its containers, when nothing answers", async () => {
    server = await startStandIn(() => undefined);
    await assert.rejects(
      kibanaObjects(testOutputs({ kibanaUrl: server.url }), objects(), 200),
      /Kibana .* is unreachable: logging host 203\.0\.113\.10, tcp\/5601: no answer within 0\.2s\. Check that the local host containers run \(docker ps\)/,
    );
  });

  /** Grafana stand-in: checks basic auth, then answers health per datasource uid and dashboards it holds. */
  function grafana(health: Record<string, "OK" | "ERROR">, held: string[]): Handler {
    const expected = `Basic ${Buffer.from("admin:test-password").toString("base64")}`;
    return (req, res) => {
      const url = req.url ?? "";
      if (req.headers.authorization !== expected) return sendJson(res, 401, { message: "invalid username or password" });
      const ds = /^\/api\/datasources\/uid\/([^/]+)\/health$/.exec(url);
      if (ds) {
        const status = health[ds[1]];
        if (!status) return sendJson(res, 404, { message: "Data source not found" });
        return sendJson(res, status === "OK" ? 200 : 400, { status, message: status === "OK" ? "Data source is working" : "dial tcp: connection refused" });
      }
      const db = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(url);
      if (db && held.includes(db[1])) return sendJson(res, 200, { dashboard: { uid: db[1] }, meta: {} });
      sendJson(res, 404, { message: "Dashboard not found" });
    };
  }

  it("Grafana passes when each datasource is healthy and each dashboard exists", async () => {
    server = await startStandIn(grafana({ prometheus: "OK", "elasticsearch-gateway": "OK" }, ["hosts", "log-pipeline"]));
    const outputs = testOutputs({ grafanaUrl: server.url });
    assert.equal(await grafanaDatasources(outputs, datasources(), 2000), "2 datasources healthy: prometheus, elasticsearch-gateway");
    assert.equal(await grafanaDashboards(outputs, dashboards(), 2000), "2 dashboards present");
  });

  it("Grafana fails when a datasource's health check fails or it does not exist", async () => {
    server = await startStandIn(grafana({ prometheus: "OK", "elasticsearch-gateway": "ERROR" }, []));
    await assert.rejects(
      grafanaDatasources(testOutputs({ grafanaUrl: server.url }), datasources(), 2000),
      /1 of 2 datasources unhealthy: elasticsearch-gateway \(Elasticsearch gateway\): HTTP 400 .*connection refused/,
    );
    await assert.rejects(
      grafanaDatasources(testOutputs({ grafanaUrl: server.url }), [{ uid: "gone", name: "Gone" }], 2000),
      /gone \(Gone\): HTTP 404/,
    );
  });

  it("Grafana fails when the health answer is 200 but not Grafana's OK (e.g. a proxy's page)", async () => {
    server = await startStandIn((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>Welcome</html>");
    });
    await assert.rejects(grafanaDatasources(testOutputs({ grafanaUrl: server.url }), datasources(), 2000), /2 of 2 datasources unhealthy: prometheus \(Prometheus\): HTTP 200 <html>Welcome<\/html>/);
  });

  it("Grafana fails naming a missing dashboard", async () => {
    server = await startStandIn(grafana({}, ["hosts"]));
    await assert.rejects(grafanaDashboards(testOutputs({ grafanaUrl: server.url }), dashboards(), 2000), /1 of 2 dashboards missing: log-pipeline \(Log pipeline\)/);
  });

  it("Grafana fails clearly when the admin password is wrong", async () => {
    server = await startStandIn(grafana({ prometheus: "OK" }, ["hosts"]));
    const outputs = { ...testOutputs({ grafanaUrl: server.url }), grafanaAdminPassword: "stale" };
    await assert.rejects(grafanaDashboards(outputs, dashboards(), 2000), /Grafana refused admin's password \(HTTP 401\): the stack output grafanaAdminPassword/);
  });

  it("Grafana fails naming the monitoring host when its port is closed", async () => {
    const outputs = testOutputs({ grafanaUrl: `http://127.0.0.1:${await closedPort()}` });
    await assert.rejects(grafanaDatasources(outputs, datasources(), 2000), /Grafana .* is unreachable: monitoring host 203\.0\.113\.13, tcp\/3000 refused the connection/);
  });
});
