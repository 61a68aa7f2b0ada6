import { PerRole } from "../platform/roles";
import { CLUSTER_SIZES } from "../platform/topology";
import { DEFAULT_LOCAL_PORTS, UI_SERVICES } from "../platform/loopback-ports";
import { GrafanaComDashboard, Target } from "./types";

export const DEFAULT_INSTANCE_TYPES: PerRole<string> = {
  logging: "t4g.large",
  web: "t4g.small",
  kafka: "t4g.small",
  monitoring: "t4g.small",
};

export const DEFAULT_ROOT_VOLUME_GIB: PerRole<number> = { logging: 50, web: 20, kafka: 30, monitoring: 30 };
// What a role keeps (the Docker volumes: indices, Kafka's log, the TSDB, the Fluent Bit buffers), apart from the OS.
export const DEFAULT_DATA_VOLUME_GIB: PerRole<number> = { logging: 100, web: 20, kafka: 50, monitoring: 30 };

// The whole local stack in 7.5 GiB: it fits a laptop with 8 GiB free. The web host holds the ingest endpoint too.
export const DEFAULT_LOCAL_MEMORY_MIB: PerRole<number> = { logging: 4096, web: 1024, kafka: 1536, monitoring: 1024 };

/**
 * The default `vpcCidr` per target. On aws the VPC is the stack's own, as it always was. On docker the range is a
 * network on the user's machine, beside whatever else runs there: a /24 (the hosts take the first 64 addresses at
 * most) in a part of 10/8 that the usual tools leave alone: not k3s (10.42/16, 10.43/16), Kubernetes services
 * (10.96/12), flannel (10.244/16), Podman (10.88/16, its pools from 10.89/16 up), Weave (10.32/12), Docker's bridge
 * and address pools (172.17/16 to 172.31/16, 192.168/16), Calico (192.168/16), nor the 10.0 to 10.15 that home and
 * office networks and VPNs favour. test/unit/config.test.ts checks it against those ranges.
 */
export const DEFAULT_VPC_CIDR: Record<Target, string> = { aws: "10.42.0.0/16", docker: "10.213.0.0/24" };

// Node Exporter Full; the revision is pinned so a deploy never changes under the user.
export const DEFAULT_GRAFANA_COM_DASHBOARDS: GrafanaComDashboard[] = [{ id: 1860, revision: 42 }];

/** The range of every loopback port a user sets (`localGatewayPort`, `localPorts`): no privileged port. */
export const LOCAL_PORT_RANGE = { min: 1024, max: 65535 } as const;

export const INT_KEYS = {
  elasticsearchShards: { default: 1, min: 1, max: 32, about: "Primary shards per daily index (default: one per Elasticsearch node)" },
  elasticsearchRetentionDays: { default: 3, min: 1, max: 365, about: "Days Elasticsearch keeps an index (ILM delete)" },
  // Kafka is the buffer that survives an Elasticsearch outage: never less than a day.
  kafkaRetentionHours: { default: 48, min: 24, max: 720, about: "Hours Kafka keeps messages (the buffer)" },
  elasticsearchNodes: { default: 1, min: 1, max: CLUSTER_SIZES.max, about: `Logging hosts, each an Elasticsearch node with an aggregator: 1, or ${CLUSTER_SIZES.min} or more for a cluster that survives the loss of one` },
  kafkaBrokers: { default: 1, min: 1, max: CLUSTER_SIZES.max, about: `Kafka hosts, each a broker (the first ${CLUSTER_SIZES.min} also KRaft controllers): 1, or ${CLUSTER_SIZES.min} or more for a cluster that survives the loss of one` },
  kafkaPartitions: { default: 3, min: 1, max: 64, about: "Partitions per Kafka topic, at least elasticsearchNodes (one aggregator per logging host reads them)" },
  dataSnapshotDays: { default: 7, min: 0, max: 365, about: "Days the daily snapshots of every data volume are kept (Data Lifecycle Manager; aws target); 0 takes none" },
  prometheusRetentionDays: { default: 15, min: 1, max: 365, about: "Days Prometheus keeps samples" },
  loadgenRequestsPerSecond: { default: 5, min: 1, max: 200, about: "Requests per second the load generator sends" },
  localGatewayPort: { default: 8080, ...LOCAL_PORT_RANGE, about: "Port on 127.0.0.1 of the gateway (docker target)" },
  localIngestForwardPort: { default: 24224, ...LOCAL_PORT_RANGE, about: "Port on 127.0.0.1 of the ingest endpoint's forward input: published there on docker, the local end of `npm run tunnel` on aws" },
  localIngestOtlpPort: { default: 4318, ...LOCAL_PORT_RANGE, about: "Port on 127.0.0.1 of the ingest endpoint's OTLP input (docker target)" },
  localSshBasePort: { default: 2201, min: 1024, max: 65500, about: "Port on 127.0.0.1 of the logging host's SSH; web, kafka and monitoring take the next three, further cluster members the ones after (docker target)" },
} as const;
export type IntKey = keyof typeof INT_KEYS;

