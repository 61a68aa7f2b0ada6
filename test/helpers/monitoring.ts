import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";
import { REPO_ROOT } from "../../components/platform/repo";
import { ROLES, Role } from "../../components/platform/roles";
import { filesIn } from "../../verify/provisioning";
import { loadCompose, mountedFrom } from "./compose";
import { waitFor } from "./local-servers";

/** Reads the monitoring bundle, the Grafana provisioning and the monitoring fixtures as the tests need them. */

export const MONITORING_DIR = path.join(REPO_ROOT, "hosts", "monitoring");
export const PROMETHEUS_DIR = path.join(MONITORING_DIR, "prometheus");
export const GRAFANA_PROVISIONING_DIR = path.join(REPO_ROOT, "provisioning", "grafana");
export const FIXTURES_DIR = path.join(REPO_ROOT, "test", "fixtures", "monitoring");
export const PROMTOOL_TESTS = path.join(FIXTURES_DIR, "promtool", "alerts.test.yml");

export const readYaml = <T>(file: string): T => parseYaml(fs.readFileSync(file, "utf8")) as T;
const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, "utf8")) as T;

// ---- Prometheus

export interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  scrape_interval?: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  file_sd_configs?: { files: string[]; refresh_interval?: string }[];
}
export interface PrometheusConfig {
  global: { scrape_interval: string; scrape_timeout?: string; evaluation_interval?: string; external_labels?: Record<string, string> };
  rule_files: string[];
  alerting?: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}

export const loadPrometheusConfig = (): PrometheusConfig => readYaml(path.join(PROMETHEUS_DIR, "prometheus.yml"));

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadAlertRules(): AlertRule[] {
  const dir = path.join(PROMETHEUS_DIR, "rules");
  return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().flatMap((file) =>
    readYaml<{ groups: { rules: AlertRule[] }[] }>(path.join(dir, file)).groups.flatMap((g) => g.rules));
}

export interface Selector {
  metric: string;
  /** Label matchers with `=` (name -> value); regex and negative matchers are left out. */
  equals: Record<string, string>;
  /** Every label matcher, in order: `=`, `!=`, `=~` and `!~`. */
  matchers: { label: string; op: string; value: string }[];
}

/**
 * The vector selectors of an expression, parsed with the PromQL grammar of Prometheus' own UI (lezer-promql).
 * Throws on a syntax error, so an unparsable query cannot pass as "selects nothing unknown".
 */
export function selectors(expr: string): Selector[] {
  const found: Selector[] = [];
  const errors: string[] = [];
  const text = (n: { from: number; to: number }) => expr.slice(n.from, n.to);
  promqlParser.parse(expr).iterate({
    enter(ref) {
      if (ref.type.isError) errors.push(`at ${ref.from}: "${expr.slice(ref.from, ref.to + 10)}"`);
      if (ref.name !== "VectorSelector") return;
      const id = ref.node.getChild("Identifier");
      if (!id) return;
      const equals: Record<string, string> = {};
      const matchers: Selector["matchers"] = [];
      for (const matcher of ref.node.getChild("LabelMatchers")?.getChildren("UnquotedLabelMatcher") ?? []) {
        const [name, op, value] = ["LabelName", "MatchOp", "StringLiteral"].map((t) => matcher.getChild(t));
        if (!name || !op || !value) continue;
        const literal = JSON.parse(text(value).replace(/^'|'$/g, '"')) as string;
        matchers.push({ label: text(name), op: text(op), value: literal });
        if (text(op) === "=") equals[text(name)] = literal;
      }
      found.push({ metric: text(id), equals, matchers });
    },
  });
  if (errors.length > 0) throw new Error(`not valid PromQL (${errors.join("; ")}): ${expr}`);
  return found;
}

/**
 * Every Fluent Bit of the compose bundles (a fluent/fluent-bit image): its role, compose service, the repository file
 * its `--config=` names and the files that one `includes`. An include the program renders into the bundle (not in
 * the repository) is read from its template, the file of its name beside the config. The forwarder runs on every
 * role, from one file.
 */
export function fluentBitServices(): { role: Role; service: string; file: string; includes: string[] }[] {
  return ROLES.flatMap((role) => Object.entries(loadCompose(role).services)
    .filter(([, service]) => service.image?.startsWith("fluent/fluent-bit:"))
    .map(([name, service]) => {
      const config = (Array.isArray(service.command) ? service.command : []).find((arg) => arg.startsWith("--config="))?.slice("--config=".length);
      const file = config === undefined ? undefined : mountedFrom(role, service, config);
      if (!config || !file) throw new Error(`${role}/${name}: no --config= in a bundle mount`);
      const included = readYaml<{ includes?: string[] } | null>(file)?.includes ?? [];
      const includes = included.map((include) => {
        const containerPath = path.posix.resolve(path.posix.dirname(config), include);
        const mounted = mountedFrom(role, service, containerPath);
        const template = path.join(path.dirname(file), path.posix.basename(containerPath));
        const found = [mounted, template].find((f): f is string => f !== undefined && fs.existsSync(f));
        if (!found) throw new Error(`${role}/${name}: ${include} is neither in the repository nor beside ${file}`);
        return path.relative(REPO_ROOT, found);
      });
      return { role, service: name, file: path.relative(REPO_ROOT, file), includes };
    }));
}

/** The repository files of every Fluent Bit config a compose bundle runs and of what they include, once each. */
export const fluentBitConfigs = (): string[] => [...new Set(fluentBitServices().flatMap((s) => [s.file, ...s.includes]))].sort();

