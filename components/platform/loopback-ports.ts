import { INGRESS_MATRIX } from "./ingress";
import { OPERATOR_UI_PORTS, PORTS, PortName } from "./ports";
import { ROLES, Role } from "./roles";
import { MemberCounts, ONE_OF_EACH, memberName } from "./topology";

/** The admin UIs and APIs operators open at 127.0.0.1 (OPERATOR_UI_PORTS): the names of `localPorts`. */
export type UiService = (typeof OPERATOR_UI_PORTS)[number]["service"];
export const UI_SERVICES: readonly UiService[] = OPERATOR_UI_PORTS.map((ui) => ui.service);

/** The port on 127.0.0.1 of each UI (`localPorts`): published there by the docker target, the tunnel's local end on aws. */
export type LocalPorts = Record<UiService, number>;

/** By default each UI keeps its own port number at 127.0.0.1, as it always had. */
export const DEFAULT_LOCAL_PORTS = Object.fromEntries(UI_SERVICES.map((service) => [service, PORTS[service]])) as LocalPorts;

/** The config keys that set the loopback ports. */
export interface LoopbackPortConfig {
  localGatewayPort: number;
  localIngestForwardPort: number;
  localIngestOtlpPort: number;
  localSshBasePort: number;
  localPorts: LocalPorts;
}

/** A port a host container publishes on 127.0.0.1. */
export interface LoopbackPort {
  role: Role;
  /** The member whose host publishes it (`logging`, `logging-2`, ...). */
  member: string;
  service: PortName;
  /** The port on the user's machine (always bound to 127.0.0.1). */
  hostPort: number;
  /** The port inside the host container, where its compose bundle publishes the service. */
  containerPort: number;
  /** The config key that sets `hostPort`: `localSshBasePort`, `localGatewayPort`, `localIngest*Port` or `localPorts.<ui>`. */
  key: string;
}

const TITLES: Partial<Record<PortName, string>> = {
  ssh: "SSH",
  gateway: "the API gateway",
  ingestForward: "the ingest endpoint's forward port",
  ingestOtlp: "the ingest endpoint's OTLP port",
  kibana: "Kibana",
  elasticsearch: "Elasticsearch",
  grafana: "Grafana",
  prometheus: "Prometheus",
  alertmanager: "Alertmanager",
};

/** What wants a loopback port, for messages: "Grafana (monitoring host)", "SSH of the kafka-2 host". */
export function loopbackPortUse(port: LoopbackPort): string {
  const title = TITLES[port.service] ?? port.service;
  return port.service === "ssh" ? `SSH of the ${port.member} host` : `${title} (${port.member} host)`;
}

/** How to move a loopback port elsewhere: the command that sets its key. */
export function loopbackPortFix(port: LoopbackPort): string {
  return port.key.includes(".") ? `pulumi config set --path ${port.key} <port>` : `pulumi config set ${port.key} <port>`;
}

/** The key of each port the docker target publishes for clients from outside (the gateway's, the ingest endpoint's). */
const OUTSIDE_PORT_KEYS = {
  gateway: "localGatewayPort",
  ingestForward: "localIngestForwardPort",
  ingestOtlp: "localIngestOtlpPort",
} as const satisfies Partial<Record<PortName, keyof LoopbackPortConfig>>;

/**
 * What the docker target publishes on 127.0.0.1: what operators (and, for the gateway and the ingest endpoint, anyone
 * or the log sources) reach on AWS from outside, and the admin UIs at the address the SSH tunnel gives them on AWS
 * (OPERATOR_UI_PORTS). Every host's SSH gets its own port (the first members' in ROLES order, then the further cluster
 * members'); the gateway and the ingest ports their configured ones; each UI its `localPorts` entry, published by the
 * first member of its role.
 */
export function loopbackPorts(local: LoopbackPortConfig, counts: MemberCounts = ONE_OF_EACH): LoopbackPort[] {
  const seen = new Set<string>();
  const fromOutside = INGRESS_MATRIX.filter((rule) => rule.from === "operators" || rule.from === "logSources" || rule.from === "anywhere")
    .filter((rule) => !seen.has(`${rule.to} ${rule.port}`) && seen.add(`${rule.to} ${rule.port}`))
    .map((rule): { role: Role; service: PortName } => ({ role: rule.to, service: rule.port }));
  return [...fromOutside, ...OPERATOR_UI_PORTS].flatMap(({ role, service }) => {
    const perMember = service === "ssh" ? counts[role] : 1;
    const outsideKey = OUTSIDE_PORT_KEYS[service as keyof typeof OUTSIDE_PORT_KEYS] as keyof typeof local | undefined;
    return Array.from({ length: perMember }, (_, index): LoopbackPort => {
      const [hostPort, key] = service === "ssh"
        ? [local.localSshBasePort + ROLES.length * index + ROLES.indexOf(role), "localSshBasePort"]
        : outsideKey !== undefined
          ? [local[outsideKey] as number, outsideKey]
          : [local.localPorts[service as UiService], `localPorts.${service}`];
      return { role, member: memberName(role, index), service, hostPort, containerPort: PORTS[service], key };
    });
  });
}

/** Loopback ports that two services would both take, each with every service that wants it, in loopbackPorts order. */
export function loopbackPortClashes(ports: LoopbackPort[]): { hostPort: number; wantedBy: LoopbackPort[] }[] {
  const byPort = new Map<number, LoopbackPort[]>();
  for (const port of ports) byPort.set(port.hostPort, [...(byPort.get(port.hostPort) ?? []), port]);
  return [...byPort].filter(([, wantedBy]) => wantedBy.length > 1)
    .map(([hostPort, wantedBy]) => ({ hostPort, wantedBy }))
    .sort((a, b) => a.hostPort - b.hostPort);
}
