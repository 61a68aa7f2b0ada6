import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../components/platform/repo";

/** One host's forwards, as the stack output `tunnels` lists them (empty on the docker target). */
export interface TunnelSpec {
  member: string;
  host: string;
  sshPort: number;
  /** Each forwarded as 127.0.0.1:<port> here to 127.0.0.1 on the host, at the same port unless hostPorts says otherwise. */
  ports: number[];
  /** The host's ends, in the order of `ports`, when `localPorts` moved some local ends (absent: the same ports). */
  hostPorts?: number[];
}

/** The JSON schema of the `tunnels` output: what both the tunnel and verify (which opens it) check. */
export const TUNNELS_SCHEMA = {
  type: "array",
  items: {
    type: "object",
    properties: {
      member: { type: "string", minLength: 1 },
      host: { type: "string", minLength: 1 },
      sshPort: { type: "integer", minimum: 1, maximum: 65535 },
      ports: { type: "array", items: { type: "integer", minimum: 1, maximum: 65535 }, minItems: 1 },
      hostPorts: { type: "array", items: { type: "integer", minimum: 1, maximum: 65535 }, minItems: 1 },
    },
    required: ["member", "host", "sshPort", "ports"],
  },
} as const;

export interface TunnelOutputs {
  tunnels: TunnelSpec[];
  sshUser: string;
  sshPrivateKey: string;
}

/** Host keys the tunnel has seen, kept in the project (not the user's ~/.ssh/known_hosts), first use accepted. */
export const KNOWN_HOSTS = path.join(REPO_ROOT, ".tunnel", "known_hosts");

/** The `ssh` arguments for one host: no command, only the forwards, failing fast when one cannot be set up. */
export function sshArgs(spec: TunnelSpec, user: string, keyFile: string, knownHosts = KNOWN_HOSTS): string[] {
  return [
    "-N",
    "-i", keyFile,
    "-p", String(spec.sshPort),
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "ExitOnForwardFailure=yes",
    // A dead link is noticed within a minute, and ssh exits instead of hanging.
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=4",
    "-o", "StrictHostKeyChecking=accept-new",
    "-o", `UserKnownHostsFile=${knownHosts}`,
    ...spec.ports.flatMap((port, i) => ["-L", `127.0.0.1:${port}:127.0.0.1:${spec.hostPorts?.[i] ?? port}`]),
    `${user}@${spec.host}`,
  ];
}

/** Writes the private key to a fresh private folder, file mode 0600 (ssh refuses a key others can read). */
export function writeKeyFile(privateKey: string, tmp = os.tmpdir()): { file: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(tmp, "platform-tunnel-"));
  const file = path.join(dir, "id");
  fs.writeFileSync(file, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface Tunnel {
  /** Settles when any ssh exits: the tunnel is broken then. */
  exited: Promise<string>;
  close(): Promise<void>;
}

export interface OpenOptions {
  ssh?: string;
  /** How long each forward may take to accept connections. */
  timeoutMs?: number;
  knownHosts?: string;
}

const portAccepts = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect({ host: "127.0.0.1", port }, () => {
    socket.destroy();
    resolve(true);
  });
  socket.on("error", () => resolve(false));
});

/** The local ports that something here already listens on: ssh could not forward them (or verify would reach that). */
export async function busyPorts(ports: number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (!free) busy.push(port);
  }
  return busy;
}

/**
 * One `ssh -N -L ...` per host; resolves once every local port accepts connections, rejects (with ssh's message)
 * when an ssh exits or the time runs out. The key file is removed when the tunnel closes.
 */
export async function openTunnel(outputs: TunnelOutputs, opts: OpenOptions = {}): Promise<Tunnel> {
  const busy = await busyPorts(outputs.tunnels.flatMap((spec) => spec.ports));
  if (busy.length) throw new Error(`tunnel: 127.0.0.1:${busy.join(", ")} already in use here (another tunnel, the docker target, or another program?): free it, or move the UI's local end with \`pulumi config set --path localPorts.<ui> <port>\` and \`pulumi up\``);
  const knownHosts = opts.knownHosts ?? KNOWN_HOSTS;
  fs.mkdirSync(path.dirname(knownHosts), { recursive: true, mode: 0o700 });
  const key = writeKeyFile(outputs.sshPrivateKey);
  const children: ChildProcess[] = [];
  const exits = outputs.tunnels.map((spec) => {
    const child = spawn(opts.ssh ?? "ssh", sshArgs(spec, outputs.sshUser, key.file, knownHosts), { stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk) => (stderr += chunk));
    return new Promise<string>((resolve) => {
      child.on("error", (err) => resolve(`${spec.member}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? `${opts.ssh ?? "ssh"} is not on PATH: install an OpenSSH client` : err.message}`));
      child.on("exit", (code, signal) => resolve(
        `${spec.member} (${outputs.sshUser}@${spec.host}:${spec.sshPort}): ssh ended (${signal ?? `exit ${code}`}): ${stderr.trim() || "no message"}` +
        (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr) ? `. A replaced host got this address: ssh-keygen -R ${spec.host} -f ${knownHosts}` : ""),
      ));
    });
  });
  const exited = Promise.race(exits);
  const close = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.all(exits);
    key.remove();
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let failure: string | undefined;
  void exited.then((why) => (failure = why));
  for (const port of outputs.tunnels.flatMap((spec) => spec.ports)) {
    while (!failure && !(await portAccepts(port))) {
      if (Date.now() > deadline) failure = `127.0.0.1:${port} did not accept connections within ${(opts.timeoutMs ?? 30_000) / 1000}s`;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  if (failure) {
    await close();
    throw new Error(`tunnel: ${failure}`);
  }
  return { exited, close };
}
