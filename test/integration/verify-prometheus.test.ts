import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { nodeExportersPerMember, prometheusAlerts, prometheusTargets } from "../../verify/prometheus";
import { closedPort, clusterOutputs, testOutputs } from "../helpers/verify-stand-ins";
import { Processes, waitFor } from "../helpers/local-servers";

interface ScrapeTarget { job: string; target: string; role: string; member?: string }

const TOOLS = ["prometheus", "prometheus-node-exporter"];
const WAIT_MS = 60_000;

function requireTools(): void {
  for (const tool of TOOLS) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      assert.fail(`${tool} is not installed: apt-get install prometheus prometheus-node-exporter (listed in .ci/apt-packages.txt)`);
    }
  }
}

async function api<T>(base: string, p: string): Promise<T> {
  return ((await (await fetch(`${base}${p}`, { signal: AbortSignal.timeout(5000) })).json()) as { data: T }).data;
}

describe("verify: Prometheus check against a real Prometheus and node_exporter on loopback", () => {
  let dir: string;
  let nodePort: number;
  const procs = new Processes();

  before(async () => {
    requireTools();
    dir = mkdtempSync(path.join(tmpdir(), "verify-prometheus-"));
    nodePort = await closedPort();
    procs.start(dir, "node-exporter", "prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${nodePort}`]);
  });

  after(async () => {
    await procs.stopAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A Prometheus scraping itself, node_exporter and `extra` targets, with one warning alert that always fires. */
  async function startPrometheus(name: string, extra: ScrapeTarget[]): Promise<string> {
    const port = await closedPort();
    const base = path.join(dir, name);
    const targets: ScrapeTarget[] = [
      { job: "prometheus", target: `127.0.0.1:${port}`, role: "monitoring" },
      { job: "node", target: `127.0.0.1:${nodePort}`, role: "web" },
      ...extra,
    ];
    // One scrape config per job (Prometheus refuses a job name twice), one static group per target.
    const scrapeConfigs = [...new Set(targets.map((t) => t.job))].map((jobName) => ({
      job_name: jobName,
      static_configs: targets.filter((t) => t.job === jobName).map(({ target, role, member }) => ({ targets: [target], labels: { role, ...(member ? { member } : {}) } })),
    }));
    writeFileSync(
      `${base}.rules.yml`,
      stringify({
        groups: [{
          name: "verify-test",
          rules: [
            { alert: "VerifyTestAlwaysFiring", expr: "vector(1)", labels: { severity: "warning" } },
            { alert: "TargetDown", expr: "up == 0", labels: { severity: "critical" } },
          ],
        }],
      }),
    );
    writeFileSync(
      `${base}.yml`,
      stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [`${base}.rules.yml`],
        scrape_configs: scrapeConfigs,
      }),
    );
    procs.start(dir, name, "prometheus", [
      `--config.file=${base}.yml`,
      `--storage.tsdb.path=${base}-data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    const url = `http://127.0.0.1:${port}`;
    const log = () => readFileSync(path.join(dir, `${name}.log`), "utf8").slice(-2000);
    await waitFor(`Prometheus ready on ${url}\n${log()}`, WAIT_MS, async () => (await fetch(`${url}/-/ready`)).ok);
    await waitFor("every target scraped once", WAIT_MS, async () => {
      const { activeTargets } = await api<{ activeTargets: { health: string }[] }>(url, "/api/v1/targets");
      return activeTargets.length === targets.length && activeTargets.every((t) => t.health !== "unknown");
    });
    return url;
  }

  const alertFiring = (url: string, name: string) => async () =>
    (await api<{ alerts: { labels: { alertname: string }; state: string }[] }>(url, "/api/v1/alerts")).alerts.some(
      (a) => a.labels.alertname === name && a.state === "firing",
    );

  it("passes with all targets up, and reports a firing warning alert as a warning", async () => {
    const url = await startPrometheus("all-up", []);
    const outputs = testOutputs({ prometheusUrl: url });
    assert.equal(await prometheusTargets(outputs, 5000), "2 targets up (node, prometheus)");
    await waitFor("the always-firing alert", WAIT_MS, alertFiring(url, "VerifyTestAlwaysFiring"));
    assert.deepEqual(await prometheusAlerts(outputs, 5000), { status: "WARN", detail: "firing: VerifyTestAlwaysFiring[warning]" });
  });

  it("fails when a target is down, naming it and its role, and fails on the TargetDown alert", async () => {
    const closed = await closedPort();
    const url = await startPrometheus("one-down", [{ job: "kafka-exporter", target: `127.0.0.1:${closed}`, role: "kafka" }]);
    const outputs = testOutputs({ prometheusUrl: url });
    await assert.rejects(
      prometheusTargets(outputs, 5000),
      new RegExp(`1 of 3 targets not up: kafka-exporter http://127\\.0\\.0\\.1:${closed}/metrics on kafka: .*connection refused`),
    );
    await waitFor("the TargetDown alert", WAIT_MS, alertFiring(url, "TargetDown"));
    await assert.rejects(prometheusAlerts(outputs, 5000), /firing: .*TargetDown\[critical\] \(kafka\)/);
  });

  it("reports node_exporter per member from the `member` label, naming a member down and one not scraped", async () => {
    const closed = await closedPort();
    // The one real node_exporter stands in for every member but logging-2 (nothing listens) and kafka-3 (no target).
    const members = ["logging", "logging-3", "web", "kafka", "kafka-2", "monitoring"];
    const url = await startPrometheus("members", [
      ...members.map((member) => ({ job: "node", target: `127.0.0.1:${nodePort}`, role: member.replace(/-\d$/, ""), member })),
      { job: "node", target: `127.0.0.1:${closed}`, role: "logging", member: "logging-2" },
    ]);
    await assert.rejects(nodeExportersPerMember(clusterOutputs(testOutputs({ prometheusUrl: url })), 5000),
      new RegExp(`^Error: 2 of 8 members not up: logging-2 down \\(127\\.0\\.0\\.1:${closed}\\): .*; kafka-3 is not a scrape target`));
    assert.equal(await nodeExportersPerMember(testOutputs({ prometheusUrl: url }), 5000), "4 members up (logging, web, kafka, monitoring)");
  });
});
