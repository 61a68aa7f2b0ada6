import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { Role } from "../platform/roles";
import { CLUSTER_NODE_SERVICES, ClusterRole, Member } from "../platform/topology";
import { quote } from "../platform/shell";
import { PlatformHost } from "../targets/platform-host";
import { AroundNodeRestart, Bundle, CLUSTER_GATE_SCRIPT } from "./bundle";
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

/** Shard allocation around a member's restart, relative to its bundle (hosts/logging/cluster/allocation.sh). */
export const CLUSTER_ALLOCATION_SCRIPT = "cluster/allocation.sh";

/**
 * What a cluster role does around each member's node restart. Elasticsearch follows Elastic's rolling restart
 * ("Full-cluster restart and rolling restart procedures", Elasticsearch 8.19 docs): shard allocation is limited to
 * primaries before the node stops, so the cluster does not copy the replicas it held elsewhere while it is away, and
 * lifted once it has rejoined (before its gate, which then waits for those replicas to recover onto it: the next
 * member must not stop while they are still initializing). When the node does not come back, the limit is lifted
 * at once, so the cluster may rebuild those replicas elsewhere. Kafka needs nothing: its gate waits for the replicas.
 */
export const AROUND_NODE_RESTART: Partial<Record<ClusterRole, AroundNodeRestart>> = {
  logging: {
    before: `bash ${CLUSTER_ALLOCATION_SCRIPT} primaries`,
    after: `bash ${CLUSTER_ALLOCATION_SCRIPT} all`,
    onFailure: `ES_ALLOCATION_JOIN_TIMEOUT=0 bash ${CLUSTER_ALLOCATION_SCRIPT} all`,
  },
};

/**
 * Every cluster role's bundle gates, promised to the hosts before the deployments that make them exist. Where every
 * member's address is known before the hosts are registered, a member's host (its instance, or its container on the
 * docker target) is created, resized or replaced only after the previous member's bundle gate has passed: with the
 * allocation limit around its node's restart, and after a replaced predecessor got its bundle again.
 */
export class BundleGates {
  private readonly promised = new Map<Role, { gates: Promise<pulumi.Resource[]>; settle: (gates: pulumi.Resource[]) => void }>();

  /** The bundle gate of `member`, once its role's deployment exists. */
  of(member: Member): Promise<pulumi.Resource> {
    return this.entry(member.role).gates.then((gates) => gates[member.index]);
  }

  /** Hands a role's gates, first member first, to the hosts waiting for them (none for a single host). */
  settle(role: Role, gates: pulumi.Resource[]): void {
    this.entry(role).settle(gates);
  }

  private entry(role: Role) {
    let entry = this.promised.get(role);
    if (!entry) {
      let settle!: (gates: pulumi.Resource[]) => void;
      const gates = new Promise<pulumi.Resource[]>((resolve) => { settle = resolve; });
      entry = { gates, settle };
      this.promised.set(role, entry);
    }
    return entry;
  }
}

/**
 * Where a member's address is not known before its host exists (a first deploy, new members), the bundles wait for
 * the hosts, so a host cannot wait for a bundle gate: a member's host change waits for this instead, on the previous
 * member's host: the previous member's gate run from the bundle deployed there, after that host's readiness step and
 * again whenever that host changes. A host with no bundle yet has nothing to wait for.
 */
export class HostChangeGate extends pulumi.ComponentResource {
  public readonly gate: remote.Command;

  constructor(name: string, args: { role: ClusterRole; member: Member; host: PlatformHost; bundleRoot: string }, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:HostChangeGate", name, {}, opts);
    const dir = `${args.bundleRoot}/${args.role}`;
    this.gate = new remote.Command(`${name}-gate`, {
      connection: args.host.connection,
      create: [
        `if [ ! -f ${quote(`${dir}/${CLUSTER_GATE_SCRIPT}`)} ] || [ ! -f ${quote(`${dir}/.env`)} ]; then`,
        `  echo ${quote(`${args.member.name}: no bundle on this host yet, nothing to wait for`)}`,
        "  exit 0",
        "fi",
        `cd ${quote(dir)} && bash ${CLUSTER_GATE_SCRIPT}`,
      ].join("\n"),
      triggers: [args.host.revision],
    }, { parent: this, dependsOn: [args.host.ready] });
    this.registerOutputs({});
  }
}

/**
 * A role's bundle on each of its members, and the order in which they start.
 *
 * A single host stages its bundle once the roles it starts after are up, then starts it.
 *
 * A cluster rolls, so that a change never stops more than one member's node at a time:
 * 1. every member stages its bundle (copy, rendered files) as soon as its host is ready;
 * 2. member 1's node service alone (re)starts, then its gate waits until the cluster is healthy with it; member k's
 *    node starts only after member k-1's gate has passed. A logging member's node step first limits shard
 *    allocation to primaries and its gate step first lifts the limit (AROUND_NODE_RESTART). The gates fail closed
 *    (hosts/<role>/cluster/gate.sh): on a new cluster, member 1's passes only on evidence that it founds one, which
 *    is why the first deploy can roll one member at a time like every later one;
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
  /** A cluster's gates, first member first (none for a single host). */
  public readonly gates: remote.Command[];

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
        hostId: host.revision,
        bundleRoot: args.bundleRoot,
        folders: BUNDLE_SOURCES[role],
        env,
        renderedFiles,
        dependsOn: clustered ? [host.ready] : [host.ready, ...startsAfter],
        clusterNode: clustered ? {
          service: CLUSTER_NODE_SERVICES[role as ClusterRole],
          after: previousGate ? [previousGate] : [],
          around: AROUND_NODE_RESTART[role as ClusterRole],
        } : undefined,
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
    this.gates = clustered ? bundles.map((bundle) => bundle.gate!) : [];
    this.directory = bundles[0].directory;
    this.contentHashes = bundles.map((bundle) => bundle.contentHash);
    this.registerOutputs({ directory: this.directory, contentHashes: this.contentHashes });
  }
}
