import * as aws from "@pulumi/aws";
import * as ipaddr from "ipaddr.js";
import { lookupDeployerIp, resolveOperatorCidrs } from "../../config/load";
import { perRole } from "../../platform/roles";
import { Member, allMembers, members, zoneSlot } from "../../platform/topology";
import { carveSubnets } from "../../platform/subnets";
import { Hosts, HostsArgs, buildMembers } from "../platform-host";
import { Network, instanceTypeOfferings } from "./network";
import { Ec2Host } from "./ec2-host";
import { DATA_VOLUME_TAG, DataSnapshots } from "./snapshots";

/**
 * target aws: the VPC with a subnet per zone and one security group per role, a key pair, and one EC2 instance per
 * member, spread across the zones round-robin, each with its data volume, and their daily snapshots unless
 * `dataSnapshotDays` is 0; the network too, for the modules that run beside the hosts in the VPC.
 */
export async function awsHosts(name: string, args: HostsArgs): Promise<{ hosts: Hosts; network: Network }> {
  const { config } = args;
  const instanceTypes = Object.values(config.instanceTypes);
  const network = new Network(name, {
    vpcCidr: config.vpcCidr,
    instanceTypes,
    offerings: await instanceTypeOfferings(instanceTypes),
    operatorCidrs: await resolveOperatorCidrs(config.operatorCidrs, lookupDeployerIp),
    logSourceCidrs: config.logSourceCidrs,
    memberCounts: config.memberCounts,
    region: config.region,
    allowTwoZones: config.allowTwoZones,
  });
  const keyPair = new aws.ec2.KeyPair(`${name}-ssh`, { publicKey: args.sshPublicKey });
  const found = await keptPrivateIps(allMembers(config.memberCounts).map((member) => `${name}-${member.name}`));
  const subnetCidrs = carveSubnets(config.vpcCidr);
  // Kept only where it fits the member's subnet (a stack from before the current subnets gets new addresses).
  const kept = (member: Member): string | undefined => {
    const address = found[`${name}-${member.name}`];
    return address && ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parseCIDR(subnetCidrs[zoneSlot(member, network.subnets.length)])) ? address : undefined;
  };
  const hosts = perRole((role) => {
    const roleMembers = members(config.memberCounts)[role];
    const addressesKnown = roleMembers.every((member) => kept(member) !== undefined);
    return buildMembers(roleMembers, args.changesAfter, addressesKnown, (member, changesAfter) => {
      const slot = zoneSlot(member, network.subnets.length);
      return new Ec2Host(`${name}-${member.name}`, {
        role,
        instanceType: config.instanceTypes[role],
        architecture: config.architectures[role],
        rootVolumeGiB: config.rootVolumeGiB[role],
        dataVolumeGiB: config.dataVolumeGiB[role],
        dataVolumeTags: { [DATA_VOLUME_TAG]: name },
        subnetId: network.subnets[slot].id,
        availabilityZone: network.zones[slot],
        securityGroupId: network.securityGroups[role].id,
        keyName: keyPair.keyName,
        bundleRoot: args.bundleRoot,
        sshPrivateKey: args.sshPrivateKey,
        localPorts: config.localPorts,
        keptPrivateIp: kept(member),
        changesAfter,
      });
    });
  });
  if (config.dataSnapshotDays > 0) {
    new DataSnapshots(`${name}-data-snapshots`, { volumeTagValue: name, retainDays: config.dataSnapshotDays });
  }
  return { hosts, network };
}

/**
 * The private address of each named instance that exists now (by its Name tag; terminated ones aside): what its
 * replacement takes over, so that the other members' configuration (seed hosts, voters, broker lists) holds across
 * a replacement and need not wait for it.
 */
export async function keptPrivateIps(instanceNames: string[]): Promise<Record<string, string | undefined>> {
  const found = await Promise.all(instanceNames.map((instanceName) => aws.ec2.getInstances({
    instanceTags: { Name: instanceName },
    instanceStateNames: ["pending", "running", "stopping", "stopped"],
  })));
  return Object.fromEntries(instanceNames.map((instanceName, i) => [instanceName, found[i].privateIps[0]]));
}
