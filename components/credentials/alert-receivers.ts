import * as pulumi from "@pulumi/pulumi";
import { AlertingConfig } from "../config/types";

/** The secret halves of the receivers: present exactly for the receivers `AlertingConfig` says are configured. */
export interface AlertSecrets {
  webhookUrl?: string;
  slackWebhookUrl?: string;
  smtpPassword?: string;
}

/** Reads the configured receivers' secrets from the stack config, as Pulumi secrets (never plain values). */
export function loadAlertSecrets(alerting: AlertingConfig, stackConfig: pulumi.Config): pulumi.Output<AlertSecrets> {
  const read = (wanted: boolean, key: string) => (wanted ? stackConfig.requireSecret(key) : undefined);
  return pulumi.secret(pulumi.all({
    webhookUrl: read(alerting.webhook, "alertWebhookUrl"),
    slackWebhookUrl: read(alerting.slack, "alertSlackWebhookUrl"),
    smtpPassword: read(alerting.email?.username !== undefined, "alertSmtpPassword"),
  }));
}
