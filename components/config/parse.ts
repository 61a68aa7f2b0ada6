import * as ipaddr from "ipaddr.js";
import { ROLES, PerRole } from "../platform/roles";
import { CLUSTER_SIZES, MemberCounts } from "../platform/topology";
import { DEFAULT_LOCAL_PORTS, LocalPorts, LoopbackPort, LoopbackPortConfig, UI_SERVICES, loopbackPortClashes, loopbackPortUse, loopbackPorts } from "../platform/loopback-ports";
import { Architecture, GrafanaComDashboard, PlatformConfig, TARGETS, Target } from "./types";
import {
  DEFAULT_GRAFANA_COM_DASHBOARDS, DEFAULT_INSTANCE_TYPES, DEFAULT_LOCAL_MEMORY_MIB, DEFAULT_DATA_VOLUME_GIB, DEFAULT_ROOT_VOLUME_GIB, DEFAULT_VPC_CIDR, INT_KEYS, IntKey,
  LOCAL_PORT_RANGE,
} from "./keys";
import { FAMILIES, MIN_LOGGING_MEMORY_GIB, elasticsearchHeapGiB, instanceMemoryGiB } from "./sizing";
import { ConfigErrors, ConfigSource, parseJson } from "./source";
import { parseAlerting } from "./alerting";
import { DEFAULT_LOG_SOURCES, INGEST_PLATFORM_SOURCE, LOG_SOURCE_NAME } from "../platform/ingest-sources";

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
const isRootVolumeSize = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 8 && (value as number) <= 2048;
const isDataVolumeSize = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 8 && (value as number) <= 16384;

/** A list of IPv4 CIDRs, each by its network address and narrower than /0 (`opens`: what /0 would open to all). */
function parseCidrs(source: ConfigSource, key: string, errors: ConfigErrors, opens: string): string[] {
  const parsed = parseJson(source, key, errors, "a list of IPv4 CIDRs");
  if (parsed === undefined) return [];
  if (!Array.isArray(parsed)) {
    errors.add(key, parsed, 'a list of IPv4 CIDRs, e.g. ["203.0.113.7/32"]');
    return [];
  }
  return parsed.filter((cidr, index) => {
    const entry = `${key}[${index}]`;
    if (typeof cidr !== "string" || !ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)) {
      errors.add(entry, cidr, "an IPv4 CIDR such as 203.0.113.7/32");
      return false;
    }
    const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
    const network = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
    if (prefix === 0) {
      errors.add(entry, cidr, `a range narrower than /0 (the whole internet would reach ${opens})`);
      return false;
    }
    if (address.toString() !== network) {
      errors.add(entry, cidr, `its network address, ${network}/${prefix}`);
      return false;
    }
    return true;
  }) as string[];
}

/** `logSources`: names unique, each a forward user and a certificate's common name; `platform` is the stack's. */
function parseLogSources(source: ConfigSource, errors: ConfigErrors): string[] {
  const expected = 'a list of source names, e.g. ["payments", "search"]';
  const parsed = parseJson(source, "logSources", errors, expected);
  if (parsed === undefined) return [...DEFAULT_LOG_SOURCES];
  if (!Array.isArray(parsed)) {
    errors.add("logSources", parsed, expected);
    return [...DEFAULT_LOG_SOURCES];
  }
  return parsed.filter((name, index) => {
    const entry = `logSources[${index}]`;
    if (typeof name !== "string" || !LOG_SOURCE_NAME.test(name)) {
      errors.add(entry, name, "1 to 32 lowercase letters, digits or dashes, starting with a letter");
      return false;
    }
    if (name === INGEST_PLATFORM_SOURCE) {
      errors.add(entry, name, `a name other than ${INGEST_PLATFORM_SOURCE}, the stack's own source (what verify sends as)`);
      return false;
    }
    if (parsed.indexOf(name) !== index) {
      errors.add(entry, name, "a name not already in the list");
      return false;
    }
    return true;
  }) as string[];
}

function parseVpcCidr(source: ConfigSource, target: Target, errors: ConfigErrors): string {
  const fallback = DEFAULT_VPC_CIDR[target];
  const cidr = source.get("vpcCidr") ?? fallback;
  const expected = `a private IPv4 CIDR from /16 to /24 given by its network address, e.g. ${fallback}`;
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

const isLocalPort = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= LOCAL_PORT_RANGE.min && (value as number) <= LOCAL_PORT_RANGE.max;

/** `localPorts`: any subset of the UIs, each a port of its own; the keys given are added to `given`. */
function parseLocalPorts(source: ConfigSource, errors: ConfigErrors, given: Set<string>): LocalPorts {
  const result = { ...DEFAULT_LOCAL_PORTS };
  const expected = `an object of ports by UI (${UI_SERVICES.join(", ")})`;
  const parsed = parseJson(source, "localPorts", errors, expected);
  if (parsed === undefined) return result;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    errors.add("localPorts", parsed, expected);
    return result;
  }
  for (const [service, port] of Object.entries(parsed)) {
    if (!(UI_SERVICES as readonly string[]).includes(service)) {
      errors.add(`localPorts.${service}`, port, `one of the UIs ${UI_SERVICES.join(", ")}`);
    } else if (!isLocalPort(port)) {
      errors.add(`localPorts.${service}`, port, `an integer from ${LOCAL_PORT_RANGE.min} to ${LOCAL_PORT_RANGE.max}`);
    } else {
      result[service as keyof LocalPorts] = port;
      given.add(`localPorts.${service}`);
    }
  }
  return result;
}

