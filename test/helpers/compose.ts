import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { Role } from "../../components/roles";
import { REPO_ROOT } from "../../components/repo";
import { sampleEnv } from "./sample-facts";

export interface ComposeService {
  image?: string;
  restart?: string;
  healthcheck?: { test?: unknown; disable?: boolean };
  logging?: { driver?: string; options?: Record<string, string> };
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | { published?: string | number; target?: number })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  environment?: Record<string, unknown> | string[];
  env_file?: string | string[];
  command?: string | string[];
  entrypoint?: string | string[];
  user?: string;
  network_mode?: string;
  cap_drop?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const composePath = (role: Role): string => path.join(REPO_ROOT, "hosts", role, "compose.yaml");

export const composeText = (role: Role): string => fs.readFileSync(composePath(role), "utf8");

export function loadCompose(role: Role): ComposeFile {
  return parse(composeText(role), { merge: true }) as ComposeFile;
}

/** Variables compose interpolates: `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$VAR`; `$$` is a literal `$`. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.replace(/\$\$/g, "").matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/g)) {
    names.add(match[1] ?? match[2]);
  }
  return [...names].sort();
}

/** Interpolates like compose does for the forms this project uses; an undefined variable is an error. */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}/g, (whole, name: string | undefined) => {
    if (name === undefined) return "$";
    const value = env[name];
    if (value === undefined) throw new Error(`${whole} is not defined in the rendered .env`);
    return value;
  });
}

export function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  return Array.isArray(deps)
    ? Object.fromEntries(deps.map((name) => [name, undefined]))
    : Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

/** One-shot services run once and exit; everything else runs for the life of the host. */
export const isOneShot = (service: ComposeService): boolean => service.restart === "no";

/** Host ports a service publishes. */
export function publishedPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === "object") return Number(port.published);
    const parts = port.split(":");
    if (parts.length < 2) throw new Error(`port "${port}" publishes a random host port`);
    return Number(parts[parts.length - 2]);
  });
}

/** A service's healthcheck command as its host runs it: the compose list, interpolated with the sample `.env`. */
export function healthcheckCommand(role: Role, service: string): string[] {
  const test = loadCompose(role).services[service].healthcheck?.test;
  if (!Array.isArray(test)) throw new Error(`${service}: healthcheck.test is not a list`);
  return (test as string[]).map((part) => interpolate(part, sampleEnv(role)));
}

/** A service's environment as its container gets it: its `environment` map, with the `.env` interpolated as compose does. */
export function serviceEnvironment(role: Role, service: string, dotEnv: Record<string, string> = sampleEnv(role)): Record<string, string> {
  const environment = loadCompose(role).services[service]?.environment;
  if (!environment || Array.isArray(environment)) {
    throw new Error(`hosts/${role}/compose.yaml: service ${service} has no environment map`);
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), dotEnv)]));
}
