import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ES_ACCOUNTS } from "../../components/credentials/elasticsearch";
import { INDEX_PREFIXES } from "../../components/platform/naming";

// Which calls each client's roles allow, refuse and need is asked of a real node in
// test/integration/elasticsearch-security.test.ts. What is left here is the shape of the security files: a user per
// client, no superuser, nothing broader than the platform's datasets, and Kibana's calls (no Elasticsearch answers them).

const ROOT = path.resolve(__dirname, "../..");
const SECURITY = path.join(ROOT, "hosts/logging/setup/security");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

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

describe("Elasticsearch security files: a user per client, no role broader than the platform's datasets", () => {
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
        // manage would let a client delete the platform's indices, which none needs.
        assert.ok(!entry.privileges.includes("manage"), `${name}: index manage`);
        assert.notEqual(entry.allow_restricted_indices, true, `${name}: restricted indices`);
        if (entry.names.includes("*")) assert.deepEqual([name, [...entry.privileges].sort()], ["metrics_exporter", ["monitor", "view_index_metadata"]]);
      }
      for (const app of role.applications ?? []) assert.deepEqual([app.application, app.privileges], ["kibana-.kibana", ["read"]], name);
    }
  });

  it("covers every dataset: the aggregator writes each index family, the operator reads each, verify the ones it checks", () => {
    const patterns = Object.values(INDEX_PREFIXES).map((prefix) => `${prefix}-*`).sort();
    /** The index patterns a user's roles grant a privilege on. */
    const granted = (user: string, privilege: string) => USERS[user].flatMap((r) => ROLES[r]?.indices ?? [])
      .filter((entry) => entry.privileges.includes(privilege)).flatMap((entry) => entry.names).sort();
    assert.deepEqual(granted(ES_ACCOUNTS.fluentBit, "index"), patterns);
    assert.deepEqual(granted(ES_ACCOUNTS.operator, "read"), patterns);
    // verify reads the platform's own lines (gateway-access, containers) and the record it sends through the ingest
    // endpoint (apps); never CloudTrail's.
    assert.deepEqual(granted(ES_ACCOUNTS.check, "read"), patterns.filter((p) => p !== `${INDEX_PREFIXES.cloudtrail}-*`));
    assert.deepEqual(ROLES.apps_reader.indices.map((entry) => [entry.names, entry.privileges]), [[[`${INDEX_PREFIXES.apps}-*`], ["read"]]]);
  });

  it("kibana-import calls only Kibana's saved-objects import; verify reads Kibana saved objects as platform-check", () => {
    const script = read("hosts/logging/setup/kibana-import.sh");
    assert.deepEqual([...script.matchAll(/"\$KIBANA_URL(\/[^"?]*)/g)].map((m) => m[1]), ["/api/saved_objects/_import"]);
    assert.ok(!script.includes("ES_URL"));
    assert.match(read("verify/kibana.ts"), /\/api\/saved_objects\//);
    assert.ok(USERS[ES_ACCOUNTS.check].includes("kibana_reader"));
  });
});
