import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Client } from "@elastic/elasticsearch";
import { parse } from "yaml";
import { ES_ACCOUNTS, EsAccount } from "../../components/credentials/elasticsearch";
import { INDEX_PREFIXES } from "../../components/platform/naming";
import { REPO_ROOT } from "../../components/platform/repo";
import { serviceEnvironment } from "../helpers/compose";
import { ElasticsearchNodes, loopbackLoggingFacts, statusOf } from "../helpers/elasticsearch-node";

/**
 * The logging bundle's security and setup against a real Elasticsearch node (security on, TLS, the compose settings):
 * security.sh and setup.sh run unchanged, then every client's calls are made as that client. Roles are what the real
 * node enforces: each client's calls succeed, one call it must not make is refused, and every privilege of its roles
 * is needed by one of its calls (a role without it fails one). ILM policies go to the node's ILM stand-in (parsed and
 * validated by Elasticsearch's own ILM classes, never executed).
 */

const SETUP_DIR = path.join(REPO_ROOT, "hosts", "logging", "setup");
const SECURITY_DIR = path.join(SETUP_DIR, "security");
const DATASETS = Object.values(INDEX_PREFIXES);
/** Today's daily index of a dataset, as the aggregator's es outputs name it (logstash_format, %Y.%m.%d in UTC). */
const today = (dataset: string): string => `${dataset}-${new Date().toISOString().slice(0, 10).replace(/-/g, ".")}`;

interface Result { code: number; stdout: string; stderr: string }

let nodes: ElasticsearchNodes;

