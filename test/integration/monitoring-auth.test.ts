import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { CONTAINER_SECRETS_DIR, MONITORING_USERS, MonitoringServer, SECRET_FILES, WEB_USERS, monitoringSecretsDir, renderMonitoringSecrets } from "../../components/credentials/monitoring";
import { loadCompose } from "../helpers/compose";
import { freePort, Processes, waitFor } from "../helpers/local-servers";
import { SAMPLE_MONITORING_CREDENTIALS } from "../helpers/sample-facts";
import { runTool } from "../helpers/tools";

/**
 * The web configs the program renders, on Debian's promtool (2.42), prometheus and prometheus-alertmanager (0.25) on
 * 127.0.0.1: each server lets in exactly its users with their passwords; amtool logs in with the rendered client
 * config as the Alertmanager healthcheck does. (The container's promtool `check ready` is newer than Debian's.)
 */

const auth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("monitoring: basic auth of Prometheus and Alertmanager with the rendered web configs", () => {
  const procs = new Processes();
  let dir: string;
  const base: Partial<Record<MonitoringServer, string>> = {};
  /** The rendered secrets, as laid out in the bundle, with the container paths pointing at this folder. */
  const secretsOf = (server: MonitoringServer) => path.join(dir, monitoringSecretsDir(server));
  const status = async (server: MonitoringServer, headers: Record<string, string> = {}) =>
    (await fetch(`${base[server]}/-/ready`, { headers, signal: AbortSignal.timeout(5000) })).status;

  before(async function () {
    this.timeout(60_000);
    runTool("prometheus", ["--version"], "prometheus");
    runTool("prometheus-alertmanager", ["--version"], "prometheus-alertmanager");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-auth-"));
    for (const [file, content] of Object.entries(renderMonitoringSecrets(SAMPLE_MONITORING_CREDENTIALS))) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content.split(`${CONTAINER_SECRETS_DIR}/`).join(`${path.dirname(path.join(dir, file))}/`));
    }
    const [promPort, amPort] = [await freePort(), await freePort()];
    assert.notEqual(promPort, amPort);
    base.prometheus = `http://127.0.0.1:${promPort}`;
    base.alertmanager = `http://127.0.0.1:${amPort}`;
    // The compose services' --web.config.file, pointed at the rendered file here.
    const webConfigFlag = (server: MonitoringServer) => {
      const flag = (loadCompose("monitoring").services[server].command as string[]).find((a) => a.startsWith("--web.config.file="));
      assert.equal(flag, `--web.config.file=${CONTAINER_SECRETS_DIR}/${SECRET_FILES.webConfig}`, server);
      return `--web.config.file=${path.join(secretsOf(server), SECRET_FILES.webConfig)}`;
    };
    fs.writeFileSync(path.join(dir, "prometheus.yml"), stringify({ global: { scrape_interval: "15s" } }));
    procs.start(dir, "prometheus", "prometheus", [
      `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "prom-data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`, webConfigFlag("prometheus"),
    ]);
    fs.writeFileSync(path.join(dir, "alertmanager.yml"), stringify({ route: { receiver: "none" }, receivers: [{ name: "none" }] }));
    procs.start(dir, "alertmanager", "prometheus-alertmanager", [
      `--config.file=${path.join(dir, "alertmanager.yml")}`, `--storage.path=${path.join(dir, "am-data")}`,
      `--web.listen-address=127.0.0.1:${amPort}`, "--cluster.listen-address=", webConfigFlag("alertmanager"),
    ]);
    const operator = SAMPLE_MONITORING_CREDENTIALS.operator;
    await waitFor("Prometheus and Alertmanager to answer", 30_000, async () =>
      (await status("prometheus", { authorization: auth("operator", operator.password) })) === 200 &&
      (await status("alertmanager", { authorization: auth("operator", operator.password) })) === 200);
  });

  after(async () => {
    await procs.stopAll();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const server of ["prometheus", "alertmanager"] as const) {
    it(`${server}: promtool check web-config accepts the rendered file`, () => {
      const result = runTool("promtool", ["check", "web-config", path.join(secretsOf(server), SECRET_FILES.webConfig)], "prometheus");
      assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
      assert.match(`${result.stdout}${result.stderr}`, /SUCCESS/);
    });

    it(`${server}: 401 without credentials or with a wrong password, 200 for each of its users, 401 for the others`, async () => {
      assert.equal(await status(server), 401);
      assert.equal(await status(server, { authorization: auth("operator", "wrong-password") }), 401);
      for (const user of MONITORING_USERS) {
        const expected = (WEB_USERS[server] as readonly string[]).includes(user) ? 200 : 401;
        assert.equal(await status(server, { authorization: auth(user, SAMPLE_MONITORING_CREDENTIALS[user].password) }), expected, user);
      }
    });
  }

  it("alertmanager: amtool logs in with the rendered client config, as its healthcheck does; fails without it", () => {
    const test = loadCompose("monitoring").services.alertmanager.healthcheck?.test as string[];
    const [, command, ...args] = test;
    const clientConfig = path.join(secretsOf("alertmanager"), SECRET_FILES.clientConfig);
    const local = args.map((arg) => arg
      .replace(`${CONTAINER_SECRETS_DIR}/${SECRET_FILES.clientConfig}`, clientConfig)
      .replace(/127\.0\.0\.1:\d+/, base.alertmanager!.replace("http://", "")));
    assert.equal(command, "amtool");
    assert.deepEqual(parse(fs.readFileSync(clientConfig, "utf8")).basic_auth.username, "alertmanager");
    const ok = runTool("amtool", local, "prometheus-alertmanager");
    assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
    const without = runTool("amtool", local.filter((arg) => !arg.startsWith("--http.config.file=")), "prometheus-alertmanager");
    assert.notEqual(without.status, 0, "amtool got in without credentials");
  });
});
