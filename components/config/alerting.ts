import { AlertEmail, AlertingConfig } from "./types";
import { ConfigErrors, ConfigSource, parseJson } from "./source";

/** A secret's value never appears in an error: only its shape, enough to spot a pasted wrong thing. */
const redacted = (secret: string) => `(secret, ${secret.length} characters${/^\w+:\/\//.test(secret) ? `, scheme ${secret.split(":")[0]}` : ""})`;

function isHttpUrl(value: string, httpsOnly: boolean): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || (!httpsOnly && url.protocol === "http:")) && url.hostname !== "";
  } catch {
    return false;
  }
}

const EMAIL = /^[^\s@,<>]+@[^\s@,<>]+\.[^\s@,<>]+$/;
const SMARTHOST = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export function parseAlerting(source: ConfigSource, errors: ConfigErrors): AlertingConfig {
  const url = (key: string, httpsOnly: boolean): boolean => {
    const value = source.get(key);
    if (value === undefined) return false;
    if (!isHttpUrl(value, httpsOnly)) {
      errors.add(key, redacted(value), `${httpsOnly ? "an https" : "an http or https"} URL, set with pulumi config set --secret ${key} <url>`);
      return false;
    }
    return true;
  };
  const alerting: AlertingConfig = { webhook: url("alertWebhookUrl", false), slack: url("alertSlackWebhookUrl", true) };

  const expected = 'an object {"to": <address>, "from": <address>, "smarthost": "<host>:<port>", "username"?: <string>}';
  const email = parseJson(source, "alertEmail", errors, expected);
  const hasPassword = source.get("alertSmtpPassword") !== undefined;
  if (email !== undefined) {
    const fields = typeof email === "object" && email !== null && !Array.isArray(email) ? (email as Record<string, unknown>) : undefined;
    const unknown = Object.keys(fields ?? {}).filter((k) => !["to", "from", "smarthost", "username"].includes(k));
    if (!fields || unknown.length > 0) {
      errors.add("alertEmail", email, expected);
    } else {
      const { to, from, smarthost, username } = fields;
      const bad = [
        ...(["to", "from"] as const).filter((k) => typeof fields[k] !== "string" || !EMAIL.test(fields[k] as string))
          .map((k) => ({ key: `alertEmail.${k}`, value: fields[k], expected: "one e-mail address such as ops@example.com" })),
        ...(typeof smarthost !== "string" || !SMARTHOST.test(smarthost) || Number(smarthost.split(":")[1]) > 65535
          ? [{ key: "alertEmail.smarthost", value: smarthost, expected: "the SMTP server as host:port, e.g. smtp.example.com:587" }] : []),
        ...(username !== undefined && (typeof username !== "string" || username === "")
          ? [{ key: "alertEmail.username", value: username, expected: "a non-empty SMTP user name, or no username for a server without login" }] : []),
      ];
      for (const problem of bad) errors.add(problem.key, problem.value, problem.expected);
      if (username !== undefined && !hasPassword) {
        errors.add("alertSmtpPassword", undefined, "the secret SMTP password of alertEmail.username (pulumi config set --secret alertSmtpPassword ...)");
      }
      if (bad.length === 0) alerting.email = { to, from, smarthost, ...(username !== undefined ? { username } : {}) } as AlertEmail;
    }
  }
  if (hasPassword && (email === undefined || (email as { username?: unknown }).username === undefined)) {
    errors.add("alertEmail.username", undefined, "the SMTP user name that alertSmtpPassword belongs to");
  }
  return alerting;
}
