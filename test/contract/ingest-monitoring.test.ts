import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";
import { PORTS } from "../../components/platform/ports";
import { ROLES } from "../../components/platform/roles";
import { INGRESS_MATRIX } from "../../components/platform/ingress";
import { FILE_SD_TARGETS, SCRAPE_TARGETS_DIR } from "../../components/bundles/scrape-targets";
import { FORWARD_INPUT_TEMPLATE } from "../../components/bundles/rendered-files";
import { loadCompose, publishedPorts } from "../helpers/compose";
import { FluentBitConfig, isOn, parseConfig, prop } from "../helpers/fluent-bit";
import {
  Dashboard, fluentBitServices, loadAlertRules, loadDashboards, loadMetricFixtures, loadPrometheusConfig, parseExposition, prometheusTargets,
  RECORDED_METRICS, selectors, Selector, substituteVariables,
} from "../helpers/monitoring";

/**
 * The monitoring of the ingest endpoint (the web host's Fluent Bit service `ingest`, where the users' services send
 * their logs): Prometheus job `ingest`, its alerts and its panels on the Log pipeline dashboard, against the
 * endpoint's config and a scrape recorded from a real Fluent Bit 5.1.1 (test/fixtures/monitoring/metrics/ingest.prom);
 * and job `ingest-refusals`, the refused senders the web host's forwarder counts from the endpoint's lines, against
 * the forwarder's config and its scrape recorded from a real 5.1.1 (ingest-refusals.prom).
 */

const JOB = "ingest";
const REFUSALS_JOB = "ingest-refusals";
const REFUSALS = "platform_ingest_refusals_total";
const FORWARDER = "forwarder/fluent-bit.yaml";
const INPUTS = ["forward_in", "otlp_in"];
const OUTPUT = "kafka_apps";
/** Labels Prometheus gives every target (the job and file_sd's), not the exporter's own. */
const TARGET_LABELS = new Set(["job", "instance", "role", "member"]);

const service = () => fluentBitServices().find((s) => s.role === "web" && s.service === JOB);
/** The endpoint's config with what it includes (the forward input, rendered from its template with the secrets). */
const endpointConfig = (): FluentBitConfig => {
  const found = service();
  assert.ok(found, `the web bundle runs no Fluent Bit service "${JOB}"`);
  const [main, ...included] = [found.file, ...found.includes].map((file) => parseConfig(fs.readFileSync(path.join(REPO_ROOT, file), "utf8")));
  const plugins = (kind: "inputs" | "outputs") => [main, ...included].flatMap((c) => c.pipeline?.[kind] ?? []);
  return { ...main, pipeline: { ...main.pipeline, inputs: plugins("inputs"), outputs: plugins("outputs") } };
};
const SCRAPE_SERIES = loadMetricFixtures().get("*") ?? new Set<string>();
const recorded = parseExposition(fs.readFileSync(RECORDED_METRICS.ingest, "utf8"));
const recordedRefusals = parseExposition(fs.readFileSync(RECORDED_METRICS.ingestRefusals, "utf8"));
const rules = loadAlertRules();
const rule = (name: string) => rules.find((r) => r.alert === name);
const pipeline = loadDashboards().find((d) => d.dashboard.title === "Log pipeline")?.dashboard as Dashboard;

/** Every selector of a query that names the ingest job (or another: the refusals'). */
const ingestSelectors = (expr: string, job = JOB): Selector[] => selectors(substituteVariables(expr, {})).filter((s) => s.equals.job === job);

/** The alerts and dashboard queries that select the ingest job, by where they are. */
function ingestQueries(): { where: string; expr: string }[] {
  return [
    ...rules.filter((r) => ingestSelectors(r.expr).length > 0).map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    ...prometheusTargets(pipeline).filter(({ expr }) => ingestSelectors(expr).length > 0)
      .map(({ panel, target, expr }) => ({ where: `"${panel.title}" ${target.refId}`, expr })),
  ];
}

/** The values a matcher accepts when it is a plain alternation (`a|b`), else undefined. */
const alternatives = (value: string): string[] | undefined => (/^[\w.-]+(\|[\w.-]+)*$/.test(value) ? value.split("|") : undefined);

