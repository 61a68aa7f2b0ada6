import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { hashElement } from "folder-hash";
import { parse, stringify } from "yaml";
import { Role } from "./roles";
import { renderDotEnv } from "./bundle-env";
import { REPO_ROOT } from "./repo";
import { quote } from "./shell";
import { PRIVATE_RENDERED_DIR } from "./rendered-paths";

/** One hash over the local folders and the rendered files: a change anywhere re-deploys the bundle, nothing else does. */
export async function bundleContentHash(folders: readonly string[], rendered: Record<string, string>, root = REPO_ROOT): Promise<string> {
  const digest = crypto.createHash("sha256");
  for (const folder of folders) {
    const tree = await hashElement(path.resolve(root, folder), { algo: "sha256", encoding: "hex" });
    digest.update(`${folder}\0${tree.hash}\0`);
  }
  for (const name of Object.keys(rendered).sort()) {
    digest.update(`${name}\0${rendered[name]}\0`);
  }
  return digest.digest("hex");
}

/** The compose file rendered beside each bundle's compose.yaml; `.env` names both in COMPOSE_FILE. */
export const MOUNTED_FILES_OVERRIDE = "compose.mounted-files.yaml";

/**
 * Where a bundle-relative path comes from locally: a further folder keeps its path below the bundle root
 * (`forwarder/x`), everything else is the root folder's (`fluent-bit/x` of hosts/logging).
 */
export function bundlePathSource(folders: readonly string[], bundleRelative: string, root = REPO_ROOT): string {
  const [rootFolder, ...extraFolders] = folders;
  const relative = path.posix.normalize(bundleRelative);
  const fromExtraFolder = extraFolders.some((folder) => relative === folder || relative.startsWith(`${folder}/`));
  return path.join(root, fromExtraFolder ? relative : path.join(rootFolder, relative));
}

/**
 * A bundle's compose files, bundle-relative, in COMPOSE_FILE order: the host's own compose.yaml (the bundle root, so
 * every file's paths are relative to it), then that of each further folder that has one (forwarder/compose.yaml).
 */
export function composeFiles(folders: readonly string[], root = REPO_ROOT): string[] {
  return ["compose.yaml", ...folders.slice(1).map((folder) => `${folder}/compose.yaml`)]
    .filter((file) => fs.existsSync(bundlePathSource(folders, file, root)));
}

/** The label that carries, per service, the hash of the bundle files it mounts. */
export const MOUNTED_FILES_LABEL = "io.log-platform.mounted-files-hash";

type ComposeVolume = string | { type?: string; source?: string };
interface ComposeService {
  volumes?: ComposeVolume[];
  /** Bundle files a service reads without mounting them (through another service): a change recreates it too. */
  "x-config-files"?: string[];
}

/** Bundle-relative paths a service depends on: what it bind-mounts (`./x:/y`) and its `x-config-files`. */
function bundleMounts(service: ComposeService): string[] {
  const mounted = (service.volumes ?? []).map((volume) =>
    typeof volume === "string" ? volume.split(":")[0] : volume.type === "bind" ? volume.source ?? "" : "");
  return [...mounted, ...(service["x-config-files"] ?? [])]
    .filter((source) => source.startsWith("./"))
    .map((source) => path.posix.normalize(source));
}

/**
 * Per service, a hash of the bundle files it mounts (repository files and rendered ones, `.env` aside: compose sees
 * its values itself). Compose recreates a service only when its configuration changes, and it cannot see a mounted
 * file change; carrying this hash as a label makes `docker compose up` recreate exactly the services whose files
 * changed. (Exited one-shot jobs are started again by every `up` whatever changed; each is idempotent.)
 */
export async function mountedFilesHashes(
  folders: readonly string[],
  rendered: Record<string, string>,
  root = REPO_ROOT,
): Promise<Record<string, string>> {
  const services = composeFiles(folders, root).flatMap((file) => Object.entries((parse(
    fs.readFileSync(bundlePathSource(folders, file, root), "utf8"), { merge: true },
  ) as { services: Record<string, ComposeService> }).services));
  const hashes: Record<string, string> = {};
  for (const [service, definition] of services) {
    const mounts = bundleMounts(definition);
    if (mounts.length === 0) continue;
    const digest = crypto.createHash("sha256");
    for (const mount of mounts) {
      const within = (name: string) => name === mount || name.startsWith(`${mount}/`);
      const local = bundlePathSource(folders, mount, root);
      const files = Object.keys(rendered).filter((name) => name !== ".env" && within(name)).sort();
      if (!fs.existsSync(local) && files.length === 0) {
        throw new Error(`${folders[0]}: service ${service} mounts ./${mount}, which the bundle does not contain`);
      }
      digest.update(`${mount}\0`);
      if (fs.existsSync(local)) digest.update((await hashElement(local, { algo: "sha256", encoding: "hex" })).hash);
      for (const name of files) digest.update(`\0${name}\0${rendered[name]}`);
      digest.update("\0");
    }
    hashes[service] = digest.digest("hex");
  }
  return hashes;
}

