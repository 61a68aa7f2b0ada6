import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import {
  Dashboard, loadDashboards, loadPrometheusConfig, parseLabelValues, PROMETHEUS_DIR, prometheusTargets,
  substituteVariables, waitForData,
} from "../helpers/monitoring";
import { freePort, Processes, waitFor } from "../helpers/local-servers";
import { runTool } from "../helpers/tools";
import { memberName } from "../../components/platform/topology";
import { syncCommand } from "../../components/bundles/bundle";
import { SCRAPE_TARGETS_DIR } from "../../components/bundles/scrape-targets";

/**
 * A real prometheus-node-exporter and Prometheus (Debian) on 127.0.0.1, Prometheus scraping with the project's
 * global settings and `node` job (only its target file points at loopback): every Hosts dashboard query returns data.
 * Its folder is laid down as a deploy lays the bundle's down (staged, then synced into place by the bundle's rsync),
 * so a later deploy's new targets reach it the way they reach the monitoring host.
 */

const ROLE = "monitoring";
const MEMBER = memberName(ROLE, 0); // the labels components/bundles/scrape-targets.ts gives every target
const SCRAPES_MS = 90_000; // rate() over $__rate_interval (1m) needs two scrapes 15 s apart; generous for slow CI.

interface VectorSample { metric: Record<string, string>; value: [number, string] }
interface TargetGroup { targets: string[]; labels: Record<string, string> }
interface ActiveTarget { labels: Record<string, string>; scrapeUrl: string }

describe("monitoring: Hosts dashboard and file_sd targets against a live node_exporter and Prometheus", () => {
  const procs = new Processes();
  let dir: string;
  let base: string;
  let nodePort: number;
  /** The node job's file_sd files and the prometheus.yml that reads them (the project's, with that job only). */
  let nodeTargetFiles: string[];
  let config: string;
  let deploys = 0;
  const hosts = loadDashboards().find((d) => d.dashboard.title === "Hosts")?.dashboard as Dashboard;
  /** Where the monitoring bundle's prometheus folder lands on the host: <bundle>/prometheus. */
  const bundle = () => path.join(dir, "bundle");

  /** A deploy: the prometheus folder staged afresh with these targets, then synced into place as Bundle does. */
  const deploy = (groups: TargetGroup[]) => {
    deploys += 1;
    const staged = path.join(dir, `staging-${deploys}`);
    fs.cpSync(path.join(PROMETHEUS_DIR, "rules"), path.join(staged, "prometheus", "rules"), { recursive: true });
    fs.writeFileSync(path.join(staged, "prometheus", "prometheus.yml"), config);
    fs.mkdirSync(path.join(staged, SCRAPE_TARGETS_DIR), { recursive: true });
    for (const file of nodeTargetFiles) fs.writeFileSync(path.join(staged, "prometheus", file), JSON.stringify(groups, null, 2) + "\n");
    const sync = runTool("sh", ["-c", syncCommand(staged, bundle())], "rsync");
    assert.equal(sync.status, 0, sync.stderr);
    fs.rmSync(staged, { recursive: true, force: true });
  };

  const activeTargets = async (): Promise<ActiveTarget[]> => {
    const res = await fetch(`${base}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(5000) });
    return ((await res.json()) as { data: { activeTargets: ActiveTarget[] } }).data.activeTargets;
  };
  const startTime = async (): Promise<string> => {
    const res = await fetch(`${base}/api/v1/status/runtimeinfo`, { signal: AbortSignal.timeout(5000) });
    return ((await res.json()) as { data: { startTime: string } }).data.startTime;
  };

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
    nodePort = await freePort();
    let promPort = await freePort();
    while (promPort === nodePort) promPort = await freePort();
    base = `http://127.0.0.1:${promPort}`;

    const project = loadPrometheusConfig();
    const nodeJob = project.scrape_configs.find((c) => c.job_name === "node");
    assert.ok(nodeJob?.file_sd_configs, "prometheus.yml scrapes node_exporter through file_sd");
    nodeTargetFiles = nodeJob.file_sd_configs.flatMap((sd) => sd.files);
    // Other jobs would dial the sample private IPs; only the node job is kept.
    config = stringify({ ...project, scrape_configs: [nodeJob] });
    deploy([{ targets: [`127.0.0.1:${nodePort}`], labels: { role: ROLE, member: MEMBER } }]);

    procs.start(dir, "node-exporter", "prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${nodePort}`]);
    procs.start(dir, "prometheus", "prometheus", [
      `--config.file=${path.join(bundle(), "prometheus", "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`,
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
    await waitForData("Hosts", queries, query, SCRAPES_MS);
  });

  it("picks up a deploy's new scrape targets without a restart: the sync replaces the file, the watch sees it", async function () {
    // The project's file_sd settings as deployed: the watch applies a change at once; the re-read every
    // refresh_interval is the fallback, so the wait is bounded by it.
    const nodeJob = loadPrometheusConfig().scrape_configs.find((c) => c.job_name === "node");
    assert.equal(nodeJob?.file_sd_configs?.[0].refresh_interval, "30s");
    const boundMs = 30_000 + 15_000; // Prometheus applies discovered targets in batches every 5 s
    this.timeout(boundMs + 30_000);
    await waitFor("the first deploy's target", 30_000, async () => (await activeTargets()).some((t) => t.labels.member === MEMBER));
    const started = await startTime();
    const file = path.join(bundle(), "prometheus", nodeTargetFiles[0]);
    const inode = fs.statSync(file).ino;

    // A logging host joins (logging-2): a deploy renders one more group. Its address is another loopback one, where
    // nothing answers; last in this file, so the Hosts queries above only ever saw the monitoring member.
    const grown = memberName("logging", 1);
    deploy([
      { targets: [`127.0.0.1:${nodePort}`], labels: { role: ROLE, member: MEMBER } },
      { targets: [`127.0.0.2:${nodePort}`], labels: { role: "logging", member: grown } },
    ]);
    assert.notEqual(fs.statSync(file).ino, inode, "the sync replaced the file (a new inode), as on the host");
    const since = Date.now();
    await waitFor(`${grown}'s target within ${boundMs / 1000}s`, boundMs, async () => (await activeTargets()).some((t) => t.labels.member === grown));
    const took = Date.now() - since;
    assert.equal(await startTime(), started, "Prometheus was not restarted");
    assert.deepEqual((await activeTargets()).map((t) => t.labels.member).sort(), [grown, MEMBER].sort());
    console.log(`      (${grown}'s target active after ${(took / 1000).toFixed(1)} s)`);
  });
});
