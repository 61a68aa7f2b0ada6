import { PlatformConfig } from "../config/types";
import { KibanaEncryptionKeys } from "../credentials/credentials";
import { ES_ACCOUNTS, EsAccount, passwordVariable } from "../credentials/elasticsearch";
import { OperatorUrls } from "../targets/operator-access";
import { datasets, KAFKA_CONSUMER_GROUP } from "../platform/naming";
import { PORTS } from "../platform/ports";
import { Role, PerRole } from "../platform/roles";
import { KAFKA_CONTROLLERS, Member, MemberFacts } from "../platform/topology";
import { IMAGE_VERSIONS } from "../platform/versions";
import { ES_UPSTREAM_CONTAINER_PATH } from "./rendered-files";

/** What the program knows at deploy time that the bundles need: config values plus what AWS assigned. */
export type EnvFacts = Pick<
  PlatformConfig,
  | "environment" | "elasticsearchHeapGiB" | "elasticsearchRetentionDays" | "kafkaPartitions" | "kafkaRetentionHours"
  | "prometheusRetentionDays" | "loadgenRequestsPerSecond" | "grafanaComDashboards" | "elasticsearchShards" | "target"
> & {
  /** Every member of every role, first members first: what the hosts' addresses and zones are. */
  members: PerRole<MemberFacts[]>;
  grafanaAdminPassword: string;
  kibanaEncryptionKeys: KibanaEncryptionKeys;
  operatorUrls: OperatorUrls;
  /** Grafana's password for Prometheus and Alertmanager (user `grafana`). */
  monitoringGrafanaPassword: string;
  /** One password per Elasticsearch account (components/credentials/elasticsearch.ts). */
  elasticsearchPasswords: Record<EsAccount, string>;
};


/**
 * The aggregator's kafka input takes at most this much per partition and fetch. Fluent Bit sets a fetch's limit
 * (`fetch.max.bytes`) 512 bytes under the largest response librdkafka accepts (`receive.message.max.bytes`, both from
 * its 4M `buffer_max_size`; plugins/in_kafka/in_kafka.c), and a full fetch's framing (~45 bytes per partition) goes
 * over it: librdkafka then refuses the same response forever and the aggregator stops (confluentinc/librdkafka#4915,
 * reproduced with a backlog on two topics). Its partitions' limits, plus one batch beyond a limit (up to 1 MB),
 * must stay under the fetch's: 256 KiB each while they fit, which holds the default 3 partitions per topic.
 */
export function kafkaPartitionFetchBytes(topics: number, partitions: number, aggregators: number): number {
  const RESPONSE_LIMIT = 4_000_000 - 512;
  const LARGEST_BATCH = 1_048_576;
  const assigned = topics * Math.ceil(partitions / aggregators);
  return Math.min(262_144, Math.floor((RESPONSE_LIMIT - LARGEST_BATCH) / Math.max(1, assigned - 1)));
}

/** The compose profile of the services that run once per cluster, on its first member. */
export const FIRST_MEMBER_PROFILE = "first-member";

/**
 * The Kafka cluster's id. A single broker keeps the id (and data volume) it always had; a cluster of 3 or more is a
 * different KRaft cluster (a quorum of three controllers cannot be grown from a one-voter static quorum), with its
 * own id and volume.
 */
export const KAFKA_CLUSTER_IDS = { single: "HFO33X-YR3SiFaP7t4PrfA", cluster: "p3Ts8bQ1QmS3vq0J0u9F4w" } as const;


/**
 * The variables of one host's `.env`. Compose interpolates them, passes them to services, and Fluent Bit (`${VAR}`)
 * and Grafana provisioning (`$VAR`) read them from the container environment. Bundles never hard-code an IP.
 */
