import * as pulumi from "@pulumi/pulumi";
import { OPERATOR_UI_PORTS, PORTS, PortName } from "../platform/ports";
import { PerRole } from "../platform/roles";
import { LocalPorts } from "../platform/loopback-ports";
import { PlatformConfig } from "../config/types";
import { ingestSources } from "../platform/ingest-sources";
import { PlatformHost } from "./platform-host";

/**
 * The UIs as the operator opens them (the tunnel's local ends, or the docker target's published ports): alert
 * annotations link to Kibana's logs, and each UI builds its links back to itself from its own.
 */
export type OperatorUrls = Record<"kibana" | "grafana" | "prometheus" | "alertmanager", string>;

/** Where operators reach one of a host's services, as a URL (port 80 left out). */
export const serviceUrl = (host: PlatformHost, service: PortName, scheme = "http"): pulumi.Output<string> =>
  host.endpoint(service).apply((at) => `${scheme}://${at.replace(/:80$/, "")}`);

/** The admin UIs, on the first member of their role. */
export function operatorUrls(first: PerRole<PlatformHost>): pulumi.Output<OperatorUrls> {
  return pulumi.output({
    kibana: serviceUrl(first.logging, "kibana"),
    grafana: serviceUrl(first.monitoring, "grafana"),
    prometheus: serviceUrl(first.monitoring, "prometheus"),
    alertmanager: serviceUrl(first.monitoring, "alertmanager"),
  });
}

/**
 * A tunnel `npm run tunnel` opens: 127.0.0.1:<port> here (`localPorts`) to the host's own 127.0.0.1, at the same
 * port, or at the one of `hostPorts` in the same position when some differ.
 */
export interface OperatorTunnel {
  member: string;
  host: pulumi.Output<string>;
  sshPort: number;
  ports: number[];
  hostPorts?: number[];
}

/**
 * One tunnel per role that serves an admin UI, to its first member (EC2 hosts publish the UIs on their loopback), and
 * one to the web host's ingest forward port, which verify sends its record through whatever `logSourceCidrs` opens.
 */
export function operatorTunnels(first: PerRole<PlatformHost>, localPorts: LocalPorts, localIngestForwardPort: number): OperatorTunnel[] {
  const ingest: OperatorTunnel = {
    member: "web",
    host: first.web.publicIp,
    sshPort: first.web.sshPort,
    ports: [localIngestForwardPort],
    ...(localIngestForwardPort !== PORTS.ingestForward ? { hostPorts: [PORTS.ingestForward] } : {}),
  };
  return [...new Set(OPERATOR_UI_PORTS.map((ui) => ui.role))].map((role): OperatorTunnel => {
    const uis = OPERATOR_UI_PORTS.filter((ui) => ui.role === role);
    const ports = uis.map((ui) => localPorts[ui.service]);
    const hostPorts = uis.map((ui) => PORTS[ui.service]);
    return {
      member: role,
      host: first[role].publicIp,
      sshPort: first[role].sshPort,
      ports,
      // Only when moved: the output of a stack with the default ports stays as it was.
      ...(ports.some((port, i) => port !== hostPorts[i]) ? { hostPorts } : {}),
    };
  }).concat(ingest);
}

/** Where the users' services send their logs, and what they trust: the `ingest` output. */
export function ingestEndpoint(web: PlatformHost, config: PlatformConfig, caCertificate: pulumi.Output<string>) {
  const docker = config.target === "docker";
  return {
    // The web host's public address; the docker target publishes the ports on 127.0.0.1.
    address: web.publicIp,
    privateAddress: web.privateIp,
    forwardPort: docker ? config.localIngestForwardPort : PORTS.ingestForward,
    otlpPort: docker ? config.localIngestOtlpPort : PORTS.ingestOtlp,
    // Where verify and operators reach the forward port on their own machine: the tunnel's local end on aws.
    localForwardPort: config.localIngestForwardPort,
    caCertificate,
    sources: ingestSources(config.logSources),
    allowedCidrs: docker ? [] : config.logSourceCidrs,
  };
}
