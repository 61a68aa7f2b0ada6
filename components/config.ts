import * as pulumi from "@pulumi/pulumi";
import * as ipaddr from "ipaddr.js";
import { ROLES, PerRole } from "./roles";
import { loopbackPortClashes, loopbackPorts } from "./local-ports";
import { CLUSTER_SIZES, MemberCounts } from "./topology";

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

/** Which alert receivers are configured. Their URLs and password are secrets, read apart (components/alertmanager.ts). */
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
  vpcCidr: string;
  /** Empty means "the deployer's public IP /32", resolved by `resolveOperatorCidrs`. */
  operatorCidrs: string[];
  instanceTypes: PerRole<string>;
  architectures: PerRole<Architecture>;
  rootVolumeGiB: PerRole<number>;
  /** Memory limit of each host container (docker target). */
  localMemoryMiB: PerRole<number>;
  /** Loopback port of the gateway (docker target). */
  localGatewayPort: number;
  /** Loopback SSH port of the first host; the others follow in ROLES order (docker target). */
  localSshBasePort: number;
  /** Memory of each host, from its instance type or its container limit: what heaps are sized from. */
  memoryGiB: PerRole<number>;
  /** Hosts per role: 1, or 3 to 9, Elasticsearch nodes (logging) and Kafka brokers; one web and one monitoring host. */
  memberCounts: MemberCounts;
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

export const DEFAULT_INSTANCE_TYPES: PerRole<string> = {
  logging: "t4g.large",
  web: "t4g.small",
  kafka: "t4g.small",
  monitoring: "t4g.small",
};

export const DEFAULT_ROOT_VOLUME_GIB: PerRole<number> = { logging: 50, web: 20, kafka: 30, monitoring: 30 };

// The whole local stack in 7.25 GiB: it fits a laptop with 8 GiB free.
export const DEFAULT_LOCAL_MEMORY_MIB: PerRole<number> = { logging: 4096, web: 768, kafka: 1536, monitoring: 1024 };

// Node Exporter Full; the revision is pinned so a deploy never changes under the user.
export const DEFAULT_GRAFANA_COM_DASHBOARDS: GrafanaComDashboard[] = [{ id: 1860, revision: 42 }];

const INT_KEYS = {
  elasticsearchShards: { default: 1, min: 1, max: 32, about: "Primary shards per daily index (default: one per Elasticsearch node)" },
  elasticsearchRetentionDays: { default: 3, min: 1, max: 365, about: "Days Elasticsearch keeps an index (ILM delete)" },
  // Kafka is the buffer that survives an Elasticsearch outage: never less than a day.
  kafkaRetentionHours: { default: 48, min: 24, max: 720, about: "Hours Kafka keeps messages (the buffer)" },
  elasticsearchNodes: { default: 1, min: 1, max: CLUSTER_SIZES.max, about: `Logging hosts, each an Elasticsearch node with an aggregator: 1, or ${CLUSTER_SIZES.min} or more for a cluster that survives the loss of one` },
  kafkaBrokers: { default: 1, min: 1, max: CLUSTER_SIZES.max, about: `Kafka hosts, each a broker (the first ${CLUSTER_SIZES.min} also KRaft controllers): 1, or ${CLUSTER_SIZES.min} or more for a cluster that survives the loss of one` },
  kafkaPartitions: { default: 3, min: 1, max: 64, about: "Partitions per Kafka topic, at least elasticsearchNodes (one aggregator per logging host reads them)" },
  prometheusRetentionDays: { default: 15, min: 1, max: 365, about: "Days Prometheus keeps samples" },
  loadgenRequestsPerSecond: { default: 5, min: 1, max: 200, about: "Requests per second the load generator sends" },
  localGatewayPort: { default: 8080, min: 1024, max: 65535, about: "Port on 127.0.0.1 of the gateway (docker target)" },
  localSshBasePort: { default: 2201, min: 1024, max: 65500, about: "Port on 127.0.0.1 of the logging host's SSH; web, kafka and monitoring take the next three, further cluster members the ones after (docker target)" },
} as const;
type IntKey = keyof typeof INT_KEYS;

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
  { key: "vpcCidr", default: "10.42.0.0/16", description: "Private IPv4 range of the VPC (on docker, of the hosts' network), /16 to /24." },
  {
    key: "instanceTypes",
    default: "logging t4g.large, others t4g.small",
    description: "Instance type per role (any subset; aws target). Graviton (`*g`) families get arm64 images, others x86_64; a change of architecture replaces the host.",
  },
  {
    key: "rootVolumeGiB",
    default: "logging 50, web 20, kafka 30, monitoring 30",
    description: "Encrypted gp3 root volume size per role (any subset; aws target), 8 to 2048.",
  },
  {
    key: "localMemoryMiB",
    default: "logging 4096, web 768, kafka 1536, monitoring 1024",
    description: "Memory limit of each host container per role (any subset; docker target), 256 to 65536, the logging host at least 4096.",
  },
  ...(Object.keys(INT_KEYS) as IntKey[]).map((key) => ({
    key,
    default: String(INT_KEYS[key].default),
    description: `${INT_KEYS[key].about}, ${INT_KEYS[key].min} to ${INT_KEYS[key].max}.`,
  })),
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

