import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ES_ACCOUNTS } from "../../components/credentials/elasticsearch";

// Per client, the Elasticsearch actions its code calls, and whether the roles security.sh gives its user grant them
// and nothing more. Privilege -> action patterns are Elastic's, v8.19: x-pack/plugin/core/src/main/java/org/
// elasticsearch/xpack/core/security/authz/privilege/{IndexPrivilege,ClusterPrivilegeResolver}.java, described in
// https://www.elastic.co/guide/en/elasticsearch/reference/8.19/security-privileges.html.

const ROOT = path.resolve(__dirname, "../..");
const SECURITY = path.join(ROOT, "hosts/logging/setup/security");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

const CLUSTER_PRIVILEGES: Record<string, string[]> = {
  // "All cluster read-only operations, like cluster health and state, ... node and cluster stats"; also template gets.
  monitor: ["cluster:monitor/*", "indices:admin/template/get", "cluster:admin/component_template/get", "indices:admin/index_template/get"],
  // "All read-only ILM operations, such as getting policies".
  read_ilm: ["cluster:admin/ilm/get", "cluster:admin/ilm/operation_mode/get"],
  manage_ilm: ["cluster:admin/ilm/*"],
  manage_index_templates: ["indices:admin/template/*", "indices:admin/index_template/*", "cluster:admin/component_template/*"],
};
const INDEX_PRIVILEGES: Record<string, string[]> = {
  read: ["indices:data/read/*"],
  // "Read-only access to index and data stream metadata (aliases, ..., mappings, ..., settings)".
  view_index_metadata: ["indices:admin/aliases/get", "indices:admin/get", "indices:admin/mappings/get", "indices:monitor/settings/get", "indices:admin/resolve/index"],
  // "All actions that are required for monitoring (recovery, segments info, index stats and status)".
  monitor: ["indices:monitor/*"],
  // "Privilege to index and update documents" (bulk included).
  index: ["indices:data/write/index*", "indices:data/write/bulk*", "indices:data/write/update*"],
  // "Permits auto-creation of indices ... Also permits auto-update of mappings".
  auto_configure: ["indices:admin/mapping/auto_put", "indices:admin/auto_create"],
  // "All indices:admin/* and indices:monitor/*": the only one that grants a settings update.
  manage: ["indices:admin/*", "indices:monitor/*"],
};

const glob = (pattern: string, value: string) => new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.?+^$()[\]{}|\\/]/g, "\\$&")).join(".*")}$`).test(value);
const grants = (privileges: Record<string, string[]>, name: string, action: string) => {
  assert.ok(privileges[name], `privilege ${name} is not modelled here: add its action patterns from Elastic's source`);
  return privileges[name].some((p) => glob(p, action));
};

interface Role {
  cluster: string[];
  indices: { names: string[]; privileges: string[]; allow_restricted_indices?: boolean }[];
  applications?: { application: string; privileges: string[]; resources: string[] }[];
}
const ROLES: Record<string, Role> = Object.fromEntries(
  fs.readdirSync(path.join(SECURITY, "roles")).map((f) => [path.basename(f, ".json"), JSON.parse(fs.readFileSync(path.join(SECURITY, "roles", f), "utf8")) as Role]),
);
/** Elastic's built-in roles a user may have; everything else must be one of roles/. */
const BUILT_IN = new Set(["kibana_admin"]);
const USERS: Record<string, string[]> = Object.fromEntries(
  read("hosts/logging/setup/security/users").split("\n").filter((l) => l.trim() && !l.startsWith("#")).map((l) => {
    const [user, roles] = l.trim().split(/\s+/);
    return [user, roles.split(",")];
  }),
);

/** One action a client performs: cluster-wide, or on an index (a concrete name, or `*` for "every index"). */
interface Need { action: string; index?: string; why: string }

const SAMPLE_DAY = "2026.01.01";

