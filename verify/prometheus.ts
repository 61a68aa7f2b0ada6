import { excerpt, request } from "./http";
import { ROLES } from "../components/platform/roles";
import { membersOf, StackOutputs } from "./outputs";
import { joinProblems, Outcome, warn } from "./report";

interface ApiAnswer<T> {
  status?: string;
  data?: T;
}

async function prometheusApi<T>(outputs: StackOutputs, path: string, timeoutMs: number): Promise<T> {
  const res = await request("prometheus", outputs, path, {
    timeoutMs,
    basicAuth: {
      user: outputs.monitoringOperatorUser,
      password: outputs.monitoringOperatorPassword,
      output: "monitoringOperatorPassword",
      fix: "its web config is rendered from it: run `pulumi up` to render them again",
    },
  });
  const body = res.body as ApiAnswer<T>;
  if (res.status !== 200 || body?.status !== "success" || body.data === undefined) {
    throw new Error(`Prometheus ${path} answered HTTP ${res.status}: ${excerpt(res.body)}`);
  }
  return body.data;
}

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  lastError: string;
}

/** Every active scrape target is up; `unknown` (not scraped yet) is not up either. */
export async function prometheusTargets(outputs: StackOutputs, timeoutMs: number): Promise<string> {
  const { activeTargets } = await prometheusApi<{ activeTargets: Target[] }>(outputs, "/api/v1/targets?state=active", timeoutMs);
  if (activeTargets.length === 0) throw new Error("Prometheus has no active targets: its file_sd target files are missing or empty");
  const notUp = activeTargets.filter((t) => t.health !== "up");
  if (notUp.length) {
    const list = notUp.map((t) => {
      const host = t.labels.member ?? t.labels.role;
      const role = host ? ` on ${host}` : "";
      const why = t.health === "unknown" ? "not scraped yet" : t.lastError || "down";
      return `${t.labels.job} ${t.scrapeUrl}${role}: ${why}`;
    });
    throw new Error(`${notUp.length} of ${activeTargets.length} targets not up: ${joinProblems(list)}`);
  }
  const jobs = [...new Set(activeTargets.map((t) => t.labels.job))].sort();
  return `${activeTargets.length} targets up (${jobs.join(", ")})`;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query (GET /api/v1/query); the result is a vector for the expressions asked here. */
async function instantQuery(outputs: StackOutputs, query: string, timeoutMs: number): Promise<Sample[]> {
  const { result } = await prometheusApi<{ result: Sample[] }>(outputs, `/api/v1/query?query=${encodeURIComponent(query)}`, timeoutMs);
  return result;
}

/** node_exporter (job node) is scraped and up on every member the stack outputs list, by its `member` label. */
export async function nodeExportersPerMember(outputs: StackOutputs, timeoutMs: number): Promise<string> {
  const up = new Map((await instantQuery(outputs, 'up{job="node"}', timeoutMs)).map((s) => [s.metric.member, s]));
  const expected = ROLES.flatMap((role) => membersOf(outputs, role));
  const problems = expected.flatMap((member) => {
    const sample = up.get(member);
    if (!sample) return [`${member} is not a scrape target (its file_sd entry is missing: pulumi up renders them)`];
    if (sample.value[1] !== "1") return [`${member} down (${sample.metric.instance}): systemctl status prometheus-node-exporter on that host`];
    return [];
  });
  if (problems.length) throw new Error(`${problems.length} of ${expected.length} members not up: ${joinProblems(problems)}`);
  return `${expected.length} members up (${expected.join(", ")})`;
}

/** The Kafka exporter (first kafka member) sees as many brokers in the cluster metadata as there are kafka members. */
export async function kafkaBrokers(outputs: StackOutputs, timeoutMs: number): Promise<string> {
  const expected = membersOf(outputs, "kafka");
  const samples = await instantQuery(outputs, 'kafka_brokers{job="kafka-exporter"}', timeoutMs);
  if (samples.length === 0) throw new Error("no kafka_brokers series: the Kafka exporter on the kafka host is not scraped or not connected (see Prometheus targets)");
  const brokers = Math.max(...samples.map((s) => Number(s.value[1])));
  const detail = `${brokers} of ${expected.length} broker(s) in the cluster (kafka members: ${expected.join(", ")})`;
  if (brokers !== expected.length) throw new Error(`${detail}: docker compose ps and docker compose logs kafka on each kafka host`);
  return detail;
}

interface Alert {
  labels: Record<string, string>;
  state: "firing" | "pending" | "inactive";
}

/**
 * Firing alerts are reported. They warn, except an alert that says a part is gone, which fails the verdict: a name
 * ending in `Down` (TargetDown, ...) or severity `critical` (e.g. cluster red). Pending alerts are listed only.
 */
export function alertFails(alert: Pick<Alert, "labels">): boolean {
  return /Down$/i.test(alert.labels.alertname ?? "") || alert.labels.severity === "critical";
}

export async function prometheusAlerts(outputs: StackOutputs, timeoutMs: number): Promise<string | Outcome> {
  const { alerts } = await prometheusApi<{ alerts: Alert[] }>(outputs, "/api/v1/alerts", timeoutMs);
  const describe = (a: Alert) => {
    const where = a.labels.member ?? a.labels.role ?? a.labels.instance;
    return `${a.labels.alertname}${a.labels.severity ? `[${a.labels.severity}]` : ""}${where ? ` (${where})` : ""}`;
  };
  const firing = alerts.filter((a) => a.state === "firing");
  const pending = alerts.filter((a) => a.state === "pending");
  const pendingNote = pending.length ? `; pending: ${pending.map(describe).join(", ")}` : "";
  const fatal = firing.filter(alertFails);
  if (fatal.length) throw new Error(`firing: ${firing.map(describe).join(", ")}${pendingNote}`);
  if (firing.length) return warn(`firing: ${firing.map(describe).join(", ")}${pendingNote}`);
  return `no alert firing${pendingNote}`;
}
