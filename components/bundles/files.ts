import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { hashElement } from "folder-hash";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "../platform/repo";
import { PRIVATE_RENDERED_DIR } from "../platform/rendered-paths";
import { renderDotEnv } from "./env";

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
  /**
   * Rendered bundle files below a directory the service mounts that it re-reads while running (Prometheus' file_sd
   * targets): left out of its hash, so a change reaches the running container instead of recreating it.
   */
  "x-live-files"?: string[];
}

const bundlePaths = (sources: string[]) => sources.filter((source) => source.startsWith("./")).map((source) => path.posix.normalize(source));
/** Whether a bundle-relative path is `folder` or lies below it. */
const isWithin = (name: string, folder: string) => name === folder || name.startsWith(`${folder}/`);

/** Bundle-relative paths a service bind-mounts (`./x:/y`). */
const boundPaths = (service: ComposeService): string[] => bundlePaths((service.volumes ?? []).map((volume) =>
  typeof volume === "string" ? volume.split(":")[0] : volume.type === "bind" ? volume.source ?? "" : ""));

/** Bundle-relative paths a service depends on: what it bind-mounts and its `x-config-files`. */
const bundleMounts = (service: ComposeService): string[] => [...boundPaths(service), ...bundlePaths(service["x-config-files"] ?? [])];

/**
 * A service's `x-live-files`, checked: each holds rendered files only (the repository's are hashed whole) and lies
 * below a directory it bind-mounts. A directory mount shows a file that the sync replaced (rsync writes a new file
 * and renames it over the old one); a single-file mount keeps the old inode until the container is recreated.
 */
function liveFiles(service: string, definition: ComposeService, folders: readonly string[], rendered: Record<string, string>, root: string): string[] {
  const live = bundlePaths(definition["x-live-files"] ?? []);
  const isDirectory = (mount: string) => {
    const local = bundlePathSource(folders, mount, root);
    return fs.existsSync(local) ? fs.statSync(local).isDirectory() : !(mount in rendered);
  };
  for (const entry of live) {
    const where = `${folders[0]}: service ${service} lists ./${entry} under x-live-files`;
    if (fs.existsSync(bundlePathSource(folders, entry, root))) throw new Error(`${where}, which the repository holds: only rendered files can be live`);
    if (!Object.keys(rendered).some((name) => isWithin(name, entry))) throw new Error(`${where}, which the bundle does not contain`);
    if (!boundPaths(definition).some((mount) => isWithin(entry, mount) && isDirectory(mount))) {
      throw new Error(`${where}, which is not in a directory it bind-mounts: a replaced file would not reach the container`);
    }
  }
  return live;
}

/**
 * Per service, a hash of the bundle files it mounts (repository files and rendered ones, `.env` aside: compose sees
 * its values itself; its `x-live-files` aside: it reads their changes itself). Compose recreates a service only when
 * its configuration changes, and it cannot see a mounted file change; carrying this hash as a label makes
 * `docker compose up` recreate exactly the services whose files changed. (Exited one-shot jobs are started again by
 * every `up` whatever changed; each is idempotent.)
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
    const live = liveFiles(service, definition, folders, rendered, root);
    const mounts = bundleMounts(definition);
    if (mounts.length === 0) continue;
    const digest = crypto.createHash("sha256");
    for (const mount of mounts) {
      const local = bundlePathSource(folders, mount, root);
      const inMount = Object.keys(rendered).filter((name) => name !== ".env" && isWithin(name, mount));
      if (!fs.existsSync(local) && inMount.length === 0) {
        throw new Error(`${folders[0]}: service ${service} mounts ./${mount}, which the bundle does not contain`);
      }
      const files = inMount.filter((name) => !live.some((entry) => isWithin(name, entry))).sort();
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
    // The header deployed hosts have (the path before components/ had folders): a new one would redeploy every bundle.
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
