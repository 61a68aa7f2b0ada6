import * as ipaddr from "ipaddr.js";
import { PerRole, Role, ROLES } from "./roles";
import { PORTS } from "./ports";
import type { MemberFacts } from "./bundle-env";

/** Where the monitoring bundle's prometheus.yml reads its `file_sd` files, relative to the bundle root. */
export const SCRAPE_TARGETS_DIR = "prometheus/targets";

/**
 * Scrape jobs whose targets sit on other hosts, so their addresses are only known at deploy time. Prometheus itself
 * and Grafana are static targets in prometheus.yml (same compose network). Job names match prometheus.yml.
 */
export const FILE_SD_JOBS = {
  node: { roles: ROLES, port: PORTS.nodeExporter, firstMemberOnly: false },
  // One aggregator per logging host.
  "fluent-bit": { roles: ["web", "logging"], port: PORTS.fluentBitMetrics, firstMemberOnly: false },
  // The exporters report on the whole cluster and run once, on its first member.
  "kafka-exporter": { roles: ["kafka"], port: PORTS.kafkaExporter, firstMemberOnly: true },
  "elasticsearch-exporter": { roles: ["logging"], port: PORTS.elasticsearchExporter, firstMemberOnly: true },
} as const satisfies Record<string, { roles: readonly Role[]; port: number; firstMemberOnly: boolean }>;

export type FileSdJob = keyof typeof FILE_SD_JOBS;

/** One entry of a Prometheus `file_sd` JSON file. */
export interface FileSdTargetGroup {
  targets: string[];
  labels: { role: Role; member: string };
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
  for (const [job, { roles, port, firstMemberOnly }] of Object.entries(FILE_SD_JOBS)) {
    const groups: FileSdTargetGroup[] = roles.flatMap((role) => members[role].slice(0, firstMemberOnly ? 1 : undefined).map((member) => ({
      targets: [`${member.privateIp}:${port}`],
      labels: { role, member: member.name },
    })));
    files[`${SCRAPE_TARGETS_DIR}/${job}.json`] = JSON.stringify(groups, null, 2) + "\n";
  }
  return files;
}
