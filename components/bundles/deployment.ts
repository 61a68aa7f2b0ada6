import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { Role } from "../platform/roles";
import { CLUSTER_NODE_SERVICES, ClusterRole, Member } from "../platform/topology";
import { PlatformHost } from "../targets/platform-host";
import { Bundle } from "./bundle";
import { BUNDLE_SOURCES } from "./sources";

/** One member of a role and what its bundle gets. */
export interface MemberBundleInputs {
  member: Member;
  host: PlatformHost;
  /** `.env` variables; may hold secrets. */
  env: pulumi.Input<Record<string, string>>;
  /** Files rendered by the program, by path relative to the bundle (under `secrets/` when they hold secrets). */
  renderedFiles: pulumi.Input<Record<string, string>>;
}

export interface RoleDeploymentArgs {
  role: Role;
  /** Every member of the role, first member first. */
  members: MemberBundleInputs[];
  /** Parent of every bundle on a host, e.g. `/opt/<project>`. */
  bundleRoot: string;
  /** The roles whose bundles must be up before this role's start (BUNDLE_STARTS_AFTER). */
  startsAfter: RoleDeployment[];
  /** What each member's bundle is named after: `<platformName>-<member>-bundle`, the name its URN has always had. */
  platformName: string;
}

/**
 * A role's bundle on each of its members, and the order in which they start.
 *
 * A single host stages its bundle once the roles it starts after are up, then starts it.
 *
 * A cluster rolls, so that a change never stops more than one member's node at a time:
 * 1. every member stages its bundle (copy, rendered files) as soon as its host is ready;
 * 2. member 1's node service alone (re)starts, then its gate waits until the cluster is healthy with it; member k's
 *    node starts only after member k-1's gate has passed;
 * 3. after the last member's gate, and after the roles this one starts after, the first member's whole bundle
 *    starts: its one-off jobs (setup, Kibana, exporters) find the cluster formed;
 * 4. then every other member's whole bundle.
 */
export class RoleDeployment extends pulumi.ComponentResource {
  /** The bundle folder on every member's host, which holds `checks/` and the `.env`. */
  public readonly directory: string;
  /** Each member's bundle content hash, first member first. */
  public readonly contentHashes: pulumi.Output<string>[];
  /** Each member's `docker compose up` step, first member first: complete when its whole bundle is up. */
  public readonly ups: remote.Command[];

  constructor(name: string, args: RoleDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:RoleDeployment", name, {}, opts);
    const { role } = args;
    const startsAfter = args.startsAfter.flatMap((deployment) => deployment.ups);
    const clustered = args.members.length > 1;
    const bundles: Bundle[] = [];
    for (const { member, host, env, renderedFiles } of args.members) {
      const previousGate = bundles[bundles.length - 1]?.gate;
      bundles.push(new Bundle(`${args.platformName}-${member.name}-bundle`, {
        role,
        connection: host.connection,
        hostId: host.instanceId,
        bundleRoot: args.bundleRoot,
        folders: BUNDLE_SOURCES[role],
        env,
        renderedFiles,
        dependsOn: clustered ? [host.ready] : [host.ready, ...startsAfter],
        clusterNode: clustered ? { service: CLUSTER_NODE_SERVICES[role as ClusterRole], after: previousGate ? [previousGate] : [] } : undefined,
      }, {
        parent: this,
        // The bundles stood at the top of the stack before this component held them: the same resources.
        aliases: [{ parent: pulumi.rootStackResource }],
      }));
    }
    if (clustered) {
      const lastGate = bundles[bundles.length - 1].gate!;
      const firstUp = bundles[0].start([lastGate, ...startsAfter]);
      this.ups = [firstUp, ...bundles.slice(1).map((bundle) => bundle.start([lastGate, ...startsAfter, firstUp]))];
    } else {
      this.ups = bundles.map((bundle) => bundle.start([]));
    }
    this.directory = bundles[0].directory;
    this.contentHashes = bundles.map((bundle) => bundle.contentHash);
    this.registerOutputs({ directory: this.directory, contentHashes: this.contentHashes });
  }
}
