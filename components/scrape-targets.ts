import * as ipaddr from "ipaddr.js";
import { PerRole, Role, ROLES } from "./roles";
import { PORTS } from "./ports";

/** Where the monitoring bundle's prometheus.yml reads its `file_sd` files, relative to the bundle root. */
export const SCRAPE_TARGETS_DIR = "prometheus/targets";

/**
 * Scrape jobs whose targets sit on other hosts, so their addresses are only known at deploy time. Prometheus itself
 * and Grafana are static targets in prometheus.yml (same compose network). Job names match prometheus.yml.
 */
export const FILE_SD_JOBS = {
  node: { roles: ROLES, port: PORTS.nodeExporter },
  "fluent-bit": { roles: ["web", "logging"], port: PORTS.fluentBitMetrics },
  "kafka-exporter": { roles: ["kafka"], port: PORTS.kafkaExporter },
  "elasticsearch-exporter": { roles: ["logging"], port: PORTS.elasticsearchExporter },
  // One per host: the container metrics that name each container (restarts).
} as const satisfies Record<string, { roles: readonly Role[]; port: number }>;

export type FileSdJob = keyof typeof FILE_SD_JOBS;

/** One entry of a Prometheus `file_sd` JSON file. */
export interface FileSdTargetGroup {
  targets: string[];
  labels: { role: Role };
}

/**
 * The `file_sd` files of the monitoring bundle: relative path under the bundle root -> JSON content. One group per
 * host so every target carries the `role` label that dashboards and alerts select on.
 */
export function renderScrapeTargets(privateIps: PerRole<string>): Record<string, string> {
  for (const role of ROLES) {
    const ip = privateIps[role];
    if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) {
      throw new Error(`private IP of the ${role} host must be a dotted IPv4 address, got ${JSON.stringify(ip)}`);
    }
  }
  const files: Record<string, string> = {};
  for (const [job, { roles, port }] of Object.entries(FILE_SD_JOBS)) {
    const groups: FileSdTargetGroup[] = roles.map((role) => ({
      targets: [`${privateIps[role]}:${port}`],
      labels: { role },
    }));
    files[`${SCRAPE_TARGETS_DIR}/${job}.json`] = JSON.stringify(groups, null, 2) + "\n";
  }
  return files;
}
