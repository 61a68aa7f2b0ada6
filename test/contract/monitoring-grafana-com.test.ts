import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { FIXTURES_DIR, loadDatasources, MONITORING_DIR } from "../helpers/monitoring";

/**
 * Runs the monitoring host's grafana.com import script itself (same file, local Node instead of the pinned node
 * image) against a loopback stand-in for grafana.com that serves a small synthetic export.
 */

const SCRIPT = path.join(MONITORING_DIR, "grafana-com", "import-dashboards.mjs");
const SYNTHETIC = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, "grafana-com", "synthetic-dashboard.json"), "utf8")) as Record<string, unknown>;

/** A grafana.com stand-in: /api/dashboards/<id>/revisions/<rev>/download answers from `exports` or 404. */
function startGrafanaCom(exports: Record<string, unknown>): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const id = /^\/api\/dashboards\/(\d+)\/revisions\/\d+\/download$/.exec(req.url ?? "")?.[1];
    const body = id === undefined ? undefined : exports[id];
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { message: "not found" }));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  })));
}

function runImport(outDir: string, list: string, baseUrl: string) {
  // Async spawn: the stand-in server answers on this process's event loop.
  return new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, outDir], {
      env: { PATH: process.env.PATH, GRAFANA_COM_DASHBOARDS: list, GRAFANA_COM_URL: baseUrl },
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("monitoring: grafana.com dashboard import (hosts/monitoring/grafana-com)", () => {
  let out: string;
  beforeEach(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), "grafana-com-"))));
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  it("downloads each id:revision and binds every ${DS_*} placeholder and __inputs to the provisioned UID", async () => {
    const site = await startGrafanaCom({ "1860": SYNTHETIC });
    try {
      const run = await runImport(out, "1860:42", site.url);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(site.requests, ["/api/dashboards/1860/revisions/42/download"]);
    } finally {
      await site.close();
    }
    assert.deepEqual(fs.readdirSync(out), ["grafana-com-1860.json"]);
    const text = fs.readFileSync(path.join(out, "grafana-com-1860.json"), "utf8");
    const dashboard = JSON.parse(text);
    assert.doesNotMatch(text, /\$\{DS_|\$\{VAR_|__inputs|__requires|__elements/);
    assert.equal(dashboard.uid, "grafana-com-1860");
    assert.equal(dashboard.id, null);

    const prometheus = loadDatasources().find((ds) => ds.type === "prometheus");
    const ref = { type: "prometheus", uid: prometheus?.uid };
    assert.equal(ref.uid, "prometheus");
    assert.deepEqual(dashboard.panels[0].datasource, ref);
    assert.deepEqual(dashboard.panels[0].targets[0].datasource, ref);
    assert.equal(dashboard.panels[0].targets[0].expr, 'node_load1{job="node"}', "constant inputs are filled in too");
    assert.deepEqual(dashboard.panels[1].datasource, ref, "a legacy string reference becomes a uid reference");
    assert.deepEqual(dashboard.templating.list[1].datasource, ref);
    const dsVariable = dashboard.templating.list[0];
    assert.equal(dsVariable.current.value, "prometheus", "the datasource variable starts on the provisioned uid");
    assert.equal(dashboard.panels[2].datasource.uid, "${ds_prometheus}", "dashboard variables stay variables");
    assert.equal(dashboard.annotations.list[0].datasource.uid, "-- Grafana --");
  });

  it("removes dashboards dropped from the list and leaves other files alone; an empty list is fine", async () => {
    fs.writeFileSync(path.join(out, "grafana-com-99.json"), "{}");
    fs.writeFileSync(path.join(out, "README"), "not ours");
    const site = await startGrafanaCom({});
    try {
      const run = await runImport(out, "", site.url);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(site.requests, []);
    } finally {
      await site.close();
    }
    assert.deepEqual(fs.readdirSync(out), ["README"]);
  });

  it("fails, writing nothing, when a placeholder has no input or an input needs an unprovisioned datasource", async () => {
    const undeclared = { ...SYNTHETIC, __inputs: [] };
    const influx = { ...SYNTHETIC, __inputs: [{ name: "DS_INFLUX", type: "datasource", pluginId: "influxdb" }] };
    const site = await startGrafanaCom({ "1": undeclared, "2": influx });
    try {
      for (const [list, message] of [["1:1", /references \$\{DS_PROMETHEUS\}/], ["2:1", /influxdb datasource/]] as const) {
        const run = await runImport(out, list, site.url);
        assert.equal(run.status, 1, list);
        assert.match(run.stderr, message);
      }
      const bad = await runImport(out, "1860", site.url);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /not id:revision/);
    } finally {
      await site.close();
    }
    assert.deepEqual(fs.readdirSync(out), []);
  });
});
