import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ROLES, PerRole } from "../../platform/roles";
import { PORTS } from "../../platform/ports";
import { CLUSTER_ROLES, CLUSTER_SIZES, KAFKA_CONTROLLERS, MAX_ZONES, Member, MemberCounts, members, zoneCount, zoneSlot } from "../../platform/topology";
import { INGRESS_MATRIX, IngressRule, Module, ingressRules } from "../../platform/ingress";
import { carveSubnets } from "../../platform/subnets";

/** Zones, in name order, that offer every one of the instance types. */
export function zonesOffering(offerings: { locations: string[]; instanceTypes: string[] }, types: readonly string[]): string[] {
  const zones = [...new Set(offerings.locations)].sort();
  return zones.filter((zone) =>
    types.every((type) => offerings.locations.some((location, i) => location === zone && offerings.instanceTypes[i] === type)),
  );
}

/** Where EC2 offers which instance types (aws.ec2.getInstanceTypeOfferings by availability zone). */
export interface InstanceTypeOfferings {
  locations: string[];
  instanceTypes: string[];
}

/** The region's instance type offerings by zone, for these types. */
export async function instanceTypeOfferings(instanceTypes: string[]): Promise<InstanceTypeOfferings> {
  return aws.ec2.getInstanceTypeOfferings({
    locationType: "availability-zone",
    filters: [{ name: "instance-type", values: [...new Set(instanceTypes)].sort() }],
  });
}

/** The clusters' member counts as config names them, for messages. */
const clusterSizes = (counts: MemberCounts): string => `elasticsearchNodes ${counts.logging}, kafkaBrokers ${counts.kafka}`;

/** Where to look up which zones offer which of the types. */
const offeringsCommand = (region: string, types: readonly string[]): string =>
  `aws ec2 describe-instance-type-offerings --region ${region} --location-type availability-zone --filters Name=instance-type,Values=${types.join(",")}`;

/** Why one zone is refused whatever the config says. */
const NOT_ONE_ZONE = "and is not run in a single zone, even with allowTwoZones: the loss of that zone would stop every member";

/** How to accept 2 zones. */
const ACCEPT_TWO_ZONES = "accept 2 zones with `pulumi config set allowTwoZones true` (README, Clusters: what the loss of a zone then costs)";

/**
 * Why a platform with a cluster (3 or more members) cannot run in the zones that offer every type, or undefined
 * when it can. A cluster survives the loss of a zone only across 3; 2 are accepted with allowTwoZones; one zone never,
 * as its loss would take every member.
 */
export function zoneRefusal(
  offering: readonly string[],
  args: { memberCounts: MemberCounts; allowTwoZones: boolean; region: string; instanceTypes: readonly string[] },
): string | undefined {
  const needed = zoneCount(args.memberCounts);
  if (offering.length >= needed || (offering.length === 2 && args.allowTwoZones)) return undefined;
  const types = [...new Set(args.instanceTypes)].sort();
  const found = offering.length === 1
    ? `Only 1 availability zone of ${args.region} offers every configured instance type (${types.join(", ")}): ${offering[0]}.`
    : `Only ${offering.length} availability zones of ${args.region} offer every configured instance type (${types.join(", ")}): ${offering.join(", ")}.`;
  const why = offering.length === 1
    ? `A cluster (${clusterSizes(args.memberCounts)}) survives the loss of a zone only across ${MAX_ZONES}, ${NOT_ONE_ZONE}. ` +
      `Choose instance types offered in more zones (${offeringsCommand(args.region, types)}), or run 1 Elasticsearch node and 1 Kafka broker.`
    : `A cluster (${clusterSizes(args.memberCounts)}) survives the loss of a zone only across ${MAX_ZONES}: in 2, the zone that holds most ` +
      `of its voters takes its quorum with it. Choose instance types offered in a third zone (${offeringsCommand(args.region, types)}), ` +
      `or ${ACCEPT_TWO_ZONES}.`;
  return `${found} ${why}`;
}

/**
 * Why the zones the subnets are actually in cannot hold the clusters, or undefined when they can. A subnet keeps the
 * zone it was created in, and a subnet added later takes the zone of its slot among those offering the types now,
 * so the subnets of an existing stack can share a zone although 3 offer the types.
 */