/** Instance families the platform knows: architecture, and memory per vCPU for the m/c/r classes. */
const FAMILIES: Record<string, Architecture> = {
  t4g: "arm64", m6g: "arm64", m7g: "arm64", m8g: "arm64", c6g: "arm64", c7g: "arm64", c8g: "arm64",
  r6g: "arm64", r7g: "arm64", r8g: "arm64",
  t3: "x86_64", t3a: "x86_64", m5: "x86_64", m5a: "x86_64", m6i: "x86_64", m6a: "x86_64", m7i: "x86_64",
  m7a: "x86_64", c5: "x86_64", c5a: "x86_64", c6i: "x86_64", c6a: "x86_64", c7i: "x86_64", c7a: "x86_64",
  r5: "x86_64", r5a: "x86_64", r6i: "x86_64", r6a: "x86_64", r7i: "x86_64", r7a: "x86_64",
};
const BURSTABLE_GIB: Record<string, number> = {
  nano: 0.5, micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, "2xlarge": 32,
};
const GIB_PER_VCPU: Record<string, number> = { m: 4, c: 2, r: 8 };

/** Memory of an instance type in GiB, from its family class and size (no API call, so preview and tests agree). */
export function instanceMemoryGiB(instanceType: string): number | undefined {
  const match = /^([a-z]+)(\d+)([a-z]*)\.(\w+)$/.exec(instanceType);
  if (!match || !(`${match[1]}${match[2]}${match[3]}` in FAMILIES)) return undefined;
  const [, cls, , , size] = match;
  if (cls === "t") return BURSTABLE_GIB[size];
  const vcpus = size === "medium" ? 1 : size === "large" ? 2 : size === "xlarge" ? 4 : /^(\d+)xlarge$/.test(size) ? 4 * Number(size.slice(0, -6)) : undefined;
  return vcpus === undefined ? undefined : vcpus * GIB_PER_VCPU[cls];
}

// Memory the logging host keeps for Kibana (its Node heap is capped at 1 GiB) and the two Fluent Bits: the
// aggregator, and the forwarder (at most 32 chunks and a 32 MiB Kafka queue per output in memory).
const KIBANA_GIB = 1;
const AGGREGATOR_GIB = 0.5;
const FORWARDER_GIB = 0.25;

/** Elasticsearch heap: half of what Kibana and the Fluent Bits leave, whole GiB, 1 to 31 (compressed oops). */
export function elasticsearchHeapGiB(memoryGiB: number): number {
  return Math.min(31, Math.max(1, Math.floor((memoryGiB - KIBANA_GIB - AGGREGATOR_GIB - FORWARDER_GIB) / 2)));
}
const MIN_LOGGING_MEMORY_GIB = 4;

/** Reads raw config values; `undefined` when a key is not set. Structured values come as JSON text. */
export interface ConfigSource {
  get(key: string): string | undefined;
  /** Whether the secret `sshPrivateKey` is set (its value is never read here). */
  hasSshPrivateKey: boolean;
  stackName: string;
  namespace: string;
}

class ConfigErrors {
  private readonly messages: string[] = [];
  constructor(private readonly namespace: string) {}