/**
 * Two services on one loopback port. The one that keeps it is named, the others reported: what the user set rather
 * than a default, an explicit port rather than an SSH port derived from localSshBasePort, and otherwise the later one.
 */
function reportLoopbackClashes(ports: LoopbackPort[], local: LoopbackPortConfig, given: Set<string>, errors: ConfigErrors): void {
  const setBy = (port: LoopbackPort) => (port.key === "localSshBasePort" ? `from localSshBasePort ${local.localSshBasePort}` : port.key);
  const rank = (port: LoopbackPort) => (given.has(port.key) ? 2 : 0) + (port.key === "localSshBasePort" ? 0 : 1);
  for (const { hostPort, wantedBy } of loopbackPortClashes(ports)) {
    const [keeps, ...others] = [...wantedBy].sort((a, b) => rank(a) - rank(b));
    for (const port of others) {
      const value = port.key === "localSshBasePort" ? local.localSshBasePort : hostPort;
      errors.add(port.key, value, `a port that no other published service takes (${loopbackPortUse(keeps)} takes ${hostPort}, ${setBy(keeps)})`);
    }
  }
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

/** A boolean key: `true` or `false`, `false` when unset. */
function parseBoolean(source: ConfigSource, key: string, errors: ConfigErrors): boolean {
  const raw = source.get(key);
  if (raw === undefined) return false;
  if (raw !== "true" && raw !== "false") {
    errors.add(key, raw, "true or false");
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

  const rootVolumeGiB = parsePerRole(source, "rootVolumeGiB", errors, DEFAULT_ROOT_VOLUME_GIB, isRootVolumeSize, "an integer from 8 to 2048");
  const dataVolumeGiB = parsePerRole(source, "dataVolumeGiB", errors, DEFAULT_DATA_VOLUME_GIB, isDataVolumeSize, "an integer from 8 to 16384");

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
  const localIngestForwardPort = parseInt(source, "localIngestForwardPort", errors);
  const localIngestOtlpPort = parseInt(source, "localIngestOtlpPort", errors);
  const localSshBasePort = parseInt(source, "localSshBasePort", errors);
  const given = new Set(["localGatewayPort", "localIngestForwardPort", "localIngestOtlpPort", "localSshBasePort"].filter((key) => source.get(key) !== undefined));
  const localPorts = parseLocalPorts(source, errors, given);
  const memberCounts: MemberCounts = { logging: memberCount("elasticsearchNodes"), web: 1, kafka: memberCount("kafkaBrokers"), monitoring: 1 };
  // On docker every loopback port is published by a host container; on aws only the tunnel's local ends: the UIs' and
  // the ingest endpoint's forward port.
  const local: LoopbackPortConfig = { localGatewayPort, localIngestForwardPort, localIngestOtlpPort, localSshBasePort, localPorts };
  const published = loopbackPorts(local, memberCounts)
    .filter((port) => target === "docker" || port.key.startsWith("localPorts.") || port.key === "localIngestForwardPort");
  reportLoopbackClashes(published, local, given, errors);

  const kafkaPartitions = parseInt(source, "kafkaPartitions", errors);
  if (source.get("kafkaPartitions") !== undefined && kafkaPartitions < memberCounts.logging) {
    errors.add("kafkaPartitions", source.get("kafkaPartitions"), `at least elasticsearchNodes (${memberCounts.logging}): an aggregator without a partition reads nothing`);
  }
  const elasticsearchShards = source.get("elasticsearchShards") === undefined ? memberCounts.logging : parseInt(source, "elasticsearchShards", errors);

  const config: PlatformConfig = {
    target,
    region: target === "aws" ? region ?? "" : "",
    environment,
    vpcCidr: parseVpcCidr(source, target, errors),
    operatorCidrs: parseCidrs(source, "operatorCidrs", errors, "SSH and the admin UIs"),
    logSourceCidrs: parseCidrs(source, "logSourceCidrs", errors, "the ingest endpoint"),
    logSources: parseLogSources(source, errors),
    instanceTypes,
    architectures,
    rootVolumeGiB,
    dataVolumeGiB,
    dataSnapshotDays: parseInt(source, "dataSnapshotDays", errors),
    localMemoryMiB,
    localGatewayPort,
    localIngestForwardPort,
    localIngestOtlpPort,
    localSshBasePort,
    localPorts,
    memoryGiB,
    memberCounts,
    // Validated on both targets and read by the aws one only, like instanceTypes: docker's stand-in zones are always 3.
    allowTwoZones: parseBoolean(source, "allowTwoZones", errors),
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
