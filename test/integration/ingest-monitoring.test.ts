import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { stringify } from "yaml";
import { PORTS } from "../../components/platform/ports";
import { renderScrapeTargets, SCRAPE_TARGETS_DIR } from "../../components/bundles/scrape-targets";
import {
  Dashboard, loadDashboards, loadPrometheusConfig, PROMETHEUS_DIR, prometheusTargets, RECORDED_METRICS, selectors,
  substituteVariables, waitForData,
} from "../helpers/monitoring";
import { freePort, Processes, waitFor } from "../helpers/local-servers";
import { SAMPLE_FACTS } from "../helpers/sample-facts";
import { runTool } from "../helpers/tools";

/**
 * A real Prometheus (Debian's) with the project's `ingest` and `ingest-refusals` jobs and alert rules, scraping
 * stand-ins that serve the scrapes recorded from a real Fluent Bit 5.1.1 (no Fluent Bit runs here): the ingest
 * endpoint's metrics, and the web host's forwarder's refusal counter. The rendered file_sd targets reach them, every
 * ingest panel of the Log pipeline dashboard gets data, and the refusal and pause alerts go pending on what they
 * report. The stand-ins play a sender with a wrong shared_key refused twice a scrape (the other reasons stay as
 * recorded) and forward_in paused; otlp_in and the storage_backlog input stay as recorded.
 */

const ADDRESS = "127.0.0.101"; // the web host's private IP in the rendered targets
const SCRAPES_MS = 90_000;
const JOBS = ["ingest", "ingest-refusals"] as const; // rate() needs two scrapes 15 s apart, the rules an evaluation after; generous for slow CI.

interface VectorSample { metric: Record<string, string>; value: [number, string] }
interface ActiveTarget { labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }
interface ActiveAlert { labels: Record<string, string>; state: string }