export function subnetZonesRefusal(
  subnets: readonly { name: string; zone: string }[],
  offering: readonly string[],
  args: { memberCounts: MemberCounts; allowTwoZones: boolean; region: string; instanceTypes: readonly string[] },
): string | undefined {
  const distinct = new Set(subnets.map((subnet) => subnet.zone)).size;
  if (distinct >= zoneCount(args.memberCounts) || (distinct === 2 && args.allowTwoZones)) return undefined;
  return `This stack's subnets are in ${distinct === 1 ? "1 availability zone" : `${distinct} availability zones`} of ${args.region} ` +
    `(${subnets.map((subnet) => `${subnet.name}: ${subnet.zone}`).join(", ")}), each kept where it was first created, while ` +
    `${offering.join(", ")} offer every configured instance type (${[...new Set(args.instanceTypes)].sort().join(", ")}). ` +
    `A cluster (${clusterSizes(args.memberCounts)}) survives the loss of a zone only across ${MAX_ZONES}, ` +
    (distinct === 1 ? `${NOT_ONE_ZONE}.` : `so ${ACCEPT_TWO_ZONES}.`);
}

/**
 * What the loss of each zone costs the clusters, when they run in 2 zones (allowTwoZones): one sentence per zone.
 * Elasticsearch: every node is master-eligible and votes, except that with an even count Elasticsearch leaves one out
 * of its voting configuration (keeping it odd); a majority of the voters is its quorum. Kafka: the first
 * KAFKA_CONTROLLERS members are the controllers, a majority of them its quorum; every partition has 3 replicas, 2 in
 * sync needed for a write (min.insync.replicas, acks=all).
 */
export function zoneLossCosts(counts: MemberCounts, memberZone: (member: Member) => string): string[] {
  // The members of the clusters; a single member of a cluster role, like the single hosts, is lost with its zone in any layout.
  const all = CLUSTER_ROLES.filter((role) => counts[role] >= CLUSTER_SIZES.min).flatMap((role) => members(counts)[role]);
  const zones = [...new Set(all.map(memberZone))];
  return zones.map((zone) => {
    const inZone = (list: Member[]) => list.filter((member) => memberZone(member) === zone).length;
    const effects: string[] = [];
    const nodes = members(counts).logging;
    if (nodes.length >= CLUSTER_SIZES.min) {
      const n = nodes.length;
      const lost = inZone(nodes);
      const voters = n % 2 === 1 ? n : n - 1;
      const quorum = Math.floor(voters / 2) + 1;
      if (n % 2 === 1) {
        effects.push(n - lost < quorum
          ? `Elasticsearch loses its master quorum (${lost} of its ${n} voting nodes are there) and takes no writes`
          : `Elasticsearch keeps its master quorum and a copy of every shard`);
      } else if (n - lost < quorum) {
        effects.push(`Elasticsearch loses its master quorum (at least ${lost - 1} of its ${voters} voting nodes are there) and takes no writes`);
      } else if (n - 1 - lost >= quorum) {
        effects.push(`Elasticsearch keeps its master quorum and a copy of every shard`);
      } else {
        effects.push(
          `Elasticsearch keeps its master quorum only if the node it leaves out of its voting configuration (${voters} of its ${n} nodes vote) ` +
          `is there, and otherwise takes no writes`,
        );
      }
    }
    const brokers = members(counts).kafka;
    if (brokers.length >= CLUSTER_SIZES.min) {
      const controllers = inZone(brokers.slice(0, KAFKA_CONTROLLERS));
      if (controllers > KAFKA_CONTROLLERS / 2) {
        effects.push(`Kafka loses its controller quorum (${controllers} of its ${KAFKA_CONTROLLERS} controllers are there) and takes no writes`);
      } else if (inZone(brokers) >= 2) {
        effects.push(`Kafka keeps its controller quorum, but the partitions with 2 of their 3 replicas there fall below min.insync.replicas 2 and take no writes`);
      } else {
        effects.push(`Kafka keeps its controller quorum and 2 of 3 replicas of every partition`);
      }
    }
    const held = all.filter((member) => memberZone(member) === zone).map((member) => member.name);
    return `Losing ${zone} (${held.join(", ")}): ${effects.join("; ")}.`;
  });
}

