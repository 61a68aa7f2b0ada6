import http from "node:http";
import { freePort } from "./local-servers";
import { AddressInfo } from "node:net";
import path from "node:path";
import { Client } from "@elastic/elasticsearch";
import Mock from "@elastic/elasticsearch-mock";
import { StackOutputs } from "../../verify/outputs";
import { ProvisioningDirs } from "../../verify/provisioning";

/** A loopback HTTP server standing in for Kibana, Grafana, Prometheus or the gateway. */
export interface StandIn {
  url: string;
  /** Paths (with query) it was asked for, in order. */
  seen: string[];
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function startStandIn(handler: Handler): Promise<StandIn> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? "");
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // a stand-in that never answers keeps its sockets open otherwise
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** A loopback port with nothing listening (bound once by the OS, then released). */
/** A loopback port with nothing listening on it. */
export const closedPort = freePort;

/**
 * Stack outputs whose URLs point at loopback stand-ins. The host IPs are documentation addresses (TEST-NET-3): they
 * only appear in messages, nothing is sent to them.
 */
export function testOutputs(
  urls: Partial<Pick<StackOutputs, "gatewayUrl" | "kibanaUrl" | "grafanaUrl" | "prometheusUrl" | "elasticsearchUrl">> = {},
  secrets: Partial<Pick<StackOutputs, "elasticsearchCaCertificate" | "elasticsearchCheckPassword">> = {},
): StackOutputs {
  const unused = "http://127.0.0.1:9"; // discard port: a check that should not run there fails loudly
  return {
    gatewayUrl: unused,
    kibanaUrl: unused,
    grafanaUrl: unused,
    prometheusUrl: unused,
    elasticsearchUrl: unused,
    ...urls,
    hosts: {
      logging: { publicIp: "203.0.113.10", privateIp: "10.42.1.10" },
      web: { publicIp: "203.0.113.11", privateIp: "10.42.1.11" },
      kafka: { publicIp: "203.0.113.12", privateIp: "10.42.1.12" },
      monitoring: { publicIp: "203.0.113.13", privateIp: "10.42.1.13" },
    },
    sshUser: "ubuntu",
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----test",
    grafanaAdminUser: "admin",
    grafanaAdminPassword: "test-password",
    monitoringOperatorUser: "operator",
    monitoringOperatorPassword: "operator-password",
    tunnels: [],
    environment: "dev",
    elasticsearchCaCertificate: "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n",
    kibanaUser: "operator",
    kibanaPassword: "operator-password",
    elasticsearchCheckPassword: "check-password",
    ingest: {
      address: "203.0.113.11", privateAddress: "10.42.1.11", forwardPort: 24224, otlpPort: 4318, localForwardPort: 24224,
      caCertificate: "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n", sources: ["platform", "team-a"], allowedCidrs: [],
    },
    ingestCredentials: {
      sharedKey: "shared-key",
      sources: Object.fromEntries(["platform", "team-a"].map((source) => [source, {
        password: `${source}-password`, clientCertificate: "-----BEGIN CERTIFICATE-----\ntest", clientKey: "-----BEGIN PRIVATE KEY-----\ntest",
      }])),
    },
    ...secrets,
  };
}

/** The same outputs for a platform of 3 logging and 3 kafka members (hosts keyed by member name, as the program exports). */
export function clusterOutputs(outputs: StackOutputs = testOutputs()): StackOutputs {
  const further = (role: "logging" | "kafka", octet: number) => [2, 3].map((n) => [`${role}-${n}`, { publicIp: `203.0.113.${octet + n}`, privateIp: `10.42.2.${octet + n}` }]);
  return { ...outputs, hosts: { ...outputs.hosts, ...Object.fromEntries([...further("logging", 20), ...further("kafka", 30)]) } };
}

/** An Elasticsearch client answered by `@elastic/elasticsearch-mock` (no server). */
export function mockedElasticsearch(): { mock: Mock; es: Client } {
  const mock = new Mock();
  return { mock, es: new Client({ node: "http://127.0.0.1:9200", Connection: mock.getConnection(), maxRetries: 0 }) };
}

const FIXTURES = path.join(__dirname, "..", "fixtures", "verify");

/** Small provisioning files standing in for the repo's (helpers D and E write the real ones). */
export const FIXTURE_DIRS: ProvisioningDirs = {
  kibanaObjects: path.join(FIXTURES, "kibana"),
  grafanaDatasources: path.join(FIXTURES, "grafana", "datasources"),
  grafanaDashboards: path.join(FIXTURES, "grafana", "dashboards"),
  indexTemplates: path.join(FIXTURES, "logging-setup"),
};
