import { EnvFacts, bundleEnv } from "../../components/bundle-env";
import { Role } from "../../components/roles";

/** Deploy-time facts as the program would render them, for tests that read bundles with their `.env`. */
export const SAMPLE_FACTS: EnvFacts = {
  environment: "dev",
  privateIps: { logging: "10.42.1.10", web: "10.42.1.11", kafka: "10.42.1.12", monitoring: "10.42.1.13" },
  elasticsearchHeapGiB: 3,
  elasticsearchRetentionDays: 3,
  kafkaPartitions: 3,
  kafkaRetentionHours: 48,
  prometheusRetentionDays: 15,
  loadgenRequestsPerSecond: 5,
  grafanaAdminPassword: "test-password",
  kibanaEncryptionKeys: { encryptedSavedObjects: "s".repeat(32), reporting: "r".repeat(32), security: "k".repeat(32) },
  kibanaUrl: "http://198.51.100.10:5601",
  grafanaComDashboards: [{ id: 1860, revision: 42 }],
};

export function sampleEnv(role: Role): Record<string, string> {
  return bundleEnv(role, SAMPLE_FACTS);
}