  add(key: string, value: unknown, expected: string): void {
    const shown = value === undefined ? "(not set)" : JSON.stringify(value);
    const fullKey = key.includes(":") ? key : `${this.namespace}:${key}`;
    this.messages.push(`${fullKey} = ${shown}: expected ${expected}`);
  }

  throwIfAny(): void {
    if (this.messages.length > 0) {
      throw new Error(`Invalid stack configuration:\n  - ${this.messages.join("\n  - ")}`);
    }
  }
}

function parseJson(source: ConfigSource, key: string, errors: ConfigErrors, expected: string): unknown {
  const raw = source.get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    errors.add(key, raw, expected);
    return undefined;
  }
}

function parsePerRole<T>(
  source: ConfigSource,
  key: string,
  errors: ConfigErrors,
  defaults: PerRole<T>,
  check: (value: unknown) => value is T,
  expected: string,
): PerRole<T> {
  const result = { ...defaults };
  const parsed = parseJson(source, key, errors, `an object keyed by role (${ROLES.join(", ")})`);
  if (parsed === undefined) return result;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    errors.add(key, parsed, `an object keyed by role (${ROLES.join(", ")})`);
    return result;
  }
  for (const [role, value] of Object.entries(parsed)) {
    if (!(ROLES as readonly string[]).includes(role)) {
      errors.add(`${key}.${role}`, value, `one of the roles ${ROLES.join(", ")}`);
    } else if (!check(value)) {
      errors.add(`${key}.${role}`, value, expected);
    } else {
      result[role as keyof PerRole<T>] = value;
    }
  }
  return result;
}

function parseInt(source: ConfigSource, key: IntKey, errors: ConfigErrors): number {
  const range = INT_KEYS[key];
  const raw = source.get(key);
  if (raw === undefined) return range.default;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < range.min || value > range.max) {
    errors.add(key, raw, `an integer from ${range.min} to ${range.max}`);
    return range.default;
  }
  return value;
}

const isString = (value: unknown): value is string => typeof value === "string";
const isMemoryMiB = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 256 && (value as number) <= 65536;
const isVolumeSize = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 8 && (value as number) <= 2048;

function parseOperatorCidrs(source: ConfigSource, errors: ConfigErrors): string[] {
  const parsed = parseJson(source, "operatorCidrs", errors, "a list of IPv4 CIDRs");
  if (parsed === undefined) return [];
  if (!Array.isArray(parsed)) {
    errors.add("operatorCidrs", parsed, 'a list of IPv4 CIDRs, e.g. ["203.0.113.7/32"]');
    return [];
  }
  return parsed.filter((cidr, index) => {
    const key = `operatorCidrs[${index}]`;
    if (typeof cidr !== "string" || !ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)) {
      errors.add(key, cidr, "an IPv4 CIDR such as 203.0.113.7/32");
      return false;
    }
    const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
    const network = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
    if (prefix === 0) {
      errors.add(key, cidr, "a range narrower than /0 (the whole internet would reach SSH and the admin UIs)");
      return false;
    }
    if (address.toString() !== network) {
      errors.add(key, cidr, `its network address, ${network}/${prefix}`);
      return false;
    }
    return true;
  }) as string[];
}

function parseVpcCidr(source: ConfigSource, errors: ConfigErrors): string {
  const fallback = "10.42.0.0/16";
  const cidr = source.get("vpcCidr") ?? fallback;
  const expected = "a private IPv4 CIDR from /16 to /24 given by its network address, e.g. 10.42.0.0/16";
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)) {
    errors.add("vpcCidr", cidr, expected);
    return fallback;
  }
  const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  const canonical = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString() === address.toString();
  if (prefix < 16 || prefix > 24 || address.range() !== "private" || !canonical) {
    errors.add("vpcCidr", cidr, expected);
    return fallback;
  }
  return cidr;
}

