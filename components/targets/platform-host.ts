import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { PlatformConfig } from "../config/types";
import { PortName } from "../platform/ports";
import { PerRole } from "../platform/roles";
import { ClusterRole, Member } from "../platform/topology";
import { REPO_ROOT } from "../platform/repo";
import type { DockerEndpoint } from "./docker/endpoint";

/**
 * What runs on a host below its bundles: the readiness scripts of both kinds of host, the container health probe,
 * and the local host image (its Dockerfile, entrypoint and configs; this folder is that image's build context).
 */
export const PLATFORM_HOST_DIR = path.join(REPO_ROOT, "platform-host");

/** A file of platform-host/, as text. */
export const platformHostFile = (name: string): string => fs.readFileSync(path.join(PLATFORM_HOST_DIR, name), "utf8");

/**
 * What everything above a host needs of it, whatever runs it (an EC2 instance or a container on the local engine):
 * an SSH connection for the bundle steps, a revision that changes whenever the host is replaced or resized, its address on the
 * private network, where operators reach its services, and a step that completes when it can run a bundle.
 */
export interface PlatformHost {
  connection: types.input.remote.ConnectionArgs;
  /** Changes whenever the host is replaced or resized: a bundle is deployed again, a cluster member gated again. */
  revision: pulumi.Output<string>;
  privateIp: pulumi.Output<string>;
  /** The address operators reach the host at. */
  publicIp: pulumi.Output<string>;
  sshPort: number;
  /** Its availability zone (on the docker target a stand-in name per zone slot). */
  zone: pulumi.Output<string>;
  /** `address:port` at which operators reach one of the host's services. */
  endpoint(service: PortName): pulumi.Output<string>;
  /** Complete when the host can run its bundle (on the docker target: its bundle's images loaded too). */
  ready: pulumi.Resource;
}

/** The user every host lets the deploy in as, over SSH with the stack's key. */
export const SSH_USER = "ubuntu";

export interface HostsArgs {
  config: PlatformConfig;
  /**
   * What a cluster member's host change (creation, resize, replacement) waits for, given the previous member.
   * `addressesKnown`: every member of the role has an address known before any host is registered (the docker
   * target's are fixed; on aws a replaced instance keeps its predecessor's), so the bundles do not wait for the hosts
   * and a host can wait for the previous member's bundle gate.
   */
  changesAfter: (previous: { role: ClusterRole; member: Member; host: PlatformHost }, addressesKnown: boolean) => pulumi.Input<pulumi.Resource>[];
  bundleRoot: string;
  sshPublicKey: pulumi.Input<string>;
  /** Secret. */
  sshPrivateKey: pulumi.Output<string>;
  /** target docker: the engine the docker CLI uses, found answering by checkLocalMachine() before anything was registered. */
  localEngine?: DockerEndpoint;
  /** target docker: the images each role's bundle runs, which the user's engine pulls once and loads into the hosts. */
  bundleImages?: PerRole<string[]>;
}

/** Every role's hosts, first member first. */
export type Hosts = PerRole<PlatformHost[]>;

/**
 * A role's hosts, built in member order: each member after the first (a cluster's) gets what its host waits for
 * (`changesAfter` of the previous member).
 */
export function buildMembers<H extends PlatformHost>(
  roleMembers: Member[],
  changesAfter: HostsArgs["changesAfter"],
  addressesKnown: boolean,
  build: (member: Member, waitsFor: pulumi.Input<pulumi.Resource>[]) => H,
): H[] {
  const built: H[] = [];
  for (const member of roleMembers) {
    const previous = roleMembers[member.index - 1];
    const waitsFor = previous ? changesAfter({ role: previous.role as ClusterRole, member: previous, host: built[previous.index] }, addressesKnown) : [];
    built.push(build(member, waitsFor));
  }
  return built;
}
