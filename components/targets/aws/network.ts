import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ROLES, PerRole } from "../../platform/roles";
import { PORTS } from "../../platform/ports";
import { MemberCounts, zoneCount } from "../../platform/topology";
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

export interface NetworkArgs {
  vpcCidr: string;
  /** Instance types that must all be offered in every subnet's availability zone. */
  instanceTypes: string[];
  /** Where they are offered: it decides the zones, and so how many subnets there are. */
  offerings: InstanceTypeOfferings;
  operatorCidrs: string[];
  memberCounts: MemberCounts;
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
  /** Every subnet's zone, once it is known to offer every configured instance type. */
  public readonly zones: pulumi.Output<string>[];
  public readonly securityGroups: PerRole<aws.ec2.SecurityGroup>;
  private readonly namePrefix: string;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
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

    const wanted = [...new Set(args.instanceTypes)].sort();
    const offerings = args.offerings;
    // Not every zone offers every type (t4g is missing in some): the zones that offer them all, in name order.
    const offeringAll = zonesOffering(offerings, wanted);
    if (offeringAll.length === 0) throw new Error(`No availability zone in this region offers all of: ${wanted.join(", ")}`);
    // A cluster spreads over up to three of them; where fewer offer the types, over those.

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

    // A kept zone must offer every type configured now; say so before EC2 refuses a resize half-way.
    this.zones = this.subnets.map((subnet) => subnet.availabilityZone.apply((zone) => {
      if (!offeringAll.includes(zone)) {
        const missing = wanted.filter((type) => !zonesOffering(offerings, [type]).includes(zone));
        throw new Error(
          `instanceTypes: ${missing.join(", ")} not offered in ${zone}, the zone this stack's subnet was created in; ` +
          `choose types offered there (aws ec2 describe-instance-type-offerings --location-type availability-zone ` +
          `--filters Name=location,Values=${zone})`,
        );
      }
      return zone;
    }));

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
