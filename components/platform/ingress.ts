import { ROLES, Role } from "./roles";
import { PortName } from "./ports";
import { MemberCounts } from "./topology";

/** Optional modules that run outside the hosts with a security group of their own. */
export type Module = "cloudtrail";

/**
 * Who may open a connection: another role's security group, an optional module's security group (its rules exist
 * only while the module is on), the operators' CIDRs, the users' log sources' CIDRs (`logSourceCidrs`; none by
 * default), or anyone.
 */
export type Source = { role: Role } | { module: Module } | "operators" | "logSources" | "anywhere";

export interface IngressRule {
  /** The role whose security group receives the rule. */
  to: Role;
  port: PortName;
  from: Source;
  /** Between the members of a cluster: the rule exists only while its role has more than one member. */
  clusterOnly?: true;
}

const everyRole = (port: PortName, from: Source): IngressRule[] => ROLES.map((to) => ({ to, port, from }));

/**
 * The port matrix of ARCHITECTURE.md, the only ingress the platform opens. From outside only the gateway, SSH
 * (operators, key only) and the ingest endpoint (the configured log sources, TLS and authenticated): the admin UIs go
 * through an SSH tunnel (OPERATOR_UI_PORTS), so no password or session cookie crosses the internet in clear text.
 */
export const INGRESS_MATRIX: IngressRule[] = [
  { to: "web", port: "gateway", from: "anywhere" },
  { to: "web", port: "ingestForward", from: "logSources" },
  { to: "web", port: "ingestOtlp", from: "logSources" },
  ...everyRole("ssh", "operators"),
  { to: "logging", port: "elasticsearch", from: { role: "logging" } },
  { to: "logging", port: "elasticsearch", from: { role: "monitoring" } },
  // Cluster traffic stays between the members: Elasticsearch's transport, Kafka's replication and controllers.
  { to: "logging", port: "elasticsearchTransport", from: { role: "logging" }, clusterOnly: true },
  { to: "kafka", port: "kafka", from: { role: "kafka" }, clusterOnly: true },
  { to: "kafka", port: "kafkaController", from: { role: "kafka" }, clusterOnly: true },
  // Every host's forwarder produces its container logs (a broker's own reaches it without the network); the
  // aggregators consume.
  { to: "kafka", port: "kafka", from: { role: "web" } },
  { to: "kafka", port: "kafka", from: { role: "logging" } },
  { to: "kafka", port: "kafka", from: { role: "monitoring" } },
  // The CloudTrail Lambda produces the account's API activity.
  { to: "kafka", port: "kafka", from: { module: "cloudtrail" } },
  ...everyRole("nodeExporter", { role: "monitoring" }),
  ...everyRole("forwarderMetrics", { role: "monitoring" }),
  // Every host's forwarder publishes it (one compose file); only the web host's counts anything (its ingest endpoint).
  ...everyRole("forwarderLogMetrics", { role: "monitoring" }),
  { to: "logging", port: "aggregatorMetrics", from: { role: "monitoring" } },
  { to: "web", port: "ingestMetrics", from: { role: "monitoring" } },
  { to: "kafka", port: "kafkaExporter", from: { role: "monitoring" } },
  { to: "logging", port: "elasticsearchExporter", from: { role: "monitoring" } },
];

/** The INGRESS_MATRIX rules that exist for these member counts. */
export const ingressRules = (counts: MemberCounts): IngressRule[] =>
  INGRESS_MATRIX.filter((rule) => !rule.clusterOnly || counts[rule.to] > 1);
