import { stringify } from "yaml";
import { AlertingConfig } from "../config/types";
import { AlertSecrets } from "../credentials/alert-receivers";
import { monitoringSecretsDir } from "../credentials/monitoring";

/**
 * Where the program renders Alertmanager's config in the monitoring bundle. It holds the receivers' URLs and SMTP
 * password, so it lives under `secrets/`, which the bundle writes with mode 0600 for the SSH user (uid 1000); the
 * compose file's one-shot `secrets` hands a copy to Alertmanager's own user (see there why), with its web config.
 */
export const ALERTMANAGER_CONFIG_PATH = `${monitoringSecretsDir("alertmanager")}/alertmanager.yml`;

/** The name of the one receiver every alert goes to; it carries each configured integration. */
export const OPERATORS_RECEIVER = "operators";

// One text for chat and mail: what fired, where to look first, and the logs link when the rule gives one.
const ALERT_LINES =
  '{{ range .Alerts }}[{{ .Status }}] {{ .Annotations.summary }}\n{{ .Annotations.runbook }}\n' +
  "{{ if .Annotations.logs }}Logs: {{ .Annotations.logs }}\n{{ end }}{{ end }}";

/**
 * Alertmanager's config: every alert to one receiver with each configured integration, grouped per alert and host.
 * With no integration configured the receiver is empty: alerts still show in Alertmanager's UI and in Grafana.
 */
export function renderAlertmanagerConfig(alerting: AlertingConfig, secrets: AlertSecrets): string {
  const missing = (what: string) => new Error(`alerting: ${what} is configured but its secret was not given`);
  const receiver: Record<string, unknown> = { name: OPERATORS_RECEIVER };
  if (alerting.webhook) {
    if (!secrets.webhookUrl) throw missing("the webhook receiver");
    receiver.webhook_configs = [{ url: secrets.webhookUrl, send_resolved: true }];
  }
  if (alerting.slack) {
    if (!secrets.slackWebhookUrl) throw missing("the Slack receiver");
    receiver.slack_configs = [{
      api_url: secrets.slackWebhookUrl,
      send_resolved: true,
      title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ with .CommonLabels.member }}{{ . }}{{ else }}the {{ .CommonLabels.role }} hosts{{ end }}',
      text: ALERT_LINES,
    }];
  }
  if (alerting.email) {
    const { to, from, smarthost, username } = alerting.email;
    if (username !== undefined && !secrets.smtpPassword) throw missing("the SMTP login");
    receiver.email_configs = [{
      to, from, smarthost, send_resolved: true, require_tls: true,
      ...(username !== undefined ? { auth_username: username, auth_password: secrets.smtpPassword } : {}),
      text: ALERT_LINES,
    }];
  }
  const config = {
    route: {
      receiver: OPERATORS_RECEIVER,
      group_by: ["alertname", "role", "member"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
    },
    receivers: [receiver],
  };
  // The header deployed hosts have (the file's path before components/ had folders): a new one would restart Alertmanager.
  return `# Rendered by the program (components/alertmanager.ts); receivers come from the stack config.\n${stringify(config)}`;
}
