import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import Ajv, { JSONSchemaType } from "ajv";

/** What `npm run ssh` reads of the stack outputs. */
export interface SshOutputs {
  /** By member name: `publicIp` (127.0.0.1 on the docker target) and the SSH port (22 on aws). */
  hosts: Record<string, { publicIp: string; sshPort?: number }>;
  sshUser: string;
  sshPrivateKey: string;
}

const schema = {
  type: "object",
  properties: {
    hosts: {
      type: "object",
      additionalProperties: {
        type: "object",
        properties: { publicIp: { type: "string", minLength: 1 }, sshPort: { type: "integer", minimum: 1, maximum: 65535 } },
        required: ["publicIp"],
      },
      minProperties: 1,
    },
    sshUser: { type: "string", minLength: 1 },
    sshPrivateKey: { type: "string", minLength: 1 },
  },
  required: ["hosts", "sshUser", "sshPrivateKey"],
} as unknown as JSONSchemaType<SshOutputs>;

const validate = new Ajv({ allErrors: true }).compile(schema);

export function parseSshOutputs(raw: unknown): SshOutputs {
  if (validate(raw)) return raw;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  throw new Error(`the stack outputs lack what ssh needs: ${problems.join("; ")}. Run \`pulumi up\` with this version of the program first.`);
}

/** The project's own SSH folder (gitignored): the stacks' keys and the hosts' keys, never ~/.ssh. */
export function sshDir(projectDir: string): string {
  return path.join(projectDir, ".ssh");
}

export interface Endpoint {
  member: string;
  host: string;
  port: number;
  /** A host container on this machine's Docker engine (docker target): its key is read from the engine. */
  local: boolean;
}

/** Where a member answers SSH; an unknown member fails naming the stack's members. */
export function endpointOf(outputs: SshOutputs, member: string): Endpoint {
  const host = outputs.hosts[member];
  if (!host) throw new Error(`no member ${member} in this stack; its members: ${Object.keys(outputs.hosts).join(", ")}`);
  const local = host.publicIp === "127.0.0.1";
  // The docker target's port is in the outputs; a stack from before sshPort was exported is on aws, port 22.
  if (local && host.sshPort === undefined) throw new Error(`the stack outputs give no SSH port for ${member}. Run \`pulumi up\` with this version of the program first.`);
  return { member, host: host.publicIp, port: host.sshPort ?? 22, local };
}

/** Writes a file through a temporary one and a rename, so a concurrent reader never sees half of it. */
function writeAtomically(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/**
 * The stack's private key as a 0600 file in the project's SSH folder (0700), named by its hash: each stack's key gets
 * its own file, and writing the same key again changes nothing.
 */
export function writeKey(dir: string, privateKey: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const text = privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`;
  const file = path.join(dir, `id-${crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)}`);
  writeAtomically(file, text, 0o600);
  return file;
}

/** How known_hosts names a host: plain on port 22, `[host]:port` on any other. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Puts exactly one key for a host into a known_hosts file: every earlier line for that name goes (the key of a host
 * that was recreated since), the other hosts' lines stay.
 */
export function pinHostKey(file: string, host: string, port: number, publicKey: string): void {
  const name = knownHostName(host, port);
  const [type, key] = publicKey.trim().split(/\s+/);
  if (!type || !key) throw new Error(`not an OpenSSH public key: ${publicKey.slice(0, 80)}`);
  const kept = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((line) => line.trim() && line.split(/\s+/)[0] !== name) : [];
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeAtomically(file, [...kept, `${name} ${type} ${key}`].join("\n") + "\n", 0o600);
}

/** Where the entrypoint of a local host (platform-host/entrypoint.sh) keeps sshd's host key. */
export const LOCAL_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub";

/**
 * The host key of the host container that publishes 127.0.0.1:<port>, read through the Docker engine.
 *
 * A local host makes a new host key each time its container is created (entrypoint.sh), on the same 127.0.0.1:port,
 * and the program never learns it. Trusting on first use would then break at every recreate (or, told to forget the
 * old key, would trust whatever answers next); skipping the check would trust anything on that port. The engine that
 * runs the container is the one party that knows which key is the host's, and whoever may use it (as `pulumi up` does
 * here) controls the host anyway: so ssh checks the host strictly against the key the engine shows, read again on every
 * call, and a recreated host just works.
 */
export async function localHostKey(port: number, docker = "docker", env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const run = async (args: string[]) => {
    try {
      return (await promisify(execFile)(docker, args, { env, maxBuffer: 4 * 1024 * 1024 })).stdout;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === "ENOENT") throw new Error(`reading the host key of a local host needs the Docker CLI (${docker}), which is not on PATH`);
      throw new Error(`\`${docker} ${args.join(" ")}\` failed: ${(e.stderr || e.message).trim()}`);
    }
  };
  const published = `127.0.0.1:${port}->`;
  const rows = (await run(["ps", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}\t{{.Ports}}"])).split("\n");
  const row = rows.find((line) => (line.split("\t")[2] ?? "").split(", ").some((binding) => binding.startsWith(published)));
  if (!row) throw new Error(`no running container of this Docker engine publishes 127.0.0.1:${port}: is the local stack up (npm run local)?`);
  const [id, name] = row.split("\t");
  const key = (await run(["exec", id, "cat", LOCAL_HOST_KEY])).trim();
  if (!/^ssh-[a-z0-9-]+ [A-Za-z0-9+/]+=*( |$)/.test(key)) throw new Error(`${name}: ${LOCAL_HOST_KEY} holds no public key (is the host still starting?)`);
  return key;
}

/** An ssh_config value as one token: quoted when it holds blanks, `%` doubled (ssh expands %-tokens in file names). */
function configValue(value: string): string {
  const escaped = value.replace(/%/g, "%%");
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}

/** The ssh arguments for a session on one member; `extra` (options or a remote command) comes after the destination. */
export function sshArgs(endpoint: Endpoint, user: string, keyFile: string, knownHosts: string, extra: string[] = []): string[] {
  return [
    // As an option, not -i: ssh expands %-tokens in either, and only an option's value can be escaped and quoted.
    "-o", `IdentityFile=${configValue(keyFile)}`,
    "-p", String(endpoint.port),
    // The stack's key only, not every key of the user's agent (too many offered keys fail the login).
    "-o", "IdentitiesOnly=yes",
    "-o", `UserKnownHostsFile=${configValue(knownHosts)}`,
    // A local host's key was just pinned from the engine: anything else is refused. An EC2 host's key is accepted the
    // first time and checked from then on; a replaced host at an old address fails with ssh's own message and command.
    "-o", `StrictHostKeyChecking=${endpoint.local ? "yes" : "accept-new"}`,
    `${user}@${endpoint.host}`,
    ...extra,
  ];
}