function parseGrafanaComDashboards(source: ConfigSource, errors: ConfigErrors): GrafanaComDashboard[] {
  const expected = 'a list of {"id": <integer>, "revision": <integer>}';
  const parsed = parseJson(source, "grafanaComDashboards", errors, expected);
  if (parsed === undefined) return DEFAULT_GRAFANA_COM_DASHBOARDS;
  const valid =
    Array.isArray(parsed) &&
    parsed.every(
      (d) =>
        typeof d === "object" && d !== null && Object.keys(d).sort().join() === "id,revision" &&
        Number.isInteger(d.id) && d.id > 0 && Number.isInteger(d.revision) && d.revision > 0,
    );
  if (!valid) {
    errors.add("grafanaComDashboards", parsed, expected);
    return DEFAULT_GRAFANA_COM_DASHBOARDS;
  }
  return parsed as GrafanaComDashboard[];
}

/** A secret's value never appears in an error: only its shape, enough to spot a pasted wrong thing. */
const redacted = (secret: string) => `(secret, ${secret.length} characters${/^\w+:\/\//.test(secret) ? `, scheme ${secret.split(":")[0]}` : ""})`;

function isHttpUrl(value: string, httpsOnly: boolean): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || (!httpsOnly && url.protocol === "http:")) && url.hostname !== "";
  } catch {
    return false;
  }
}

const EMAIL = /^[^\s@,<>]+@[^\s@,<>]+\.[^\s@,<>]+$/;
const SMARTHOST = /^[A-Za-z0-9.-]+:\d{1,5}$/;

function parseAlerting(source: ConfigSource, errors: ConfigErrors): AlertingConfig {
  const url = (key: string, httpsOnly: boolean): boolean => {
    const value = source.get(key);
    if (value === undefined) return false;
    if (!isHttpUrl(value, httpsOnly)) {
      errors.add(key, redacted(value), `${httpsOnly ? "an https" : "an http or https"} URL, set with pulumi config set --secret ${key} <url>`);
      return false;
    }
    return true;
  };
  const alerting: AlertingConfig = { webhook: url("alertWebhookUrl", false), slack: url("alertSlackWebhookUrl", true) };

  const expected = 'an object {"to": <address>, "from": <address>, "smarthost": "<host>:<port>", "username"?: <string>}';
  const email = parseJson(source, "alertEmail", errors, expected);
  const hasPassword = source.get("alertSmtpPassword") !== undefined;
  if (email !== undefined) {
    const fields = typeof email === "object" && email !== null && !Array.isArray(email) ? (email as Record<string, unknown>) : undefined;
    const unknown = Object.keys(fields ?? {}).filter((k) => !["to", "from", "smarthost", "username"].includes(k));
    if (!fields || unknown.length > 0) {
      errors.add("alertEmail", email, expected);
    } else {
      const { to, from, smarthost, username } = fields;
      const bad = [
        ...(["to", "from"] as const).filter((k) => typeof fields[k] !== "string" || !EMAIL.test(fields[k] as string))
          .map((k) => ({ key: `alertEmail.${k}`, value: fields[k], expected: "one e-mail address such as ops@example.com" })),
        ...(typeof smarthost !== "string" || !SMARTHOST.test(smarthost) || Number(smarthost.split(":")[1]) > 65535
          ? [{ key: "alertEmail.smarthost", value: smarthost, expected: "the SMTP server as host:port, e.g. smtp.example.com:587" }] : []),
        ...(username !== undefined && (typeof username !== "string" || username === "")
          ? [{ key: "alertEmail.username", value: username, expected: "a non-empty SMTP user name, or no username for a server without login" }] : []),
      ];
      for (const problem of bad) errors.add(problem.key, problem.value, problem.expected);
      if (username !== undefined && !hasPassword) {
        errors.add("alertSmtpPassword", undefined, "the secret SMTP password of alertEmail.username (pulumi config set --secret alertSmtpPassword ...)");
      }
      if (bad.length === 0) alerting.email = { to, from, smarthost, ...(username !== undefined ? { username } : {}) } as AlertEmail;
    }
  }
  if (hasPassword && (email === undefined || (email as { username?: unknown }).username === undefined)) {
    errors.add("alertEmail.username", undefined, "the SMTP user name that alertSmtpPassword belongs to");
  }
  return alerting;
}

