import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";

/** The gateway's nginx configuration: nginx.conf and the files it includes. */
export const GATEWAY_CONFIG_DIR = path.join(REPO_ROOT, "hosts", "web", "gateway");

/** What a field of the access-log JSON holds: quoted in the log_format = string, bare = number (or null). */
export type GatewayFieldKind = "string" | "number";

interface LogFormat {
  name: string;
  /** The concatenated format template, nginx variables still in it. */
  template: string;
}

/** `log_format <name> [escape=...] '<part>' '<part>' ...;` in any `*.conf` of the gateway folder. */
function readLogFormats(dir: string): LogFormat[] {
  const formats: LogFormat[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".conf"))) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    for (const match of text.matchAll(/^\s*log_format\s+(\S+)\s+(?:escape=\S+\s+)?((?:'[^']*'\s*)+);/gm)) {
      const parts = [...match[2].matchAll(/'([^']*)'/g)].map((m) => m[1]);
      formats.push({ name: match[1], template: parts.join("") });
    }
  }
  return formats;
}

/** The one log_format of the gateway config (the Kong-compatible JSON line). */
export function gatewayLogFormat(dir = GATEWAY_CONFIG_DIR): LogFormat {
  const formats = readLogFormats(dir);
  if (formats.length !== 1) {
    throw new Error(`expected exactly one log_format in ${dir}, found ${formats.map((f) => f.name).join(", ") || "none"}`);
  }
  return formats[0];
}

function leaves(value: unknown, prefix: string, out: Map<string, GatewayFieldKind>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) leaves(child, prefix ? `${prefix}.${key}` : key, out);
    return;
  }
  out.set(prefix, typeof value === "number" ? "number" : "string");
}

/**
 * Every field the gateway's log_format emits, as dotted paths (`request.headers.user-agent`), with its kind. Each
 * nginx variable is replaced by `0`: inside quotes that stays a string, bare it is a number, and the result must be
 * valid JSON (which also proves the format's punctuation).
 */
export function gatewayLogFieldKinds(dir = GATEWAY_CONFIG_DIR): Map<string, GatewayFieldKind> {
  const { name, template } = gatewayLogFormat(dir);
  const sample = template.replace(/\$(?:\{\w+\}|\w+)/g, "0");
  let parsed: unknown;
  try {
    parsed = JSON.parse(sample);
  } catch (err) {
    throw new Error(`log_format ${name} is not a JSON object once its variables are filled: ${(err as Error).message}`);
  }
  const out = new Map<string, GatewayFieldKind>();
  leaves(parsed, "", out);
  return out;
}

/** Dotted paths of every field in a gateway access-log line, e.g. `request.headers.user-agent`. */
export function gatewayLogFields(dir = GATEWAY_CONFIG_DIR): string[] {
  return [...gatewayLogFieldKinds(dir).keys()];
}

/**
 * A gateway access line as the aggregator indexes it (the gateway's JSON with the forwarder's fields), for the checks
 * that read one back; `overrides` replaces top-level fields.
 */
export function gatewayDocument(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "@timestamp": "2025-06-01T10:00:00.123Z",
    started_at: 1748772000123,
    client_ip: "198.51.100.7",
    request: { id: "abc", method: "GET", uri: "/api/users?id=1", url: "http://gw/api/users?id=1", size: 120, headers: { "user-agent": "curl/8" }, querystring: "id=1" },
    upstream_uri: "/users",
    upstream_status: null,
    response: { status: 200, size: 512 },
    latencies: { request: 12.5, proxy: 10, kong: 2.5 },
    service: { name: "users" },
    route: { name: "users" },
    "host.name": "web",
    "container.name": "gateway",
    stream: "stdout",
    ...overrides,
  };
}
