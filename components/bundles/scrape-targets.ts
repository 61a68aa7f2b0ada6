import * as ipaddr from "ipaddr.js";
import { PerRole, Role, ROLES } from "../platform/roles";
import { PORTS } from "../platform/ports";
import { MemberFacts } from "../platform/topology";

/** Where the monitoring bundle's prometheus.yml reads its `file_sd` files, relative to the bundle root. */
export const SCRAPE_TARGETS_DIR = "prometheus/targets";

/**
 * Scrape targets on other hosts, whose addresses are only known at deploy time: one `file_sd` file each, read by the
 * prometheus.yml job named. Prometheus itself and Grafana are static targets there (same compose network).
 */
export const FILE_SD_TARGETS = {
  node: { job: "node", roles: ROLES, port: PORTS.nodeExporter, firstMemberOnly: false },
  // Both Fluent Bits are one job, a forwarder on every host and an aggregator on every logging host, told apart on
  // a logging host by `component` (their plugin aliases, the `name` label, differ too).
  "fluent-bit-forwarder": {
    job: "fluent-bit", roles: ROLES, port: PORTS.forwarderMetrics, firstMemberOnly: false, component: "forwarder",
  },
  "fluent-bit-aggregator": {
    job: "fluent-bit", roles: ["logging"], port: PORTS.aggregatorMetrics, firstMemberOnly: false, component: "aggregator",
  },
  // The ingest endpoint on the web host, where the users' own services send their logs: a job of its own, so its
  // alerts and panels select it by `job` (its aliases differ from the forwarder's on the same host too).
  ingest: { job: "ingest", roles: ["web"], port: PORTS.ingestMetrics, firstMemberOnly: false },
  // The web host's forwarder counts the ingest endpoint's refused senders from its log lines (Fluent Bit counts none)
  // and serves the counter on a port of its own; every forwarder serves that port, only the web host's counts anything.
  "ingest-refusals": { job: "ingest-refusals", roles: ["web"], port: PORTS.forwarderLogMetrics, firstMemberOnly: false },
  // The exporters report on the whole cluster and run once, on its first member.
  "kafka-exporter": { job: "kafka-exporter", roles: ["kafka"], port: PORTS.kafkaExporter, firstMemberOnly: true },
  "elasticsearch-exporter": { job: "elasticsearch-exporter", roles: ["logging"], port: PORTS.elasticsearchExporter, firstMemberOnly: true },
} as const satisfies Record<string, { job: string; roles: readonly Role[]; port: number; firstMemberOnly: boolean; component?: string }>;

/** One entry of a Prometheus `file_sd` JSON file. */
export interface FileSdTargetGroup {
  targets: string[];
  labels: { role: Role; member: string; component?: string };
}

/**
 * The `file_sd` files of the monitoring bundle: relative path under the bundle root -> JSON content. One group per
 * host so every target carries the `role` and `member` labels that dashboards and alerts select on.
 */
export function renderScrapeTargets(members: PerRole<MemberFacts[]>): Record<string, string> {
  for (const role of ROLES) {
    for (const { name, privateIp } of members[role]) {
      if (!ipaddr.IPv4.isValidFourPartDecimal(privateIp)) {
        throw new Error(`private IP of the ${name} host must be a dotted IPv4 address, got ${JSON.stringify(privateIp)}`);
      }
    }
  }
  const files: Record<string, string> = {};
  for (const [file, target] of Object.entries(FILE_SD_TARGETS)) {
    const { roles, port, firstMemberOnly } = target;
    const component = "component" in target ? { component: target.component } : {};
    const groups: FileSdTargetGroup[] = roles.flatMap((role) => members[role].slice(0, firstMemberOnly ? 1 : undefined).map((member) => ({
      targets: [`${member.privateIp}:${port}`],
      labels: { role, member: member.name, ...component },
    })));
    files[`${SCRAPE_TARGETS_DIR}/${file}.json`] = JSON.stringify(groups, null, 2) + "\n";
  }
  return files;
}
