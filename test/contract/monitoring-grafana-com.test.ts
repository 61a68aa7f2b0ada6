import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FIXTURES_DIR, loadDatasources } from "../helpers/monitoring";
import { exportOf, runImport, startGrafanaCom } from "../helpers/grafana-com";

/**
 * Runs the monitoring host's grafana.com import script itself (same file, local Node instead of the pinned node
 * image) against a loopback stand-in for grafana.com that serves a small synthetic export. Download failures, which
 * retry with back-off, are in test/integration/grafana-com-import.test.ts.
 */

const SYNTHETIC = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, "grafana-com", "synthetic-dashboard.json"), "utf8")) as Record<string, unknown>;

describe("monitoring: grafana.com dashboard import (hosts/monitoring/grafana-com)", () => {
  let out: string;
  beforeEach(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), "grafana-com-"))));
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  it("downloads each id:revision and binds every ${DS_*} placeholder and __inputs to the provisioned UID", async () => {
    const site = await startGrafanaCom({ "1860": exportOf(SYNTHETIC) });
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

  it("skips with a warning, writing nothing, a dashboard with an undeclared placeholder or an unprovisioned datasource", async () => {
    const undeclared = { ...SYNTHETIC, __inputs: [] };
    const influx = { ...SYNTHETIC, __inputs: [{ name: "DS_INFLUX", type: "datasource", pluginId: "influxdb" }] };
    const site = await startGrafanaCom({ "1": exportOf(undeclared), "2": exportOf(influx) });
    try {
      for (const [list, message] of [["1:1", /dashboard 1 revision 1 not imported: .*references \$\{DS_PROMETHEUS\}/], ["2:1", /dashboard 2 revision 1 not imported: .*influxdb datasource/]] as const) {
        const run = await runImport(out, list, site.url);
        assert.equal(run.status, 0, `${list}: Grafana must still start`);
        assert.match(run.stderr, /^WARNING: /);
        assert.match(run.stderr, message);
      }
    } finally {
      await site.close();
    }
    assert.deepEqual(fs.readdirSync(out), []);
  });

  it("fails on a malformed list: that is a bug in the program, which validated grafanaComDashboards", async () => {
    const bad = await runImport(out, "1860", "http://127.0.0.1:9");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /not id:revision/);
  });
});
