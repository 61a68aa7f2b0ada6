import { PerRole, ROLES, Role } from "../platform/roles";

/** Local folders copied to each host: the first is the bundle root, the others keep their path below it. */
export const BUNDLE_SOURCES: PerRole<readonly string[]> = {
  logging: ["hosts/logging", "forwarder", "provisioning/kibana", "checks"],
  web: ["hosts/web", "forwarder", "loadgen", "checks"],
  kafka: ["hosts/kafka", "forwarder", "checks"],
  monitoring: ["hosts/monitoring", "forwarder", "provisioning/grafana"],
};

/**
 * Bundles that must be up before another starts: the gateway's forwarder and the aggregators need the topics that the
 * kafka bundle creates (auto-creation is off), or they wait for librdkafka to notice them. Monitoring does not wait,
 * so that it comes up even when the kafka bundle fails: its forwarder holds its records until the topics exist
 * (forwarder/fluent-bit.yaml).
 */
export const BUNDLE_STARTS_AFTER: PerRole<readonly Role[]> = {
  kafka: [],
  logging: ["kafka"],
  web: ["kafka"],
  monitoring: [],
};

/** The roles in an order in which every role comes after those it starts after (one level of dependencies). */
export const ROLES_IN_START_ORDER: readonly Role[] = [...ROLES].sort((a, b) => BUNDLE_STARTS_AFTER[a].length - BUNDLE_STARTS_AFTER[b].length);