function parseCloudTrail(source: ConfigSource, target: Target, errors: ConfigErrors): boolean {
  const raw = source.get("cloudtrail");
  if (raw === undefined) return false;
  if (raw !== "true" && raw !== "false") {
    errors.add("cloudtrail", raw, "true or false");
    return false;
  }
  if (raw === "true" && target !== "aws") {
    errors.add("cloudtrail", raw, `false with target ${target} (CloudTrail, S3 and Lambda exist only on the aws target)`);
    return false;
  }
  return raw === "true";
}

/** Validates the whole stack config at once; every problem is reported with its key, its value and what is expected. */
export function parseConfig(source: ConfigSource): PlatformConfig {
  const errors = new ConfigErrors(source.namespace);

  const rawTarget = source.get("target") ?? "aws";
  const target: Target = (TARGETS as readonly string[]).includes(rawTarget) ? (rawTarget as Target) : "aws";
  if (target !== rawTarget) errors.add("target", rawTarget, `one of ${TARGETS.join(", ")}`);

  const region = source.get("aws:region");
  if (target === "aws" && (region === undefined || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))) {
    errors.add("aws:region", region, "an AWS region such as eu-west-1 (pulumi config set aws:region eu-west-1)");
  }

  const environment = source.get("environment") ?? source.stackName;
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(environment)) {
    errors.add("environment", environment, "1 to 20 lowercase letters, digits or dashes, starting with a letter (defaults to the stack name)");
  }

  const instanceTypes = parsePerRole(
    source, "instanceTypes", errors, DEFAULT_INSTANCE_TYPES, isString, `an instance type of a known family (${Object.keys(FAMILIES).join(", ")})`,
  );
  const architectures = {} as PerRole<Architecture>;
  for (const role of ROLES) {
    const type = instanceTypes[role];
    if (instanceMemoryGiB(type) === undefined) {
      errors.add(`instanceTypes.${role}`, type, `an instance type of a known family (${Object.keys(FAMILIES).join(", ")}) and size`);
      instanceTypes[role] = DEFAULT_INSTANCE_TYPES[role];
    }
    architectures[role] = FAMILIES[instanceTypes[role].split(".")[0]];
  }
  const localMemoryMiB = parsePerRole(source, "localMemoryMiB", errors, DEFAULT_LOCAL_MEMORY_MIB, isMemoryMiB, "an integer from 256 to 65536");
  const memoryGiB = {} as PerRole<number>;
  for (const role of ROLES) {
    memoryGiB[role] = target === "aws" ? instanceMemoryGiB(instanceTypes[role]) ?? 0 : localMemoryMiB[role] / 1024;
  }
  if (memoryGiB.logging < MIN_LOGGING_MEMORY_GIB) {
    if (target === "aws") {
      errors.add("instanceTypes.logging", instanceTypes.logging, `at least ${MIN_LOGGING_MEMORY_GIB} GiB of memory for Elasticsearch, Kibana and the aggregator (e.g. t4g.large)`);
    } else {
      errors.add("localMemoryMiB.logging", localMemoryMiB.logging, `at least ${MIN_LOGGING_MEMORY_GIB * 1024} for Elasticsearch, Kibana and the aggregator`);
    }
  }

  const rootVolumeGiB = parsePerRole(source, "rootVolumeGiB", errors, DEFAULT_ROOT_VOLUME_GIB, isVolumeSize, "an integer from 8 to 2048");

  const sshPublicKey = source.get("sshPublicKey");
  if (sshPublicKey !== undefined && !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/.test(sshPublicKey.trim())) {
    errors.add("sshPublicKey", sshPublicKey, "an OpenSSH public key line (ssh-ed25519 AAAA...)");
  }
  if ((sshPublicKey !== undefined) !== source.hasSshPrivateKey) {
    errors.add(
      sshPublicKey === undefined ? "sshPublicKey" : "sshPrivateKey",
      undefined,
      "sshPublicKey and the secret sshPrivateKey set together, or neither (a key pair is then generated)",
    );
  }

  const memberCount = (key: "elasticsearchNodes" | "kafkaBrokers"): number => {
    const count = parseInt(source, key, errors);
    if (count === 2) {
      errors.add(key, source.get(key), `1, or ${CLUSTER_SIZES.min} to ${CLUSTER_SIZES.max}: a cluster of 2 loses its quorum with either member`);
    }
    return count === 2 ? 1 : count;
  };
  const localGatewayPort = parseInt(source, "localGatewayPort", errors);
  const localSshBasePort = parseInt(source, "localSshBasePort", errors);
  const memberCounts: MemberCounts = { logging: memberCount("elasticsearchNodes"), web: 1, kafka: memberCount("kafkaBrokers"), monitoring: 1 };
  const clashes = loopbackPortClashes(loopbackPorts(localGatewayPort, localSshBasePort, memberCounts));
  if (target === "docker" && clashes.length > 0) {
    errors.add("localGatewayPort", localGatewayPort, `a port that neither the SSH ports from localSshBasePort (${localSshBasePort}) nor another published service takes (both take ${clashes.join(", ")})`);
  }

  const kafkaPartitions = parseInt(source, "kafkaPartitions", errors);
  if (source.get("kafkaPartitions") !== undefined && kafkaPartitions < memberCounts.logging) {
    errors.add("kafkaPartitions", source.get("kafkaPartitions"), `at least elasticsearchNodes (${memberCounts.logging}): an aggregator without a partition reads nothing`);
  }
  const elasticsearchShards = source.get("elasticsearchShards") === undefined ? memberCounts.logging : parseInt(source, "elasticsearchShards", errors);

  const config: PlatformConfig = {
    target,
    region: target === "aws" ? region ?? "" : "",
    environment,
    vpcCidr: parseVpcCidr(source, errors),
    operatorCidrs: parseOperatorCidrs(source, errors),
    instanceTypes,
    architectures,
    rootVolumeGiB,
    localMemoryMiB,
    localGatewayPort,
    localSshBasePort,
    memoryGiB,
    memberCounts,
    elasticsearchHeapGiB: elasticsearchHeapGiB(memoryGiB.logging),
    elasticsearchShards,
    elasticsearchRetentionDays: parseInt(source, "elasticsearchRetentionDays", errors),
    // Unset, it grows with the aggregators, so that every logging host has a partition to read.
    kafkaPartitions: source.get("kafkaPartitions") === undefined ? Math.max(kafkaPartitions, memberCounts.logging) : kafkaPartitions,
    kafkaRetentionHours: parseInt(source, "kafkaRetentionHours", errors),
    prometheusRetentionDays: parseInt(source, "prometheusRetentionDays", errors),
    loadgenRequestsPerSecond: parseInt(source, "loadgenRequestsPerSecond", errors),
    grafanaComDashboards: parseGrafanaComDashboards(source, errors),
    alerting: parseAlerting(source, errors),
    cloudtrail: parseCloudTrail(source, target, errors),
    sshPublicKey: sshPublicKey?.trim(),
  };
  errors.throwIfAny();
  return config;
}

