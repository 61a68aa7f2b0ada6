import * as net from "net";
import * as os from "os";
import * as path from "path";
import { LoopbackPort, LoopbackPortConfig, loopbackPortFix, loopbackPortUse, loopbackPorts } from "../../platform/loopback-ports";
import { MemberCounts, allMembers } from "../../platform/topology";
import { DockerEndpoint, PublishedPort, contextHost, contextMetaFile, isLocalEngine, pingEngine, publishedPorts, resolveDockerEndpoint } from "./endpoint";

/** What the check reads of the stack's config (PlatformConfig has it): the loopback ports and the hosts. */
export type LocalMachineConfig = LoopbackPortConfig & { memberCounts: MemberCounts };

/** The container (and resource) name of a local host: the platform's name and the member's. */
export const localHostName = (platformName: string, member: string): string => `${platformName}-${member}`;

/** What the docker target asks of the machine `pulumi up` runs on; tests stand in for it (standInLocalMachine). */
export interface LocalMachine {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The user's home folder, where `~/.docker` is. */
  home: string;
  /** Resolves when the engine answers; rejects with the reason otherwise. */
  ping(endpoint: DockerEndpoint): Promise<void>;
  /** The ports the engine's running containers publish here. */
  publishedPorts(endpoint: DockerEndpoint): Promise<PublishedPort[]>;
  /** Whether nothing listens on 127.0.0.1:<port>, so that the engine can publish a container's port there. */
  isPortFree(port: number): Promise<boolean>;
}

/** Whether a listener can be bound on 127.0.0.1:<port> now, as the engine will when it publishes a container's port. */
export function isLoopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** This machine, its Docker engine and its loopback ports, for real. */
export const thisMachine = (): LocalMachine => ({
  platform: process.platform,
  env: process.env,
  home: os.homedir(),
  ping: pingEngine,
  publishedPorts,
  isPortFree: isLoopbackPortFree,
});

let standIn: LocalMachine | undefined;

/** Unit tests on Pulumi mocks (no Docker engine there) stand in for the machine; undefined restores the real one. */
export function standInLocalMachine(machine: LocalMachine | undefined): void {
  standIn = machine;
}

export const WINDOWS_REFUSAL =
  "The docker target does not run on native Windows: run `pulumi up` from WSL2, in a clone of the repository made " +
  "inside WSL2, with Docker Desktop's WSL integration (or Docker Engine) there. On Windows the copy of the bundles to " +
  "the hosts builds their paths with backslashes, and a Windows checkout turns the shell scripts to CRLF.";

/**
 * The Docker provider reads DOCKER_CONTEXT itself (the `context` setting of terraform-provider-docker, which overrides
 * `host`), from ~/.docker/contexts only. Set, it must name the engine the docker CLI uses, or the provider and the
 * image build would talk to two engines.
 */
function providerContextConflict(endpoint: DockerEndpoint, machine: LocalMachine): string | undefined {
  const name = machine.env.DOCKER_CONTEXT;
  if (!name) return undefined;
  const metaFile = contextMetaFile(path.join(machine.home, ".docker"), name);
  let providerHost: string | undefined;
  try {
    providerHost = contextHost(metaFile);
  } catch {
    providerHost = undefined;
  }
  if (providerHost === endpoint.host) return undefined;
  return `DOCKER_CONTEXT=${name} is set: the Docker provider reads that variable itself, from ${path.join(machine.home, ".docker", "contexts")} only, ` +
    `and would ${providerHost ? `use ${providerHost}` : "not find that context"}, while the docker CLI uses ${endpoint.host} (${endpoint.from}). ` +
    "Unset DOCKER_CONTEXT and select the engine with `docker context use <name>` (or DOCKER_HOST) instead.";
}

function noEngine(endpoint: DockerEndpoint, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === "EACCES"
    ? "permission denied: add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker"
    : (error as Error).message;
  return `No Docker engine answers at ${endpoint.host} (${endpoint.from}): ${why}. ` +
    "Start your engine (Docker Desktop, Colima, Rancher Desktop, or `sudo systemctl start docker`), or point the docker CLI at the one that runs " +
    "(`docker context use <name>`, or DOCKER_HOST): the docker target uses the engine `docker info` answers from.";
}

/** Every loopback port is free, or published by this stack's own host container already (a second `pulumi up`). */
async function checkLoopbackPorts(platformName: string, config: LocalMachineConfig, endpoint: DockerEndpoint, machine: LocalMachine): Promise<void> {
  const busy: LoopbackPort[] = [];
  for (const port of loopbackPorts(config, config.memberCounts)) {
    if (!(await machine.isPortFree(port.hostPort))) busy.push(port);
  }
  if (busy.length === 0) return;
  const published = await machine.publishedPorts(endpoint);
  const own = new Set(allMembers(config.memberCounts).map((member) => localHostName(platformName, member.name)));
  const problems = busy.flatMap((port) => {
    const holders = published.filter((p) => p.hostPort === port.hostPort);
    if (holders.some((holder) => own.has(holder.container))) return [];
    const holder = holders.length > 0 ? `the container "${holders[0].container}" on your Docker engine` : "another program on this machine";
    return [`127.0.0.1:${port.hostPort} is taken by ${holder}; ${loopbackPortUse(port)} wants it (${port.key}): free it, or \`${loopbackPortFix(port)}\``];
  });
  if (problems.length > 0) {
    throw new Error(`The docker target publishes its hosts' ports on 127.0.0.1, and some are taken; nothing was created:\n  - ${problems.join("\n  - ")}`);
  }
}

/**
 * target docker, before anything is registered: not native Windows; the engine the docker CLI uses, on this machine,
 * answering; and every port the hosts publish free on 127.0.0.1, unless this stack's own host container publishes it
 * already. Returns that engine, which the Docker provider (containers, network, image build) is then given.
 */
export async function checkLocalMachine(platformName: string, config: LocalMachineConfig, machine: LocalMachine = standIn ?? thisMachine()): Promise<DockerEndpoint> {
  if (machine.platform === "win32") throw new Error(WINDOWS_REFUSAL);
  const endpoint = resolveDockerEndpoint(machine.env, machine.home);
  if (!isLocalEngine(endpoint.host)) {
    throw new Error(`The docker CLI uses the engine at ${endpoint.host} (${endpoint.from}), which is not on this machine: the docker target ` +
      "connects to the ports its host containers publish on 127.0.0.1 here. Select a local engine (`docker context use <name>`, or DOCKER_HOST=unix://...).");
  }
  const conflict = providerContextConflict(endpoint, machine);
  if (conflict) throw new Error(conflict);
  try {
    await machine.ping(endpoint);
  } catch (error) {
    throw new Error(noEngine(endpoint, error));
  }
  await checkLoopbackPorts(platformName, config, endpoint, machine);
  return endpoint;
}