function fluentBitNeeds(): Need[] {
  const outputs = (parse(read("hosts/logging/fluent-bit/fluent-bit.yaml")).pipeline.outputs as Record<string, unknown>[]).filter((o) => o.name === "es");
  assert.ok(outputs.length > 0);
  // plugins/out_es/es.c (v5.1.1): every flush is POST /_bulk with one action line per record, named by write_operation.
  const ITEM_ACTION: Record<string, string> = { index: "indices:data/write/index", create: "indices:data/write/index:op_type/create", update: "indices:data/write/update", upsert: "indices:data/write/update" };
  return outputs.flatMap((o) => {
    const op = String(o.write_operation ?? "create");
    assert.ok(ITEM_ACTION[op], `${String(o.alias)}: write_operation ${op} is not modelled`);
    assert.ok([true, "on"].includes(o.logstash_format as string), `${String(o.alias)}: the index is not daily (logstash_format)`);
    const index = `${String(o.logstash_prefix)}-${SAMPLE_DAY}`;
    return [
      { action: "indices:data/write/bulk[s]", index, why: `${String(o.alias)} bulk` },
      { action: ITEM_ACTION[op], index, why: `${String(o.alias)} ${op}` },
      { action: "indices:admin/auto_create", index, why: `${String(o.alias)} first document of the day` },
      { action: "indices:admin/mapping/auto_put", index, why: `${String(o.alias)} a field the template does not map` },
    ];
  });
}

function exporterNeeds(): Need[] {
  const command = parse(read("hosts/logging/compose.yaml")).services["elasticsearch-exporter"].command as string[];
  const flags = command.map((c) => c.replace(/=.*/, ""));
  // elasticsearch_exporter v1.11.0: main.go registers these collectors; the paths are in collector/*.go.
  const always: Need[] = [
    { action: "cluster:monitor/main", why: "GET / (cluster info)" },
    { action: "cluster:monitor/health", why: "GET /_cluster/health" },
    { action: "cluster:monitor/nodes/stats", why: "GET /_nodes/stats (--es.all)" },
  ];
  const BY_FLAG: Record<string, Need[]> = {
    "--es.indices": [{ action: "indices:monitor/stats", index: "*", why: "GET /_all/_stats" }, { action: "indices:admin/aliases/get", index: "*", why: "GET /_alias (--es.aliases, on by default)" }],
    "--es.indices_settings": [{ action: "indices:monitor/settings/get", index: "*", why: "GET /_all/_settings" }],
    "--collector.clustersettings": [{ action: "cluster:monitor/settings", why: "GET /_cluster/settings" }],
  };
  const NO_CALL = new Set(["--es.uri", "--es.all", "--es.timeout", "--es.ca", "--web.listen-address"]);
  for (const flag of flags) assert.ok(BY_FLAG[flag] || NO_CALL.has(flag), `exporter flag ${flag} is not modelled: which API does it call?`);
  return [...always, ...flags.flatMap((f) => BY_FLAG[f] ?? [])];
}

