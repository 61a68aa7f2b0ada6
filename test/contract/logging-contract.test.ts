import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../../components/platform/repo";
import { INDEX_PREFIXES } from "../../components/platform/naming";
import { FIRST_MEMBER_PROFILE } from "../../components/bundles/env";
import { PORTS } from "../../components/platform/ports";
import {
  GATEWAY_DATASET,
  LOGGING_SETUP_DIR,
  MappedField,
  composedMappings,
  composedSettings,
  datasetNames,
  gatewayTemplateFields,
  ilmPolicy,
  loadIndexTemplate,
  mappedFields,
  ownMappedFields,
  resolvesInMapping,
} from "../helpers/index-template";
import { gatewayLogFieldKinds } from "../helpers/gateway-log";
import { APPS_FIELD_TYPES, APPS_SOURCE_FIELDS, APPS_TIME_KEY, ingestFiles } from "../helpers/apps-record";
import { parseConfig, prop } from "../helpers/fluent-bit";
import { fieldsUsed, loadSavedObjects } from "../helpers/kibana-objects";
import { clusterFacts, sampleEnv } from "../helpers/sample-facts";
import { ComposeService, dependsOn, loadCompose, publishedPorts, serviceEnvironment } from "../helpers/compose";

const LOGGING_DIR = path.join(REPO_ROOT, "hosts", "logging");

/** The type each field of the gateway's Kong-compatible log line must have in Elasticsearch. */
const GATEWAY_FIELD_TYPES: Record<string, string> = {
  started_at: "date",
  client_ip: "ip",
  "request.id": "keyword",
  "request.method": "keyword",
  "request.uri": "keyword",
  "request.url": "keyword",
  "request.size": "long",
  "request.headers.user-agent": "flattened",
  "request.querystring": "keyword",
  upstream_uri: "keyword",
  upstream_status: "short",
  "response.status": "short",
  "response.size": "long",
  "latencies.request": "float",
  "latencies.proxy": "float",
  "latencies.kong": "float",
  "service.name": "keyword",
  "route.name": "keyword",
};

/** CloudTrail record fields (docs: "CloudTrail record contents") and how the cloudtrail indices map them. */
const CLOUDTRAIL_FIELD_TYPES: Record<string, string> = {
  eventTime: "date",
  eventID: "keyword",
  eventSource: "keyword",
  eventName: "keyword",
  eventType: "keyword",
  awsRegion: "keyword",
  // An IP, or the name of the AWS service that made the call (cloudtrail.amazonaws.com): a keyword keeps both.
  sourceIPAddress: "keyword",
  "sourceIPAddress.ip": "ip",
  userAgent: "keyword",
  "userIdentity.type": "keyword",
  "userIdentity.arn": "keyword",
  "userIdentity.accountId": "keyword",
  "userIdentity.principalId": "keyword",
  "userIdentity.userName": "keyword",
  "userIdentity.sessionContext.sessionIssuer.userName": "keyword",
  errorCode: "keyword",
  errorMessage: "text",
  recipientAccountId: "keyword",
  "requestParameters.bucketName": "flattened",
  "responseElements.ConsoleLogin": "flattened",
  "additionalEventData.MFAUsed": "flattened",
  "resources.ARN": "flattened",
};

const NUMERIC_TYPES = new Set(["long", "integer", "short", "float", "double", "scaled_float", "date"]);

/** Added by the pipeline to every document of every dataset. */
const METADATA_FIELD_TYPES: Record<string, string> = {
  "@timestamp": "date",
  "host.name": "keyword",
  "container.name": "keyword",
  stream: "keyword",
  log: "text",
  // The forwarder's line id (container, Docker's time, offset), which the es outputs also make the _id.
  "log_id": "keyword",
};

/** The mapped type a document field lands in (a key inside a `flattened` field takes that field's type). */
function mappedType(fields: Map<string, MappedField>, field: string): string | undefined {
  const parts = field.split(".");
  for (let i = parts.length; i > 0; i--) {
    const found = fields.get(parts.slice(0, i).join("."));
    if (found && (i === parts.length || found.type === "flattened")) return found.type;
  }
  return undefined;
}

