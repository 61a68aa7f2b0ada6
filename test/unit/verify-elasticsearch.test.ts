import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { errors } from "@elastic/elasticsearch";
import {
  clusterHealth, containerLogsPerMember, elasticsearchClient, EsContext, mappedTypes, recentGatewayDocuments, templatesAndPolicies, valueFits, valuesAt,
} from "../../verify/elasticsearch";
import { loadIndexTemplate } from "../../verify/provisioning";
import { gatewayDocument } from "../helpers/gateway-log";
import { closedPort, clusterOutputs, FIXTURE_DIRS, mockedElasticsearch, sendJson, startStandIn, testOutputs } from "../helpers/verify-stand-ins";

const fixture = (file: string) => JSON.parse(readFileSync(path.join(FIXTURE_DIRS.indexTemplates, file), "utf8"));
/** What GET <index>/_mapping shows for an index made from the fixture templates (subobjects: false keeps dotted names). */
const templateMappings = () => ({
  subobjects: false,
  properties: {
    ...fixture("component-templates/pipeline-logs.json").template.mappings.properties,
    ...fixture("index-templates/gateway-access.json").template.mappings.properties,
  },
});
const template = () => loadIndexTemplate(FIXTURE_DIRS.indexTemplates, "gateway-access-*");

const GOOD_DOC = gatewayDocument();

function notFound() {
  return new errors.ResponseError({ body: { status: 404 }, statusCode: 404, headers: {}, warnings: null, meta: {} as never });
}

