import * as ipaddr from "ipaddr.js";
import { ROLES, Role, perRole } from "../../platform/roles";
import { carveSubnets } from "../../platform/subnets";
import { members, zoneCount, zoneSlot } from "../../platform/topology";
import { loopbackPorts } from "../../platform/loopback-ports";
import { Hosts, HostsArgs, buildMembers } from "../platform-host";
import { LocalEngine } from "./engine";
import { LocalImages } from "./images";
import { DockerHost } from "./docker-host";
import { localHostName } from "./preflight";

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
 * target docker: one privileged container per member on the local engine, each with its own engine and SSH. The
 * engine is the one checkLocalMachine() found answering, before anything was registered.
 */
export function dockerHosts(name: string, args: HostsArgs): Hosts {
  const { config } = args;
  if (!args.localEngine) throw new Error("dockerHosts: no local engine; checkLocalMachine() finds it before anything is registered");
  const engine = new LocalEngine(`${name}-local`, { vpcCidr: config.vpcCidr, dockerHost: args.localEngine.host });
  const ports = loopbackPorts(config, config.memberCounts);
  if (!args.bundleImages) throw new Error("dockerHosts: the images each role's bundle runs are needed to load them into the hosts");
  const bundleImages = args.bundleImages;
  const images = new LocalImages(`${name}-local-images`, { images: [...new Set(ROLES.flatMap((role) => bundleImages[role]))].sort() },
    { providers: [engine.provider] });
  const zones = zoneCount(config.memberCounts);
  return perRole((role) => buildMembers(members(config.memberCounts)[role], args.changesAfter, true, (member, changesAfter) => new DockerHost(localHostName(name, member.name), {
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
    images: { cache: images, names: bundleImages[role], dockerHost: args.localEngine!.host },
    changesAfter,
  }, { providers: [engine.provider] })));
}
