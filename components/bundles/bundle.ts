import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { Role } from "../platform/roles";
import { REPO_ROOT } from "../platform/repo";
import { quote } from "../platform/shell";
import { WRITE_FILES_PY, bundleContentHash, renderBundleFiles } from "./files";

/** How long `docker compose up --wait` may take on a host (first image pulls on a small instance are slow). */
const COMPOSE_WAIT_SECONDS = 900;

export interface BundleArgs {
  role: Role;
  connection: types.input.remote.ConnectionArgs;
  /** Changes when the host is replaced or resized: it gets the bundle (and a member its gate) again, unchanged or not. */
  hostId: pulumi.Input<string>;
  /** Parent of every bundle on the host, e.g. `/opt/<project>`; the bundle lives in `<bundleRoot>/<role>`. */
  bundleRoot: string;
  /** Repository folders: the first is `hosts/<role>` (the bundle root), the others keep their path below it. */
  folders: readonly string[];
  /** `.env` variables; may hold secrets. */
  env: pulumi.Input<Record<string, string>>;
  /** Files rendered by the program, by path relative to the bundle (under `secrets/` when they hold secrets). */
  renderedFiles?: pulumi.Input<Record<string, string>>;
  /** Resources that must be complete first, typically the host's readiness step. */
  dependsOn: pulumi.Input<pulumi.Resource>[];
  /**
   * A member of a cluster of several: its node service starts (or restarts) on its own first, after `after` (the
   * previous member's gate), then `cluster/gate.sh` waits until the cluster is healthy with this node in it. `around`:
   * what the role does around that restart (Elasticsearch's shard allocation).
   */
  clusterNode?: { service: string; after: pulumi.Input<pulumi.Resource>[]; around?: AroundNodeRestart };
}

/** Commands of a cluster member's roll around its node's restart, each run from the bundle folder. */
export interface AroundNodeRestart {
  /** In the node step, before `docker compose up` of the node service. */
  before: string;
  /** In the gate step, before the gate; a failure fails the step, and the gate does not run. */
  after: string;
  /** In the node step, when `docker compose up` of the node service fails: what `before` did must not outlive it. */
  onFailure: string;
}

/** The gate a cluster member's roll waits on, relative to its bundle. */
export const CLUSTER_GATE_SCRIPT = "cluster/gate.sh";

/**
 * Copies a host's bundle and its rendered files to `<bundleRoot>/<role>/` and, once `start` is called, starts it with
 * docker compose. Two steps, so that a cluster's members can all be staged and rolled before any whole bundle starts
 * (see RoleDeployment).
 *
 * Every step is safe to run again with the same inputs, because an Update runs it again: a new public IP after a
 * stop/start or a resize changes every step's connection and nothing else. The copies land in a staging folder named
 * after the content hash, so a content change is a new path (copied again) and a connection-only change copies
 * nothing and loses nothing; `up` then syncs the staged bundle into place, rewriting only files whose content
 * changed, and lets compose recreate only the services whose configuration or mounted files changed.
 * There is no delete step: terminating the instance removes it, and `pulumi destroy` never dials a dead host.
 */
export class Bundle extends pulumi.ComponentResource {
  public readonly directory: string;
  public readonly contentHash: pulumi.Output<string>;
  /** A cluster member's gate: complete when its cluster is healthy with this member's node in it. */
  public readonly gate?: remote.Command;
  /** What `start` needs of the staging: the `up` step is made after the constructor, as a child all the same. */
  private readonly staging: {
    name: string;
    connection: types.input.remote.ConnectionArgs;
    staged: pulumi.Output<string>;
    sync: (staged: string) => string[];
    triggers: pulumi.Input<string>[];
    written: pulumi.Resource;
  };
  private started = false;

