import { INGRESS_MATRIX } from "./network";
import { PORTS, PortName } from "./ports";
import { ROLES, Role } from "./roles";
import { MemberCounts, ONE_OF_EACH, memberName } from "./topology";

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
}

/**
 * What the docker target publishes: exactly what operators (and, for the gateway, anyone) reach on AWS, bound to
 * 127.0.0.1. Every host's SSH gets its own port (the first members' in ROLES order, then the further cluster
 * members'); the gateway its configured one; the others keep their number, published by the first member of a role.
 */
export function loopbackPorts(gatewayPort: number, sshBasePort: number, counts: MemberCounts = ONE_OF_EACH): LoopbackPort[] {
  const seen = new Set<string>();
  const operatorFacing = INGRESS_MATRIX.filter((rule) => rule.from === "operators" || rule.from === "anywhere")
    .filter((rule) => !seen.has(`${rule.to} ${rule.port}`) && seen.add(`${rule.to} ${rule.port}`));
  return operatorFacing.flatMap((rule) => {
    const perMember = rule.port === "ssh" ? counts[rule.to] : 1;
    return Array.from({ length: perMember }, (_, index) => ({
      role: rule.to,
      member: memberName(rule.to, index),
      service: rule.port,
      hostPort: rule.port === "ssh"
        ? sshBasePort + ROLES.length * index + ROLES.indexOf(rule.to)
        : rule.port === "gateway" ? gatewayPort : PORTS[rule.port],
      containerPort: PORTS[rule.port],
    }));
  });
}

/** Loopback ports that two services would both take. */
export function loopbackPortClashes(ports: LoopbackPort[]): number[] {
  const counts = new Map<number, number>();
  for (const { hostPort } of ports) counts.set(hostPort, (counts.get(hostPort) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([port]) => port).sort((a, b) => a - b);
}
