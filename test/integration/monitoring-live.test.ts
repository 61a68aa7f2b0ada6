import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import {
  Dashboard, loadDashboards, loadPrometheusConfig, parseLabelValues, PROMETHEUS_DIR, prometheusTargets,
  substituteVariables,
} from "../helpers/monitoring";
import { freePort, Processes, waitFor } from "../helpers/local-servers";
import { runTool } from "../helpers/tools";
import { memberName } from "../../components/platform/topology";

/**
 * A real prometheus-node-exporter and Prometheus (Debian) on 127.0.0.1, Prometheus scraping with the project's
 * global settings and `node` job (only its target file points at loopback): every Hosts dashboard query returns data.
 */

const ROLE = "monitoring";
const MEMBER = memberName(ROLE, 0); // the labels components/bundles/scrape-targets.ts gives every target
const SCRAPES_MS = 90_000; // rate() over $__rate_interval (1m) needs two scrapes 15 s apart; generous for slow CI.

interface VectorSample { metric: Record<string, string>; value: [number, string] }

describe("monitoring: Hosts dashboard against a live node_exporter and Prometheus", () => {
  const procs = new Processes();
  let dir: string;
  let base: string;
  const hosts = loadDashboards().find((d) => d.dashboard.title === "Hosts")?.dashboard as Dashboard;

  const query = async (promql: string): Promise<VectorSample[]> => {
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: VectorSample[] } };
    assert.equal(body.status, "success", `${promql}: ${body.error}`);
    return body.data.result;
  };

  before(async function () {
    this.timeout(60_000);
    for (const [tool, pkg] of [["prometheus", "prometheus"], ["prometheus-node-exporter", "prometheus-node-exporter"]]) {
      runTool(tool, ["--version"], pkg);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-live-"));
    const nodePort = await freePort();
    let promPort = await freePort();
    while (promPort === nodePort) promPort = await freePort();
    base = `http://127.0.0.1:${promPort}`;

    const project = loadPrometheusConfig();
    const nodeJob = project.scrape_configs.find((c) => c.job_name === "node");
    assert.ok(nodeJob?.file_sd_configs, "prometheus.yml scrapes node_exporter through file_sd");
    fs.cpSync(path.join(PROMETHEUS_DIR, "rules"), path.join(dir, "rules"), { recursive: true });
    fs.mkdirSync(path.join(dir, "targets"));
    for (const file of nodeJob.file_sd_configs.flatMap((sd) => sd.files)) {
      fs.writeFileSync(path.join(dir, file), JSON.stringify([{ targets: [`127.0.0.1:${nodePort}`], labels: { role: ROLE, member: MEMBER } }]));
    }
    // Other jobs would dial the sample private IPs; only the node job is kept.
    fs.writeFileSync(path.join(dir, "prometheus.yml"), stringify({ ...project, scrape_configs: [nodeJob] }));

    procs.start(dir, "node-exporter", "prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${nodePort}`]);
    procs.start(dir, "prometheus", "prometheus", [
      `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    await waitFor("Prometheus to be ready", 30_000, async () => (await fetch(`${base}/-/ready`)).ok);
  });

  after(async () => {
    await procs.stopAll();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("loads the project's alert rules", async () => {
    const res = await fetch(`${base}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 0);
    assert.deepEqual(rules.filter((r) => r.health === "err").map((r) => r.name), []);
  });

  it("answers every Hosts query with data, for the role and member its variables offer", async function () {
    this.timeout(SCRAPES_MS + 30_000);
    // Variables resolve like Grafana's label_values(): the label's values on the selected series.
    const values: Record<string, string> = {};
    for (const variable of hosts.templating.list) {
      const { selector, label } = parseLabelValues(variable);
      await waitFor(`variable ${variable.name} to have values`, SCRAPES_MS, async () =>
        (await query(substituteVariables(selector, values))).some((s) => s.metric[label] !== undefined));
      values[variable.name] = (await query(substituteVariables(selector, values)))[0].metric[label];
    }
    assert.deepEqual([values.role, values.member], [ROLE, MEMBER]);

    const queries = prometheusTargets(hosts).map(({ panel, target, expr }) => ({
      name: `"${panel.title}" ${target.refId}`, promql: substituteVariables(expr, values),
    }));
    assert.ok(queries.length >= 8);
    const empty = new Set(queries.map((q) => q.name));
    try {
      await waitFor("every Hosts query to return data", SCRAPES_MS, async () => {
        for (const q of queries.filter((x) => empty.has(x.name))) {
          if ((await query(q.promql)).length > 0) empty.delete(q.name);
        }
        return empty.size === 0;
      });
    } catch {
      assert.fail(`no data for: ${queries.filter((q) => empty.has(q.name)).map((q) => `${q.name}: ${q.promql}`).join("\n")}`);
    }
  });
});