function setupNeeds(): Need[] {
  const script = read("hosts/logging/setup/setup.sh");
  const BY_PATH: Record<string, string> = { _component_template: "cluster:admin/component_template/put", _ilm: "cluster:admin/ilm/put", _index_template: "indices:admin/index_template/put" };
  const paths = [...script.matchAll(/put_json "(_[a-z_]+)\//g)].map((m) => m[1]);
  assert.ok(paths.length >= 3);
  // It waits for yellow, and gives each dataset's existing indices their replica count.
  assert.match(script, /http GET "\$ES_URL\/_cluster\/health/);
  assert.match(script, /put_json "\$dataset-\*\/_settings/);
  const datasets = fs.readdirSync(path.join(ROOT, "hosts/logging/setup/index-templates")).map((f) => path.basename(f, ".json"));
  return [
    { action: "cluster:monitor/health", why: "GET _cluster/health" },
    ...paths.map((p) => {
      assert.ok(BY_PATH[p], `setup.sh PUTs ${p}, which is not modelled`);
      return { action: BY_PATH[p], why: `PUT ${p}` };
    }),
    ...datasets.map((d) => ({ action: "indices:admin/settings/update", index: `${d}-${SAMPLE_DAY}`, why: `PUT ${d}-*/_settings` })),
  ];
}

function checkNeeds(): Need[] {
  const gateway = `gateway-access-${SAMPLE_DAY}`;
  const source = read("verify/elasticsearch.ts");
  const BY_CALL: Record<string, Need> = {
    "cluster.health": { action: "cluster:monitor/health", why: "verify: cluster health" },
    // _cat/nodes reads node info and stats (RestNodesAction).
    "cat.nodes": { action: "cluster:monitor/nodes/stats", why: "verify: which nodes joined" },
    "indices.getIndexTemplate": { action: "indices:admin/index_template/get", why: "verify: index templates" },
    "ilm.getLifecycle": { action: "cluster:admin/ilm/get", why: "verify: ILM policies" },
    count: { action: "indices:data/read/search", index: gateway, why: "verify: recent gateway documents" },
    search: { action: "indices:data/read/search", index: gateway, why: "verify: newest gateway document" },
    "indices.getMapping": { action: "indices:admin/mappings/get", index: gateway, why: "verify: gateway mapping" },
  };
  const calls = [...new Set([...source.matchAll(/\bes\.([a-zA-Z.]+)\(/g)].map((m) => m[1]))];
  for (const call of calls) assert.ok(BY_CALL[call], `verify/elasticsearch.ts calls es.${call}, which is not modelled`);
  // Its searches also count the container logs per member.
  assert.match(source, /indexPattern\(INDEX_PREFIXES\.containers\)/);
  const containers = { action: "indices:data/read/search", index: `containers-${SAMPLE_DAY}`, why: "verify: container logs per member" };
  // checks/pipeline.sh counts the gateway documents (_count is a search).
  assert.match(read("checks/pipeline.sh"), /gateway-access-\*\/_count/);
  return [...calls.map((c) => BY_CALL[c]), containers, { action: "indices:data/read/search", index: gateway, why: "pipeline check: _count" }];
}

function grafanaNeeds(): Need[] {
  const datasources = parse(read("provisioning/grafana/datasources/datasources.yaml")).datasources as { type: string; jsonData?: { index?: string } }[];
  const es = datasources.filter((d) => d.type === "elasticsearch");
  assert.ok(es.length > 0);
  // Grafana's docs (Configure the Elasticsearch data source, "Configuring permissions"): monitor for the version,
  // view_index_metadata for mappings, read for queries.
  return es.flatMap((d) => {
    const prefix = /^\[([^\]]+)\]/.exec(d.jsonData?.index ?? "")?.[1];
    assert.ok(prefix, `datasource index ${d.jsonData?.index} is not a daily pattern`);
    const index = `${prefix}${SAMPLE_DAY}`;
    return [
      { action: "cluster:monitor/main", why: "Grafana: version" },
      { action: "indices:admin/mappings/get", index, why: "Grafana: fields" },
      { action: "indices:data/read/search", index, why: "Grafana: queries" },
    ];
  });
}

/** Whether the user's own roles (not built-in ones) grant the action. */
function granted(user: string, need: Need): boolean {
  return USERS[user].filter((r) => ROLES[r]).some((r) => {
    const role = ROLES[r];
    if (need.index === undefined) return role.cluster.some((p) => grants(CLUSTER_PRIVILEGES, p, need.action));
    return role.indices.some((i) => i.names.some((n) => glob(n, need.index as string)) && i.privileges.some((p) => grants(INDEX_PRIVILEGES, p, need.action)));
  });
}

const CLIENTS: { user: string; needs: () => Need[] }[] = [
  { user: ES_ACCOUNTS.fluentBit, needs: fluentBitNeeds },
  { user: ES_ACCOUNTS.exporter, needs: exporterNeeds },
  { user: ES_ACCOUNTS.setup, needs: setupNeeds },
  { user: ES_ACCOUNTS.check, needs: checkNeeds },
  { user: ES_ACCOUNTS.grafana, needs: grafanaNeeds },
];

describe("Elasticsearch security: each client's user may do what its code calls, and no more", () => {
  for (const { user, needs } of CLIENTS) {
    it(`${user}: its roles grant every action it performs`, () => {
      const missing = needs().filter((n) => !granted(user, n));
      assert.deepEqual(missing.map((n) => `${n.action}${n.index ? ` on ${n.index}` : ""} (${n.why})`), []);
    });

    it(`${user}: every privilege of its roles is needed by one of those actions`, () => {
      const all = needs();
      for (const roleName of USERS[user].filter((r) => ROLES[r])) {
        const role = ROLES[roleName];
        for (const p of role.cluster) assert.ok(all.some((n) => n.index === undefined && grants(CLUSTER_PRIVILEGES, p, n.action)), `${roleName}: cluster ${p} is not needed`);
        for (const entry of role.indices) {
          for (const p of entry.privileges) assert.ok(all.some((n) => n.index !== undefined && grants(INDEX_PRIVILEGES, p, n.action)), `${roleName}: index ${p} is not needed`);
          for (const name of entry.names) assert.ok(all.some((n) => n.index !== undefined && glob(name, n.index)), `${roleName}: index pattern ${name} is not needed`);
        }
      }
    });
  }

  it("a user per client, each with roles that exist, and no superuser among them", () => {
    const native = Object.values(ES_ACCOUNTS).filter((a) => a !== ES_ACCOUNTS.elastic && a !== ES_ACCOUNTS.kibanaSystem);
    assert.deepEqual(Object.keys(USERS).sort(), [...native].sort());
    for (const [user, roles] of Object.entries(USERS)) {
      for (const r of roles) assert.ok(ROLES[r] || BUILT_IN.has(r), `${user}: role ${r} is neither in roles/ nor an allowed built-in role`);
      assert.ok(!roles.includes("superuser"), `${user} is a superuser`);
    }
    // Saved-object import and the operator's Kibana login need Kibana's feature privileges: the built-in kibana_admin.
    assert.deepEqual(USERS[ES_ACCOUNTS.kibanaImport], ["kibana_admin"]);
    assert.ok(USERS[ES_ACCOUNTS.operator].includes("kibana_admin"));
  });

  it("no role grants all, security management, restricted indices, or anything on * but the exporter's monitoring", () => {
    for (const [name, role] of Object.entries(ROLES)) {
      assert.ok(!role.cluster.some((p) => ["all", "manage", "manage_security"].includes(p)), `${name}: cluster ${role.cluster}`);
      for (const entry of role.indices) {
        assert.ok(!entry.privileges.includes("all"), `${name}: index ${entry.privileges}`);
        // manage only where a settings update needs it: setup, on the platform's own datasets.
        if (entry.privileges.includes("manage")) assert.deepEqual([name, entry.names.every((n) => n !== "*" && !n.startsWith("."))], ["platform_setup", true]);
        assert.notEqual(entry.allow_restricted_indices, true, `${name}: restricted indices`);
        if (entry.names.includes("*")) assert.deepEqual([name, [...entry.privileges].sort()], ["metrics_exporter", ["monitor", "view_index_metadata"]]);
      }
      for (const app of role.applications ?? []) assert.deepEqual([app.application, app.privileges], ["kibana-.kibana", ["read"]], name);
    }
  });

  it("kibana-import calls only Kibana's saved-objects import; verify reads Kibana saved objects as platform-check", () => {
    const script = read("hosts/logging/setup/kibana-import.sh");
    assert.deepEqual([...script.matchAll(/"\$KIBANA_URL(\/[^"?]*)/g)].map((m) => m[1]), ["/api/saved_objects/_import"]);
    assert.ok(!script.includes("ES_URL"));
    assert.match(read("verify/kibana.ts"), /\/api\/saved_objects\//);
    assert.ok(USERS[ES_ACCOUNTS.check].includes("kibana_reader"));
  });
});
