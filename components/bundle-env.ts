import { Role, PerRole } from "./roles";
import { IMAGE_VERSIONS } from "./versions";
import { PORTS } from "./ports";
import { datasets, KAFKA_CONSUMER_GROUP } from "./naming";
import { AlertingConfig, PlatformConfig } from "./config";
import { renderScrapeTargets } from "./scrape-targets";
import { ALERTMANAGER_CONFIG_PATH, AlertSecrets, renderAlertmanagerConfig } from "./alertmanager";

/** Local folders copied to each host: the first is the bundle root, the others keep their path below it. */
export const BUNDLE_SOURCES: PerRole<readonly string[]> = {
  logging: ["hosts/logging", "provisioning/kibana", "checks"],
  web: ["hosts/web", "loadgen", "checks"],
  kafka: ["hosts/kafka", "checks"],
  monitoring: ["hosts/monitoring", "provisioning/grafana"],
};

/**
 * Bundles that must be up before another starts: the forwarder and the aggregator need the topics that the kafka
 * bundle creates (auto-creation is off), or they wait minutes for librdkafka to notice them.
 */
export const BUNDLE_STARTS_AFTER: PerRole<readonly Role[]> = {
  kafka: [],
  logging: ["kafka"],
  web: ["kafka"],
  monitoring: [],
};

/** What the program knows at deploy time that the bundles need: config values plus what AWS assigned. */
export type EnvFacts = Pick<
  PlatformConfig,
  | "environment" | "elasticsearchHeapGiB" | "elasticsearchRetentionDays" | "kafkaPartitions" | "kafkaRetentionHours"
  | "prometheusRetentionDays" | "loadgenRequestsPerSecond" | "grafanaComDashboards"
> & {
  privateIps: PerRole<string>;
  grafanaAdminPassword: string;
  kibanaEncryptionKeys: KibanaEncryptionKeys;
  /** Kibana as the operator opens it (the logging host's public address): alert annotations link to its logs. */
  kibanaUrl: string;
};

/**
 * Kibana's encryption keys (each at least 32 characters): saved-object encryption (alerting rules and connectors),
 * reporting, and session cookies. Generated once and kept in the stack: a changed key makes what it encrypted unreadable.
 */
export interface KibanaEncryptionKeys {
  encryptedSavedObjects: string;
  reporting: string;
  security: string;
}

/**
 * The variables of one host's `.env`. Compose interpolates them, passes them to services, and Fluent Bit (`${VAR}`)
 * and Grafana provisioning (`$VAR`) read them from the container environment. Bundles never hard-code an IP.
 */
export function bundleEnv(role: Role, facts: EnvFacts): Record<string, string> {
  const topics = datasets(facts.environment);
  const common: Record<string, string> = {
    COMPOSE_PROJECT_NAME: role,
    HOST_ROLE: role,
    HOST_PRIVATE_IP: facts.privateIps[role],
    ENVIRONMENT: facts.environment,
    ...IMAGE_VERSIONS,
    KAFKA_BOOTSTRAP_SERVERS: `${facts.privateIps.kafka}:${PORTS.kafka}`,
    KAFKA_TOPIC_GATEWAY: topics.gatewayTopic,
    KAFKA_TOPIC_CONTAINERS: topics.containersTopic,
  };
  const perRole: PerRole<Record<string, string>> = {
    web: {
      LOADGEN_REQUESTS_PER_SECOND: String(facts.loadgenRequestsPerSecond),
    },
    // Only the topic setup and the aggregator name the CloudTrail topic; the web host's .env stays as it was.
    kafka: {
      KAFKA_TOPIC_CLOUDTRAIL: topics.cloudtrailTopic,
      KAFKA_PARTITIONS: String(facts.kafkaPartitions),
      KAFKA_RETENTION_HOURS: String(facts.kafkaRetentionHours),
    },
    logging: {
      ES_HEAP_SIZE: `${facts.elasticsearchHeapGiB}g`,
      ES_RETENTION_DAYS: String(facts.elasticsearchRetentionDays),
      KAFKA_CONSUMER_GROUP,
      KAFKA_TOPIC_CLOUDTRAIL: topics.cloudtrailTopic,
      KIBANA_ENCRYPTED_SAVED_OBJECTS_KEY: facts.kibanaEncryptionKeys.encryptedSavedObjects,
      KIBANA_REPORTING_KEY: facts.kibanaEncryptionKeys.reporting,
      KIBANA_SECURITY_KEY: facts.kibanaEncryptionKeys.security,
    },
    monitoring: {
      ELASTICSEARCH_URL: `http://${facts.privateIps.logging}:${PORTS.elasticsearch}`,
      PROMETHEUS_RETENTION_DAYS: String(facts.prometheusRetentionDays),
      GRAFANA_ADMIN_PASSWORD: facts.grafanaAdminPassword,
      // Prometheus expands it into the `kibana_url` external label that alert annotations build log links from.
      KIBANA_URL: facts.kibanaUrl,
      GRAFANA_COM_DASHBOARDS: facts.grafanaComDashboards.map((d) => `${d.id}:${d.revision}`).join(" "),
    },
  };
  return { ...common, ...perRole[role] };
}

/** `.env` text; values are single-line by construction, quoted so compose takes them literally. */
export function renderDotEnv(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([key, value]) => {
      if (/[\n\r']/.test(value)) throw new Error(`.env value for ${key} must be one line without single quotes`);
      return `${key}='${value}'`;
    })
    .join("\n") + "\n";
}

/** Files the program renders into a bundle beside its `.env`: the monitoring host's scrape targets and receivers. */
export function renderedFiles(role: Role, facts: { privateIps: PerRole<string>; alerting: AlertingConfig; alertSecrets: AlertSecrets }): Record<string, string> {
  if (role !== "monitoring") return {};
  return {
    ...renderScrapeTargets(facts.privateIps),
    [ALERTMANAGER_CONFIG_PATH]: renderAlertmanagerConfig(facts.alerting, facts.alertSecrets),
  };
}