describe("verify: Elasticsearch checks", () => {
  let ctx: EsContext;
  let mock: ReturnType<typeof mockedElasticsearch>["mock"];
  beforeEach(() => {
    const m = mockedElasticsearch();
    mock = m.mock;
    ctx = { es: m.es, outputs: testOutputs(), timeoutMs: 2000 };
  });

  describe("cluster health", () => {
    const health = (status: string) => () => ({ status, number_of_nodes: 1, active_shards: 9, unassigned_shards: status === "green" ? 0 : 2 });

    it("passes on green", async () => {
      mock.add({ method: "GET", path: "/_cluster/health" }, health("green"));
      assert.match(String(await clusterHealth(ctx)), /^green, 1 of 1 node/);
    });

    it("warns on yellow", async () => {
      mock.add({ method: "GET", path: "/_cluster/health" }, health("yellow"));
      assert.deepEqual(await clusterHealth(ctx), { status: "WARN", detail: "yellow, 1 of 1 node(s), 9 active / 2 unassigned shards" });
    });

    it("counts one node per logging member, and names the members whose node is not in the cluster", async () => {
      const nodes = ["logging", "logging-2", "logging-3"];
      mock.add({ method: "GET", path: "/_cluster/health" }, () => ({ ...health("green")(), number_of_nodes: nodes.length }));
      mock.add({ method: "GET", path: "/_cat/nodes" }, () => nodes.map((name) => ({ name })));
      const cluster = { ...ctx, outputs: clusterOutputs() };
      assert.match(String(await clusterHealth(cluster)), /^green, 3 of 3 node\(s\)/);
      nodes.splice(1, 1);
      await assert.rejects(clusterHealth(cluster), /^Error: green, 2 of 3 node\(s\), .*: not in the cluster: logging-2 \(docker compose logs elasticsearch/);
      await assert.rejects(clusterHealth(ctx), /2 of 1 node\(s\), .*not a logging member: logging-3/);
    });

    it("fails on red", async () => {
      mock.add({ method: "GET", path: "/_cluster/health" }, health("red"));
      await assert.rejects(clusterHealth(ctx), /cluster is red/);
    });

    it("fails with the host, port and security group when the port is closed", async () => {
      const port = await closedPort();
      const outputs = testOutputs({ elasticsearchUrl: `http://127.0.0.1:${port}` });
      const es = elasticsearchClient(outputs, 2000);
      try {
        await assert.rejects(clusterHealth({ es, outputs, timeoutMs: 2000 }), (err: Error) => {
          assert.match(err.message, /Elasticsearch .* is unreachable: logging host 203\.0\.113\.10, tcp\/9200 refused the connection/);
          return true;
        });
      } finally {
        await es.close();
      }
    });

    it("logs in as platform-check, and fails saying the password output is wrong on a 401", async () => {
      const users: string[] = [];
      const es401 = await startStandIn((req, res) => {
        users.push(Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString());
        sendJson(res, 401, { error: { type: "security_exception", reason: "unable to authenticate user [platform-check]" }, status: 401 });
      });
      const outputs = testOutputs({ elasticsearchUrl: es401.url }, { elasticsearchCheckPassword: "stale-password" });
      const es = elasticsearchClient(outputs, 2000);
      try {
        await assert.rejects(clusterHealth({ es, outputs, timeoutMs: 2000 }), /^Error: Elasticsearch refused platform-check's password \(HTTP 401\): the stack output elasticsearchCheckPassword/);
        assert.deepEqual(users, ["platform-check:stale-password"]);
      } finally {
        await es.close();
        await es401.close();
      }
    });

    it("fails naming the tunnel and its SSH rule when nothing answers in time", async () => {
      const silent = await startStandIn(() => undefined);
      const outputs = { ...testOutputs({ elasticsearchUrl: silent.url }), tunnels: [{ member: "logging", host: "203.0.113.10", sshPort: 22, ports: [9200] }] };
      const es = elasticsearchClient(outputs, 300);
      try {
        await assert.rejects(clusterHealth({ es, outputs, timeoutMs: 300 }), (err: Error) => {
          assert.match(err.message, /no answer within 0\.3s, through the SSH tunnel\. Check that the instance is running and that the logging security group allows tcp\/22 from your public IP/);
          return true;
        });
      } finally {
        await es.close();
        await silent.close();
      }
    });
  });

  describe("index templates and ILM policies", () => {
    const templateOf = (name: string, settings: unknown) => ({
      index_templates: [{ name, index_template: { index_patterns: [`${name}-*`], composed_of: [], template: { settings } } }],
    });
    function serve(opts: { missingTemplate?: string; noPolicy?: string; missingPolicy?: string } = {}) {
      mock.add({ method: "GET", path: "/_index_template/:name" }, (params) => {
        const name = String(params.path).split("/").pop()!;
        if (name === opts.missingTemplate) return notFound();
        return templateOf(name, name === opts.noPolicy ? { index: { number_of_shards: "1" } } : { index: { lifecycle: { name } } });
      });
      mock.add({ method: "GET", path: "/_ilm/policy/:name" }, (params) => {
        const name = String(params.path).split("/").pop()!;
        return name === opts.missingPolicy ? notFound() : { [name]: { policy: { phases: {} } } };
      });
    }

    it("passes when every template names an existing policy", async () => {
      serve();
      assert.equal(
        await templatesAndPolicies(ctx),
        "templates with their ILM policies: gateway-access -> gateway-access, containers -> containers, cloudtrail -> cloudtrail, apps -> apps",
      );
    });

    it("fails when a template is missing", async () => {
      serve({ missingTemplate: "containers" });
      await assert.rejects(templatesAndPolicies(ctx), /index template containers is missing/);
    });

    it("fails when a template names no policy", async () => {
      serve({ noPolicy: "gateway-access" });
      await assert.rejects(templatesAndPolicies(ctx), /index template gateway-access names no ILM policy/);
    });

    it("fails when the named policy does not exist", async () => {
      serve({ missingPolicy: "gateway-access" });
      await assert.rejects(templatesAndPolicies(ctx), /ILM policy gateway-access \(named by template gateway-access\) is missing/);
    });
  });

  describe("recent gateway documents", () => {
    it("passes when documents arrived in the window", async () => {
      mock.add({ method: "POST", path: "/:index/_count", body: { query: { range: { "@timestamp": { gte: "now-10m" } } } } }, () => ({ count: 42 }));
      assert.equal(await recentGatewayDocuments(ctx, 10), "42 gateway documents in the last 10 min");
    });

    it("fails with the newest document's time when none arrived", async () => {
      mock.add({ method: "POST", path: "/:index/_count" }, () => ({ count: 0 }));
      mock.add({ method: "POST", path: "/:index/_search" }, () => ({
        hits: { total: { value: 0, relation: "eq" }, hits: [] },
        aggregations: { newest: { value: 1748772000000, value_as_string: "2025-06-01T10:00:00.000Z" } },
      }));
      await assert.rejects(recentGatewayDocuments(ctx, 10), /no gateway documents in gateway-access-\* in the last 10 min \(newest: 2025-06-01T10:00:00.000Z\)/);
    });
  });

  describe("container logs per member", () => {
    const byMember = (counts: Record<string, number>) => (params: { path: string | string[] }) => {
      assert.equal(decodeURIComponent(String(params.path)), "/containers-*/_search");
      return {
        hits: { total: { value: 0, relation: "eq" }, hits: [] },
        aggregations: { members: { buckets: Object.entries(counts).map(([key, doc_count]) => ({ key, doc_count })) } },
      };
    };

    it("passes when every member's forwarder shipped container logs, counting them per member", async () => {
      mock.add({ method: "POST", path: "/:index/_search" }, byMember({ logging: 5, web: 3, kafka: 7, monitoring: 2 }));
      assert.equal(await containerLogsPerMember(ctx), "container logs from all 4 members: logging 5, web 3, kafka 7, monitoring 2");
    });

    it("warns naming the cluster members without any, and fails when no member has any", async () => {
      const counts: Record<string, number> = { logging: 5, "logging-3": 1, web: 3, kafka: 7, "kafka-2": 1, "kafka-3": 1, monitoring: 2 };
      mock.add({ method: "POST", path: "/:index/_search" }, byMember(counts));
      const outcome = await containerLogsPerMember({ ...ctx, outputs: clusterOutputs() });
      assert.equal(typeof outcome === "object" && outcome.status, "WARN");
      assert.match(String(typeof outcome === "object" && outcome.detail), /^no container logs from logging-2 \(docker compose logs fluent-bit-forwarder on that host/);
      mock.clearAll();
      mock.add({ method: "POST", path: "/:index/_search" }, byMember({ "some-other-host": 4 }));
      await assert.rejects(containerLogsPerMember(ctx), /no container logs in containers-\* from any member/);
    });
  });

  describe("mapped types", () => {
    function serve(mappings: unknown, doc: unknown) {
      mock.add({ method: "GET", path: "/:index/_mapping" }, () => ({
        "gateway-access-2025.05.31": { mappings: { properties: {} } },
        "gateway-access-2025.06.01": { mappings },
      }));
      mock.add({ method: "POST", path: "/:index/_search" }, () => ({
        hits: { total: { value: doc ? 1 : 0, relation: "eq" }, hits: doc ? [{ _index: "gateway-access-2025.06.01", _id: "doc-1", _source: doc }] : [] },
      }));
    }

    it("passes when the newest index is mapped as the repo's template and the document fits", async () => {
      serve(templateMappings(), GOOD_DOC);
      assert.match(await mappedTypes(ctx, template()), /^gateway-access-2025\.06\.01: 24 fields typed as in gateway-access\.json; document doc-1 fits$/);
    });

    it("fails when the index maps a field with another type than the template", async () => {
      const mappings = templateMappings();
      mappings.properties["response.status"] = { type: "keyword" };
      serve(mappings, GOOD_DOC);
      await assert.rejects(mappedTypes(ctx, template()), /response\.status is keyword in gateway-access-2025\.06\.01 \(template: short\)/);
    });

    it("fails when a template field is not mapped in the index", async () => {
      const mappings = templateMappings();
      delete (mappings.properties as Record<string, unknown>).client_ip;
      serve(mappings, GOOD_DOC);
      await assert.rejects(mappedTypes(ctx, template()), /client_ip is unmapped/);
    });

    it("fails when the sample document carries a value of the wrong type", async () => {
      serve(templateMappings(), { ...GOOD_DOC, response: { status: "200", size: 512 } });
      await assert.rejects(mappedTypes(ctx, template()), /document doc-1 has response\.status="200", not a short/);
    });

    it("fails when no parsed gateway document exists", async () => {
      serve(templateMappings(), undefined);
      await assert.rejects(mappedTypes(ctx, template()), /holds no parsed gateway document/);
    });

    it("fails when no gateway index exists", async () => {
      mock.add({ method: "GET", path: "/:index/_mapping" }, () => ({}));
      await assert.rejects(mappedTypes(ctx, template()), /no gateway-access-\* index exists yet/);
    });
  });

  describe("document helpers", () => {
    it("reads values from nested objects and dotted keys alike", () => {
      assert.deepEqual(valuesAt({ request: { headers: { "user-agent": "a" } } }, "request.headers.user-agent"), ["a"]);
      assert.deepEqual(valuesAt({ "request.headers": { "user-agent": "b" } }, "request.headers.user-agent"), ["b"]);
      assert.deepEqual(valuesAt({ request: [{ id: "x" }, { id: "y" }] }, "request.id"), ["x", "y"]);
      assert.deepEqual(valuesAt({ request: "flat" }, "request.id"), []);
    });

    it("accepts only values a field of the type should get", () => {
      assert.ok(valueFits("short", 200) && !valueFits("short", "200"));
      assert.ok(valueFits("date", 1748772000123) && valueFits("date", "2025-06-01T10:00:00Z") && !valueFits("date", "yesterday"));
      assert.ok(valueFits("ip", "2001:db8::1") && !valueFits("ip", "10.0.0.999"));
      assert.ok(valueFits("keyword", "GET") && !valueFits("keyword", { a: 1 }));
      assert.ok(valueFits("flattened", { "user-agent": "x" }) && !valueFits("flattened", "x"));
      assert.ok(valueFits("long", null) && valueFits("float", [1.5, 2]));
    });
  });
});