export interface NetworkArgs {
  vpcCidr: string;
  /** Instance types that must all be offered in every subnet's availability zone. */
  instanceTypes: string[];
  /** Where they are offered: it decides the zones, and so how many subnets there are. */
  offerings: InstanceTypeOfferings;
  operatorCidrs: string[];
  /** Who may reach the ingest endpoint (`logSourceCidrs`): none when empty. */
  logSourceCidrs: string[];
  memberCounts: MemberCounts;
  /** The region, named when too few of its zones offer the types. */
  region: string;
  /** Config `allowTwoZones`: run the clusters in 2 zones where only 2 offer the types, with a warning of what a zone's loss costs. */
  allowTwoZones: boolean;
}

/**
 * VPC, public subnets carved from its range (one per zone), internet access, and one security group per role
 * implementing INGRESS_MATRIX.
 */
export class Network extends pulumi.ComponentResource {
  public readonly vpc: aws.ec2.Vpc;
  /** One subnet per zone, in zone slot order; the first holds every single host and each cluster's first member. */
  public readonly subnets: aws.ec2.Subnet[];
  /** The subnets' route table: where gateway VPC endpoints add their routes. */
  public readonly routeTable: aws.ec2.RouteTable;
  /**
   * Every subnet's zone, once it is known to offer every configured instance type and the subnets' zones are known to
   * hold the clusters (3 zones, or 2 with allowTwoZones).
   */
  public readonly zones: pulumi.Output<string>[];
  public readonly securityGroups: PerRole<aws.ec2.SecurityGroup>;
  private readonly namePrefix: string;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    const wanted = [...new Set(args.instanceTypes)].sort();
    const offerings = args.offerings;
    // Not every zone offers every type (t4g is missing in some): the zones that offer them all, in name order.
    const offeringAll = zonesOffering(offerings, wanted);
    if (offeringAll.length === 0) throw new Error(`No availability zone in this region offers all of: ${wanted.join(", ")}`);
    // A cluster spreads over three of them; too few is refused before anything of the network is registered.
    const refusal = zoneRefusal(offeringAll, { ...args, instanceTypes: wanted });
    if (refusal !== undefined) throw new Error(refusal);

    super("logplatform:index:Network", name, {}, opts);
    this.namePrefix = name;
    const parent = { parent: this };

