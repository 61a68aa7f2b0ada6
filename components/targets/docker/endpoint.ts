import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as ipaddr from "ipaddr.js";
import * as os from "os";
import * as path from "path";

/**
 * The Docker engine the user's `docker` CLI talks to, found as the CLI finds it (docker/cli, `resolveContextName` in
 * cli/command/cli.go): `DOCKER_HOST`; else the context named by `DOCKER_CONTEXT`; else `currentContext` in
 * `$DOCKER_CONFIG/config.json` (`~/.docker` by default); a context other than `default` is the `Endpoints.docker.Host`
 * of `$DOCKER_CONFIG/contexts/meta/<sha256 of its name>/meta.json`; `default` is the engine's default socket.
 */
export interface DockerEndpoint {
  /** In DOCKER_HOST form: `unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375`, `ssh://...`. */
  host: string;
  /** How it was chosen, for messages: `DOCKER_HOST`, `docker context "colima" (currentContext in ...)`, .... */
  from: string;
}

/** The `default` context's engine on Linux and macOS (moby's client.DefaultDockerHost). */
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/** The docker CLI's configuration folder: `$DOCKER_CONFIG`, else `~/.docker` (docker/cli cli/config/config.go, Dir). */
export const dockerConfigDir = (env: NodeJS.ProcessEnv, home: string): string => env.DOCKER_CONFIG || path.join(home, ".docker");

/** A context's metadata file: `contexts/meta/<sha256 hex of the name>/meta.json` (docker/cli cli/context/store). */
export const contextMetaFile = (configDir: string, name: string): string =>
  path.join(configDir, "contexts", "meta", crypto.createHash("sha256").update(name).digest("hex"), "meta.json");

/** A JSON file's content; undefined when the file does not exist. */
function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`Could not read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); the docker CLI cannot read it either`);
  }
}

/** The `Endpoints.docker.Host` of a context's metadata file; undefined when the file does not exist. */
export function contextHost(metaFile: string): string | undefined {
  const meta = readJson(metaFile) as { Endpoints?: { docker?: { Host?: unknown } } } | undefined;
  if (meta === undefined) return undefined;
  const host = meta?.Endpoints?.docker?.Host;
  if (typeof host !== "string" || host === "") throw new Error(`${metaFile} names no Docker endpoint (Endpoints.docker.Host)`);
  return host;
}

/** The engine the docker CLI would use with this environment and home folder; see DockerEndpoint. */
export function resolveDockerEndpoint(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): DockerEndpoint {
  if (env.DOCKER_HOST) return { host: env.DOCKER_HOST, from: "DOCKER_HOST" };
  const configDir = dockerConfigDir(env, home);
  const configFile = path.join(configDir, "config.json");
  const [name, namedBy] = env.DOCKER_CONTEXT
    ? [env.DOCKER_CONTEXT, "DOCKER_CONTEXT"]
    : [(readJson(configFile) as { currentContext?: string } | undefined)?.currentContext, `currentContext in ${configFile}`];
  if (!name) return { host: DEFAULT_DOCKER_HOST, from: "the default context: no DOCKER_HOST, DOCKER_CONTEXT or current context" };
  if (name === "default") return { host: DEFAULT_DOCKER_HOST, from: `the default context (${namedBy})` };
  const metaFile = contextMetaFile(configDir, name);
  const host = contextHost(metaFile);
  if (host === undefined) {
    throw new Error(`The docker context "${name}" (${namedBy}) does not exist: no ${metaFile}. \`docker context ls\` lists the contexts; \`docker context use <name>\` selects one.`);
  }
  return { host, from: `docker context "${name}" (${namedBy})` };
}

/** Where to connect to an engine: a unix socket, or a TCP address (plain HTTP); undefined for other schemes (ssh, npipe). */
export function engineAddress(host: string): { socketPath: string } | { host: string; port: number } | undefined {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return undefined;
  }
  if (url.protocol === "unix:") return { socketPath: decodeURIComponent(url.pathname) };
  if (url.protocol === "tcp:" || url.protocol === "http:") return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 2375) };
  return undefined;
}

/**
 * Whether the engine runs on this machine (or in a VM that forwards its published ports here, as Docker Desktop,
 * Colima and Rancher Desktop do): a unix socket, or TCP on a loopback address. The docker target connects to the ports
 * its containers publish on 127.0.0.1 from here, which an engine elsewhere (ssh://, tcp:// to another machine) would
 * publish on its own loopback instead.
 */
export function isLocalEngine(host: string): boolean {
  const address = engineAddress(host);
  if (address === undefined) return false;
  if ("socketPath" in address) return true;
  if (address.host === "localhost") return true;
  return ipaddr.isValid(address.host) && ipaddr.parse(address.host).range() === "loopback";
}

/** One GET of the engine's API. */
export function engineGet(endpoint: DockerEndpoint, apiPath: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  const address = engineAddress(endpoint.host);
  if (address === undefined) return Promise.reject(new Error(`cannot reach ${endpoint.host} over HTTP`));
  return new Promise((resolve, reject) => {
    // A connection of its own (agent: false): a pooled one may outlive the engine it was made to.
    const request = http.get({ ...address, path: apiPath, timeout: timeoutMs, agent: false, headers: { host: "docker" } }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    request.on("error", reject);
  });
}

/** Resolves when the engine answers `GET /_ping` with `OK`, as `docker` itself checks first. */
export async function pingEngine(endpoint: DockerEndpoint): Promise<void> {
  const { status, body } = await engineGet(endpoint, "/_ping");
  if (status !== 200 || body.trim() !== "OK") throw new Error(`GET /_ping answered HTTP ${status} ${JSON.stringify(body.slice(0, 200))}`);
}

/** A port on this machine that a running container publishes, as the engine reports it. */
export interface PublishedPort {
  /** The container's name, without the API's leading slash. */
  container: string;
  hostPort: number;
}

/** Every port the engine's running containers publish (`GET /containers/json`). */
export async function publishedPorts(endpoint: DockerEndpoint): Promise<PublishedPort[]> {
  const { status, body } = await engineGet(endpoint, "/containers/json");
  if (status !== 200) throw new Error(`GET /containers/json answered HTTP ${status} ${JSON.stringify(body.slice(0, 200))}`);
  const containers = JSON.parse(body) as { Names?: string[]; Ports?: { PublicPort?: number }[] }[];
  return containers.flatMap((container) => (container.Ports ?? [])
    .filter((port) => port.PublicPort !== undefined)
    .map((port) => ({ container: (container.Names?.[0] ?? "").replace(/^\//, ""), hostPort: port.PublicPort as number })));
}