/** Every config key, its default and its effect; the README's config table is checked against this list. */
export const CONFIG_KEYS: { key: string; default: string; description: string }[] = [
  { key: "target", default: "aws", description: "Where the hosts run: `aws` (EC2 instances) or `docker` (containers on your Docker engine, no AWS account needed)." },
  { key: "aws:region", default: "(required for aws)", description: "AWS region to deploy into." },
  {
    key: "environment",
    default: "the stack name",
    description: "Environment in Kafka topic names (`platform.gateway.access.<environment>.json`): lowercase letters, digits, dashes.",
  },
  {
    key: "operatorCidrs",
    default: "your public IP /32",
    description: "IPv4 CIDRs allowed to reach the hosts' SSH (key only), the way in to every admin UI (`npm run tunnel`); 0.0.0.0/0 is refused (aws target; on docker everything binds to 127.0.0.1).",
  },
  {
    key: "logSourceCidrs",
    default: "(none: the ingest ports closed)",
    description: "IPv4 CIDRs allowed to reach the ingest endpoint on the web host (forward 24224, OTLP 4318; TLS and authenticated); 0.0.0.0/0 is refused (aws target; on docker both are published on 127.0.0.1).",
  },
  {
    key: "logSources",
    default: '["default"]',
    description: "Names of your log sources (lowercase letters, digits, dashes; `platform` is the stack's own): each gets a password of the forward input and an OTLP client certificate, in the `ingestCredentials` output.",
  },
  {
    key: "vpcCidr",
    default: `${DEFAULT_VPC_CIDR.aws}; docker ${DEFAULT_VPC_CIDR.docker}`,
    description: "Private IPv4 range of the VPC (on docker, of the hosts' Docker network, by default clear of the ranges k3s, Kubernetes, Docker, Podman and home networks use), /16 to /24.",
  },
  {
    key: "instanceTypes",
    default: "logging t4g.large, others t4g.small",
    description: "Instance type per role (any subset; aws target). Graviton (`*g`) families get arm64 images, others x86_64; a change of architecture replaces the host.",
  },
  {
    key: "rootVolumeGiB",
    default: "logging 50, web 20, kafka 30, monitoring 30",
    description: "Encrypted gp3 root volume size per role (any subset; aws target), 8 to 2048: the OS, Docker's images and container logs.",
  },
  {
    key: "dataVolumeGiB",
    default: "logging 100, web 20, kafka 50, monitoring 30",
    description: "Encrypted gp3 data volume size per role (any subset; aws target), 8 to 16384: every Docker volume (the indices, Kafka's log, Prometheus' TSDB, the Fluent Bit buffers); kept when its instance is replaced, grown in place.",
  },
  {
    key: "allowTwoZones",
    default: "false",
    description: "`true` runs a cluster (`elasticsearchNodes` or `kafkaBrokers` of 3 or more) in 2 availability zones where only 2 offer every configured instance type, with a warning: the loss of one zone can then stop a cluster (see Clusters). Unset, such a deploy is refused; one zone is refused either way (aws target; ignored on docker).",
  },
  {
    key: "localMemoryMiB",
    default: "logging 4096, web 1024, kafka 1536, monitoring 1024",
    description: "Memory limit of each host container per role (any subset; docker target), 256 to 65536, the logging host at least 4096.",
  },
  ...(Object.keys(INT_KEYS) as IntKey[]).map((key) => ({
    key,
    default: String(INT_KEYS[key].default),
    description: `${INT_KEYS[key].about}, ${INT_KEYS[key].min} to ${INT_KEYS[key].max}.`,
  })),
  {
    key: "localPorts",
    default: UI_SERVICES.map((service) => `${service} ${DEFAULT_LOCAL_PORTS[service]}`).join(", "),
    description: `Port on 127.0.0.1 of each admin UI (any subset), ${LOCAL_PORT_RANGE.min} to ${LOCAL_PORT_RANGE.max}: where the docker target publishes it (checked free before anything is created) and where \`npm run tunnel\` opens it on aws; the URL outputs use them.`,
  },
  {
    key: "grafanaComDashboards",
    default: JSON.stringify(DEFAULT_GRAFANA_COM_DASHBOARDS),
    description: "grafana.com dashboards (`id`, `revision`) imported at deploy time, bound to the `prometheus` datasource.",
  },
  {
    key: "alertWebhookUrl",
    default: "(none)",
    description: "Secret: http(s) URL Alertmanager posts every alert to (its generic webhook JSON).",
  },
  {
    key: "alertSlackWebhookUrl",
    default: "(none)",
    description: "Secret: Slack incoming-webhook URL (https) that receives every alert.",
  },
  {
    key: "alertEmail",
    default: "(none)",
    description: 'Alert e-mail: `{"to", "from", "smarthost": "host:port", "username"?}`; STARTTLS required.',
  },
  {
    key: "alertSmtpPassword",
    default: "(none)",
    description: "Secret: the SMTP password of `alertEmail.username`; set together with it.",
  },
  {
    key: "cloudtrail",
    default: "false",
    description: "`true` indexes the account's AWS API activity (a multi-region CloudTrail trail, through S3, a Lambda and Kafka) in `cloudtrail-*` (aws target only).",
  },
  {
    key: "sshPublicKey",
    default: "(a generated ED25519 key)",
    description: "OpenSSH public key for the hosts; set together with the secret `sshPrivateKey`.",
  },
  {
    key: "sshPrivateKey",
    default: "(generated)",
    description: "Secret (`pulumi config set --secret`): the private key of `sshPublicKey`, used to deploy over SSH.",
  },
];
