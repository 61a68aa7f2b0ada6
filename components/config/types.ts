import { PerRole } from "../platform/roles";
import { MemberCounts } from "../platform/topology";
import { LocalPorts } from "../platform/loopback-ports";

export type Architecture = "arm64" | "x86_64";

export interface GrafanaComDashboard {
  id: number;
  revision: number;
}

/** Where the hosts run: EC2 instances, or containers on the local Docker engine. */
export const TARGETS = ["aws", "docker"] as const;
export type Target = (typeof TARGETS)[number];

/** Where alert e-mail goes and through which SMTP server; the password is the secret `alertSmtpPassword`. */
export interface AlertEmail {
  to: string;
  from: string;
  /** `host:port` of the SMTP server (STARTTLS required). */
  smarthost: string;
  username?: string;
}

/** Which alert receivers are configured. Their URLs and password are secrets, read apart (credentials/alert-receivers.ts). */
export interface AlertingConfig {
  webhook: boolean;
  slack: boolean;
  email?: AlertEmail;
}

/** The whole validated stack configuration. Everything the program reads from config goes through here. */
export interface PlatformConfig {
  target: Target;
  /** The AWS region; empty with the docker target. */
  region: string;
  /** Environment name used in Kafka topic names, e.g. `dev`. */
  environment: string;
  /** The VPC's range on aws; the hosts' Docker network's range on docker (DEFAULT_VPC_CIDR per target). */
  vpcCidr: string;
  /** Empty means "the deployer's public IP /32", resolved by `resolveOperatorCidrs`. */
  operatorCidrs: string[];
  /** Who may reach the ingest endpoint (aws target); empty: nobody from outside, its ports stay closed. */
  logSourceCidrs: string[];
  /**
   * The users' log sources: each a user of the endpoint's forward input and an OTLP client certificate of its own.
   * The stack's own source (INGEST_PLATFORM_SOURCE, what verify sends as) is always there besides these.
   */
  logSources: string[];
  instanceTypes: PerRole<string>;
  architectures: PerRole<Architecture>;
  rootVolumeGiB: PerRole<number>;
  /** The data volume of each host (aws target): every Docker volume, kept across a replacement of its instance. */
  dataVolumeGiB: PerRole<number>;
  /** Days a daily snapshot of each data volume is kept; 0: no snapshots (aws target). */
  dataSnapshotDays: number;
  /** Memory limit of each host container (docker target). */
  localMemoryMiB: PerRole<number>;
  /** Loopback port of the gateway (docker target). */
  localGatewayPort: number;
  /** Loopback ports of the ingest endpoint: published there by the docker target, the tunnel's local end on aws. */
  localIngestForwardPort: number;
  localIngestOtlpPort: number;
  /** Loopback SSH port of the first host; the others follow in ROLES order (docker target). */
  localSshBasePort: number;
  /**
   * The port on 127.0.0.1 of each admin UI: where the docker target publishes it, and the local end of
   * `npm run tunnel` on aws. The URL outputs name these ports.
   */
  localPorts: LocalPorts;
  /** Memory of each host, from its instance type or its container limit: what heaps are sized from. */
  memoryGiB: PerRole<number>;
  /** Hosts per role: 1, or 3 to 9, Elasticsearch nodes (logging) and Kafka brokers; one web and one monitoring host. */
  memberCounts: MemberCounts;
  /**
   * Accept clusters in 2 availability zones where only 2 offer every instance type (aws target; the docker target's
   * stand-in zones are always enough, so it reads nothing of it).
   */
  allowTwoZones: boolean;
  elasticsearchHeapGiB: number;
  /** Primary shards of each daily index. */
  elasticsearchShards: number;
  elasticsearchRetentionDays: number;
  kafkaPartitions: number;
  kafkaRetentionHours: number;
  prometheusRetentionDays: number;
  loadgenRequestsPerSecond: number;
  grafanaComDashboards: GrafanaComDashboard[];
  alerting: AlertingConfig;
  /** The CloudTrail module: the account's AWS API activity indexed in Elasticsearch (aws target only). */
  cloudtrail: boolean;
  /** OpenSSH public key installed instead of a generated key pair; always comes with the secret `sshPrivateKey`. */
  sshPublicKey?: string;
}
