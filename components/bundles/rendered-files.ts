import { AlertingConfig } from "../config/types";
import { AlertSecrets } from "../credentials/alert-receivers";
import { MonitoringCredentials, renderMonitoringSecrets } from "../credentials/monitoring";
import { TlsPems, tlsFiles } from "../credentials/tls";
import { PerRole, Role } from "../platform/roles";
import { MemberFacts } from "../platform/topology";
import { ALERTMANAGER_CONFIG_PATH, renderAlertmanagerConfig } from "./alertmanager-config";
import { renderScrapeTargets } from "./scrape-targets";

/**
 * Files the program renders into a bundle beside its `.env`: the monitoring host's scrape targets, receivers, and
 * Prometheus' and Alertmanager's web configs and client passwords.
 */
export function renderedFiles(role: Role, facts: {
  members: PerRole<MemberFacts[]>;
  alerting: AlertingConfig;
  alertSecrets: AlertSecrets;
  monitoringCredentials: MonitoringCredentials;
  /** This host's certificates: every logging host is an Elasticsearch node; Grafana, on monitoring, trusts the CA. */
  tls: TlsPems;
}): Record<string, string> {
  if (role === "logging") {
    if (!facts.tls.node) throw new Error("a logging host is an Elasticsearch node: it needs its certificate and key");
    return tlsFiles(facts.tls);
  }
  if (role !== "monitoring") return {};
  return {
    ...renderScrapeTargets(facts.members),
    ...renderMonitoringSecrets(facts.monitoringCredentials),
    [ALERTMANAGER_CONFIG_PATH]: renderAlertmanagerConfig(facts.alerting, facts.alertSecrets),
    ...tlsFiles({ caCert: facts.tls.caCert }),
  };
}
