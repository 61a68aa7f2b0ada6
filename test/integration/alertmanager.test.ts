import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { AlertingConfig } from "../../components/config/types";
import { AlertSecrets } from "../../components/credentials/alert-receivers";
import { renderAlertmanagerConfig } from "../../components/bundles/alertmanager-config";
import { CONTAINER_SECRETS_DIR, SECRET_FILES, monitoringSecretsDir, renderMonitoringSecrets } from "../../components/credentials/monitoring";
import { interpolate, loadCompose } from "../helpers/compose";
import { SAMPLE_MONITORING_CREDENTIALS, sampleEnv } from "../helpers/sample-facts";
import { loadAlertRules, loadPrometheusConfig } from "../helpers/monitoring";
import { freePort, Processes, waitFor } from "../helpers/local-servers";
import { runTool } from "../helpers/tools";

/**
 * Debian's amtool (prometheus-alertmanager 0.25; the container runs a newer release) on the config the program
 * renders, and a live loopback chain: Prometheus with the project's alerting settings evaluates a project rule,
 * the Debian Alertmanager routes it with the rendered config, and a local webhook receives the notification.
 */

const EMAIL = { to: "ops@example.com", from: "alerts@example.com", smarthost: "smtp.example.com:587" };
const SECRETS: Required<AlertSecrets> = {
  webhookUrl: "https://hooks.example.com/alerts",
  slackWebhookUrl: "https://hooks.slack.com/services/T000/B000/XXXX",
  smtpPassword: "smtp-password",
};

/** Every mix of the three optional receivers, e-mail with and without an SMTP login. */
function receiverMixes(): { name: string; alerting: AlertingConfig }[] {
  const mixes: { name: string; alerting: AlertingConfig }[] = [];
  for (const webhook of [false, true]) {
    for (const slack of [false, true]) {
      for (const email of [undefined, EMAIL, { ...EMAIL, username: "alerts" }]) {
        const parts = [webhook && "webhook", slack && "slack", email && (email === EMAIL ? "email" : "email+login")].filter(Boolean);
        mixes.push({ name: parts.join(", ") || "no receiver", alerting: { webhook, slack, ...(email ? { email } : {}) } });
      }
    }
  }
  return mixes;
}

describe("alertmanager: amtool check-config on the rendered config", () => {
  let dir: string;
  before(() => {
    runTool("amtool", ["--version"], "prometheus-alertmanager");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "alertmanager-config-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const { name, alerting } of receiverMixes()) {
    it(`accepts ${name}`, () => {
      const file = path.join(dir, `${name.replace(/\W+/g, "-")}.yml`);
      fs.writeFileSync(file, renderAlertmanagerConfig(alerting, SECRETS));
      const result = runTool("amtool", ["check-config", file], "prometheus-alertmanager");
      assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
      const integrations = [alerting.webhook && "webhook_configs", alerting.slack && "slack_configs", alerting.email && "email_configs"].filter(Boolean);
      assert.match(result.stdout, /SUCCESS/);
      assert.match(result.stdout, /- 1 receivers/);
      for (const integration of integrations) assert.ok(fs.readFileSync(file, "utf8").includes(`${integration}:`), integration as string);
    });
  }
});

interface WebhookMessage {
  receiver: string;
  status: string;
  externalURL: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; generatorURL: string }[];
}

/** The compose service's --web.external-url, with the sample .env's URL in it. */
const externalUrlFlag = (service: "prometheus" | "alertmanager") =>
  (loadCompose("monitoring").services[service].command as string[])
    .filter((arg) => arg.startsWith("--web.external-url="))
    .map((arg) => interpolate(arg, sampleEnv("monitoring")));