    this.vpc = new aws.ec2.Vpc(`${name}-vpc`, {
      cidrBlock: args.vpcCidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: `${name}-vpc` },
    }, parent);

    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id, tags: { Name: `${name}-igw` } }, parent);

    // The first slot keeps the name a one-zone stack always had.
    const slotName = (slot: number) => (slot === 0 ? `${name}-public` : `${name}-public-${slot + 1}`);
    this.subnets = Array.from({ length: zoneCount(args.memberCounts, offeringAll.length) }, (_, slot) => new aws.ec2.Subnet(slotName(slot), {
      vpcId: this.vpc.id,
      cidrBlock: carveSubnets(args.vpcCidr)[slot],
      availabilityZone: offeringAll[slot],
      mapPublicIpOnLaunch: true,
      tags: { Name: slotName(slot) },
    }, {
      ...parent,
      // The zone is chosen once: a later change of instance types must not move the subnet and every host with it.
      ignoreChanges: ["availabilityZone"],
      // A replaced subnet (a new range) would overlap the old one in the VPC: remove the old one first.
      deleteBeforeReplace: true,
    }));

    // The zones the subnets are in: a kept one may differ from the zone its slot would be given now.
    const subnetZones = pulumi.all(this.subnets.map((subnet) => subnet.availabilityZone)).apply((zones) => {
      // A kept zone must offer every type configured now; say so before EC2 refuses a resize half-way.
      for (const zone of zones) {
        if (!offeringAll.includes(zone)) {
          const missing = wanted.filter((type) => !zonesOffering(offerings, [type]).includes(zone));
          throw new Error(
            `instanceTypes: ${missing.join(", ")} not offered in ${zone}, the zone this stack's subnet was created in; ` +
            `choose types offered there (aws ec2 describe-instance-type-offerings --location-type availability-zone ` +
            `--filters Name=location,Values=${zone})`,
          );
        }
      }
      // And the clusters must be spread as the rule wants over the zones the hosts will actually be in: kept
      // subnets can share a zone with one added later.
      const held = subnetZonesRefusal(zones.map((zone, slot) => ({ name: slotName(slot), zone })), offeringAll, { ...args, instanceTypes: wanted });
      if (held !== undefined) throw new Error(held);
      if (new Set(zones).size < zoneCount(args.memberCounts)) {
        const memberZone = (member: Member) => zones[zoneSlot(member, zones.length)];
        void pulumi.log.warn(
          `allowTwoZones: the clusters (${clusterSizes(args.memberCounts)}) run in 2 availability zones of ${args.region}, not ${MAX_ZONES}, ` +
          `so the loss of one can stop a cluster. ${zoneLossCosts(args.memberCounts, memberZone).join(" ")}`,
          this,
        );
      }
      return zones;
    });
    this.zones = this.subnets.map((_, slot) => subnetZones.apply((zones) => zones[slot]));

    // The inline route list stays: the provider leaves a gateway VPC endpoint's routes in this table alone.
    this.routeTable = new aws.ec2.RouteTable(`${name}-public`, {
      vpcId: this.vpc.id,
      routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
      tags: { Name: `${name}-public` },
    }, parent);
    this.subnets.forEach((subnet, slot) => {
      new aws.ec2.RouteTableAssociation(slotName(slot), { subnetId: subnet.id, routeTableId: this.routeTable.id }, parent);
    });

    this.securityGroups = Object.fromEntries(
      ROLES.map((role) => [
        role,
        new aws.ec2.SecurityGroup(`${name}-${role}`, {
          vpcId: this.vpc.id,
          description: `${role} host`,
          tags: { Name: `${name}-${role}` },
        }, parent),
      ]),
    ) as PerRole<aws.ec2.SecurityGroup>;

    for (const role of ROLES) {
      // Hosts pull images and packages from the internet.
      new aws.vpc.SecurityGroupEgressRule(`${name}-${role}-egress`, {
        securityGroupId: this.securityGroups[role].id,
        ipProtocol: "-1",
        cidrIpv4: "0.0.0.0/0",
        description: "all outbound",
      }, parent);
    }

    for (const rule of ingressRules(args.memberCounts)) {
      const common = this.ingressCommon(rule);
      const ruleName = `${name}-${rule.to}-${rule.port}`;
      if (typeof rule.from === "object" && "module" in rule.from) {
        // Created by the module, with its security group, only while it is on: see admitModule.
        continue;
      } else if (rule.from === "anywhere") {
        new aws.vpc.SecurityGroupIngressRule(`${ruleName}-anywhere`, { ...common, cidrIpv4: "0.0.0.0/0", description: `${rule.port} from anywhere` }, parent);
      } else if (rule.from === "operators") {
        args.operatorCidrs.forEach((cidr, i) => {
          new aws.vpc.SecurityGroupIngressRule(`${ruleName}-operators-${i}`, { ...common, cidrIpv4: cidr, description: `${rule.port} from operators` }, parent);
        });
      } else if (rule.from === "logSources") {
        args.logSourceCidrs.forEach((cidr, i) => {
          new aws.vpc.SecurityGroupIngressRule(`${ruleName}-log-sources-${i}`, { ...common, cidrIpv4: cidr, description: `${rule.port} from log sources` }, parent);
        });
      } else {
        const from = rule.from.role;
        new aws.vpc.SecurityGroupIngressRule(`${ruleName}-from-${from}`, {
          ...common,
          referencedSecurityGroupId: this.securityGroups[from].id,
          description: `${rule.port} from the ${from} host`,
        }, parent);
      }
    }

    this.registerOutputs({ vpcId: this.vpc.id, subnetIds: this.subnets.map((subnet) => subnet.id) });
  }

  /**
   * The INGRESS_MATRIX rules whose source is the module, letting its security group in; the module calls this with
   * itself as parent, so the rules come and go with it.
   */
  admitModule(module: Module, groupId: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): aws.vpc.SecurityGroupIngressRule[] {
    return INGRESS_MATRIX
      .filter((rule) => typeof rule.from === "object" && "module" in rule.from && rule.from.module === module)
      .map((rule) => new aws.vpc.SecurityGroupIngressRule(`${this.namePrefix}-${rule.to}-${rule.port}-from-${module}`, {
        ...this.ingressCommon(rule),
        referencedSecurityGroupId: groupId,
        description: `${rule.port} from the ${module} module`,
      }, opts));
  }

  private ingressCommon(rule: IngressRule) {
    const port = PORTS[rule.port];
    return { securityGroupId: this.securityGroups[rule.to].id, ipProtocol: "tcp", fromPort: port, toPort: port };
  }
}
