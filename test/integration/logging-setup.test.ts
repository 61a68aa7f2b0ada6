import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import { AddressInfo } from "node:net";
import path from "node:path";
import { LOGGING_SETUP_DIR, datasetNames } from "../helpers/index-template";
import { KIBANA_OBJECTS_DIR, loadSavedObjects } from "../helpers/kibana-objects";
import { basicUser, httpsServer, makeTestPki, TestPki } from "../helpers/es-tls";
import { ES_ACCOUNTS, EsAccount, passwordVariable } from "../../components/credentials/elasticsearch";
import { SAMPLE_FACTS } from "../helpers/sample-facts";

/**
 * Runs the logging bundle's one-shot scripts (real sh + curl) against loopback stand-ins for Elasticsearch and
 * Kibana: what they send, that a re-run sends the same, and that any refusal fails the script with the answer.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Answer = (req: Seen) => { status: number; body: string };

/** Runs `run` against a loopback stand-in: HTTPS with the test CA's certificate when `tls` is given (Elasticsearch). */
async function withServer(answer: Answer, run: (url: string, seen: Seen[]) => Promise<void>, tls?: TestPki): Promise<void> {
  const seen: Seen[] = [];
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      seen.push(request);
      const { status, body } = answer(request);
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    });
  };
  let server: http.Server;
  let url: string;
  if (tls) {
    ({ server, url } = await httpsServer(tls, handler));
  } else {
    server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  try {
    await run(url, seen);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(script: string, env: Record<string, string>): Promise<Result> {
  return new Promise((resolve) => {
    execFile("sh", [path.join(LOGGING_SETUP_DIR, script)], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const ok: Answer = () => ({ status: 200, body: '{"acknowledged":true}' });
const PASSWORDS = SAMPLE_FACTS.elasticsearchPasswords;
/** Every account's ES_PASSWORD_* variable, as the logging .env has them. */
const PASSWORD_ENV = Object.fromEntries((Object.keys(ES_ACCOUNTS) as EsAccount[]).map((a) => [passwordVariable(a), PASSWORDS[a]]));
let pki: TestPki;
const SETUP_ENV = (): Record<string, string> => ({
  ES_RETENTION_DAYS: "3", ES_SHARDS: "3", ES_REPLICAS: "1", ES_CA: pki.caFile, [passwordVariable("setup")]: PASSWORDS.setup,
});
const readJson = (...parts: string[]): unknown => JSON.parse(fs.readFileSync(path.join(LOGGING_SETUP_DIR, ...parts), "utf8"));

describe("logging bundle one-shot scripts (sh + curl against loopback stand-ins)", () => {
  before(function () {
    for (const tool of ["sh", "curl"]) {
      const found = (process.env.PATH ?? "").split(":").some((dir) => fs.existsSync(path.join(dir, tool)));
      assert.ok(found, `${tool} is required for this test: apt-get install ${tool === "sh" ? "dash" : "curl"}`);
    }
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  it("setup.sh waits for a yellow cluster, PUTs the component template, then per dataset its ILM policy, index template and the replicas of existing indices", async () => {
    await withServer(ok, async (url, seen) => {
      const first = await runScript("setup.sh", { ES_URL: url, ...SETUP_ENV() });
      assert.equal(first.code, 0, first.stderr);
      const expected = ["GET /_cluster/health?wait_for_status=yellow&timeout=50s", "PUT /_component_template/pipeline-logs"];
      for (const dataset of datasetNames()) {
        expected.push(`PUT /_ilm/policy/${dataset}`, `PUT /_index_template/${dataset}`, `PUT /${dataset}-*/_settings?allow_no_indices=true`);
      }
      assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), expected);
      for (const r of seen) assert.equal(basicUser(r.headers), `platform-setup:${PASSWORDS.setup}`, `${r.method} ${r.url} as platform-setup`);
      for (const r of seen.slice(1)) assert.equal(r.headers["content-type"], "application/json");
      const policy = JSON.parse(seen[2].body);
      assert.equal(policy.policy.phases.delete.min_age, "3d");
      // The shard and replica counts from the env, the rest of the component template as written.
      const component = readJson("component-templates", "pipeline-logs.json") as { template: { settings: Record<string, unknown> } };
      Object.assign(component.template.settings, { "index.number_of_shards": "3", "index.number_of_replicas": "1" });
      assert.deepEqual(JSON.parse(seen[1].body), component);
      assert.deepEqual(JSON.parse(seen[3].body), readJson("index-templates", `${datasetNames()[0]}.json`));
      // Existing indices get the replicas and the template's delay before a departed node's replicas are rebuilt.
      assert.deepEqual(JSON.parse(seen[4].body), {
        "index.number_of_replicas": 1,
        "index.unassigned.node_left.delayed_timeout": component.template.settings["index.unassigned.node_left.delayed_timeout"],
      });
      assert.equal(component.template.settings["index.unassigned.node_left.delayed_timeout"], "15m");

      // Idempotent: a re-run sends the same whole-object PUTs.
      const firstRun = seen.map((r) => `${r.method} ${r.url} ${r.body}`);
      seen.length = 0;
      assert.equal((await runScript("setup.sh", { ES_URL: url, ...SETUP_ENV() })).code, 0);
      assert.deepEqual(seen.map((r) => `${r.method} ${r.url} ${r.body}`), firstRun);
    }, pki);
  });

  it("setup.sh trusts only the CA in ES_CA", async () => {
    await withServer(ok, async (url, seen) => {
      const result = await runScript("setup.sh", { ES_URL: url, ...SETUP_ENV(), ES_CA: pki.otherCaFile });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /certificate/i);
      assert.equal(seen.length, 0);
    }, pki);
  });

  it("security.sh, as elastic: PUTs every role and user with its own password, then kibana_system's password", async () => {
    await withServer(ok, async (url, seen) => {
      const result = await runScript("security/security.sh", { ES_URL: url, ES_CA: pki.caFile, ...PASSWORD_ENV });
      assert.equal(result.code, 0, result.stderr);
      for (const r of seen) assert.equal(basicUser(r.headers), `elastic:${PASSWORDS.elastic}`, `${r.method} ${r.url} as elastic`);
      const roles = fs.readdirSync(path.join(LOGGING_SETUP_DIR, "security", "roles")).map((f) => `PUT /_security/role/${path.basename(f, ".json")}`);
      const users = (Object.keys(ES_ACCOUNTS) as EsAccount[]).filter((a) => a !== "elastic" && a !== "kibanaSystem");
      assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), [
        ...roles.sort(), ...users.map((a) => `PUT /_security/user/${ES_ACCOUNTS[a]}`), "POST /_security/user/kibana_system/_password",
      ]);
      for (const a of users) {
        const body = JSON.parse(seen.find((r) => r.url === `/_security/user/${ES_ACCOUNTS[a]}`)!.body) as { password: string };
        assert.equal(body.password, PASSWORDS[a], `${ES_ACCOUNTS[a]}'s own password`);
      }
      assert.deepEqual(JSON.parse(seen[seen.length - 1].body), { password: PASSWORDS.kibanaSystem });
      assert.ok(!result.stdout.includes(PASSWORDS.operator) && !result.stderr.includes(PASSWORDS.operator), "no password in its output");
    }, pki);
  });

  it("security.sh refuses a missing or short password, naming its variable, before sending anything", async () => {
    await withServer(ok, async (url, seen) => {
      const result = await runScript("security/security.sh", { ES_URL: url, ES_CA: pki.caFile, ...PASSWORD_ENV, [passwordVariable("grafana")]: "short" });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /ES_PASSWORD_GRAFANA is 5 characters long/);
      assert.ok(seen.every((r) => !r.url.startsWith("/_security/user/grafana")));
    }, pki);
  });

  it("setup.sh exits 1 with Elasticsearch's answer when a request is refused", async () => {
    const refuse: Answer = (r) =>
      r.url.startsWith("/_index_template/gateway-access")
        ? { status: 400, body: '{"error":{"type":"mapper_parsing_exception","reason":"boom"}}' }
        : { status: 200, body: "{}" };
    await withServer(refuse, async (url) => {
      const result = await runScript("setup.sh", { ES_URL: url, ...SETUP_ENV() });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /PUT .*\/_index_template\/gateway-access failed: .*mapper_parsing_exception/s);
    }, pki);
  });

  it("setup.sh refuses a retention, shard or replica count that is no whole number, before sending anything", async () => {
    const bad: [string, string][] = [
      ...["0", "3d", "", "-1"].map((v): [string, string] => ["ES_RETENTION_DAYS", v]),
      ...["0", "two", ""].map((v): [string, string] => ["ES_SHARDS", v]),
      ...["-1", "1.5", ""].map((v): [string, string] => ["ES_REPLICAS", v]),
    ];
    await withServer(ok, async (url, seen) => {
      for (const [key, value] of bad) {
        const result = await runScript("setup.sh", { ES_URL: url, ...SETUP_ENV(), [key]: value });
        assert.equal(result.code, value === "" ? 2 : 1, `${key}='${value}': ${result.stderr}`);
        assert.match(result.stderr, new RegExp(key), `${key}='${value}' is named`);
      }
      assert.equal(seen.length, 0);
    }, pki);
  });

  it("kibana-import.sh uploads every saved object once, with overwrite and kbn-xsrf", async () => {
    const answer: Answer = () => ({ status: 200, body: '{"successCount":6,"success":true,"warnings":[],"successResults":[]}' });
    await withServer(answer, async (url, seen) => {
      const result = await runScript("kibana-import.sh", { KIBANA_URL: url, SAVED_OBJECTS_DIR: KIBANA_OBJECTS_DIR, ...PASSWORD_ENV });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(seen.length, 1);
      const [req] = seen;
      assert.equal(`${req.method} ${req.url}`, "POST /api/saved_objects/_import?overwrite=true");
      assert.equal(req.headers["kbn-xsrf"], "true");
      assert.equal(basicUser(req.headers), `kibana-import:${PASSWORDS.kibanaImport}`);
      assert.match(String(req.headers["content-type"]), /^multipart\/form-data/);
      assert.match(req.body, /filename="saved-objects\.ndjson"/);
      for (const { object } of loadSavedObjects()) assert.ok(req.body.includes(JSON.stringify(object)), `${object.type}/${object.id} uploaded`);
    });
  });

  it("kibana-import.sh exits 1 and prints Kibana's errors unless the import fully succeeded", async () => {
    const partial = '{"successCount":5,"success":false,"warnings":[],"errors":[{"id":"api-gateway","type":"dashboard","error":{"type":"missing_references"}}]}';
    await withServer(() => ({ status: 200, body: partial }), async (url) => {
      const result = await runScript("kibana-import.sh", { KIBANA_URL: url, SAVED_OBJECTS_DIR: KIBANA_OBJECTS_DIR, ...PASSWORD_ENV });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /missing_references/);
    });
    // A 4xx is not retried (5xx are, a few times), which keeps this bounded.
    await withServer(() => ({ status: 404, body: '{"message":"saved objects unavailable"}' }), async (url) => {
      const result = await runScript("kibana-import.sh", { KIBANA_URL: url, SAVED_OBJECTS_DIR: KIBANA_OBJECTS_DIR, ...PASSWORD_ENV });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /saved objects unavailable/);
    });
  });
});