  constructor(name: string, args: BundleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:Bundle", name, {}, opts);
    const [rootFolder, ...extraFolders] = args.folders;
    if (path.basename(rootFolder) !== args.role) {
      throw new Error(`The first bundle folder must be hosts/${args.role}, got ${rootFolder}`);
    }
    this.directory = `${args.bundleRoot}/${args.role}`;
    const dir = this.directory;

    const rendered = pulumi.all([args.env, args.renderedFiles ?? {}]).apply(([env, files]) => renderBundleFiles(args.folders, env, files));
    this.contentHash = rendered.apply((files) => bundleContentHash(args.folders, files));
    const stagingRoot = `${args.bundleRoot}/.staging`;
    const staging = this.contentHash.apply((hash) => `${stagingRoot}/${args.role}-${hash.slice(0, 16)}`);
    const staged = pulumi.interpolate`${staging}/${args.role}`;
    const triggers = [this.contentHash, args.hostId];
    const parent = { parent: this };

    // SFTP creates one directory level at most: make the staged bundle and the parents of the extra folders first.
    const extraParents = extraFolders.map((folder) => path.posix.dirname(folder)).filter((d) => d !== ".");
    const prepare = new remote.Command(`${name}-prepare`, {
      connection: args.connection,
      create: staged.apply((s) => `set -eu\nmkdir -p ${[s, ...extraParents.map((d) => `${s}/${d}`)].map(quote).join(" ")}`),
      triggers,
    }, { ...parent, dependsOn: args.dependsOn });

    const copyRoot = new remote.CopyToRemote(`${name}-copy-${args.role}`, {
      connection: args.connection,
      // A folder without a trailing slash lands as <remotePath>/<basename>, i.e. <staging>/<role>.
      source: new pulumi.asset.FileArchive(path.join(REPO_ROOT, rootFolder)),
      remotePath: staging,
      triggers,
    }, { ...parent, dependsOn: [prepare] });
    const copies: pulumi.Resource[] = [copyRoot];
    for (const folder of extraFolders) {
      const parentDir = path.posix.dirname(folder);
      copies.push(new remote.CopyToRemote(`${name}-copy-${folder.replace(/\//g, "-")}`, {
        connection: args.connection,
        source: new pulumi.asset.FileArchive(path.join(REPO_ROOT, folder)),
        remotePath: parentDir === "." ? staged : pulumi.interpolate`${staged}/${parentDir}`,
        triggers,
      }, { ...parent, dependsOn: [copyRoot] }));
    }

    // The rendered files travel on stdin, so secrets stay out of the command line and the logs.
    const writeRendered = new remote.Command(`${name}-rendered`, {
      connection: args.connection,
      create: staged.apply((s) => `cd ${quote(s)} && python3 -c ${quote(WRITE_FILES_PY)}`),
      stdin: rendered.apply((files) => JSON.stringify(files)),
      logging: "none",
      triggers,
    }, { ...parent, dependsOn: copies });

    const sync = syncStaged(args.role, stagingRoot, dir);
    this.staging = { name, connection: args.connection, staged, sync, triggers, written: writeRendered };
    if (args.clusterNode) {
      const { service, after, around } = args.clusterNode;
      const node = new remote.Command(`${name}-node`, {
        connection: args.connection,
        create: staged.apply((s) => [...sync(s), ...(around ? [around.before] : []), ...composeUp([service], around ? [around.onFailure] : [])].join("\n")),
        triggers,
      }, { ...parent, dependsOn: [writeRendered, ...after] });
      this.gate = new remote.Command(`${name}-gate`, {
        connection: args.connection,
        create: `cd ${quote(dir)} && ${around ? `${around.after} && ` : ""}bash ${CLUSTER_GATE_SCRIPT}`,
        triggers,
      }, { ...parent, dependsOn: [node] });
    }

    this.registerOutputs({ directory: dir, contentHash: this.contentHash });
  }

  /**
   * The `docker compose up` step of the whole bundle, after its files are written (and a cluster member's gate) and
   * after `after`; complete when every service is running, healthy or done. Called once: a bundle not started is
   * copied but never run.
   */
  start(after: pulumi.Input<pulumi.Resource>[]): remote.Command {
    const { name, connection, staged, sync, triggers, written } = this.staging;
    if (this.started) throw new Error(`${name}: the bundle is started once`);
    this.started = true;
    return new remote.Command(`${name}-up`, {
      connection,
      create: staged.apply((s) => [...sync(s), ...composeUp([])].join("\n")),
      triggers,
    }, { parent: this, dependsOn: [written, ...(this.gate ? [this.gate] : []), ...after] });
  }
}

/**
 * The command that syncs a staged bundle (`from`) into place (`to`). --checksum: a file whose content is unchanged keeps
 * its inode, so a running container's mount stays valid. A changed file is written beside the old one and renamed
 * over it (rsync's default, no --inplace): a new inode, which a directory mount shows at once (Prometheus' file_sd
 * targets) and a single-file mount never does (that service is recreated: its mounted-files label changed).
 */
export function syncCommand(from: string, to: string): string {
  return `rsync --recursive --perms --times --checksum --delete ${quote(`${from}/`)} ${quote(`${to}/`)}`;
}

/** The shell lines that sync a staged bundle into place and enter it. */
function syncStaged(role: Role, stagingRoot: string, dir: string): (staged: string) => string[] {
  return (s) => [
    "set -eu",
    syncCommand(s, dir),
    // Earlier stagings of this bundle are done with; the current one stays, so an Update can run this again.
    `find ${quote(stagingRoot)} -mindepth 1 -maxdepth 1 -name ${quote(`${role}-*`)} ! -path ${quote(path.posix.dirname(s))} -exec rm -rf {} +`,
    `cd ${quote(dir)}`,
  ];
}

/**
 * `docker compose up` of some services (all, and orphans removed, when none are named); on failure, what went wrong,
 * then the `onFailure` commands (their own failure shown, not hiding the first).
 */
function composeUp(services: string[], onFailure: string[] = []): string[] {
  return [
    `if ! sudo docker compose up --detach --wait --wait-timeout ${COMPOSE_WAIT_SECONDS} ${services.length ? services.map(quote).join(" ") : "--remove-orphans"}; then`,
    "  sudo docker compose ps --all >&2",
    `  sudo docker compose logs --no-color --tail 40 ${services.map((service) => `${quote(service)} `).join("")}>&2`,
    ...onFailure.map((command) => `  ${command} >&2 || true`),
    "  exit 1",
    "fi",
  ];
}
