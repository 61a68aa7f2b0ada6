import { Client } from "@elastic/elasticsearch";
import { INDEX_PREFIXES } from "../components/platform/naming";
import { clusterHealth, containerLogsPerMember, EsContext, mappedTypes, recentGatewayDocuments, templatesAndPolicies } from "./elasticsearch";
import { grafanaDashboards, grafanaDatasources } from "./grafana";
import { kibanaObjects } from "./kibana";
import { sendForward } from "./forward";
import { ingestDelivery } from "./ingest";
import { endToEndLatency } from "./latency";
import { StackOutputs } from "./outputs";
import { kafkaBrokers, nodeExportersPerMember, prometheusAlerts, prometheusTargets } from "./prometheus";
import { loadDashboardUids, loadDatasourceUids, loadIndexTemplate, loadKibanaObjects, ProvisioningDirs } from "./provisioning";
import { Check } from "./report";

export interface VerifyOptions {
  /** Window for "gateway documents arrived". */
  recentMinutes: number;
  latencySamples: number;
  latencyWaitMs: number;
  pollMs: number;
  /** Per HTTP request. */
  timeoutMs: number;
}

export const DEFAULT_OPTIONS: VerifyOptions = {
  recentMinutes: 10,
  latencySamples: 5,
  latencyWaitMs: 120_000,
  pollMs: 500,
  timeoutMs: 10_000,
};

/** The checks in the order they run; each loads what it compares against, so a missing file fails only its check. */
export function allChecks(
  outputs: StackOutputs, es: Client, dirs: ProvisioningDirs, opts: VerifyOptions, forward: typeof sendForward = sendForward,
): Check[] {
  const ctx: EsContext = { es, outputs, timeoutMs: opts.timeoutMs };
  const t = opts.timeoutMs;
  return [
    { name: "Elasticsearch cluster health", run: () => clusterHealth(ctx) },
    { name: "Elasticsearch templates and ILM", run: () => templatesAndPolicies(ctx) },
    { name: "Elasticsearch gateway documents", run: () => recentGatewayDocuments(ctx, opts.recentMinutes) },
    { name: "Container logs per member", run: () => containerLogsPerMember(ctx) },
    {
      name: "Elasticsearch mapped types",
      run: () => mappedTypes(ctx, loadIndexTemplate(dirs.indexTemplates, `${INDEX_PREFIXES.gateway}-*`)),
    },
    {
      name: "End-to-end latency",
      run: () => endToEndLatency(ctx, { samples: opts.latencySamples, waitMs: opts.latencyWaitMs, pollMs: opts.pollMs }),
    },
    { name: "Ingest endpoint to apps-*", run: () => ingestDelivery(ctx, { waitMs: opts.latencyWaitMs, pollMs: opts.pollMs }, forward) },
    { name: "Kibana saved objects", run: async () => kibanaObjects(outputs, loadKibanaObjects(dirs.kibanaObjects), t) },
    { name: "Grafana datasources", run: async () => grafanaDatasources(outputs, loadDatasourceUids(dirs.grafanaDatasources), t) },
    { name: "Grafana dashboards", run: async () => grafanaDashboards(outputs, loadDashboardUids(dirs.grafanaDashboards), t) },
    { name: "Prometheus targets", run: () => prometheusTargets(outputs, t) },
    { name: "Node exporters per member", run: () => nodeExportersPerMember(outputs, t) },
    { name: "Kafka brokers", run: () => kafkaBrokers(outputs, t) },
    { name: "Prometheus alerts", run: () => prometheusAlerts(outputs, t) },
  ];
}
