import * as fs from "fs";
import * as path from "path";
import { parseDocument, stringify } from "yaml";
import { AlertingConfig } from "../config/types";
import { AlertSecrets } from "../credentials/alert-receivers";
import { MonitoringCredentials, renderMonitoringSecrets } from "../credentials/monitoring";
import { TlsPems, tlsFiles } from "../credentials/tls";
import { INGEST_FILES, IngestServerPems } from "../credentials/ingest";
import { REPO_ROOT } from "../platform/repo";
import { PORTS } from "../platform/ports";
import { PerRole, Role } from "../platform/roles";
import { MemberFacts } from "../platform/topology";
import { ALERTMANAGER_CONFIG_PATH, renderAlertmanagerConfig } from "./alertmanager-config";
import { renderScrapeTargets } from "./scrape-targets";

/**
 * The aggregator's upstream file in a cluster, in the bundle and in its container (`./fluent-bit` is
 * /fluent-bit/etc). A single node has none: its es outputs keep `host: elasticsearch`.
 */
export const ES_UPSTREAM_FILE = "fluent-bit/es-upstream.yaml";
export const ES_UPSTREAM_CONTAINER_PATH = "/fluent-bit/etc/es-upstream.yaml";

/**
 * Every Elasticsearch node for the aggregator's es outputs, so a dead node's share of the flushes is retried on the
 * others instead of piling up in the buffer until its size limit drops chunks. out_es picks the next node for each
 * flush, a retry included (flb_upstream_ha_node_get). By private IP, which each node's certificate carries, its own
 * node's too: the file is the same on every member. A node takes only its own tls.* keys, not the output's
 * (flb_upstream_node_create); its credentials and index settings fall back to the output's.
 */
export function renderEsUpstream(nodes: readonly MemberFacts[]): string {
  const upstream = {
    upstream_servers: [{
      name: "elasticsearch",
      nodes: nodes.map((node) => ({
        name: node.name,
        host: node.privateIp,
        port: PORTS.elasticsearch,
        tls: "on",
        "tls.verify": "on",
        // Off by default on a node; with an IP as host it checks the certificate's IP addresses.
        "tls.verify_hostname": "on",
        // Where compose mounts the CA for the aggregator, as its es outputs read it.
        "tls.ca_file": "/tls/ca.crt",
      })),
    }],
  };
  return `# Rendered by the program (components/bundles/rendered-files.ts): every Elasticsearch node.\n${stringify(upstream)}`;
}

/** The ingest endpoint's forward input as the repository has it, without its secrets. */
export const FORWARD_INPUT_TEMPLATE = "hosts/web/ingest/forward-input.yaml";

/**
 * The ingest endpoint's forward input with its secrets: the shared key and a `security.users` entry per source, which
 * Fluent Bit reads one per value (plugins/in_forward/fw.c, setup_users) and so cannot take from one variable.
 */
export function renderForwardInput(pems: Pick<IngestServerPems, "sharedKey" | "users">, root = REPO_ROOT): string {
  const document = parseDocument(fs.readFileSync(path.join(root, FORWARD_INPUT_TEMPLATE), "utf8"));
  const input = document.getIn(["pipeline", "inputs", 0]) as { set(key: string, value: unknown): void };
  input.set("shared_key", pems.sharedKey);
  input.set("security.users", Object.entries(pems.users).map(([user, password]) => `${user} ${password}`));
  return `# Rendered by the program from ${FORWARD_INPUT_TEMPLATE}: it holds the secrets.
${document.toString()}`;
}

/** The web bundle's ingest files: the endpoint's certificate and key, the client CA and the forward input. */
export function ingestFiles(pems: IngestServerPems): Record<string, string> {
  return {
    [INGEST_FILES.serverCert]: pems.serverCert,
    [INGEST_FILES.serverKey]: pems.serverKey,
    [INGEST_FILES.clientCaCert]: pems.clientCaCert,
    [INGEST_FILES.forwardInput]: renderForwardInput(pems),
  };
}

/**
 * Files the program renders into a bundle beside its `.env`: the monitoring host's scrape targets, receivers, and
 * Prometheus' and Alertmanager's web configs and client passwords; a logging host's certificates and, in a cluster,
 * the aggregator's upstream file; the web host's ingest endpoint files.
 */
export function renderedFiles(role: Role, facts: {
  members: PerRole<MemberFacts[]>;
  alerting: AlertingConfig;
  alertSecrets: AlertSecrets;
  monitoringCredentials: MonitoringCredentials;
  /** This host's certificates: every logging host is an Elasticsearch node; Grafana, on monitoring, trusts the CA. */
  tls: TlsPems;
  /** The web host's: its ingest endpoint's. */
  ingest?: IngestServerPems;
}): Record<string, string> {
  if (role === "web") {
    if (!facts.ingest) throw new Error("the web host runs the ingest endpoint: it needs its certificate, key and users");
    return ingestFiles(facts.ingest);
  }
  if (role === "logging") {
    if (!facts.tls.node) throw new Error("a logging host is an Elasticsearch node: it needs its certificate and key");
    const esNodes = facts.members.logging;
    return { ...tlsFiles(facts.tls), ...(esNodes.length > 1 ? { [ES_UPSTREAM_FILE]: renderEsUpstream(esNodes) } : {}) };
  }
  if (role !== "monitoring") return {};
  return {
    ...renderScrapeTargets(facts.members),
    ...renderMonitoringSecrets(facts.monitoringCredentials),
    [ALERTMANAGER_CONFIG_PATH]: renderAlertmanagerConfig(facts.alerting, facts.alertSecrets),
    ...tlsFiles({ caCert: facts.tls.caCert }),
  };
}
