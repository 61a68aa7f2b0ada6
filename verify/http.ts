import { errors as esErrors } from "@elastic/elasticsearch";
import { PORTS, PortName } from "../components/platform/ports";
import { Role } from "../components/platform/roles";
import { StackOutputs } from "./outputs";

/** The admin UIs: on aws their URLs are the local ends of the SSH tunnel that verify opens (tunnel/). */
const OPERATOR = "the SSH tunnel";

/** The public endpoints `verify` talks to, with what an operator must check when one does not answer. */
export const SERVICES = {
  gateway: { label: "the gateway", role: "web", port: "gateway", url: "gatewayUrl", from: "anywhere (0.0.0.0/0)" },
  kibana: { label: "Kibana", role: "logging", port: "kibana", url: "kibanaUrl", from: OPERATOR },
  grafana: { label: "Grafana", role: "monitoring", port: "grafana", url: "grafanaUrl", from: OPERATOR },
  prometheus: { label: "Prometheus", role: "monitoring", port: "prometheus", url: "prometheusUrl", from: OPERATOR },
  elasticsearch: {
    label: "Elasticsearch", role: "logging", port: "elasticsearch", url: "elasticsearchUrl", from: OPERATOR,
  },
} as const satisfies Record<string, { label: string; role: Role; port: PortName; url: keyof StackOutputs; from: string }>;

export type Service = keyof typeof SERVICES;

/** A part of the platform did not answer; the message says which host, port and rule to look at. */
export class UnreachableError extends Error {}

const REFUSED = new Set(["ECONNREFUSED", "ECONNRESET"]);
const NO_ROUTE = new Set(["ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** The socket-level reason of a failed request, or undefined when the failure is not a network one. */
function networkCode(err: unknown): string | undefined {
  if (err instanceof esErrors.TimeoutError) return "TIMEOUT";
  // The Elasticsearch client keeps only the socket error's text.
  if (err instanceof esErrors.ConnectionError) return /\b(E[A-Z_]+)\b/.exec(err.message)?.[1] ?? "connection error";
  // fetch: TypeError("fetch failed") whose cause carries the code, or the AbortSignal.timeout DOMException.
  for (let e = err as { code?: unknown; cause?: unknown; name?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name === "TimeoutError") return "TIMEOUT";
    if (typeof e.code === "string") return e.code;
  }
  return undefined;
}

/** Turns a network failure into an UnreachableError; returns undefined for anything else (e.g. an HTTP error). */
export function asUnreachable(service: Service, outputs: StackOutputs, err: unknown, timeoutMs: number): UnreachableError | undefined {
  const code = networkCode(err);
  if (code === undefined) return undefined;
  const s = SERVICES[service];
  const ip = outputs.hosts[s.role].publicIp;
  const port = PORTS[s.port];
  const where = `${s.label} (${outputs[s.url]}) is unreachable: ${s.role} host ${ip}, tcp/${port}`;
  if (REFUSED.has(code)) {
    return new UnreachableError(
      `${where} refused the connection: the host is reachable but nothing listens on ${port}. ` +
        `Check its containers: ssh -i <the sshPrivateKey output> ${outputs.sshUser}@${ip} sudo docker ps -a`,
    );
  }
  const why = code === "TIMEOUT" || NO_ROUTE.has(code) ? `no answer within ${timeoutMs / 1000}s` : code;
  if (s.from === OPERATOR) {
    return new UnreachableError(outputs.tunnels.length
      ? `${where}: ${why}, through ${OPERATOR}. Check that the instance is running and that the ${s.role} security ` +
        `group allows tcp/${PORTS.ssh} from your public IP (stack config operatorCidrs).`
      : `${where}: ${why}. Check that the local host containers run (docker ps).`);
  }
  return new UnreachableError(
    `${where}: ${why}. Check that the ${s.role} security group allows tcp/${port} from ${s.from}` +
      `, and that the instance is running (a dropped packet and a stopped host look the same from here).`,
  );
}

export interface HttpOptions {
  timeoutMs: number;
  /** A 401 fails naming the stack output the password came from and where the service gets it (`fix`). */
  basicAuth?: { user: string; password: string; output: keyof StackOutputs; fix: string };
}

/** The failure of a login the service refused: the stack output and the deployed password differ. */
export const refusedPassword = (service: Service, auth: { user: string; output: string; fix: string }): Error =>
  new Error(`${SERVICES[service].label} refused ${auth.user}'s password (HTTP 401): the stack output ${auth.output} is not ` +
    `the password it checks; ${auth.fix}`);

export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** One HTTP request to a platform endpoint; the body is parsed as JSON when it is JSON, else kept as text. */
export async function request(service: Service, outputs: StackOutputs, path: string, opts: HttpOptions): Promise<HttpAnswer> {
  const url = new URL(path, outputs[SERVICES[service].url]);
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.basicAuth) {
    headers.authorization = `Basic ${Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`).toString("base64")}`;
  }
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(opts.timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the message
    }
    if (res.status === 401 && opts.basicAuth) throw refusedPassword(service, opts.basicAuth);
    return { status: res.status, body };
  } catch (err) {
    throw asUnreachable(service, outputs, err, opts.timeoutMs) ?? err;
  }
}

/** A short, single-line excerpt of a response body for failure messages. */
export function excerpt(body: unknown, max = 200): string {
  const text = (typeof body === "string" ? body : JSON.stringify(body)).replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
