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
  fluentBitMetrics: 2020,
  kafkaExporter: 9308,
  elasticsearchExporter: 9114,
} as const;

export type PortName = keyof typeof PORTS;