/** Index prefixes the aggregator's Elasticsearch outputs write (`logstash_prefix`, or `index` without it). */
function aggregatorIndexPrefixes(): string[] {
  const file = path.join(LOGGING_DIR, "fluent-bit", "fluent-bit.yaml");
  assert.ok(fs.existsSync(file), `the aggregator config ${file} is missing`);
  const config = YAML.parse(fs.readFileSync(file, "utf8")) as { pipeline?: { outputs?: Record<string, unknown>[] } };
  return (config.pipeline?.outputs ?? [])
    .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v])))
    .filter((o) => String(o.name).toLowerCase() === "es")
    .map((o) => String(["on", "true", true].includes(o.logstash_format as string) ? o.logstash_prefix : o.index))
    .sort();
}

describe("logging contract: gateway log format, index templates, ILM, Kibana, aggregator", () => {
  it("maps every field the gateway's log_format emits with its intended type", () => {
    const fields = gatewayTemplateFields();
    const emitted = gatewayLogFieldKinds();
    assert.deepEqual([...emitted.keys()].sort(), Object.keys(GATEWAY_FIELD_TYPES).sort(), "intended types = emitted fields");
    for (const [field, kind] of emitted) {
      const type = mappedType(fields, field);
      assert.equal(type, GATEWAY_FIELD_TYPES[field], `${field} in the ${GATEWAY_DATASET} template`);
      assert.equal(NUMERIC_TYPES.has(String(type)), kind === "number", `${field}: a JSON ${kind} mapped as ${type}`);
    }
    assert.equal(fields.get("started_at")?.format, "epoch_millis", "started_at is epoch milliseconds");
  });

  it("maps the CloudTrail record fields with their intended types, open-ended objects as one flattened field each", () => {
    const fields = mappedFields(INDEX_PREFIXES.cloudtrail);
    const missing = Object.entries(CLOUDTRAIL_FIELD_TYPES).filter(([field, type]) => mappedType(fields, field) !== type);
    assert.deepEqual(missing.map(([field, type]) => `${field} should be ${type}, is ${mappedType(fields, field)}`), []);
    // CloudTrail puts a service name such as cloudtrail.amazonaws.com where an AWS service made the call: the keyword
    // keeps it in every panel by source, the ip sub-field skips it (test/integration/elasticsearch-documents.test.ts).
    const source = composedMappings(INDEX_PREFIXES.cloudtrail)
      .map((m) => m.properties?.sourceIPAddress as { fields?: Record<string, { ignore_malformed?: boolean }> } | undefined)
      .find((def) => def !== undefined);
    assert.equal(source?.fields?.ip?.ignore_malformed, true, "sourceIPAddress.ip ignores a value that is no IP");
    assert.equal(fields.get("@timestamp")?.type, "date", "the data view's time field (the aggregator sets it to eventTime)");
  });

  it("maps every field the ingest endpoint emits with its intended type, and no field of its own that it does not emit", () => {
    const fields = mappedFields(INDEX_PREFIXES.apps);
    const wrong = Object.entries(APPS_FIELD_TYPES).filter(([field, type]) => mappedType(fields, field) !== type);
    assert.deepEqual(wrong.map(([field, type]) => `${field} should be ${type}, is ${mappedType(fields, field)}`), []);
    // The apps template's own properties (pipeline-logs' come with every dataset): nothing mapped that nobody sends.
    const own = [...ownMappedFields(INDEX_PREFIXES.apps).keys()];
    assert.deepEqual(own.filter((field) => !(field in APPS_FIELD_TYPES)), [], "apps.json maps fields the endpoint does not emit");
    assert.equal(fields.get("log_id")?.type, "keyword", "the _id's source, kept in _source");
  });

  it("the ingest endpoint sets the fields it owns under these names and carries the event time where the aggregator reads it", () => {
    const files = ingestFiles();
    const lua = files.filter((f) => f.file.endsWith(".lua")).map((f) => f.text).join("\n");
    const owned = Object.keys(APPS_FIELD_TYPES).filter((field) => !APPS_SOURCE_FIELDS.includes(field));
    const unset = owned.filter((field) => !new RegExp(`record\\["${field.replace(/\./g, "\\.")}"\\]\\s*=\\s*[^=\\s]`).test(lua));
    assert.deepEqual(unset, [], "fields hosts/web/ingest/*.lua never sets (record[\"<field>\"] = ...)");
    const config = files.find((f) => f.file === "fluent-bit.yaml");
    assert.ok(config, "hosts/web/ingest/fluent-bit.yaml is missing");
    const kafka = (parseConfig(config.text).pipeline?.outputs ?? []).find((o) => prop(o, "alias") === "kafka_apps");
    assert.ok(kafka, "the ingest endpoint has no kafka output with alias kafka_apps");
    assert.equal(prop(kafka, "timestamp_key"), APPS_TIME_KEY);
    assert.equal(prop(kafka, "timestamp_format"), "iso8601", "the format the aggregator's forwarder_time parser reads");
    const aggregator = parseConfig(fs.readFileSync(path.join(LOGGING_DIR, "fluent-bit", "fluent-bit.yaml"), "utf8"));
    const restore = (aggregator.pipeline?.filters ?? []).find((f) => prop(f, "alias") === "restore_time");
    assert.equal(restore && prop(restore, "key_name"), APPS_TIME_KEY, "the aggregator restores the event time from that key");
  });

  it("queries in the apps Kibana objects only fields the endpoint emits, and the service, level, host and line among them", () => {
    const objects = loadSavedObjects().map((l) => l.object);
    const overApps = objects.filter((o) => (o.type === "index-pattern" ? o.id : o.references.find((r) => r.type === "index-pattern")?.id) === INDEX_PREFIXES.apps);
    assert.ok(overApps.some((o) => o.type === "index-pattern"), "no data view with id apps");
    const queried = [...new Set(overApps.flatMap((o) => fieldsUsed(o)))];
    assert.deepEqual(queried.filter((field) => field !== "@timestamp" && !(field in APPS_FIELD_TYPES)), [], "fields the endpoint does not emit");
    for (const field of ["service.name", "log.level", "host.name", "log"]) assert.ok(queried.includes(field), `no apps object reads ${field}`);
  });

  it("maps the pipeline metadata fields in every dataset", () => {
    for (const dataset of datasetNames()) {
      const fields = mappedFields(dataset);
      for (const [field, type] of Object.entries(METADATA_FIELD_TYPES)) {
        assert.equal(fields.get(field)?.type, type, `${field} in the ${dataset} template`);
      }
    }
  });

  it("never rejects a document for a type conflict or an unknown field", () => {
    for (const dataset of datasetNames()) {
      const settings = composedSettings(dataset);
      assert.equal(settings["index.mapping.ignore_malformed"], true, `${dataset}: malformed values are skipped`);
      assert.equal(settings["index.mapping.total_fields.ignore_dynamic_beyond_limit"], true, `${dataset}: field limit`);
      const mappings = composedMappings(dataset);
      // subobjects:false keeps `a` and `a.b` as independent leaves: an object where a scalar is mapped (or the
      // reverse) becomes other fields instead of a mapping conflict, which ignore_malformed does not cover.
      assert.ok(mappings.every((m) => m.subobjects === false), `${dataset}: every mapping sets subobjects:false`);
      const dynamic = mappings.flatMap((m) => (m.dynamic_templates as Record<string, { match_mapping_type?: string; mapping: Record<string, unknown> }>[]) ?? []);
      const strings = dynamic.map((t) => Object.values(t)[0]).find((t) => t.match_mapping_type === "string");
      assert.deepEqual(strings?.mapping.type, "keyword", `${dataset}: unknown strings become keyword`);
      assert.ok(Number(strings?.mapping.ignore_above) > 0, `${dataset}: unknown strings have ignore_above`);
    }
    // The services share apps-*: one's number and another's text under the same name (or both in one array) would
    // conflict; every unknown value is a keyword there (test/integration/elasticsearch-documents.test.ts sends them).
    const numbers = composedMappings(INDEX_PREFIXES.apps)
      .flatMap((m) => (m.dynamic_templates as Record<string, { match_mapping_type?: string | string[]; mapping: Record<string, unknown> }>[]) ?? [])
      .map((t) => Object.values(t)[0])
      .filter((t) => ([] as string[]).concat(t.match_mapping_type ?? []).some((type) => ["long", "double"].includes(type)));
    assert.deepEqual(numbers.map((t) => [[...([] as string[]).concat(t.match_mapping_type ?? [])].sort(), t.mapping.type]), [[["double", "long"], "keyword"]]);
  });

  it("takes every index's shard and replica counts from ES_SHARDS and ES_REPLICAS (.env -> compose -> setup.sh)", () => {
    for (const dataset of datasetNames()) {
      const settings = composedSettings(dataset);
      // Placeholders setup.sh renders; a number here would be the same on one node and on nine.
      assert.equal(settings["index.number_of_shards"], "${ES_SHARDS}", `${dataset} shards`);
      assert.equal(settings["index.number_of_replicas"], "${ES_REPLICAS}", `${dataset} replicas`);
    }
    for (const [nodes, shards, replicas] of [[1, "1", "0"], [3, "3", "1"]] as const) {
      const setup = serviceEnvironment("logging", "setup", sampleEnv("logging", 0, clusterFacts({ logging: nodes })));
      assert.deepEqual([setup.ES_SHARDS, setup.ES_REPLICAS], [shards, replicas], `${nodes} node(s)`);
    }
  });

  it("names index templates, ILM policies and index patterns after the datasets the aggregator writes", () => {
    const prefixes = aggregatorIndexPrefixes();
    assert.deepEqual(prefixes, Object.values(INDEX_PREFIXES).sort(), "aggregator prefixes = components/platform/naming.ts");
    assert.deepEqual(datasetNames(), prefixes, "one index template per dataset");
    for (const dataset of datasetNames()) {
      assert.deepEqual(loadIndexTemplate(dataset).index_patterns, [`${dataset}-*`]);
      // setup.sh creates the ILM policy under the template's (file) name.
      assert.equal(composedSettings(dataset)["index.lifecycle.name"], dataset, `${dataset} ILM policy`);
    }
  });

  it("takes ILM retention from ES_RETENTION_DAYS (.env -> compose -> setup.sh)", () => {
    const env = sampleEnv("logging");
    const days = env.ES_RETENTION_DAYS;
    assert.match(days, /^[1-9]\d*$/);
    const phases = (ilmPolicy(days).policy as { phases: Record<string, { min_age?: string; actions: object }> }).phases;
    assert.equal(phases.delete.min_age, `${days}d`);
    assert.ok("delete" in phases.delete.actions, "the delete phase deletes the index");
    const compose = YAML.parse(fs.readFileSync(path.join(LOGGING_DIR, "compose.yaml"), "utf8"));
    assert.equal(compose.services.setup.environment.ES_RETENTION_DAYS, "${ES_RETENTION_DAYS}");
    assert.match(fs.readFileSync(path.join(LOGGING_SETUP_DIR, "setup.sh"), "utf8"), /ES_RETENTION_DAYS/);
  });

  it("uses in Kibana only fields the data view's index template maps", () => {
    const objects = loadSavedObjects().map((l) => l.object);
    const datasetOfDataView = new Map(
      objects
        .filter((o) => o.type === "index-pattern")
        .map((o) => [o.id, String(o.attributes.title).replace(/-\*$/, "")]),
    );
    assert.deepEqual([...datasetOfDataView.values()].sort(), datasetNames(), "one data view per dataset index pattern");
    const missing: string[] = [];
    for (const o of objects) {
      const views = o.type === "index-pattern" ? [o.id] : o.references.filter((r) => r.type === "index-pattern").map((r) => r.id);
      for (const view of new Set(views)) {
        const fields = mappedFields(datasetOfDataView.get(view)!);
        for (const field of fieldsUsed(o)) {
          if (!resolvesInMapping(fields, field)) missing.push(`${o.type}/${o.id} uses ${field}, unmapped in ${view}`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });

  it("reads Lens terms on the user agent from a keyword field (Lens cannot aggregate flattened keys)", () => {
    const objects = loadSavedObjects().map((l) => l.object);
    const used = objects.flatMap((o) => (o.type === "dashboard" ? fieldsUsed(o) : []));
    assert.ok(used.includes("user_agent.original"), "a dashboard panel uses user_agent.original");
    assert.deepEqual(gatewayTemplateFields().get("user_agent.original"), { type: "keyword", runtime: true });
  });

  it("only resolves document fields that the mapping really has", () => {
    const fields = gatewayTemplateFields();
    assert.ok(resolvesInMapping(fields, "request.headers.user-agent"));
    assert.ok(!resolvesInMapping(fields, "response.bogus"));
    assert.equal(mappedType(fields, "request.id.extra"), undefined);
  });
});

type ProfiledService = ComposeService & { profiles?: string[] };

/** The services `docker compose up` starts with the member's COMPOSE_PROFILES: no profiles, or an active one. */
function enabledServices(services: Record<string, ProfiledService>, env: Record<string, string>): string[] {
  const active = env.COMPOSE_PROFILES.split(",").filter(Boolean);
  return Object.entries(services).filter(([, s]) => (s.profiles ?? []).length === 0 || s.profiles!.some((p) => active.includes(p))).map(([name]) => name).sort();
}

describe("logging bundle on 1 and 3 nodes: services per member, node settings from .env", () => {
  const services = () => loadCompose("logging").services as Record<string, ProfiledService>;
  const everyMember = ["elasticsearch", "es-certs", "fluent-bit", "fluent-bit-forwarder", "setup"];
  const firstOnly = ["elasticsearch-exporter", "kibana", "kibana-import"];

  for (const nodes of [1, 3]) {
    it(`${nodes} node(s): Kibana, its import and the exporter on the first member only, and no dependency on a disabled service`, () => {
      for (let index = 0; index < nodes; index++) {
        const env = sampleEnv("logging", index, clusterFacts({ logging: nodes }));
        const enabled = enabledServices(services(), env);
        assert.deepEqual(enabled, (index === 0 ? [...everyMember, ...firstOnly] : everyMember).sort(), `${env.HOST_MEMBER}`);
        // Compose v2 refuses `up` when an enabled service depends on one its profiles disable.
        for (const name of enabled) {
          const missing = Object.keys(dependsOn(services()[name])).filter((dep) => !enabled.includes(dep));
          assert.deepEqual(missing, [], `${env.HOST_MEMBER}: ${name} depends on disabled services`);
        }
      }
    });
  }

  it("tags the first-member services with the profile the first member's .env activates", () => {
    for (const name of firstOnly) assert.deepEqual(services()[name].profiles, [FIRST_MEMBER_PROFILE], name);
    assert.equal(sampleEnv("logging").COMPOSE_PROFILES, FIRST_MEMBER_PROFILE);
  });

  it("hands the node its layout from .env: none for one node, seed hosts and initial masters for a cluster", () => {
    const single = serviceEnvironment("logging", "elasticsearch", sampleEnv("logging"));
    assert.equal(single.ES_NODE_NAME, "logging", "the single node keeps its name");
    assert.deepEqual([single.ES_SEED_HOSTS, single.ES_INITIAL_MASTER_NODES], ["", ""]);
    const facts = clusterFacts({ logging: 3 });
    const ips = facts.members.logging.map((m) => m.privateIp);
    const second = serviceEnvironment("logging", "elasticsearch", sampleEnv("logging", 1, facts));
    assert.equal(second.ES_NODE_NAME, "logging-2");
    assert.equal(second.ES_SEED_HOSTS, [ips[0], ips[2]].map((ip) => `${ip}:${PORTS.elasticsearchTransport}`).join(","));
    assert.equal(second.ES_INITIAL_MASTER_NODES, "logging,logging-2,logging-3");
    assert.equal(second.ES_CLUSTER_MEMBERS, ips.join(","));
    assert.equal(second.HOST_PRIVATE_IP, ips[1]);
    assert.equal(second.HOST_ZONE, facts.members.logging[1].zone);
    // Settings are dotted names; start.sh adds them, so that none is ever passed empty.
    assert.deepEqual(Object.keys(second).filter((key) => key.includes(".") && second[key] === ""), []);
    assert.ok(publishedPorts(services().elasticsearch).includes(PORTS.elasticsearchTransport), "transport is published");
  });
});
