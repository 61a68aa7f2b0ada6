/**
 * Names that cross host boundaries: Kafka topics, Elasticsearch indices, the consumer group. The bundles receive them
 * through `.env`, so a name is defined here once and the tests can compare producer, topic and consumer.
 */
const BUSINESS = "platform";
const FORMAT = "json";

/** One Kafka topic per dataset: `<business>.<dataset>.<data_type>.<environment>.<format>`. */
export function kafkaTopic(dataset: string, dataType: string, environment: string): string {
  return [BUSINESS, dataset, dataType, environment, FORMAT].join(".");
}

export interface Datasets {
  /** Gateway access logs (Kong-compatible JSON). */
  gatewayTopic: string;
  /** Every other container's log lines. */
  containersTopic: string;
  /** AWS API activity: one CloudTrail record per message, keyed by its eventID (the optional cloudtrail module). */
  cloudtrailTopic: string;
  /** The users' own services' log records, as the ingest endpoint on the web host receives them. */
  appsTopic: string;
}

export function datasets(environment: string): Datasets {
  return {
    gatewayTopic: kafkaTopic("gateway", "access", environment),
    containersTopic: kafkaTopic("containers", "logs", environment),
    cloudtrailTopic: kafkaTopic("cloudtrail", "events", environment),
    appsTopic: kafkaTopic("apps", "logs", environment),
  };
}

/** Daily indices written by the aggregator (`Logstash_Prefix` + `-YYYY.MM.DD`). */
export const INDEX_PREFIXES = { gateway: "gateway-access", containers: "containers", cloudtrail: "cloudtrail", apps: "apps" } as const;

export const KAFKA_CONSUMER_GROUP = "fluent-bit-aggregator";
