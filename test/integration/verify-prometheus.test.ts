import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { prometheusAlerts, prometheusTargets } from "../../verify/prometheus";
import { closedPort, testOutputs } from "../helpers/verify-stand-ins";
import { Processes, waitFor } from "../helpers/local-servers";

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
  async function startPrometheus(name: string, extra: { job: string; target: string; role: string }[]): Promise<string> {
    const port = await closedPort();
    const base = path.join(dir, name);
    const job = (jobName: string, target: string, role: string) => ({ job_name: jobName, static_configs: [{ targets: [target], labels: { role } }] });
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
        scrape_configs: [
          job("prometheus", `127.0.0.1:${port}`, "monitoring"),
          job("node", `127.0.0.1:${nodePort}`, "web"),
          ...extra.map((e) => job(e.job, e.target, e.role)),
        ],
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
      return activeTargets.length === 2 + extra.length && activeTargets.every((t) => t.health !== "unknown");
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
});