export function bundleEnv(member: Member, facts: EnvFacts): Record<string, string> {
  const role = member.role;
  const topics = datasets(facts.environment);
  const self = facts.members[role][member.index];
  const first = (of: Role) => facts.members[of][0];
  const brokers = facts.members.kafka;
  const esNodes = facts.members.logging;
  const firstMember = member.index === 0;
  const common: Record<string, string> = {
    COMPOSE_PROJECT_NAME: role,
    // The one-off services (setup jobs, Kibana, exporters) run on the first member of a cluster only.
    COMPOSE_PROFILES: firstMember ? FIRST_MEMBER_PROFILE : "",
    HOST_ROLE: role,
    HOST_MEMBER: member.name,
    HOST_PRIVATE_IP: self.privateIp,
    HOST_ZONE: self.zone,
    ENVIRONMENT: facts.environment,
    ...IMAGE_VERSIONS,
    KAFKA_BOOTSTRAP_SERVERS: brokers.map((broker) => `${broker.privateIp}:${PORTS.kafka}`).join(","),
    KAFKA_TOPIC_GATEWAY: topics.gatewayTopic,
    KAFKA_TOPIC_CONTAINERS: topics.containersTopic,
    KAFKA_TOPIC_APPS: topics.appsTopic,
  };
  const password = (account: EsAccount) => ({ [passwordVariable(account)]: facts.elasticsearchPasswords[account] });
  // The UIs that operators reach only through the SSH tunnel are published on the host's loopback, where the tunnel
  // ends, so they stay closed even to a security-group mistake. The docker target's host container forwards its own
  // published ports from its network address, so there they listen on every address of the (private) host.
  const uiPublishAddress = facts.target === "aws" ? "127.0.0.1" : "0.0.0.0";
  const replicationFactor = Math.min(3, brokers.length);
  const controllers = brokers.slice(0, KAFKA_CONTROLLERS);
  const kafkaController = member.index < KAFKA_CONTROLLERS;
  const perRole: PerRole<() => Record<string, string>> = {
    web: () => ({
      LOADGEN_REQUESTS_PER_SECOND: String(facts.loadgenRequestsPerSecond),
    }),
    // Only the topic setup and the aggregator name the CloudTrail topic; the web host's .env stays as it was.
    kafka: () => ({
      KAFKA_TOPIC_CLOUDTRAIL: topics.cloudtrailTopic,
      KAFKA_PARTITIONS: String(facts.kafkaPartitions),
      KAFKA_RETENTION_HOURS: String(facts.kafkaRetentionHours),
      KAFKA_CLUSTER_ID: brokers.length === 1 ? KAFKA_CLUSTER_IDS.single : KAFKA_CLUSTER_IDS.cluster,
      // A volume per cluster id: a broker never meets storage formatted for the other one. The single broker's is the
      // volume it always had (project `kafka`, key `kafka-data`).
      KAFKA_DATA_VOLUME: brokers.length === 1 ? "kafka_kafka-data" : `kafka_kafka-data-${KAFKA_CLUSTER_IDS.cluster}`,
      KAFKA_NODE_ID: String(member.index + 1),
      KAFKA_PROCESS_ROLES: kafkaController ? "broker,controller" : "broker",
      // Clients, the other brokers and this bundle's own services all use the private IP (one address per broker
      // that means the same from every host); a broker-only node must not listen on the controller listener.
      KAFKA_LISTENERS: [`EXTERNAL://:${PORTS.kafka}`, ...(kafkaController ? [`CONTROLLER://:${PORTS.kafkaController}`] : [])].join(","),
      KAFKA_ADVERTISED_LISTENERS: [
        `EXTERNAL://${self.privateIp}:${PORTS.kafka}`,
        ...(kafkaController ? [`CONTROLLER://${self.privateIp}:${PORTS.kafkaController}`] : []),
      ].join(","),
      // What the healthcheck asks ApiVersions on: a combined node of a cluster answers on its controller listener
      // before a quorum exists (its broker waits for one, and members start one at a time); every other node is
      // healthy once its broker serves.
      KAFKA_HEALTHCHECK_PORT: String(kafkaController && brokers.length > 1 ? PORTS.kafkaController : PORTS.kafka),
      KAFKA_CONTROLLER_QUORUM_VOTERS: controllers.map((c, i) => `${i + 1}@${c.privateIp}:${PORTS.kafkaController}`).join(","),
      KAFKA_BROKER_RACK: self.zone,
      KAFKA_REPLICATION_FACTOR: String(replicationFactor),
      KAFKA_MIN_INSYNC_REPLICAS: String(replicationFactor === 3 ? 2 : 1),
    }),
    logging: () => ({
      UI_PUBLISH_ADDRESS: uiPublishAddress,
      ES_HEAP_SIZE: `${facts.elasticsearchHeapGiB}g`,
      ES_RETENTION_DAYS: String(facts.elasticsearchRetentionDays),
      ES_NODE_NAME: member.name,
      // Every node but this one, by transport address; empty for a single node (discovery.type single-node).
      ES_SEED_HOSTS: esNodes.filter((node) => node.name !== member.name).map((node) => `${node.privateIp}:${PORTS.elasticsearchTransport}`).join(","),
      // The nodes that bootstrap a new cluster; the node's start script applies it only to a node that has never been
      // part of a cluster, while no other member reports a formed one.
      ES_INITIAL_MASTER_NODES: esNodes.length === 1 ? "" : esNodes.map((node) => node.name).join(","),
      ES_CLUSTER_MEMBERS: esNodes.map((node) => node.privateIp).join(","),
      // The aggregator's es outputs write to every node of a cluster (the rendered upstream file); empty leaves
      // `upstream` unset (src/flb_output.c), so a single node's outputs write to `elasticsearch` as they always did.
      ES_UPSTREAM_FILE: esNodes.length > 1 ? ES_UPSTREAM_CONTAINER_PATH : "",
      ES_SHARDS: String(facts.elasticsearchShards),
      // One replica as soon as there is another node to hold it.
      ES_REPLICAS: esNodes.length > 1 ? "1" : "0",
      KAFKA_CONSUMER_GROUP,
      KAFKA_TOPIC_CLOUDTRAIL: topics.cloudtrailTopic,
      KAFKA_PARTITION_FETCH_BYTES: String(kafkaPartitionFetchBytes(Object.keys(topics).length, facts.kafkaPartitions, esNodes.length)),
      KIBANA_ENCRYPTED_SAVED_OBJECTS_KEY: facts.kibanaEncryptionKeys.encryptedSavedObjects,
      KIBANA_REPORTING_KEY: facts.kibanaEncryptionKeys.reporting,
      KIBANA_SECURITY_KEY: facts.kibanaEncryptionKeys.security,
      // Every account's: the setup on each member runs security.sh, which sets them all; the bundle's clients
      // each get their own from compose.
      ...Object.assign({}, ...(Object.keys(ES_ACCOUNTS) as EsAccount[]).map(password)),
    }),
    monitoring: () => ({
      UI_PUBLISH_ADDRESS: uiPublishAddress,
      // The node's certificate names its private IP; Grafana logs in as grafana.
      ELASTICSEARCH_URL: `https://${first("logging").privateIp}:${PORTS.elasticsearch}`,
      ...password("grafana"),
      PROMETHEUS_RETENTION_DAYS: String(facts.prometheusRetentionDays),
      GRAFANA_ADMIN_PASSWORD: facts.grafanaAdminPassword,
      // Grafana's datasources log in to Prometheus and Alertmanager with it (provisioning/grafana/datasources).
      MONITORING_GRAFANA_PASSWORD: facts.monitoringGrafanaPassword,
      // Prometheus expands it into the `kibana_url` external label that alert annotations build log links from.
      KIBANA_URL: facts.operatorUrls.kibana,
      // Their own links (Prometheus' alert sources, Alertmanager's notifications, Grafana's redirects and shares) are
      // built on these, not on the container's hostname, which no browser resolves.
      PROMETHEUS_URL: facts.operatorUrls.prometheus,
      ALERTMANAGER_URL: facts.operatorUrls.alertmanager,
      GRAFANA_URL: facts.operatorUrls.grafana,
      GRAFANA_COM_DASHBOARDS: facts.grafanaComDashboards.map((d) => `${d.id}:${d.revision}`).join(" "),
    }),
  };
  return { ...common, ...perRole[role]() };
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