describe("monitoring of the ingest endpoint (job ingest)", () => {
  it("scrapes the web host's ingest Fluent Bit where it serves its metrics: its http_port, published, open to the monitoring host", () => {
    const config = endpointConfig();
    assert.ok(isOn(prop(config.service ?? {}, "http_server")), "the ingest Fluent Bit runs its HTTP server");
    assert.equal(Number(prop(config.service ?? {}, "http_port")), PORTS.ingestMetrics);
    assert.ok(publishedPorts(loadCompose("web").services[JOB]).includes(PORTS.ingestMetrics), `the ${JOB} service publishes ${PORTS.ingestMetrics}`);
    assert.deepEqual(FILE_SD_TARGETS.ingest, { job: JOB, roles: ["web"], port: PORTS.ingestMetrics, firstMemberOnly: false });
    assert.ok(INGRESS_MATRIX.some((r) => r.to === "web" && r.port === "ingestMetrics" && typeof r.from === "object" && "role" in r.from && r.from.role === "monitoring"),
      "the web host's security group lets the monitoring host reach ingestMetrics");
    const job = loadPrometheusConfig().scrape_configs.find((c) => c.job_name === JOB);
    assert.equal(job?.metrics_path, "/api/v2/metrics/prometheus");
    assert.deepEqual(job?.file_sd_configs?.flatMap((sd) => sd.files), [path.posix.relative("prometheus", `${SCRAPE_TARGETS_DIR}/ingest.json`)]);
  });

  it("scrapes the refusal counter where the web host's forwarder serves it: its prometheus_exporter, published, open to the monitoring host", () => {
    const forwarder = parseConfig(fs.readFileSync(path.join(REPO_ROOT, FORWARDER), "utf8"));
    const exporter = (forwarder.pipeline?.outputs ?? []).find((o) => o.name === "prometheus_exporter");
    assert.equal(Number(prop(exporter ?? {}, "port")), PORTS.forwarderLogMetrics);
    const compose = loadCompose("web").services["fluent-bit-forwarder"];
    assert.ok(publishedPorts(compose).includes(PORTS.forwarderLogMetrics), `the forwarder publishes ${PORTS.forwarderLogMetrics}`);
    // On the web host only, where the endpoint runs (the other hosts' forwarders serve nothing there).
    assert.deepEqual(FILE_SD_TARGETS[REFUSALS_JOB], { job: REFUSALS_JOB, roles: ["web"], port: PORTS.forwarderLogMetrics, firstMemberOnly: false });
    // Every host's forwarder publishes the port (one compose file for all), so every security group opens it to the
    // monitoring host alone.
    const opened = INGRESS_MATRIX.filter((r) => r.port === "forwarderLogMetrics");
    assert.deepEqual(opened.map((r) => r.to).sort(), [...ROLES].sort());
    assert.ok(opened.every((r) => typeof r.from === "object" && "role" in r.from && r.from.role === "monitoring"));
    const job = loadPrometheusConfig().scrape_configs.find((c) => c.job_name === REFUSALS_JOB);
    // out_prometheus_exporter serves /metrics (plugins/out_prometheus_exporter/prom_http.c).
    assert.equal(job?.metrics_path, "/metrics");
    assert.deepEqual(job?.file_sd_configs?.flatMap((sd) => sd.files), [path.posix.relative("prometheus", `${SCRAPE_TARGETS_DIR}/${REFUSALS_JOB}.json`)]);
  });

  it("names exactly the endpoint's plugins: its inputs forward_in and otlp_in and its output kafka_apps", () => {
    // The forward input is the rendered include (its secrets), read here from the template it is rendered from.
    assert.deepEqual(service()?.includes, [FORWARD_INPUT_TEMPLATE]);
    const config = endpointConfig();
    const aliases = (list?: Record<string, unknown>[]) => (list ?? []).map((p) => String(prop(p, "alias"))).sort();
    assert.deepEqual(aliases(config.pipeline?.inputs), INPUTS);
    assert.deepEqual(aliases(config.pipeline?.outputs), [OUTPUT]);
    const problems: string[] = [];
    for (const { where, expr } of ingestQueries()) {
      for (const { metric, matchers } of ingestSelectors(expr)) {
        for (const { op, value } of matchers.filter((m) => m.label === "name")) {
          const names = op === "=" ? [value] : op === "=~" ? alternatives(value) : undefined;
          const plugins = metric.startsWith("fluentbit_input_") ? INPUTS : [OUTPUT];
          // A regex on the inputs names both; the storage_backlog input (filesystem replay) is not the endpoint's door.
          if (!names || names.some((n) => !plugins.includes(n)) || (op === "=~" && names.length !== plugins.length)) {
            problems.push(`${where}: ${metric}{name${op}"${value}"}, not ${plugins.join(" and ")}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it("selects only series a real Fluent Bit 5.1.1 endpoint serves, with label values it has (recorded scrape)", () => {
    assert.ok(recorded.some((s) => s.metric === "fluentbit_build_info" && s.labels.version === "5.1.1"), "the recording is a 5.1.1 one");
    const queries = ingestQueries();
    assert.ok(queries.length >= 8, `${queries.length} queries on job ${JOB}`);
    const problems: string[] = [];
    for (const { where, expr } of queries) {
      // `up` and the scrape's own series are Prometheus', not the endpoint's.
      for (const { metric, matchers } of ingestSelectors(expr).filter((s) => !SCRAPE_SERIES.has(s.metric))) {
        const samples = recorded.filter((s) => s.metric === metric);
        if (samples.length === 0) problems.push(`${where}: the endpoint serves no ${metric}`);
        for (const { label, op, value } of matchers.filter((m) => !TARGET_LABELS.has(m.label))) {
          const served = new Set(samples.map((s) => s.labels[label]));
          // Every value an `=` or an alternation asks for is one the endpoint gives.
          const wanted = op === "=" ? [value] : op === "=~" ? alternatives(value) ?? [] : [];
          for (const v of wanted) if (!served.has(v)) problems.push(`${where}: ${metric} has no ${label}="${v}"`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it("counts refusals with the series and reasons the web host's forwarder serves (recorded from a real 5.1.1), never the endpoint's error lines", () => {
    const reasons = recordedRefusals.filter((s) => s.metric === REFUSALS).map((s) => s.labels.reason).sort();
    assert.deepEqual(reasons, ["client_certificate", "handshake", "no_tls", "shared_key", "user"]);
    assert.deepEqual(recordedRefusals.filter((s) => s.metric !== REFUSALS), [], "the exporter serves the counter alone");
    const queries = [
      ...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ...prometheusTargets(pipeline).map(({ panel, target, expr }) => ({ where: `"${panel.title}" ${target.refId}`, expr })),
    ];
    const problems: string[] = [];
    for (const { where, expr } of queries) {
      for (const { metric, matchers } of ingestSelectors(expr, REFUSALS_JOB)) {
        if (metric !== REFUSALS) problems.push(`${where}: job ${REFUSALS_JOB} serves no ${metric}`);
        for (const { label, op, value } of matchers.filter((m) => !TARGET_LABELS.has(m.label))) {
          const wanted = label === "reason" && (op === "=" || op === "=~") ? (op === "=" ? [value] : alternatives(value) ?? []) : [];
          if (label !== "reason") problems.push(`${where}: ${REFUSALS} has no label ${label}`);
          for (const v of wanted) if (!reasons.includes(v)) problems.push(`${where}: no reason "${v}"`);
        }
      }
      // Every TLS client logs an error when it closes its connection, a healthy one too: the endpoint's warning and
      // error lines say nothing of refusals.
      if (ingestSelectors(expr).some((s) => s.metric === "fluentbit_logger_logs_total")) problems.push(`${where} reads the endpoint's log line counts`);
    }
    assert.deepEqual(problems, []);
    assert.ok(queries.filter(({ expr }) => ingestSelectors(expr, REFUSALS_JOB).length > 0).length >= 2, "the alert and the panel count refusals");
  });

  it("alerts on refused senders, paused inputs and a stalled apps pipeline; the target and output alerts cover the job without a job matcher", () => {
    const metricsOf = (name: string) => selectors(rule(name)?.expr ?? "").map((s) => s.metric).sort();
    assert.deepEqual(selectors(rule("IngestEndpointRefusing")?.expr ?? "").map((s) => `${s.metric}{job=${s.equals.job}}`), [`${REFUSALS}{job=${REFUSALS_JOB}}`]);
    assert.match(rule("IngestEndpointRefusing")?.expr ?? "", /\bby \([^)]*\breason\b/, "an alert per reason");
    assert.deepEqual(metricsOf("IngestEndpointPaused"), ["fluentbit_input_ingestion_paused"]);
    assert.deepEqual(selectors(rule("AppsLogPipelineStalled")?.expr ?? "").map((s) => s.equals.name), [OUTPUT, "es_apps"]);
    // TargetDown (a silent endpoint), FluentBitOutputErrors (kafka_apps retrying) and FluentBitRecordsLost (dropped,
    // abandoned or evicted records) watch every job: a job matcher on them would leave the endpoint out.
    for (const name of ["TargetDown", "FluentBitOutputErrors", "FluentBitRecordsLost"]) {
      const found = selectors(rule(name)?.expr ?? "");
      assert.ok(found.length > 0, `no alert ${name}`);
      for (const s of found) assert.ok(!s.matchers.some((m) => m.label === "job"), `${name} selects ${s.metric} by job`);
    }
    assert.ok(selectors(rule("FluentBitRecordsLost")?.expr ?? "").some((s) => s.metric === "fluentbit_output_dropped_records_total"));
  });

  it("shows the endpoint's rate, errors and refusals on the Log pipeline dashboard, each panel of its row on job ingest or ingest-refusals", () => {
    const rowAt = pipeline.panels.findIndex((p) => p.type === "row" && /ingest/i.test(p.title));
    assert.ok(rowAt >= 0, "the Log pipeline dashboard has an ingest row");
    const nextRow = pipeline.panels.findIndex((p, i) => i > rowAt && p.type === "row");
    const panels = pipeline.panels.slice(rowAt + 1, nextRow === -1 ? undefined : nextRow);
    assert.ok(panels.length >= 3);
    const used = new Set<string>();
    for (const panel of panels) {
      const exprs = (panel.targets ?? []).map((t) => t.expr ?? "");
      assert.ok(exprs.length > 0, `"${panel.title}" has no query`);
      for (const expr of exprs) {
        const found = selectors(substituteVariables(expr, {}));
        assert.ok(found.length > 0 && found.every((s) => s.equals.job === JOB || s.equals.job === REFUSALS_JOB), `"${panel.title}": ${expr} is not all job ${JOB} or ${REFUSALS_JOB}`);
        found.forEach((s) => used.add(s.metric));
      }
    }
    const needed = {
      rate: ["fluentbit_input_records_total", "fluentbit_output_proc_records_total"],
      errors: ["fluentbit_output_errors_total", "fluentbit_output_retries_total", "fluentbit_output_retries_failed_total", "fluentbit_output_dropped_records_total"],
      refusals: [REFUSALS, "fluentbit_input_ingestion_paused"],
    };
    for (const [what, metrics] of Object.entries(needed)) {
      for (const metric of metrics) assert.ok(used.has(metric), `${what}: no ingest panel shows ${metric}`);
    }
    const up = pipeline.panels.find((p) => p.title === "Pipeline exporters up");
    assert.ok(up?.targets?.some((t) => t.expr === `up{job="${JOB}"}`), "the exporters' up panel shows the endpoint");
  });

  it("lays the Log pipeline panels out without overlap, each with an id of its own", () => {
    const ids = pipeline.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `duplicate panel id in ${ids.join(", ")}`);
    type Grid = { x: number; y: number; w: number; h: number };
    const boxes = pipeline.panels.map((p) => ({ title: p.title, g: (p as unknown as { gridPos: Grid }).gridPos }));
    const overlaps: string[] = [];
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => {
      if (a.g.x < b.g.x + b.g.w && b.g.x < a.g.x + a.g.w && a.g.y < b.g.y + b.g.h && b.g.y < a.g.y + a.g.h) overlaps.push(`${a.title} / ${b.title}`);
    }));
    assert.deepEqual(overlaps, []);
    for (const { title, g } of boxes) assert.ok(g.x + g.w <= 24, `${title} is wider than the grid`);
  });
});
