import { EnvFacts, bundleEnv } from "../../components/bundles/env";
import { MemberFacts, MemberCounts, ONE_OF_EACH, members } from "../../components/platform/topology";
import { PerRole, Role, ROLES } from "../../components/platform/roles";
import { MONITORING_USERS, MonitoringCredentials } from "../../components/credentials/monitoring";
import { ES_ACCOUNTS, EsAccount } from "../../components/credentials/elasticsearch";

/** Prometheus' and Alertmanager's users as the program would generate them: a password and bcrypt salt each. */
export const SAMPLE_MONITORING_CREDENTIALS = Object.fromEntries(MONITORING_USERS.map((user, i) => [user, {
  password: `sample${user}Password${i}`,
  salt: `${"abcd"[i]}`.repeat(21) + "e",
}])) as MonitoringCredentials;

/** Addresses of the sample hosts: 10.42.1.10 + the role's position, further members 10.42.2.x. */
const sampleIp = (role: Role, index: number) => (index === 0 ? `10.42.1.${10 + ROLES.indexOf(role)}` : `10.42.2.${10 * ROLES.indexOf(role) + index}`);

/** Sample members for these counts, zones round-robin over three. */
export function sampleMembers(counts: MemberCounts = ONE_OF_EACH, ip: (role: Role, index: number) => string = sampleIp): PerRole<MemberFacts[]> {
  return Object.fromEntries(ROLES.map((role) => [role, members(counts)[role].map((member) => ({
    name: member.name,
    privateIp: ip(role, member.index),
    zone: `eu-west-1${"abc"[member.index % 3]}`,
  }))])) as PerRole<MemberFacts[]>;
}

/** Deploy-time facts as the program would render them, for tests that read bundles with their `.env`. */
export const SAMPLE_FACTS: EnvFacts = {
  target: "aws",
  environment: "dev",
  members: sampleMembers(),
  elasticsearchHeapGiB: 3,
  elasticsearchShards: 1,
  elasticsearchRetentionDays: 3,
  kafkaPartitions: 3,
  kafkaRetentionHours: 48,
  prometheusRetentionDays: 15,
  loadgenRequestsPerSecond: 5,
  grafanaAdminPassword: "test-password",
  kibanaEncryptionKeys: { encryptedSavedObjects: "s".repeat(32), reporting: "r".repeat(32), security: "k".repeat(32) },
  operatorUrls: {
    kibana: "http://127.0.0.1:5601", grafana: "http://127.0.0.1:3000", prometheus: "http://127.0.0.1:9090", alertmanager: "http://127.0.0.1:9093",
  },
  monitoringGrafanaPassword: SAMPLE_MONITORING_CREDENTIALS.grafana.password,
  grafanaComDashboards: [{ id: 1860, revision: 42 }],
  // Distinct per account, letters and digits, 32 long like the program's.
  elasticsearchPasswords: Object.fromEntries((Object.keys(ES_ACCOUNTS) as EsAccount[]).map((a) => [a, `pw${a}`.padEnd(32, "x")])) as Record<EsAccount, string>,
};

/** The first (or given) member's private IP in the sample facts. */
export const sampleIpOf = (role: Role, index = 0, facts: EnvFacts = SAMPLE_FACTS): string => facts.members[role][index].privateIp;

/** The `.env` of one member (the first by default) as the program renders it. */
export function sampleEnv(role: Role, index = 0, facts: EnvFacts = SAMPLE_FACTS): Record<string, string> {
  return bundleEnv({ role, index, name: facts.members[role][index].name }, facts);
}

/** Sample facts for a platform with these member counts. */
export const clusterFacts = (counts: Partial<MemberCounts>): EnvFacts => {
  const all = { ...ONE_OF_EACH, ...counts };
  return { ...SAMPLE_FACTS, members: sampleMembers(all), elasticsearchShards: all.logging, kafkaPartitions: Math.max(3, all.logging) };
};
