import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import { hashElement } from "folder-hash";
import * as ipaddr from "ipaddr.js";
import { PlatformConfig, lookupDeployerIp, resolveOperatorCidrs } from "./config";
import { ROLES, PerRole, Role, perRole } from "./roles";
import { Network, carveSubnets, instanceTypeOfferings } from "./network";
import { Host } from "./host";
import { DockerHost } from "./docker-host";
import { loopbackPorts } from "./local-ports";
import { PLATFORM_HOST_DIR, PlatformHost } from "./platform-host";
import { members, zoneCount, zoneSlot } from "./topology";

export interface HostsArgs {
  config: PlatformConfig;
  bundleRoot: string;
  sshPublicKey: pulumi.Input<string>;
  /** Secret. */
  sshPrivateKey: pulumi.Output<string>;
}

/** Every role's hosts, first member first. */
export type Hosts = PerRole<PlatformHost[]>;

/**
 * target aws: the VPC with a subnet per zone and one security group per role, a key pair, and one EC2 instance per
 * member, spread across the zones round-robin; the network too, for the modules that run beside the hosts in the VPC.
 */
export async function awsHosts(name: string, args: HostsArgs): Promise<{ hosts: Hosts; network: Network }> {
  const { config } = args;
  const instanceTypes = Object.values(config.instanceTypes);
  const network = new Network(name, {
    vpcCidr: config.vpcCidr,
    instanceTypes,
    offerings: await instanceTypeOfferings(instanceTypes),
    operatorCidrs: await resolveOperatorCidrs(config.operatorCidrs, lookupDeployerIp),
    memberCounts: config.memberCounts,
  });
  const keyPair = new aws.ec2.KeyPair(`${name}-ssh`, { publicKey: args.sshPublicKey });
  const hosts = perRole((role) => members(config.memberCounts)[role].map((member) => {
    const slot = zoneSlot(member, network.subnets.length);
    return new Host(`${name}-${member.name}`, {
      role,
      instanceType: config.instanceTypes[role],
      architecture: config.architectures[role],
      rootVolumeGiB: config.rootVolumeGiB[role],
      subnetId: network.subnets[slot].id,
      availabilityZone: network.zones[slot],
      securityGroupId: network.securityGroups[role].id,
      keyName: keyPair.keyName,
      bundleRoot: args.bundleRoot,
      sshPrivateKey: args.sshPrivateKey,
    });
  }));
  return { hosts, network };
}

/**
 * Static address of a local host in the first subnet: the first members from the tenth address on, in ROLES order;
 * further cluster members from the twentieth on, ten addresses per role.
 */
export function localHostAddress(vpcCidr: string, role: Role, memberIndex: number): string {
  const [network] = ipaddr.IPv4.parseCIDR(carveSubnets(vpcCidr)[0]);
  const bytes = network.toByteArray();
  const roleIndex = ROLES.indexOf(role);
  bytes[3] += memberIndex === 0 ? 10 + roleIndex : 20 + 10 * roleIndex + memberIndex;
  return bytes.join(".");
}

/** Stand-in zone names of the docker target, one per zone slot. */
export const LOCAL_ZONES = ["local-a", "local-b", "local-c"];

/**
 * The local engine's share of the platform: a private network with the VPC's range, so the addresses in `.env` work
 * unchanged, and the host image, built from platform-host/ and removed again by `pulumi destroy`.
 */
export class LocalEngine extends pulumi.ComponentResource {
  public readonly network: docker.Network;
  public readonly hostImageId: pulumi.Output<string>;

  constructor(name: string, args: { vpcCidr: string }, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:LocalEngine", name, {}, opts);
    const parent = { parent: this };
    this.network = new docker.Network(`${name}-network`, {
      name,
      driver: "bridge",
      ipamConfigs: [{ subnet: args.vpcCidr }],
    }, parent);
    // A tag per content: a changed image is a new tag, and replacing the old reference removes only the old one.
    const contentTag = pulumi.output(hashElement(PLATFORM_HOST_DIR, { algo: "sha256", encoding: "hex" })).apply((tree) => tree.hash.slice(0, 12));
    const built = new docker.Image(`${name}-host-image`, {
      build: { context: PLATFORM_HOST_DIR },
      imageName: pulumi.interpolate`${name.toLowerCase()}-host:${contentTag}`,
      skipPush: true,
    }, parent);
    // docker.Image leaves what it built on destroy; this reference to it removes it (keepLocally: false).
    const local = new docker.RemoteImage(`${name}-host-image-local`, { name: built.imageName, keepLocally: false }, parent);
    this.hostImageId = local.imageId;
    this.registerOutputs({ network: this.network.name, hostImageId: this.hostImageId });
  }
}

/** target docker: one privileged container per member on the local engine, each with its own engine and SSH. */
export function dockerHosts(name: string, args: HostsArgs): Hosts {
  const { config } = args;
  const engine = new LocalEngine(`${name}-local`, { vpcCidr: config.vpcCidr });
  const ports = loopbackPorts(config.localGatewayPort, config.localSshBasePort, config.memberCounts);
  const zones = zoneCount(config.memberCounts);
  return perRole((role) => members(config.memberCounts)[role].map((member) => new DockerHost(`${name}-${member.name}`, {
    role,
    hostname: member.name,
    image: engine.hostImageId,
    network: engine.network.name,
    privateIp: localHostAddress(config.vpcCidr, role, member.index),
    ports: ports.filter((port) => port.member === member.name),
    memoryMiB: config.localMemoryMiB[role],
    zone: LOCAL_ZONES[zoneSlot(member, zones)],
    sshPublicKey: args.sshPublicKey,
    sshPrivateKey: args.sshPrivateKey,
    bundleRoot: args.bundleRoot,
  })));
}