/** The stack's config, validated, plus the SSH private key as a secret when one is configured. */
export function loadConfig(): { config: PlatformConfig; sshPrivateKey?: pulumi.Output<string> } {
  const stackConfig = new pulumi.Config();
  const sshPrivateKey = stackConfig.getSecret("sshPrivateKey");
  const config = parseConfig({
    get: (key) => (key.startsWith("aws:") ? new pulumi.Config("aws").get(key.slice(4)) : stackConfig.get(key)),
    hasSshPrivateKey: sshPrivateKey !== undefined,
    stackName: pulumi.getStack(),
    namespace: pulumi.getProject(),
  });
  return { config, sshPrivateKey };
}

/** Operator CIDRs from config, or the deployer's public IP /32 when none are configured. */
export async function resolveOperatorCidrs(configured: string[], lookupPublicIp: () => Promise<string>): Promise<string[]> {
  if (configured.length > 0) return configured;
  const ip = (await lookupPublicIp()).trim();
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) {
    throw new Error(`Could not use "${ip}" as your public IP; set operatorCidrs, e.g. pulumi config set --path 'operatorCidrs[0]' 203.0.113.7/32`);
  }
  return [`${ip}/32`];
}

/** Asks AWS's echo service for the deployer's public IPv4 address. */
export async function lookupDeployerIp(): Promise<string> {
  try {
    const response = await fetch("https://checkip.amazonaws.com", { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.text();
  } catch (error) {
    throw new Error(`Could not look up your public IP (${String(error)}); set operatorCidrs in the stack config instead.`);
  }
}