function runSetupScript(script: string): Promise<Result> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", ...serviceEnvironment("logging", "setup", nodes.dotEnv(0)), ES_URL: nodes.url(0), ES_CA: nodes.pki.caFile };
  return new Promise((resolve) => {
    execFile("sh", [path.join(SETUP_DIR, script)], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** What the scripts manage, as Elasticsearch reports it: a second run must leave it as it is. */
async function managedState(es: Client): Promise<unknown> {
  const roles = await es.security.getRole({ name: fs.readdirSync(path.join(SECURITY_DIR, "roles")).map((f) => path.basename(f, ".json")).join(",") });
  const users = await es.security.getUser();
  return {
    roles,
    users: Object.fromEntries(Object.entries(users).filter(([, user]) => !user.metadata?._reserved)),
    components: await es.cluster.getComponentTemplate({ name: "pipeline-logs" }),
    templates: await Promise.all(DATASETS.map((name) => es.indices.getIndexTemplate({ name }))),
    policies: await es.ilm.getLifecycle({ name: DATASETS.join(",") }),
    settings: await es.indices.getSettings({ index: DATASETS.map((d) => `${d}-*`).join(","), name: "index.number_of_replicas", allow_no_indices: true }),
  };
}

/** One call a client makes; it throws unless Elasticsearch allowed it and answered what the client needs. */
interface Call { why: string; run: (es: Client) => Promise<void> }

const has = (what: string, ok: boolean) => assert.ok(ok, `answered without ${what}`);

let days = 0;
/** A daily index that does not exist yet: the first document of each day creates one. */
const nextDay = (dataset: string): string => `${dataset}-2100.01.${String(++days).padStart(3, "0")}`;

/**
 * The aggregator's writes: each es output of its config bulk-indexes into its dataset's daily index, today's and a
 * new day's (which the write creates), with a field no template maps.
 */
function aggregatorCalls(): Call[] {
  const config = parse(fs.readFileSync(path.join(REPO_ROOT, "hosts", "logging", "fluent-bit", "fluent-bit.yaml"), "utf8"));
  const outputs = (config.pipeline.outputs as Record<string, unknown>[]).filter((o) => o.name === "es");
  assert.deepEqual(outputs.map((o) => o.logstash_prefix).sort(), [...DATASETS].sort());
  return outputs.map((o) => ({
    why: `${String(o.alias)}: _bulk ${String(o.write_operation)} into ${String(o.logstash_prefix)}-<day>`,
    run: async (es) => {
      const operation = String(o.write_operation);
      const document = { "@timestamp": new Date().toISOString(), log: "a line", [`unmapped_${Date.now()}`]: "x" };
      const indices = [today(String(o.logstash_prefix)), nextDay(String(o.logstash_prefix))];
      const result = await es.bulk({ operations: indices.flatMap((index) => [{ [operation]: { _index: index } }, document]) });
      for (const item of result.items.map((entry) => entry[operation as "index"])) {
        if (item?.status === 403) throw Object.assign(new Error(JSON.stringify(item.error)), { statusCode: 403 });
        assert.ok(item && (item.status === 201 || item.status === 200), `item ${JSON.stringify(item)}`);
      }
    },
  }));
}

/** elasticsearch_exporter v1.11.0 with the flags of hosts/logging/compose.yaml: the APIs of its collectors. */
function exporterCalls(): Call[] {
  const command = parse(fs.readFileSync(path.join(REPO_ROOT, "hosts", "logging", "compose.yaml"), "utf8")).services["elasticsearch-exporter"].command as string[];
  const flags = new Set(command.map((c) => c.replace(/=.*/, "")));
  const gateway = today(INDEX_PREFIXES.gateway);
  const calls: Call[] = [
    { why: "GET / (cluster info)", run: async (es) => has("a cluster name", Boolean((await es.info()).cluster_name)) },
    { why: "GET /_cluster/health", run: async (es) => has("a status", Boolean((await es.cluster.health()).status)) },
    { why: "GET /_nodes/stats (--es.all)", run: async (es) => has("nodes", Object.keys((await es.nodes.stats()).nodes).length > 0) },
  ];
  assert.ok(flags.has("--es.indices") && flags.has("--es.indices_settings") && flags.has("--collector.clustersettings"));
  calls.push(
    { why: "GET /_all/_stats (--es.indices)", run: async (es) => has(gateway, gateway in ((await es.indices.stats({ index: "_all" })).indices ?? {})) },
    { why: "GET /_alias (--es.aliases, on by default)", run: async (es) => has(gateway, gateway in (await es.indices.getAlias())) },
    { why: "GET /_all/_settings (--es.indices_settings)", run: async (es) => has(gateway, gateway in (await es.indices.getSettings({ index: "_all" }))) },
    { why: "GET /_cluster/settings (--collector.clustersettings)", run: async (es) => has("persistent", "persistent" in (await es.cluster.getSettings())) },
  );
  return calls;
}

/** Grafana's Elasticsearch data sources: the version, the fields (mappings) and queries, on their index pattern. */
function grafanaCalls(): Call[] {
  const datasources = parse(fs.readFileSync(path.join(REPO_ROOT, "provisioning", "grafana", "datasources", "datasources.yaml"), "utf8")).datasources as
    { type: string; jsonData?: { index?: string } }[];
  return datasources.filter((d) => d.type === "elasticsearch").flatMap((d) => {
    const prefix = /^\[([^\]]+)-\]/.exec(d.jsonData?.index ?? "")?.[1];
    assert.ok(prefix, `datasource index ${d.jsonData?.index} is not a daily pattern`);
    return [
      { why: "GET / (version)", run: async (es: Client) => has("a version", Boolean((await es.info()).version.number)) },
      { why: `GET ${prefix}-*/_mapping (fields)`, run: async (es: Client) => has(today(prefix), today(prefix) in (await es.indices.getMapping({ index: `${prefix}-*` }))) },
      { why: `POST ${prefix}-*/_search`, run: async (es: Client) => has("hits", (await es.count({ index: `${prefix}-*` })).count > 0) },
    ];
  });
}

/** setup.sh's calls, one per kind (the script itself runs as platform-setup in the first test). */
function setupCalls(): Call[] {
  const read = (...parts: string[]) => JSON.parse(fs.readFileSync(path.join(SETUP_DIR, ...parts), "utf8"));
  const component = JSON.stringify(read("component-templates", "pipeline-logs.json")).replace(/"\$\{ES_SHARDS\}"|\$\{ES_SHARDS\}/g, "1").replace(/"\$\{ES_REPLICAS\}"|\$\{ES_REPLICAS\}/g, "0");
  const policy = JSON.parse(JSON.stringify(read("ilm-policy.json")).replace("${ES_RETENTION_DAYS}", "3"));
  return [
    { why: "GET _cluster/health", run: async (es) => has("a status", Boolean((await es.cluster.health({ wait_for_status: "yellow", timeout: "5s" })).status)) },
    { why: "PUT _component_template", run: async (es) => has("ack", (await es.cluster.putComponentTemplate({ name: "pipeline-logs", ...JSON.parse(component) })).acknowledged) },
    ...DATASETS.flatMap((dataset): Call[] => [
      { why: `PUT _ilm/policy/${dataset}`, run: async (es) => has("ack", (await es.ilm.putLifecycle({ name: dataset, ...policy })).acknowledged) },
      { why: `PUT _index_template/${dataset}`, run: async (es) => has("ack", (await es.indices.putIndexTemplate({ name: dataset, ...read("index-templates", `${dataset}.json`) })).acknowledged) },
      {
        why: `PUT ${dataset}-*/_settings (replicas of existing indices)`,
        run: async (es) => {
          await es.indices.putSettings({ index: `${dataset}-*`, allow_no_indices: true, settings: { "index.number_of_replicas": 0 } });
          // A wildcard the user may not touch resolves to no index and is acknowledged all the same: ask by name too.
          await es.indices.putSettings({ index: today(dataset), settings: { "index.number_of_replicas": 0 } });
        },
      },
    ]),
  ];
}

/** verify's and the pipeline check's reads (verify/elasticsearch.ts, checks/pipeline.sh). */
function checkCalls(): Call[] {
  const gateway = `${INDEX_PREFIXES.gateway}-*`;
  return [
    { why: "verify: cluster health", run: async (es) => has("a status", Boolean((await es.cluster.health()).status)) },
    { why: "verify: _cat/nodes", run: async (es) => has("a node", (await es.cat.nodes({ format: "json", h: "name" })).length > 0) },
    ...DATASETS.map((name): Call => ({ why: `verify: index template ${name}`, run: async (es) => has(name, (await es.indices.getIndexTemplate({ name })).index_templates.length === 1) })),
    { why: "verify: ILM policies", run: async (es) => has("policies", Object.keys(await es.ilm.getLifecycle({ name: DATASETS.join(",") })).length === DATASETS.length) },
    { why: "verify + pipeline check: gateway documents (_count)", run: async (es) => has("documents", (await es.count({ index: gateway })).count > 0) },
    { why: "verify: gateway mapping", run: async (es) => has(today(INDEX_PREFIXES.gateway), today(INDEX_PREFIXES.gateway) in (await es.indices.getMapping({ index: gateway }))) },
    { why: "verify: container logs per member", run: async (es) => has("documents", (await es.count({ index: `${INDEX_PREFIXES.containers}-*` })).count > 0) },
    // verify/ingest.ts sends a record through the ingest endpoint and searches apps-* for it (role apps_reader).
    {
      why: "verify: its record through the ingest endpoint (apps-*)",
      run: async (es) => has("the record", (await es.search({ index: `${INDEX_PREFIXES.apps}-*`, size: 1, query: { match_phrase: { log: "a line" } } })).hits.hits.length > 0),
    },
  ];
}

/**
 * The operator in Kibana, whose Elasticsearch calls are made as that user: a data view's index resolution and field
 * list, then Discover's and the dashboards' searches, on every dataset.
 */
function operatorCalls(): Call[] {
  return DATASETS.flatMap((dataset): Call[] => [
    { why: `resolve ${dataset}-* (data view)`, run: async (es) => has(today(dataset), (await es.indices.resolveIndex({ name: `${dataset}-*` })).indices.some((i) => i.name === today(dataset))) },
    { why: `_field_caps ${dataset}-* (data view fields)`, run: async (es) => has("@timestamp", "@timestamp" in (await es.fieldCaps({ index: `${dataset}-*`, fields: "*" })).fields) },
    { why: `search ${dataset}-*`, run: async (es) => has("documents", (await es.count({ index: `${dataset}-*` })).count > 0) },
  ]);
}

/**
 * kibana-import logs in to Kibana only (kibana-import.sh calls the saved-objects import); Kibana authenticates it
 * against Elasticsearch and acts with its built-in kibana_admin role, which Elastic defines.
 */
function kibanaImportCalls(): Call[] {
  return [{ why: "authenticate (Kibana login)", run: async (es) => assert.deepEqual((await es.security.authenticate()).roles, ["kibana_admin"]) }];
}

interface ClientCase {
  account: EsAccount;
  calls: () => Call[];
  /** A call the client never makes and must be refused with 403. */
  refused: Call;
}

const CLIENTS: ClientCase[] = [
  { account: "fluentBit", calls: aggregatorCalls, refused: { why: "read what it wrote", run: async (es) => void (await es.search({ index: today(INDEX_PREFIXES.gateway) })) } },
  {
    account: "exporter", calls: exporterCalls,
    refused: { why: "read documents", run: async (es) => void (await es.search({ index: today(INDEX_PREFIXES.gateway) })) },
  },
  { account: "grafana", calls: grafanaCalls, refused: { why: "read container logs", run: async (es) => void (await es.search({ index: today(INDEX_PREFIXES.containers) })) } },
  {
    account: "setup", calls: setupCalls,
    refused: { why: "delete a day of logs", run: async (es) => void (await es.indices.delete({ index: today(INDEX_PREFIXES.containers) })) },
  },
  { account: "check", calls: checkCalls, refused: { why: "write a document", run: async (es) => void (await es.index({ index: today(INDEX_PREFIXES.gateway), document: { log: "x" } })) } },
  { account: "kibanaImport", calls: kibanaImportCalls, refused: { why: "read gateway logs", run: async (es) => void (await es.search({ index: today(INDEX_PREFIXES.gateway) })) } },
  {
    account: "operator", calls: operatorCalls,
    refused: { why: "change an index template", run: async (es) => void (await es.indices.putIndexTemplate({ name: "gateway-access", index_patterns: ["x-*"] })) },
  },
];

/** The native users of hosts/logging/setup/security/users with their roles. */
const USERS: Record<string, string[]> = Object.fromEntries(
  fs.readFileSync(path.join(SECURITY_DIR, "users"), "utf8").split("\n").filter((line) => line.trim() && !line.startsWith("#")).map((line) => {
    const [user, roles] = line.trim().split(/\s+/);
    return [user, roles.split(",")];
  }),
);

interface RoleFile {
  cluster: string[];
  indices: { names: string[]; privileges: string[]; allow_restricted_indices?: boolean }[];
  applications?: unknown[];
}
const roleFile = (name: string): RoleFile | undefined => {
  const file = path.join(SECURITY_DIR, "roles", `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as RoleFile : undefined;
};

/** The role with one grant taken away, one per cluster privilege, index privilege and index name, with what is gone. */
function withoutOneGrant(role: RoleFile): { gone: string; role: RoleFile }[] {
  const copy = (): RoleFile => JSON.parse(JSON.stringify(role)) as RoleFile;
  const variants: { gone: string; role: RoleFile }[] = [];
  role.cluster.forEach((privilege, i) => {
    const reduced = copy();
    reduced.cluster.splice(i, 1);
    variants.push({ gone: `cluster ${privilege}`, role: reduced });
  });
  role.indices.forEach((entry, e) => {
    for (const [key, list] of [["privileges", entry.privileges], ["names", entry.names]] as const) {
      list.forEach((value, i) => {
        const reduced = copy();
        reduced.indices[e][key].splice(i, 1);
        if (reduced.indices[e][key].length === 0) reduced.indices.splice(e, 1);
        variants.push({ gone: `index ${key === "names" ? "name" : "privilege"} ${value}`, role: reduced });
      });
    }
  });
  return variants;
}

async function failsWith(call: Call, es: Client): Promise<number | "ok" | "incomplete"> {
  try {
    await call.run(es);
    return "ok";
  } catch (err) {
    if (err instanceof assert.AssertionError) return "incomplete";
    return statusOf(err);
  }
}

describe("Elasticsearch security and setup against a real node (ILM stand-in)", function () {
  this.timeout(300_000);

  before(async () => {
    nodes = new ElasticsearchNodes(loopbackLoggingFacts(1));
    await nodes.start(0);
    await nodes.waitHealthy(0);
  });
  after(async () => {
    await nodes?.close();
  });

  it("security.sh and setup.sh are accepted whole, and a second run of both changes nothing", async () => {
    for (const script of ["security/security.sh", "setup.sh"]) {
      const result = await runSetupScript(script);
      assert.equal(result.code, 0, `${script}: ${result.stderr}\n${nodes.log(0).slice(-2000)}`);
    }
    const es = nodes.client();
    const first = await managedState(es);
    for (const script of ["security/security.sh", "setup.sh"]) {
      const result = await runSetupScript(script);
      assert.equal(result.code, 0, `${script} again: ${result.stderr}`);
    }
    assert.deepEqual(await managedState(es), first);
  });

  it("every user logs in with the program's password and holds the roles of security/users", async () => {
    for (const [username, roles] of Object.entries(USERS)) {
      const account = (Object.keys(ES_ACCOUNTS) as EsAccount[]).find((a) => ES_ACCOUNTS[a] === username);
      assert.ok(account, `${username} is not an account of components/credentials/elasticsearch.ts`);
      const me = await nodes.client(account).security.authenticate();
      assert.equal(me.username, username);
      assert.deepEqual([...me.roles].sort(), [...roles].sort());
    }
    const kibana = await nodes.client("kibanaSystem").security.authenticate();
    assert.deepEqual(kibana.roles, ["kibana_system"]);
  });

  for (const client of CLIENTS) {
    const user = ES_ACCOUNTS[client.account];
    it(`${user}: each of its calls is allowed and answered; ${client.refused.why} is refused (403)`, async () => {
      // The aggregator's writes first: the other clients read what it wrote.
      for (const call of aggregatorCalls()) await call.run(nodes.client("fluentBit"));
      await nodes.client().indices.refresh({ index: DATASETS.map((d) => `${d}-*`).join(",") });
      const es = nodes.client(client.account);
      for (const call of client.calls()) {
        await call.run(es).catch((err: unknown) => assert.fail(`${user}: ${call.why}: ${err instanceof Error ? err.message : String(err)}`));
      }
      assert.equal(await failsWith(client.refused, es), 403, `${user} may ${client.refused.why}`);
    });

    // kibana-import has Elastic's built-in kibana_admin only: nothing of the project's to take away.
    if (!USERS[user].some((name) => roleFile(name))) continue;
    it(`${user}: every privilege and index pattern of its roles is needed by one of its calls`, async () => {
      const admin = nodes.client();
      const roles = USERS[user].filter((name) => roleFile(name));
      const builtIn = USERS[user].filter((name) => !roleFile(name));
      const password = "TestPassword0000000000000000000";
      for (const roleName of roles) {
        const role = roleFile(roleName)!;
        for (const { gone, role: reduced } of withoutOneGrant(role)) {
          await admin.security.putRole({ name: "reduced", ...reduced });
          await admin.security.putUser({ username: "reduced-user", password, roles: ["reduced", ...builtIn, ...roles.filter((r) => r !== roleName)] });
          const es = new Client({ node: nodes.url(0), auth: { username: "reduced-user", password }, tls: { ca: fs.readFileSync(nodes.pki.caFile) }, maxRetries: 0 });
          const outcomes = await Promise.all(client.calls().map(async (call) => ({ why: call.why, outcome: await failsWith(call, es) })));
          assert.ok(outcomes.some(({ outcome }) => outcome !== "ok"), `${roleName} without ${gone}: ${user}'s calls all still succeed, so it is not needed`);
        }
      }
    });
  }
});
