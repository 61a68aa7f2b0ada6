import { PerRole, perRole, Role, ROLES } from "./roles";

/** Roles that run as a cluster of 1, or 3 to 9, members; the others always have one host. */
export const CLUSTER_ROLES = ["logging", "kafka"] as const satisfies readonly Role[];
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

/** The service of a cluster role's bundle that is the cluster's node: it restarts one member at a time. */
export const CLUSTER_NODE_SERVICES: Record<ClusterRole, string> = { logging: "elasticsearch", kafka: "kafka" };

/** Cluster sizes the platform runs: one node, or enough for a quorum that survives the loss of one member. */
export const CLUSTER_SIZES = { min: 3, max: 9 } as const;

/** Kafka's KRaft controllers: the first members are combined broker+controller nodes, the rest brokers only. */
export const KAFKA_CONTROLLERS = 3;

/** The availability zones a cluster spreads across, round-robin. */
export const MAX_ZONES = 3;

/**
 * One host of a role. The first member of every role keeps the role's name (and so the resource names and URNs of a
 * one-node platform); the others are `<role>-2`, `<role>-3`, ...
 */
export interface Member {
  role: Role;
  /** 0-based position in its role; the first member runs the role's one-off jobs (setup, Kibana, exporters). */
  index: number;
  /** `logging`, `logging-2`, ...: host, resource, node and scrape-target name. */
  name: string;
}

/** What the program knows of one member's host at deploy time. */
export interface MemberFacts {
  name: string;
  privateIp: string;
  /** Its availability zone (a stand-in name on the docker target): Elasticsearch's `zone` attribute, Kafka's rack. */
  zone: string;
}

export const memberName = (role: Role, index: number): string => (index === 0 ? role : `${role}-${index + 1}`);

/** How many members each role has. */
export type MemberCounts = PerRole<number>;

export const ONE_OF_EACH: MemberCounts = { logging: 1, web: 1, kafka: 1, monitoring: 1 };

export const members = (counts: MemberCounts): PerRole<Member[]> =>
  perRole((role) => Array.from({ length: counts[role] }, (_, index) => ({ role, index, name: memberName(role, index) })));

/** Every member of every role, in ROLES order, first members first within a role. */
export const allMembers = (counts: MemberCounts): Member[] => ROLES.flatMap((role) => members(counts)[role]);

/** How many zones the platform uses: one per cluster member up to MAX_ZONES, bounded by the zones available. */
export const zoneCount = (counts: MemberCounts, zonesAvailable = MAX_ZONES): number =>
  Math.max(1, Math.min(MAX_ZONES, zonesAvailable, Math.max(...ROLES.map((role) => counts[role]))));

/** The zone slot (subnet) of a member: cluster members round-robin; single hosts in the first. */
export const zoneSlot = (member: Member, zones: number): number => member.index % zones;
