/**
 * Every container image version, in one place. Rendered into each bundle's `.env`, where the compose files read
 * them as `${VAR}` in their `image:` lines. Exact versions only: a test rejects `latest` and floating tags.
 */
export const IMAGE_VERSIONS = {
  ELASTIC_VERSION: "8.19.7", // Elasticsearch and Kibana move together
  FLUENT_BIT_VERSION: "5.1.1", // matches the schema in test/fixtures/fluent-bit
  KAFKA_VERSION: "4.1.1",
  KAFKA_EXPORTER_VERSION: "v1.9.0",
  ES_EXPORTER_VERSION: "v1.9.0",
  NGINX_VERSION: "1.28.0-alpine",
  CURL_VERSION: "8.15.0",
  PROMETHEUS_VERSION: "v2.53.5",
  GRAFANA_VERSION: "12.1.1",
} as const;

export type ImageVersionKey = keyof typeof IMAGE_VERSIONS;
