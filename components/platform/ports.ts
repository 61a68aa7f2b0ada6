import { Role } from "./roles";

/** Every port the platform uses, in one place: security groups, URLs and rendered targets read them from here. */
export const PORTS = {
  ssh: 22,
  gateway: 80,
  kibana: 5601,
  grafana: 3000,
  prometheus: 9090,
  alertmanager: 9093,
  elasticsearch: 9200,
  /** Between the Elasticsearch nodes of a cluster. */
  elasticsearchTransport: 9300,
  kafka: 9092,
  /** KRaft controllers: between the brokers of a cluster (and each broker's own controller). */
  kafkaController: 9093,
  nodeExporter: 9100,
  /** The aggregator's Fluent Bit HTTP server (metrics, health), on the logging hosts. */
  aggregatorMetrics: 2020,
  /** Every host's forwarder's, beside the aggregator on a logging host. */
  forwarderMetrics: 2021,
  /** The ingest endpoint (web host): the users' services send their logs over the Fluent forward protocol, TLS. */
  ingestForward: 24224,
  /** The ingest endpoint's OpenTelemetry logs over HTTP, TLS with a client certificate. */
  ingestOtlp: 4318,
  /** The ingest endpoint's Fluent Bit HTTP server (metrics), beside the forwarder's 2021. */
  ingestMetrics: 2022,
  /** The forwarder's Prometheus exporter of counters it derives from log lines (the ingest endpoint's refusals). */
  forwarderLogMetrics: 2023,
  kafkaExporter: 9308,
  elasticsearchExporter: 9114,
} as const;

export type PortName = keyof typeof PORTS;

/**
 * The admin UIs and APIs. No security group opens them to the internet: operators reach them through the SSH tunnel
 * (`npm run tunnel`) at 127.0.0.1 on the same port, on the first member of the role; the docker target publishes
 * them on 127.0.0.1 directly, which is the same local end.
 */
export const OPERATOR_UI_PORTS = [
  { role: "logging", service: "kibana" },
  { role: "logging", service: "elasticsearch" },
  { role: "monitoring", service: "grafana" },
  { role: "monitoring", service: "prometheus" },
  { role: "monitoring", service: "alertmanager" },
] as const satisfies readonly { role: Role; service: PortName }[];

/** Whether operators reach this service through the tunnel (or the docker target's loopback). */
export const isOperatorUi = (service: PortName): boolean => OPERATOR_UI_PORTS.some((ui) => ui.service === service);
