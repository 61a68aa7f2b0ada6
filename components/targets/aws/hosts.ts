import * as aws from "@pulumi/aws";
import { lookupDeployerIp, resolveOperatorCidrs } from "../../config/load";
import { perRole } from "../../platform/roles";
import { members, zoneSlot } from "../../platform/topology";
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
    memberCounts: config.memberCounts,
    region: config.region,
    allowTwoZones: config.allowTwoZones,
  });
  const keyPair = new aws.ec2.KeyPair(`${name}-ssh`, { publicKey: args.sshPublicKey });
  const hosts = perRole((role) => buildMembers(members(config.memberCounts)[role], args.changesAfter, (member, changesAfter) => {
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
      changesAfter,
    });
  }));
  if (config.dataSnapshotDays > 0) {
    new DataSnapshots(`${name}-data-snapshots`, { volumeTagValue: name, retainDays: config.dataSnapshotDays });
  }
  return { hosts, network };
}
