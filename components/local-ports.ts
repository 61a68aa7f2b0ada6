import { INGRESS_MATRIX } from "./network";
import { PORTS, PortName } from "./ports";
import { ROLES, Role } from "./roles";

/** A port a host container publishes on 127.0.0.1. */
export interface LoopbackPort {
  role: Role;
  service: PortName;
  /** The port on the user's machine (always bound to 127.0.0.1). */
  hostPort: number;
  /** The port inside the host container, where its compose bundle publishes the service. */
  containerPort: number;
}

/**
 * What the docker target publishes: exactly what operators (and, for the gateway, anyone) reach on AWS, bound to
 * 127.0.0.1. Every host's SSH gets its own port; the gateway its configured one; the others keep their number.
 */
export function loopbackPorts(gatewayPort: number, sshBasePort: number): LoopbackPort[] {
  const seen = new Set<string>();
  return INGRESS_MATRIX.filter((rule) => rule.from === "operators" || rule.from === "anywhere")
    .filter((rule) => !seen.has(`${rule.to} ${rule.port}`) && seen.add(`${rule.to} ${rule.port}`))
    .map((rule) => ({
      role: rule.to,
      service: rule.port,
      hostPort: rule.port === "ssh" ? sshBasePort + ROLES.indexOf(rule.to) : rule.port === "gateway" ? gatewayPort : PORTS[rule.port],
      containerPort: PORTS[rule.port],
    }));
}

/** Loopback ports that two services would both take. */
export function loopbackPortClashes(ports: LoopbackPort[]): number[] {
  const counts = new Map<number, number>();
  for (const { hostPort } of ports) counts.set(hostPort, (counts.get(hostPort) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([port]) => port).sort((a, b) => a - b);
}
