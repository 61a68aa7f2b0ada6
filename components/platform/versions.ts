/**
 * Every container image version, in one place. Rendered into each bundle's `.env`, where the compose files read
 * them as `${VAR}` in their `image:` lines. Exact versions only: a test rejects `latest` and floating tags.
 */
export const IMAGE_VERSIONS = {
  ELASTIC_VERSION: "8.19.25", // Elasticsearch and Kibana move together
  // 5.1.3 for fluent/fluent-bit#12321 and #12358: a partly rejected bulk is retried with only its rejected items,
  // where 5.1.1 counts it as delivered and loses them. The configs are still validated against the 5.1.1 schema in
  // test/fixtures (a patch release keeps the 5.1 keys).
  // The release image (distroless): no -debug variant, with its shell and compilers, on any host.
  FLUENT_BIT_VERSION: "5.1.3",
  KAFKA_VERSION: "4.1.1",
  KAFKA_EXPORTER_VERSION: "v1.9.0",
  ES_EXPORTER_VERSION: "v1.11.0",
  NGINX_VERSION: "1.28.0-alpine",
  CURL_VERSION: "8.15.0",
  PROMETHEUS_VERSION: "v2.53.5",
  GRAFANA_VERSION: "12.1.1",
  ALERTMANAGER_VERSION: "v0.28.1",
  NODE_VERSION: "22.21.1-alpine3.22", // grafana.com dashboard import (hosts/monitoring/grafana-com)
} as const;

export type ImageVersionKey = keyof typeof IMAGE_VERSIONS;

/**
 * The Ubuntu 24.04 image build (Canonical's serial) every host boots from, the same for arm64 and x86_64. Fixed, so a
 * newer image never replaces a host by itself; raising it replaces every host (their data goes with them).
 */
export const UBUNTU_IMAGE_SERIAL = "20251212";