describe("alertmanager: a rule fires, Prometheus logs in to Alertmanager, which routes it to a local webhook (loopback)", () => {
  const procs = new Processes();
  const received: WebhookMessage[] = [];
  let dir: string;
  let webhook: http.Server;
  const KIBANA_URL = "http://198.51.100.10:5601";
  let savedKibanaUrl: string | undefined;

  before(async function () {
    this.timeout(60_000);
    runTool("prometheus", ["--version"], "prometheus");
    runTool("prometheus-alertmanager", ["--version"], "prometheus-alertmanager");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "alertmanager-live-"));
    const [hookPort, amPort, promPort, deadPort] = await distinctPorts(4);

    webhook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        received.push(JSON.parse(body) as WebhookMessage);
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => webhook.listen(hookPort, "127.0.0.1", resolve));

    fs.writeFileSync(path.join(dir, "alertmanager.yml"),
      renderAlertmanagerConfig({ webhook: true, slack: false }, { webhookUrl: `http://127.0.0.1:${hookPort}/alerts` }));
    // Both servers' rendered secrets (web configs, Prometheus' own password), as laid out in the bundle.
    for (const [file, content] of Object.entries(renderMonitoringSecrets(SAMPLE_MONITORING_CREDENTIALS))) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content);
    }
    procs.start(dir, "alertmanager", "prometheus-alertmanager", [
      `--config.file=${path.join(dir, "alertmanager.yml")}`, `--storage.path=${path.join(dir, "am-data")}`,
      `--web.listen-address=127.0.0.1:${amPort}`, "--cluster.listen-address=",
      `--web.config.file=${path.join(dir, monitoringSecretsDir("alertmanager"), SECRET_FILES.webConfig)}`,
      ...externalUrlFlag("alertmanager"),
    ]);

    // The project's TargetDown rule as written, only without its 2-minute `for`, on a target nobody serves.
    const targetDown = loadAlertRules().find((r) => r.alert === "TargetDown");
    assert.ok(targetDown);
    fs.mkdirSync(path.join(dir, "rules"));
    fs.writeFileSync(path.join(dir, "rules", "alerts.yml"), stringify({ groups: [{ name: "targets", rules: [{ ...targetDown, for: "0s" }] }] }));
    const project = loadPrometheusConfig();
    assert.ok(project.alerting, "prometheus.yml sends alerts to Alertmanager");
    // The project's Alertmanager login, with the password file the container reads at its path here.
    const [alertmanager] = project.alerting.alertmanagers as unknown as { basic_auth: { username: string; password_file: string } }[];
    const passwordFile = path.join(dir, monitoringSecretsDir("prometheus"), path.posix.relative(CONTAINER_SECRETS_DIR, alertmanager.basic_auth.password_file));
    fs.writeFileSync(path.join(dir, "prometheus.yml"), stringify({
      ...project,
      alerting: { alertmanagers: [{ ...alertmanager, basic_auth: { ...alertmanager.basic_auth, password_file: passwordFile }, static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [{ job_name: "node", static_configs: [{ targets: [`127.0.0.1:${deadPort}`], labels: { role: "web", member: "web" } }] }],
    }));
    // The feature flags of the compose service, and KIBANA_URL in the environment as compose passes it.
    const command = loadCompose("monitoring").services.prometheus.command as string[];
    const features = command.filter((arg) => arg.startsWith("--enable-feature="));
    savedKibanaUrl = process.env.KIBANA_URL;
    process.env.KIBANA_URL = KIBANA_URL;
    procs.start(dir, "prometheus", "prometheus", [
      `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "prom-data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`, ...features, ...externalUrlFlag("prometheus"),
    ]);
    assert.equal((await fetch(`http://127.0.0.1:${amPort}/-/ready`).catch(() => undefined))?.ok ?? false, false);
    const operator = SAMPLE_MONITORING_CREDENTIALS.operator.password;
    const headers = { authorization: `Basic ${Buffer.from(`operator:${operator}`).toString("base64")}` };
    await waitFor("Alertmanager and Prometheus to be ready", 30_000, async () =>
      (await fetch(`http://127.0.0.1:${amPort}/-/ready`, { headers })).ok && (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok);
  });

  after(async () => {
    await procs.stopAll();
    if (savedKibanaUrl === undefined) delete process.env.KIBANA_URL;
    else process.env.KIBANA_URL = savedKibanaUrl;
    await new Promise((resolve) => webhook?.close(resolve));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("delivers TargetDown with the project's summary, the stack's Kibana URL label and links on the operator's URLs", async function () {
    // One scrape (15 s) and evaluation (15 s), then the rendered route's group_wait (30 s); bounded at 150 s.
    this.timeout(170_000);
    await waitFor("a webhook notification", 150_000, async () => received.length > 0);
    const [message] = received;
    assert.equal(message.receiver, "operators");
    assert.equal(message.status, "firing");
    const [alert] = message.alerts;
    assert.equal(alert.labels.alertname, "TargetDown");
    assert.equal(alert.labels.kibana_url, KIBANA_URL);
    assert.match(alert.annotations.summary, /^node on the web host \(127\.0\.0\.1:\d+\) is not answering scrapes$/);
    // The links a notification carries, on the URLs the operator opens rather than the containers' hostnames.
    assert.equal(message.externalURL, sampleEnv("monitoring").ALERTMANAGER_URL);
    assert.ok(alert.generatorURL.startsWith(`${sampleEnv("monitoring").PROMETHEUS_URL}/graph?`), alert.generatorURL);
  });
});

async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count && attempt < 50; attempt++) ports.add(await freePort());
  assert.equal(ports.size, count, "could not find free loopback ports");
  return [...ports];
}
