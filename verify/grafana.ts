import { excerpt, HttpAnswer, request } from "./http";
import { StackOutputs } from "./outputs";
import { Uid } from "./provisioning";
import { joinProblems } from "./report";

async function grafanaGet(outputs: StackOutputs, path: string, timeoutMs: number): Promise<HttpAnswer> {
  const res = await request("grafana", outputs, path, {
    timeoutMs,
    basicAuth: {
      user: outputs.grafanaAdminUser,
      password: outputs.grafanaAdminPassword,
      output: "grafanaAdminPassword",
      // Grafana takes GF_SECURITY_ADMIN_PASSWORD only at its first start: a mismatch is a password changed in its UI.
      fix: "it was changed in Grafana since; on the monitoring host, `sudo docker compose exec grafana grafana cli admin " +
        "reset-admin-password` with the output sets it back",
    },
  });
  return res;
}

/** Each provisioned datasource answers Grafana's own health check (Grafana reaching Prometheus / Elasticsearch). */
export async function grafanaDatasources(outputs: StackOutputs, datasources: readonly Uid[], timeoutMs: number): Promise<string> {
  const problems: string[] = [];
  for (const ds of datasources) {
    const res = await grafanaGet(outputs, `/api/datasources/uid/${encodeURIComponent(ds.uid)}/health`, timeoutMs);
    const status = (res.body as { status?: unknown } | null)?.status;
    if (res.status !== 200 || status !== "OK") problems.push(`${ds.uid} (${ds.name}): HTTP ${res.status} ${excerpt(res.body)}`);
  }
  if (problems.length) throw new Error(`${problems.length} of ${datasources.length} datasources unhealthy: ${joinProblems(problems)}`);
  return `${datasources.length} datasources healthy: ${datasources.map((d) => d.uid).join(", ")}`;
}

/** Each provisioned dashboard exists under its fixed uid. */
export async function grafanaDashboards(outputs: StackOutputs, dashboards: readonly Uid[], timeoutMs: number): Promise<string> {
  const missing: string[] = [];
  for (const d of dashboards) {
    const res = await grafanaGet(outputs, `/api/dashboards/uid/${encodeURIComponent(d.uid)}`, timeoutMs);
    if (res.status === 404) missing.push(`${d.uid} (${d.name})`);
    else if (res.status !== 200) throw new Error(`Grafana answered HTTP ${res.status} for dashboard ${d.uid}: ${excerpt(res.body)}`);
  }
  if (missing.length) {
    throw new Error(`${missing.length} of ${dashboards.length} dashboards missing: ${missing.join(", ")} (see Grafana's provisioning log on the monitoring host)`);
  }
  return `${dashboards.length} dashboards present`;
}