/**
 * Every file the program renders for a bundle: the caller's files, the mounted-files override, and `.env` (which also
 * names the override in COMPOSE_FILE, so a plain `docker compose` on the host reads both).
 */
export async function renderBundleFiles(
  folders: readonly string[],
  env: Record<string, string>,
  renderedFiles: Record<string, string> = {},
  root = REPO_ROOT,
): Promise<Record<string, string>> {
  const hashes = await mountedFilesHashes(folders, renderedFiles, root);
  const override = {
    services: Object.fromEntries(Object.entries(hashes).map(([service, hash]) => [service, { labels: { [MOUNTED_FILES_LABEL]: hash } }])),
  };
  return {
    ...renderedFiles,
    [MOUNTED_FILES_OVERRIDE]: `# Rendered by the program: the hash of the files each service mounts (see components/bundle.ts).\n${stringify(override)}`,
    ".env": renderDotEnv({ COMPOSE_FILE: [...composeFiles(folders, root), MOUNTED_FILES_OVERRIDE].join(":"), ...env }),
  };
}


/** Writes the JSON object on stdin as files (path -> content) below the current directory; secrets stay private. */
export const WRITE_FILES_PY = [
  "import json, os, sys",
  "for name, content in json.load(sys.stdin).items():",
  "    if os.path.isabs(name) or '..' in name.split('/'): sys.exit('refusing to write ' + name)",
  "    os.makedirs(os.path.dirname(name) or '.', exist_ok=True)",
  `    private = name == '.env' or name.startswith('${PRIVATE_RENDERED_DIR}/')`,
  "    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)",
  "    os.fchmod(fd, 0o600 if private else 0o644)",
  "    with os.fdopen(fd, 'w') as f: f.write(content)",
].join("\n");

/** How long `docker compose up --wait` may take on a host (first image pulls on a small instance are slow). */
const COMPOSE_WAIT_SECONDS = 900;

export interface BundleArgs {
  role: Role;
  connection: types.input.remote.ConnectionArgs;
  /** Changes when the host is replaced: a new host gets the bundle even when its content did not change. */
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
   * previous member's gate), then `cluster/gate.sh` waits until the cluster is healthy with this node in it.
   */
  clusterNode?: { service: string; after: pulumi.Input<pulumi.Resource>[] };
  /** Further resources the whole bundle's `up` waits for (the last member's gate, the first member's `up`). */
  upAfter?: Promise<pulumi.Resource[]>;
}

/** The gate a cluster member's roll waits on, relative to its bundle. */
export const CLUSTER_GATE_SCRIPT = "cluster/gate.sh";

/**
 * Copies a host's bundle and its rendered files to `<bundleRoot>/<role>/` and starts it with docker compose.
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
  /** The `docker compose up` step; complete when every service is running, healthy or done. */
  public readonly up: remote.Command;
  /** A cluster member's gate: complete when its cluster is healthy with this member's node in it. */
  public readonly gate?: remote.Command;

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

    const sync = (s: string) => [
      "set -eu",
      // --checksum: a file whose content is unchanged keeps its inode, so a running container's mount stays valid.
      `rsync --recursive --perms --times --checksum --delete ${quote(`${s}/`)} ${quote(`${dir}/`)}`,
      // Earlier stagings of this bundle are done with; the current one stays, so an Update can run this again.
      `find ${quote(stagingRoot)} -mindepth 1 -maxdepth 1 -name ${quote(`${args.role}-*`)} ! -path ${quote(path.posix.dirname(s))} -exec rm -rf {} +`,
      `cd ${quote(dir)}`,
    ];
    const composeUp = (services: string[]) => [
      `if ! sudo docker compose up --detach --wait --wait-timeout ${COMPOSE_WAIT_SECONDS} ${services.length ? services.map(quote).join(" ") : "--remove-orphans"}; then`,
      "  sudo docker compose ps --all >&2",
      `  sudo docker compose logs --no-color --tail 40 ${services.map((service) => `${quote(service)} `).join("")}>&2`,
      "  exit 1",
      "fi",
    ];

    let upAfter: pulumi.Input<pulumi.Resource[]> = [writeRendered];
    if (args.clusterNode) {
      const node = new remote.Command(`${name}-node`, {
        connection: args.connection,
        create: staged.apply((s) => [...sync(s), ...composeUp([args.clusterNode!.service])].join("\n")),
        triggers,
      }, { ...parent, dependsOn: [writeRendered, ...args.clusterNode.after] });
      this.gate = new remote.Command(`${name}-gate`, {
        connection: args.connection,
        create: `cd ${quote(dir)} && bash ${CLUSTER_GATE_SCRIPT}`,
        triggers,
      }, { ...parent, dependsOn: [node] });
      const gate = this.gate;
      upAfter = (args.upAfter ?? Promise.resolve([])).then((later) => [writeRendered, gate, ...later]);
    }

    this.up = new remote.Command(`${name}-up`, {
      connection: args.connection,
      create: staged.apply((s) => [...sync(s), ...composeUp([])].join("\n")),
      triggers,
    }, { ...parent, dependsOn: upAfter });

    this.registerOutputs({ directory: dir, contentHash: this.contentHash });
  }
}
