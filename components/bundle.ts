import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { hashElement } from "folder-hash";
import { Role } from "./roles";
import { renderDotEnv } from "./bundle-env";
import { REPO_ROOT } from "./repo";

/** One hash over the local folders and the rendered files: a change anywhere re-deploys the bundle, nothing else does. */
export async function bundleContentHash(folders: readonly string[], rendered: Record<string, string>): Promise<string> {
  const digest = crypto.createHash("sha256");
  for (const folder of folders) {
    const tree = await hashElement(path.resolve(REPO_ROOT, folder), { algo: "sha256", encoding: "hex" });
    digest.update(`${folder}\0${tree.hash}\0`);
  }
  for (const name of Object.keys(rendered).sort()) {
    digest.update(`${name}\0${rendered[name]}\0`);
  }
  return digest.digest("hex");
}

/** Writes the JSON object on stdin as files (path -> content) below the current directory; `.env` stays private. */
export const WRITE_FILES_PY = [
  "import json, os, sys",
  "for name, content in json.load(sys.stdin).items():",
  "    if os.path.isabs(name) or '..' in name.split('/'): sys.exit('refusing to write ' + name)",
  "    os.makedirs(os.path.dirname(name) or '.', exist_ok=True)",
  "    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if name == '.env' else 0o644)",
  "    with os.fdopen(fd, 'w') as f: f.write(content)",
].join("\n");

/** Shell-quotes a value for the remote commands. */
export const quote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

export interface BundleArgs {
  role: Role;
  connection: types.input.remote.ConnectionArgs;
  /** Parent of every bundle on the host, e.g. `/opt/<project>`; the bundle lives in `<bundleRoot>/<role>`. */
  bundleRoot: string;
  /** Repository folders: the first is `hosts/<role>` (the bundle root), the others keep their path below it. */
  folders: readonly string[];
  /** `.env` variables; may hold secrets. */
  env: pulumi.Input<Record<string, string>>;
  /** Files rendered by the program, by path relative to the bundle (e.g. Prometheus file_sd targets). */
  renderedFiles?: pulumi.Input<Record<string, string>>;
  /** Resources that must be complete first, typically the host's readiness step. */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * Copies a host's bundle and its rendered `.env` to `<bundleRoot>/<role>/` and starts it with docker compose.
 * Every step is keyed on the content hash, so the whole bundle is laid down fresh and restarted only when it changed.
 * There is no delete step: terminating the instance removes it, and `pulumi destroy` never dials a dead host.
 */
export class Bundle extends pulumi.ComponentResource {
  public readonly directory: string;
  public readonly contentHash: pulumi.Output<string>;
  /** The `docker compose up` step; complete when every service is running, healthy or done. */
  public readonly up: remote.Command;

  constructor(name: string, args: BundleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:Bundle", name, {}, opts);
    const [rootFolder, ...extraFolders] = args.folders;
    if (path.basename(rootFolder) !== args.role) {
      throw new Error(`The first bundle folder must be hosts/${args.role}, got ${rootFolder}`);
    }
    this.directory = `${args.bundleRoot}/${args.role}`;
    const dir = this.directory;

    const rendered = pulumi.all([args.env, args.renderedFiles ?? {}]).apply(([env, files]) => ({ ...files, ".env": renderDotEnv(env) }));
    this.contentHash = rendered.apply((files) => bundleContentHash(args.folders, files));
    const triggers = [this.contentHash];
    const parent = { parent: this };

    // SFTP creates one directory level at most: make the parents of the extra folders first.
    const extraParents = extraFolders.map((folder) => path.posix.dirname(folder)).filter((d) => d !== ".").map((d) => `${dir}/${d}`);
    const prepare = new remote.Command(`${name}-prepare`, {
      connection: args.connection,
      create: `set -eu\nrm -rf ${quote(dir)}\nmkdir -p ${[dir, ...extraParents].map(quote).join(" ")}`,
      triggers,
    }, { ...parent, dependsOn: args.dependsOn });

    const copyRoot = new remote.CopyToRemote(`${name}-copy-${args.role}`, {
      connection: args.connection,
      // A folder without a trailing slash lands as <remotePath>/<basename>, i.e. <bundleRoot>/<role>.
      source: new pulumi.asset.FileArchive(path.join(REPO_ROOT, rootFolder)),
      remotePath: args.bundleRoot,
      triggers,
    }, { ...parent, dependsOn: [prepare] });
    const copies: pulumi.Resource[] = [copyRoot];
    for (const folder of extraFolders) {
      const parentDir = path.posix.dirname(folder);
      copies.push(new remote.CopyToRemote(`${name}-copy-${folder.replace(/\//g, "-")}`, {
        connection: args.connection,
        source: new pulumi.asset.FileArchive(path.join(REPO_ROOT, folder)),
        remotePath: parentDir === "." ? dir : `${dir}/${parentDir}`,
        triggers,
      }, { ...parent, dependsOn: [copyRoot] }));
    }

    // The rendered files travel on stdin, so secrets stay out of the command line and the logs.
    const writeRendered = new remote.Command(`${name}-rendered`, {
      connection: args.connection,
      create: `cd ${quote(dir)} && python3 -c ${quote(WRITE_FILES_PY)}`,
      stdin: rendered.apply((files) => JSON.stringify(files)),
      logging: "none",
      triggers,
    }, { ...parent, dependsOn: copies });

    this.up = new remote.Command(`${name}-up`, {
      connection: args.connection,
      create: [
        "set -eu",
        `cd ${quote(dir)}`,
        // Configs are bind-mounted files: recreate so every service reads the new ones.
        "if ! sudo docker compose up --detach --wait --wait-timeout 900 --remove-orphans --force-recreate; then",
        "  sudo docker compose ps --all >&2",
        "  sudo docker compose logs --no-color --tail 40 >&2",
        "  exit 1",
        "fi",
      ].join("\n"),
      triggers,
    }, { ...parent, dependsOn: [writeRendered] });

    this.registerOutputs({ directory: dir, contentHash: this.contentHash });
  }
}