describe("monitoring: the ingest job, its panels and alerts against a live Prometheus and a recorded 5.1.1 endpoint", () => {
  const procs = new Processes();
  let dir: string;
  let base: string;
  let endpoint: http.Server;
  let forwarder: http.Server;
  let refusalScrapes = 0;
  const pipeline = loadDashboards().find((d) => d.dashboard.title === "Log pipeline")?.dashboard as Dashboard;

  /** The endpoint's recording as a scrape: forward_in paused. */
  const exposition = (): string => fs.readFileSync(RECORDED_METRICS.ingest, "utf8")
    .replace(/^(fluentbit_input_ingestion_paused\{name="forward_in"\}) 0$/m, "$1 1");
  /** The forwarder's recorded refusal counter as a scrape: the sender with a wrong shared_key refused twice a scrape. */
  const refusals = (): string => fs.readFileSync(RECORDED_METRICS.ingestRefusals, "utf8")
    .replace(/^(platform_ingest_refusals_total\{reason="shared_key"\}) (\d+)$/m, (_, series: string, n: string) => `${series} ${Number(n) + 2 * refusalScrapes}`);

  /** An HTTP server at ADDRESS:port that serves `body()` at `url` alone, as a Prometheus scrape. */
  const standIn = async (port: number, url: string, body: () => string): Promise<http.Server> => {
    const server = http.createServer((req, res) => {
      if (req.method !== "GET" || req.url !== url) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(body());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, ADDRESS, resolve);
    });
    assert.equal((server.address() as AddressInfo).port, port);
    return server;
  };

  const get = async <T>(api: string): Promise<T> => {
    const res = await fetch(`${base}${api}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data: T };
    assert.equal(body.status, "success", `${api}: ${body.error}`);
    return body.data;
  };
  const query = async (promql: string) => (await get<{ result: VectorSample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result;

  before(async function () {
    this.timeout(60_000);
    runTool("prometheus", ["--version"], "prometheus");
    assert.match(exposition(), /fluentbit_input_ingestion_paused\{name="forward_in"\} 1$/m, "the recording has forward_in's pause gauge");
    assert.match(refusals(), /^platform_ingest_refusals_total\{reason="shared_key"\} \d+$/m, "the recording has the shared_key refusals");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ingest-monitoring-"));

    endpoint = await standIn(PORTS.ingestMetrics, "/api/v2/metrics/prometheus", exposition);
    forwarder = await standIn(PORTS.forwarderLogMetrics, "/metrics", () => {
      refusalScrapes += 1;
      return refusals();
    });

    // The bundle's prometheus folder as deployed, with the two jobs alone (the others would dial the sample private
    // IPs) and no Alertmanager to send to; their target files rendered for a web host at ADDRESS.
    const project = loadPrometheusConfig();
    const jobs = JOBS.map((name) => project.scrape_configs.find((c) => c.job_name === name));
    assert.ok(jobs.every((job) => job?.file_sd_configs), "prometheus.yml scrapes both through file_sd");
    const config: Record<string, unknown> = { ...project, scrape_configs: jobs };
    delete config.alerting;
    const bundle = path.join(dir, "prometheus");
    fs.cpSync(path.join(PROMETHEUS_DIR, "rules"), path.join(bundle, "rules"), { recursive: true });
    fs.writeFileSync(path.join(bundle, "prometheus.yml"), stringify(config));
    const web = SAMPLE_FACTS.members.web.map((member) => ({ ...member, privateIp: ADDRESS }));
    const rendered = renderScrapeTargets({ ...SAMPLE_FACTS.members, web });
    fs.mkdirSync(path.join(dir, SCRAPE_TARGETS_DIR), { recursive: true });
    for (const job of JOBS) {
      const file = `${SCRAPE_TARGETS_DIR}/${job}.json`;
      fs.writeFileSync(path.join(dir, file), rendered[file]);
    }

    const promPort = await freePort();
    base = `http://${ADDRESS}:${promPort}`;
    procs.start(dir, "prometheus", "prometheus", [
      `--config.file=${path.join(bundle, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=${ADDRESS}:${promPort}`,
    ]);
    await waitFor("Prometheus to be ready", 30_000, async () => (await fetch(`${base}/-/ready`)).ok);
  });

  after(async () => {
    await procs.stopAll();
    for (const server of [endpoint, forwarder]) await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the endpoint (2022, /api/v2/metrics/prometheus) and the forwarder's refusal counter (2023, /metrics) at the web host's address", async function () {
    this.timeout(SCRAPES_MS + 10_000);
    let targets: ActiveTarget[] = [];
    await waitFor("both targets to be up", SCRAPES_MS, async () => {
      targets = (await get<{ activeTargets: ActiveTarget[] }>("/api/v1/targets?state=active")).activeTargets;
      return targets.length === 2 && targets.every((t) => t.health === "up");
    }).catch(() => assert.fail(`targets: ${JSON.stringify(targets)}`));
    const seen = targets.map((t) => ({ url: t.scrapeUrl, job: t.labels.job, role: t.labels.role, member: t.labels.member }))
      .sort((a, b) => a.job.localeCompare(b.job));
    assert.deepEqual(seen, [
      { url: `http://${ADDRESS}:${PORTS.ingestMetrics}/api/v2/metrics/prometheus`, job: "ingest", role: "web", member: "web" },
      { url: `http://${ADDRESS}:${PORTS.forwarderLogMetrics}/metrics`, job: "ingest-refusals", role: "web", member: "web" },
    ]);
  });

  it("answers every Log pipeline query on jobs ingest and ingest-refusals with data, the refusals panel by reason", async function () {
    this.timeout(SCRAPES_MS + 30_000);
    const queries = prometheusTargets(pipeline)
      .filter(({ expr }) => selectors(substituteVariables(expr, {})).some((s) => (JOBS as readonly string[]).includes(s.equals.job)))
      .map(({ panel, target, expr }) => ({ name: `"${panel.title}" ${target.refId}`, promql: substituteVariables(expr, {}) }));
    assert.ok(queries.length >= 8, `${queries.length} ingest queries`);
    await waitForData("ingest", queries, query, SCRAPES_MS);
    const panel = queries.find((q) => q.promql.includes("platform_ingest_refusals_total"));
    assert.ok(panel);
    const byReason = Object.fromEntries((await query(panel.promql)).map((s) => [s.metric.reason, Number(s.value[1])]));
    assert.deepEqual(Object.keys(byReason).sort(), ["client_certificate", "handshake", "no_tls", "shared_key", "user"]);
    assert.ok(byReason.shared_key > 0, `refusals per minute: ${JSON.stringify(byReason)}`);
    for (const reason of ["client_certificate", "handshake", "no_tls", "user"]) assert.equal(byReason[reason], 0, reason);
  });

  it("holds IngestEndpointRefusing (shared_key only) and IngestEndpointPaused (forward_in only) pending on what the endpoint and the forwarder report", async function () {
    this.timeout(SCRAPES_MS + 30_000);
    const rules = (await get<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>("/api/v1/rules")).groups;
    const ingest = rules.find((g) => g.name === "ingest")?.rules ?? [];
    assert.ok(ingest.length >= 2);
    assert.deepEqual(ingest.filter((r) => r.health === "err").map((r) => `${r.name}: ${r.lastError}`), []);
    const pending = async () => (await get<{ alerts: ActiveAlert[] }>("/api/v1/alerts")).alerts
      .filter((a) => a.labels.alertname.startsWith("Ingest"))
      .map((a) => [a.labels.alertname, a.state, a.labels.job, a.labels.member, a.labels.name ?? a.labels.reason].join(" ")).sort();
    // Refusing for the reason that grows alone, on the forwarder's target.
    const expected = ["IngestEndpointPaused pending ingest web forward_in", "IngestEndpointRefusing pending ingest-refusals web shared_key"];
    let seen: string[] = [];
    await waitFor("the ingest alerts to be pending", SCRAPES_MS, async () => {
      seen = await pending();
      return seen.length === expected.length;
    }).catch(() => undefined);
    assert.deepEqual(seen, expected);
  });
});
