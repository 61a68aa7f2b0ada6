import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { Role } from "../../components/platform/roles";
import { bundlePathSource, composeFiles } from "../../components/bundles/files";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
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

/** Where a bundle-relative path (`fluent-bit/x`, `forwarder/y`) comes from in the repository. */
export const repoPathOf = (role: Role, bundleRelative: string): string => bundlePathSource(BUNDLE_SOURCES[role], bundleRelative);

/** The repository file a container path of a service comes from, through its `./x:/y` bind mounts. */
export function mountedFrom(role: Role, service: ComposeService, containerPath: string): string | undefined {
  for (const volume of service.volumes ?? []) {
    if (typeof volume !== "string" || !volume.startsWith("./")) continue;
    const [source, target] = volume.split(":");
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return repoPathOf(role, path.posix.join(source, path.posix.relative(target, containerPath)));
    }
  }
  return undefined;
}

/** The repository files of a bundle's compose files, in its COMPOSE_FILE order (the host's own, then forwarder/'s). */
export const composePaths = (role: Role): string[] => composeFiles(BUNDLE_SOURCES[role]).map((file) => repoPathOf(role, file));

/** All of a bundle's compose files, one after the other. */
export const composeText = (role: Role): string => composePaths(role).map((file) => fs.readFileSync(file, "utf8")).join("\n");

/** A bundle's compose files merged as compose merges them, for this project's files: no service is in two of them. */
export function loadCompose(role: Role): ComposeFile {
  const merged: ComposeFile = { services: {}, volumes: {} };
  for (const file of composePaths(role)) {
    const compose = parse(fs.readFileSync(file, "utf8"), { merge: true }) as ComposeFile;
    for (const name of Object.keys(compose.services)) {
      if (name in merged.services) throw new Error(`${file}: service ${name} is defined in another compose file of the ${role} bundle too`);
    }
    Object.assign(merged.services, compose.services);
    Object.assign(merged.volumes!, compose.volumes ?? {});
  }
  return merged;
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

/** A service's healthcheck command as its host runs it: the compose list, interpolated with the (sample) `.env`. */
export function healthcheckCommand(role: Role, service: string, dotEnv: Record<string, string> = sampleEnv(role)): string[] {
  const test = loadCompose(role).services[service].healthcheck?.test;
  if (!Array.isArray(test)) throw new Error(`${service}: healthcheck.test is not a list`);
  return (test as string[]).map((part) => interpolate(part, dotEnv));
}

/** A service's environment as its container gets it: its `environment` map, with the `.env` interpolated as compose does. */
export function serviceEnvironment(role: Role, service: string, dotEnv: Record<string, string> = sampleEnv(role)): Record<string, string> {
  const environment = loadCompose(role).services[service]?.environment;
  if (!environment || Array.isArray(environment)) {
    throw new Error(`the ${role} bundle's service ${service} has no environment map`);
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), dotEnv)]));
}
