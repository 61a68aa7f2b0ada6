import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/**
 * The Elasticsearch accounts, one per client. `elastic` (the built-in superuser) runs only the security setup;
 * `kibana_system` is Kibana's built-in account; the others are native users that
 * hosts/logging/setup/security/security.sh creates with the roles of hosts/logging/setup/security/users.
 */
export const ES_ACCOUNTS = {
  elastic: "elastic",
  kibanaSystem: "kibana_system",
  fluentBit: "fluent-bit",
  exporter: "es-exporter",
  grafana: "grafana",
  setup: "platform-setup",
  kibanaImport: "kibana-import",
  check: "platform-check",
  operator: "operator",
} as const;

export type EsAccount = keyof typeof ES_ACCOUNTS;

/** Letters and digits only: the value goes into JSON bodies, `.env` and URLs without escaping; 32 of them are plenty. */
export const ES_PASSWORD_LENGTH = 32;

/**
 * One random password per account, kept in the stack state (stable across deploys) and a Pulumi secret everywhere it
 * flows. security.sh sets every account's password to these values on every deploy.
 */
export function elasticsearchPasswords(name: string, opts?: pulumi.CustomResourceOptions): Record<EsAccount, pulumi.Output<string>> {
  return Object.fromEntries(
    (Object.keys(ES_ACCOUNTS) as EsAccount[]).map((account) => [
      account,
      pulumi.secret(new random.RandomPassword(`${name}-es-${ES_ACCOUNTS[account]}`, { length: ES_PASSWORD_LENGTH, special: false }, opts).result),
    ]),
  ) as Record<EsAccount, pulumi.Output<string>>;
}

/** The `.env` variable that carries an account's password to security.sh (`ES_PASSWORD_FLUENT_BIT`, ...). */
export const passwordVariable = (account: EsAccount): string => `ES_PASSWORD_${ES_ACCOUNTS[account].toUpperCase().replace(/-/g, "_")}`;