/** A metric fixture recorded from a real exporter: its scrape output as served (Prometheus text format). */
export const RECORDED_METRICS = {
  ingest: path.join(FIXTURES_DIR, "metrics", "ingest.prom"),
  /** The web host's forwarder's refusal counter (job ingest-refusals). */
  ingestRefusals: path.join(FIXTURES_DIR, "metrics", "ingest-refusals.prom"),
} as const;

/**
 * Metric fixtures per scrape job (`# job:` header; `*` = series Prometheus adds to every job): a `.txt` lists metric
 * names one a line, a `.prom` is a recorded scrape whose sample lines name them.
 */
export function loadMetricFixtures(): Map<string, Set<string>> {
  const dir = path.join(FIXTURES_DIR, "metrics");
  const byJob = new Map<string, Set<string>>();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".txt") || f.endsWith(".prom"))) {
    const lines = fs.readFileSync(path.join(dir, file), "utf8").split("\n").map((l) => l.trim());
    const job = lines.map((l) => /^# job: (\S+)$/.exec(l)?.[1]).find(Boolean);
    if (!job) throw new Error(`${file} has no "# job:" line`);
    const samples = lines.filter((l) => l !== "" && !l.startsWith("#"));
    byJob.set(job, new Set(file.endsWith(".prom") ? samples.map((l) => /^[a-zA-Z_:][\w:]*/.exec(l)?.[0] ?? l) : samples));
  }
  return byJob;
}

// ---- Grafana

export interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: Record<string, unknown>;
}

export const loadDatasources = (): Datasource[] =>
  readYaml<{ datasources: Datasource[] }>(path.join(GRAFANA_PROVISIONING_DIR, "datasources", "datasources.yaml")).datasources;

export interface DashboardProvider {
  name: string;
  folder: string;
  folderUid: string;
  options: { path: string };
}

export const loadDashboardProviders = (): DashboardProvider[] =>
  readYaml<{ providers: DashboardProvider[] }>(path.join(GRAFANA_PROVISIONING_DIR, "dashboards", "dashboards.yaml")).providers;

export interface DatasourceRef {
  type: string;
  uid: string;
}
export interface Target {
  refId: string;
  datasource: DatasourceRef;
  expr?: string;
  query?: string;
  metrics?: { type: string; field?: string }[];
  bucketAggs?: { type: string; field?: string; settings?: { filters?: { query: string }[] } }[];
  timeField?: string;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DatasourceRef;
  targets?: Target[];
  options?: Record<string, unknown>;
}
export interface Variable {
  name: string;
  type: string;
  datasource?: DatasourceRef;
  query?: { query: string } | string;
}
export interface Dashboard {
  id: null | number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

/** The committed dashboards, by file name relative to provisioning/grafana/dashboards. */
export function loadDashboards(): { file: string; dashboard: Dashboard }[] {
  const root = path.join(GRAFANA_PROVISIONING_DIR, "dashboards");
  return filesIn(root, [".json"], true).map((file) => ({ file: path.relative(root, file), dashboard: readJson<Dashboard>(file) }));
}

export const prometheusTargets = (d: Dashboard): { panel: Panel; target: Target; expr: string }[] =>
  d.panels.flatMap((panel) => (panel.targets ?? [])
    .filter((t) => t.datasource?.type === "prometheus")
    .map((target) => ({ panel, target, expr: target.expr ?? "" })));

/** `label_values(<selector>, <label>)`, the form of every query variable here. */
export function parseLabelValues(variable: Variable): { selector: string; label: string } {
  const query = typeof variable.query === "string" ? variable.query : variable.query?.query ?? "";
  const match = /^label_values\((.+),\s*([a-zA-Z_]\w*)\)$/.exec(query.trim());
  if (!match) throw new Error(`variable ${variable.name}: expected label_values(selector, label), got ${query}`);
  return { selector: match[1], label: match[2] };
}

/**
 * Replaces Grafana's variables the way Grafana would before sending a query: dashboard variables by the given
 * values, `$__rate_interval` by its value for a 15 s scrape interval (4 x scrape interval), `$__interval` likewise.
 */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  const builtins: Record<string, string> = { __rate_interval: "1m", __interval: "15s", __range: "1h" };
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => values[name] ?? builtins[name] ?? whole);
}

export const fixtureLines = (file: string): string[] =>
  fs.readFileSync(path.join(FIXTURES_DIR, file), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));

/** The samples of a scrape in Prometheus' text format: metric name and labels (comments and values left out). */
export function parseExposition(text: string): { metric: string; labels: Record<string, string> }[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")).map((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    return { metric: match[1], labels };
  });
}

/** Waits until every query (of a dashboard) returns at least one series; the failure names those that never did. */
export async function waitForData(what: string, queries: { name: string; promql: string }[], query: (promql: string) => Promise<unknown[]>, timeoutMs: number): Promise<void> {
  const empty = new Set(queries.map((q) => q.name));
  try {
    await waitFor(`every ${what} query to return data`, timeoutMs, async () => {
      for (const q of queries.filter((x) => empty.has(x.name))) {
        if ((await query(q.promql)).length > 0) empty.delete(q.name);
      }
      return empty.size === 0;
    });
  } catch {
    throw new Error(`no data for: ${queries.filter((q) => empty.has(q.name)).map((q) => `${q.name}: ${q.promql}`).join("\n")}`);
  }
}
