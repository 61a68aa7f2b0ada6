import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ROLES, PerRole, Role } from "./roles";
import { PORTS, PortName } from "./ports";

/** Who may open a connection: another role's security group, the operators' CIDRs, or anyone. */
export type Source = { role: Role } | "operators" | "anywhere";

export interface IngressRule {
  /** The role whose security group receives the rule. */
  to: Role;
  port: PortName;
  from: Source;
}

const everyRole = (port: PortName, from: Source): IngressRule[] => ROLES.map((to) => ({ to, port, from }));

/** The port matrix of ARCHITECTURE.md, the only ingress the platform opens. */
export const INGRESS_MATRIX: IngressRule[] = [
  { to: "web", port: "gateway", from: "anywhere" },
  ...everyRole("ssh", "operators"),
  { to: "logging", port: "kibana", from: "operators" },
  { to: "monitoring", port: "grafana", from: "operators" },
  { to: "monitoring", port: "prometheus", from: "operators" },
  { to: "monitoring", port: "alertmanager", from: "operators" },
  { to: "logging", port: "elasticsearch", from: { role: "logging" } },
  { to: "logging", port: "elasticsearch", from: { role: "monitoring" } },
  { to: "logging", port: "elasticsearch", from: "operators" },
  { to: "kafka", port: "kafka", from: { role: "web" } },
  { to: "kafka", port: "kafka", from: { role: "logging" } },
  ...everyRole("nodeExporter", { role: "monitoring" }),
  { to: "web", port: "fluentBitMetrics", from: { role: "monitoring" } },
  { to: "logging", port: "fluentBitMetrics", from: { role: "monitoring" } },
  { to: "kafka", port: "kafkaExporter", from: { role: "monitoring" } },
  { to: "logging", port: "elasticsearchExporter", from: { role: "monitoring" } },
  ...everyRole("cadvisor", { role: "monitoring" }),
];

export interface NetworkArgs {
  vpcCidr: string;
  /** Instance types that must all be offered in the chosen availability zone. */
  instanceTypes: string[];
  operatorCidrs: string[];
}

/** VPC, one public subnet, internet access, and one security group per role implementing INGRESS_MATRIX. */
export class Network extends pulumi.ComponentResource {
  public readonly vpc: aws.ec2.Vpc;
  public readonly subnet: aws.ec2.Subnet;
  public readonly securityGroups: PerRole<aws.ec2.SecurityGroup>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:Network", name, {}, opts);
    const parent = { parent: this };

    this.vpc = new aws.ec2.Vpc(`${name}-vpc`, {
      cidrBlock: args.vpcCidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: `${name}-vpc` },
    }, parent);

    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id, tags: { Name: `${name}-igw` } }, parent);

    // Not every zone offers every type (t4g is missing in some): pick the first zone that offers them all.
    const zone = aws.ec2
      .getInstanceTypeOfferingsOutput({
        locationType: "availability-zone",
        filters: [{ name: "instance-type", values: [...new Set(args.instanceTypes)] }],
      }, parent)
      .apply((offerings) => {
        const wanted = new Set(args.instanceTypes);
        const zones = [...new Set(offerings.locations)].sort();
        const fit = zones.find((z) =>
          [...wanted].every((type) => offerings.locations.some((loc, i) => loc === z && offerings.instanceTypes[i] === type)),
        );
        if (!fit) throw new Error(`No availability zone in this region offers all of: ${[...wanted].join(", ")}`);
        return fit;
      });

    this.subnet = new aws.ec2.Subnet(`${name}-public`, {
      vpcId: this.vpc.id,
      cidrBlock: args.vpcCidr,
      availabilityZone: zone,
      mapPublicIpOnLaunch: true,
      tags: { Name: `${name}-public` },
    }, parent);

    const routes = new aws.ec2.RouteTable(`${name}-public`, {
      vpcId: this.vpc.id,
      routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
      tags: { Name: `${name}-public` },
    }, parent);
    new aws.ec2.RouteTableAssociation(`${name}-public`, { subnetId: this.subnet.id, routeTableId: routes.id }, parent);

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

    for (const rule of INGRESS_MATRIX) {
      const port = PORTS[rule.port];
      const common = {
        securityGroupId: this.securityGroups[rule.to].id,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
      };
      const ruleName = `${name}-${rule.to}-${rule.port}`;
      if (rule.from === "anywhere") {
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

    this.registerOutputs({ vpcId: this.vpc.id, subnetId: this.subnet.id });
  }
}
