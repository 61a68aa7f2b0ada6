import { INGRESS_MATRIX } from "./ingress";
import { OPERATOR_UI_PORTS, PORTS, PortName } from "./ports";
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
 * What the docker target publishes on 127.0.0.1: what operators (and, for the gateway, anyone) reach on AWS from
 * outside, and the admin UIs at the address the SSH tunnel gives them on AWS (OPERATOR_UI_PORTS). Every host's SSH
 * gets its own port (the first members' in ROLES order, then the further cluster members'); the gateway its
 * configured one; the UIs keep their number, published by the first member of a role.
 */
export function loopbackPorts(gatewayPort: number, sshBasePort: number, counts: MemberCounts = ONE_OF_EACH): LoopbackPort[] {
  const seen = new Set<string>();
  const fromOutside = INGRESS_MATRIX.filter((rule) => rule.from === "operators" || rule.from === "anywhere")
    .filter((rule) => !seen.has(`${rule.to} ${rule.port}`) && seen.add(`${rule.to} ${rule.port}`))
    .map((rule): { role: Role; service: PortName } => ({ role: rule.to, service: rule.port }));
  return [...fromOutside, ...OPERATOR_UI_PORTS].flatMap(({ role, service }) => {
    const perMember = service === "ssh" ? counts[role] : 1;
    return Array.from({ length: perMember }, (_, index) => ({
      role,
      member: memberName(role, index),
      service,
      hostPort: service === "ssh"
        ? sshBasePort + ROLES.length * index + ROLES.indexOf(role)
        : service === "gateway" ? gatewayPort : PORTS[service],
      containerPort: PORTS[service],
    }));
  });
}

/** Loopback ports that two services would both take. */
export function loopbackPortClashes(ports: LoopbackPort[]): number[] {
  const counts = new Map<number, number>();
  for (const { hostPort } of ports) counts.set(hostPort, (counts.get(hostPort) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([port]) => port).sort((a, b) => a - b);
}
