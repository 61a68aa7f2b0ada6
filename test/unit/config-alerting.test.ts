import { strict as assert } from "assert";
import { parse } from "yaml";
import { ConfigSource } from "../../components/config/source";
import { parseConfig } from "../../components/config/parse";
import { OPERATORS_RECEIVER, renderAlertmanagerConfig } from "../../components/bundles/alertmanager-config";

const NS = "aws-log-platform";
const SLACK = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN";

function source(values: Record<string, unknown>): ConfigSource {
  const raw: Record<string, string> = { "aws:region": "eu-west-1" };
  for (const [key, value] of Object.entries(values)) raw[key] = typeof value === "string" ? value : JSON.stringify(value);
  return { get: (key) => raw[key], hasSshPrivateKey: false, stackName: "dev", namespace: NS };
}

function configError(values: Record<string, unknown>): string {
  try {
    parseConfig(source(values));
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail(`expected ${JSON.stringify(values)} to be rejected`);
}

const EMAIL = { to: "ops@example.com", from: "alerts@example.com", smarthost: "smtp.example.com:587", username: "alerts" };

describe("config: alert receivers", () => {
  it("has none by default", () => {
    assert.deepEqual(parseConfig(source({})).alerting, { webhook: false, slack: false });
  });

  it("takes a webhook, a Slack webhook and SMTP e-mail, keeping only which secrets are set", () => {
    const { alerting } = parseConfig(source({
      alertWebhookUrl: "http://10.0.0.5:8080/hook", alertSlackWebhookUrl: SLACK, alertEmail: EMAIL, alertSmtpPassword: "pw",
    }));
    assert.deepEqual(alerting, { webhook: true, slack: true, email: EMAIL });
    assert.ok(!JSON.stringify(alerting).includes("SECRETTOKEN") && !JSON.stringify(alerting).includes("10.0.0.5"));
  });

  const rejected: [string, Record<string, unknown>, RegExp][] = [
    ["a webhook that is not a URL", { alertWebhookUrl: "hooks.example.com/x" },
      /aws-log-platform:alertWebhookUrl = "\(secret, 19 characters\)": expected an http or https URL/],
    ["a Slack webhook over plain http", { alertSlackWebhookUrl: "http://hooks.slack.com/services/T/B/SECRETTOKEN" },
      /alertSlackWebhookUrl = "\(secret, \d+ characters, scheme http\)": expected an https URL/],
    ["e-mail that is not an object", { alertEmail: '"ops@example.com"' }, /alertEmail = "ops@example.com": expected an object \{"to"/],
    ["e-mail with an unknown key", { alertEmail: { ...EMAIL, port: 25 } }, /alertEmail = \{.*"port":25\}: expected an object/],
    ["a bad recipient", { alertEmail: { ...EMAIL, to: "ops" }, alertSmtpPassword: "pw" }, /alertEmail.to = "ops": expected one e-mail address/],
    ["a smarthost without port", { alertEmail: { ...EMAIL, smarthost: "smtp.example.com" }, alertSmtpPassword: "pw" },
      /alertEmail.smarthost = "smtp.example.com": expected the SMTP server as host:port/],
    ["a username without its password", { alertEmail: EMAIL }, /alertSmtpPassword = \(not set\): expected the secret SMTP password/],
    ["a password without a username", { alertEmail: { ...EMAIL, username: undefined }, alertSmtpPassword: "pw" },
      /alertEmail.username = \(not set\): expected the SMTP user name that alertSmtpPassword belongs to/],
  ];
  for (const [what, values, expected] of rejected) {
    it(`rejects ${what}, naming the key and what is expected`, () => assert.match(configError(values), expected));
  }

  it("never shows a secret's value in an error", () => {
    const message = configError({ alertSlackWebhookUrl: "http://hooks.slack.com/services/T/B/SECRETTOKEN", alertWebhookUrl: "SECRETTOKEN" });
    assert.ok(!message.includes("SECRETTOKEN"), message);
  });
});

describe("Alertmanager config (components/bundles/alertmanager-config.ts)", () => {
  const render = (values: Record<string, unknown>, secrets: Parameters<typeof renderAlertmanagerConfig>[1]) =>
    parse(renderAlertmanagerConfig(parseConfig(source(values)).alerting, secrets)) as {
      route: { receiver: string; group_by: string[] };
      receivers: Record<string, unknown>[];
    };

  it("routes everything to one receiver, empty when nothing is configured (alerts stay visible in the UIs)", () => {
    const config = render({}, {});
    assert.equal(config.route.receiver, OPERATORS_RECEIVER);
    assert.deepEqual(config.receivers, [{ name: OPERATORS_RECEIVER }]);
    // Per member: logging-2 and logging-3 down are two notifications, not one merged under "logging".
    assert.deepEqual(config.route.group_by, ["alertname", "role", "member"]);
  });

  it("puts each configured integration on that receiver, with its secret", () => {
    const [receiver] = render(
      { alertWebhookUrl: "https://hooks.example.com/a", alertSlackWebhookUrl: SLACK, alertEmail: EMAIL, alertSmtpPassword: "pw" },
      { webhookUrl: "https://hooks.example.com/a", slackWebhookUrl: SLACK, smtpPassword: "pw" },
    ).receivers as Record<string, Record<string, unknown>[]>[];
    assert.equal(receiver.webhook_configs[0].url, "https://hooks.example.com/a");
    assert.equal(receiver.slack_configs[0].api_url, SLACK);
    assert.deepEqual(
      [receiver.email_configs[0].to, receiver.email_configs[0].smarthost, receiver.email_configs[0].auth_username, receiver.email_configs[0].auth_password],
      ["ops@example.com", "smtp.example.com:587", "alerts", "pw"],
    );
  });

  it("refuses to render a configured receiver whose secret is missing", () => {
    assert.throws(() => render({ alertSlackWebhookUrl: SLACK }, {}), /Slack receiver is configured but its secret was not given/);
  });
});
