import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Client } from "@elastic/elasticsearch";
import { EsAccount } from "../../components/credentials/elasticsearch";
import { INDEX_PREFIXES } from "../../components/platform/naming";
import { REPO_ROOT } from "../../components/platform/repo";
import { Role } from "../../components/platform/roles";
import { valuesAt } from "../../verify/elasticsearch";
import { MappingProperty, mappingDefinitions } from "../../verify/provisioning";
import { SAMPLE_RECORDS } from "../fixtures/cloudtrail/log-files";
import { appsPayload } from "../helpers/apps-record";
import { serviceEnvironment } from "../helpers/compose";
import { ElasticsearchNodes, loopbackLoggingFacts } from "../helpers/elasticsearch-node";
import { LINE_ID_KEYS, LogRecord, Plugin, ReadAt, bulkItem, followRecord, inputTag, outputsFor, parseConfig, prop, tailRecord } from "../helpers/fluent-bit";
import { gatewayLogFormat } from "../helpers/gateway-log";
import { composedMappings, composedSettings, datasetNames, mappedFields } from "../helpers/index-template";
import { SavedObject, dashboardControls, dashboardPanels, fieldsUsed, kqlFields, loadSavedObjects } from "../helpers/kibana-objects";
import { Dashboard, Panel, loadDashboards, loadDatasources } from "../helpers/monitoring";
import { sampleEnv } from "../helpers/sample-facts";

/**
 * Every shape of document the aggregator writes, sent to a real Elasticsearch 8.19 node (test/elasticsearch) the way
 * Fluent Bit's es output sends it, after the bundle's own security.sh and setup.sh: what the node rejects, how it maps
 * what it accepts, what it ignores, and whether every field a Kibana object or Grafana panel reads is there with the
 * capability it needs (`_field_caps`, as the account each tool reads with).
 *
 * The documents come from the repository's own files: gateway lines rendered from the gateway's log_format, each
 * line followed through forwarder/fluent-bit.yaml and the aggregator's config by the pipeline model of
 * test/helpers/fluent-bit.ts (index name, `_id`, `@timestamp`) from where the forwarder read it in its container's
 * json-file log, CloudTrail records from test/fixtures/cloudtrail.
 * The node's stand-ins (test/elasticsearch): ILM policies are stored but never run (nothing here depends on it), and
 * the runtime field `user_agent.original` is accepted without its Painless script being compiled or run: only its
 * place in the mapping is checked, never a value it computes.
 */

const FORWARDER = parseConfig(fs.readFileSync(path.join(REPO_ROOT, "forwarder", "fluent-bit.yaml"), "utf8"));
const AGGREGATOR = parseConfig(fs.readFileSync(path.join(REPO_ROOT, "hosts", "logging", "fluent-bit", "fluent-bit.yaml"), "utf8"));
const LOGGING_ENV = sampleEnv("logging");
const DAY = "2026.12.01";
/** Kafka delivers the records a few minutes after the events (the index day is the event's, not this). */
const CONSUMED = new Date("2026-12-01T10:30:00.000Z");
/** 127.0.0.11: no other test's node listens there. */
const FIRST_ADDRESS = 11;
/** Kibana reads as the person using it (operator: kibana_admin, log_reader), Grafana as its own datasource user. */
const KIBANA_ACCOUNT: EsAccount = "operator";
const GRAFANA_ACCOUNT: EsAccount = "grafana";

// ---- The documents, as the pipeline makes them

/** One document as the aggregator's es output sends it, and what the test expects of it. */
interface Shipped {
  name: string;
  index: string;
  /** The bulk item's `_id`: a container line's log_id (where it was read), CloudTrail's eventID, or none (Elasticsearch picks one). */
  id?: string;
  document: LogRecord;
  /** Where the forwarder read a container's line. */
  readAt?: ReadAt;
  /** Fields Elasticsearch is expected to leave out of the index (`_ignored`), or a check of them. */
  ignored: string[] | ((ignored: string[]) => void);
  /** Written by the real producer (nginx's log_format, CloudTrail): every value a dashboard reads must be indexed. */
  asProduced: boolean;
}

/** `${VAR}` in a config value, from a member's `.env`. */
const interpolate = (value: string, env: Record<string, string>): string =>
  value.replace(/\$\{(\w+)\}/g, (whole, name: string) => env[name] ?? whole);

/** A time as Docker writes it in json-file (RFC 3339, nanoseconds) and as the forwarder's kafka output (iso8601, microseconds). */
const dockerTime = (at: Date) => at.toISOString().replace(/\.(\d{3})Z$/, ".$1456789Z");
const forwarderTime = (at: Date) => at.toISOString().replace(/\.(\d{3})Z$/, ".$1456Z");

/** Docker's longest piece of a line in json-file: a longer line is written as several records. */
const DOCKER_PIECE = 16 * 1024;
/** The end of each container's json-file log (by path): where Docker writes its next record. */
const logEnds = new Map<string, number>();

/**
 * Docker writes a line to a container's json-file log (the container's id made from its host and service), one
 * record per 16 KiB piece; returns where the forwarder reads it: with the docker multiline parser, the offset is the
 * start of the line's last piece.
 */
function writeJsonFile(host: Role, service: string, record: { log: string } & LogRecord): ReadAt {
  const id = createHash("sha256").update(`${host}/${service}`).digest("hex");
  const file = `/var/lib/docker/containers/${id}/${id}-json.log`;
  let end = logEnds.get(file) ?? 0;
  let last = end;
  for (const piece of record.log.match(new RegExp(`[\\s\\S]{1,${DOCKER_PIECE}}`, "g")) ?? [""]) {
    last = end;
    end += Buffer.byteLength(`${JSON.stringify({ ...record, log: piece })}\n`);
  }
  logEnds.set(file, end);
  return { path: file, offset: last };
}

let offset = 0;

/** A Kafka message through the aggregator: its kafka input's record, the filters, the one es output that takes it. */
function consume(name: string, topic: string, payload: unknown, key: string | null, expect: Pick<Shipped, "ignored" | "asProduced">): Shipped {
  const input = AGGREGATOR.pipeline?.inputs?.find((i) => prop(i, "alias") === "kafka_in");
  assert.ok(input, "the aggregator's kafka input (alias kafka_in)");
  const filtered = followRecord(AGGREGATOR, inputTag(input), { topic, partition: 0, offset: offset++, error: null, key, payload }, LOGGING_ENV);
  assert.equal(filtered.length, 1, `${name}: one record per message`);
  assert.deepEqual(filtered[0].unmodelled, [], `${name}: every aggregator filter is modelled`);
  const outputs = outputsFor(AGGREGATOR, filtered[0].tag);
  assert.equal(outputs.length, 1, `${name}: ${filtered[0].tag} reaches one output, not ${outputs.join(", ")}`);
  const output = AGGREGATOR.pipeline!.outputs!.find((o) => prop(o, "alias") === outputs[0]) as Plugin;
  assert.equal(String(prop(output, "name")).toLowerCase(), "es", `${name}: ${outputs[0]} is an es output`);
  assert.equal(String(prop(output, "write_operation")), "index", `${name}: ${outputs[0]} indexes (bulk action "index")`);
  const item = bulkItem(output, filtered[0], CONSUMED);
  assert.notEqual(item.id, "generated", `${name}: no es output hashes the record into its _id`);
  const id = item.id;
  // time_key: the output adds the event time under it, in front of the record's own keys.
  const document: LogRecord = { [String(prop(output, "time_key") ?? "@timestamp")]: item.timestamp, ...filtered[0].record };
  return { name, index: item.index, ...(id === undefined ? {} : { id }), document, ...expect };
}

/**
 * A line a container writes: Docker's json-file record, read by the forwarder's tail input at the end of the
 * container's log (or at `readFrom`: the same line read again), through the forwarder (filters, the kafka output with
 * the tag and event time the Lua filter and timestamp_key carry), then the aggregator.
 */
function fromContainer(
  name: string, host: Role, service: string, line: string, stream: "stdout" | "stderr", at: Date,
  expect: Pick<Shipped, "ignored" | "asProduced"> = { ignored: [], asProduced: true }, readFrom?: ReadAt,
): Shipped {
  const env = sampleEnv(host);
  const input = FORWARDER.pipeline?.inputs?.find((i) => prop(i, "alias") === "docker_logs");
  assert.ok(input, "the forwarder's tail input (alias docker_logs)");
  const written = { log: `${line}\n`, stream, time: dockerTime(at), attrs: { tag: `${host}-${service}-1`, "com.docker.compose.service": service } };
  const readAt = readFrom ?? writeJsonFile(host, service, written);
  const record = tailRecord(input, written, readAt);
  const forwarded = followRecord(FORWARDER, inputTag(input), record, env);
  assert.equal(forwarded.length, 1, `${name}: the forwarder ships the line once`);
  // carry_tag (Lua) puts the tag in the record; the model has no copy of it (line_id's it has), so it is added here
  // as the filter does.
  assert.deepEqual(forwarded[0].unmodelled, ["carry_tag"], `${name}: only carry_tag is outside the model`);
  const outputs = outputsFor(FORWARDER, forwarded[0].tag);
  assert.equal(outputs.length, 1, `${name}: one kafka output`);
  const kafka = FORWARDER.pipeline!.outputs!.find((o) => prop(o, "alias") === outputs[0]) as Plugin;
  const payload = { ...forwarded[0].record, fluentbit_tag: forwarded[0].tag, [String(prop(kafka, "timestamp_key"))]: forwarderTime(at) };
  const topic = interpolate(String(prop(kafka, "topics")), env);
  assert.doesNotMatch(topic, /\$\{/, `${name}: the ${host} .env names the topic`);
  const shipped = consume(name, topic, payload, null, expect);
  assert.equal(shipped.id, shipped.document[LINE_ID_KEYS.id], `${name}: _id = the line's log_id`);
  return { ...shipped, readAt };
}

/** A CloudTrail record as the Lambda produces it: key = eventID, value = the record. */
function fromCloudTrail(name: string, record: Record<string, unknown>, expect: Pick<Shipped, "ignored" | "asProduced"> = { ignored: [], asProduced: true }): Shipped {
  return consume(name, LOGGING_ENV.KAFKA_TOPIC_CLOUDTRAIL, record, String(record.eventID), expect);
}

/**
 * A record a user's service sent the ingest endpoint, as the endpoint produces it to the apps topic (test/helpers/
 * apps-record.ts: its shaped fields, log_id, the carried event time, the rest as the service sent it).
 */
function fromService(
  name: string, at: Date, fields: Record<string, unknown>, protocol: "forward" | "otlp" = "forward",
  expect: Pick<Shipped, "ignored" | "asProduced"> = { ignored: [], asProduced: true },
): Shipped {
  const payload = appsPayload(at, fields, protocol);
  const shipped = consume(name, LOGGING_ENV.KAFKA_TOPIC_APPS, payload, null, expect);
  assert.equal(shipped.id, payload.log_id, `${name}: _id = the endpoint's log_id`);
  return shipped;
}

/** Keys Elasticsearch refuses at a document's top level (its metadata fields), which a service may still send. */
const METADATA_KEYS = [
  "_id", "_index", "_source", "_routing", "_ignored", "_ignored_source", "_field_names", "_seq_no", "_primary_term", "_version",
  "_doc_count", "_tier", "_data_stream_timestamp", "_nested_path", "_index_mode",
];

/**
 * A gateway access line as nginx writes it: the log_format of hosts/web/gateway with each variable's value
 * (escape=json: a value is JSON-escaped, a bare one must be digits or null). A variable without a value fails.
 */
function accessLine(values: Record<string, string>): string {
  return gatewayLogFormat().template.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    assert.ok(name in values, `no sample value for $${name} of the gateway's log_format: add it to the test's requests`);
    return JSON.stringify(values[name]).slice(1, -1);
  });
}

/** The nginx variables of one request (strings as nginx has them; the maps of kong-log.conf already applied). */
function request(at: Date, overrides: Record<string, string>): Record<string, string> {
  return {
    kong_started_at: String(at.getTime()),
    remote_addr: "203.0.113.9",
    request_id: createHash("md5").update(at.toISOString() + JSON.stringify(overrides)).digest("hex"),
    request_method: "GET",
    request_uri: "/api/users/42?expand=orders",
    scheme: "http",
    host: "gateway.example.com",
    server_port: "80",
    request_length: "187",
    args: "expand=orders",
    http_user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    kong_upstream_uri: "/api/users/42?expand=orders",
    kong_upstream_status: "200",
    status: "200",
    bytes_sent: "612",
    kong_latency_request: "42",
    kong_latency_proxy: "40",
    kong_latency_kong: "0",
    kong_service: "users",
    kong_route: "users-route",
    ...overrides,
  };
}

const at = (minute: number, second = 0) => new Date(Date.UTC(2026, 11, 1, 10, minute, second, 123));

/** A record whose request and response parameters are large: long values, thousands of keys, deep arrays of objects. */
function hugeCloudTrailRecord(): Record<string, unknown> {
  const base = SAMPLE_RECORDS[1];
  return {
    ...base,
    eventID: "7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
    eventTime: "2026-12-01T10:07:30Z",
    eventName: "RunInstances",
    requestParameters: {
      instancesSet: { items: [{ imageId: "ami-0abc1234def567890", minCount: 50, maxCount: 50 }] },
      userData: "x".repeat(64 * 1024),
      tagSpecificationSet: { items: Array.from({ length: 200 }, (_, i) => ({ resourceType: "instance", tags: [{ key: `k${i}`, value: "v".repeat(2000) }] })) },
      launchTemplate: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`parameter${i}`, `value-${i}`])),
      blockDeviceMapping: { items: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 30, volumeType: "gp3", encrypted: true, kmsKey: { arn: { alias: { name: { depth: { ten: "deep" } } } } } } }] },
    },
    responseElements: {
      reservationId: "r-0123456789abcdef0",
      instancesSet: {
        items: Array.from({ length: 50 }, (_, i) => ({
          instanceId: `i-${String(i).padStart(17, "0")}`,
          networkInterfaceSet: { items: [{ privateIpAddressesSet: { item: [{ privateIpAddress: `10.0.0.${i}`, primary: true }] } }] },
          stateReason: { message: "pending ".repeat(300) },
        })),
      },
    },
  };
}

/** A JSON line with `count` fields nobody mapped: strings, numbers, booleans and nested objects. */
function unknownFields(prefix: string, count: number): Record<string, unknown> {
  const kinds = [(i: number) => `value ${i}`, (i: number) => i, (i: number) => i % 2 === 0, (i: number) => ({ nested: `value ${i}` })];
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}_${String(i).padStart(4, "0")}`, kinds[i % kinds.length](i)]));
}

/** Every shape the aggregator writes, in the order a day's bulks would bring them. */
function shapes(): Shipped[] {
  const fixtures = SAMPLE_RECORDS;
  const serviceCall = fixtures.find((r) => r.sourceIPAddress === "cloudtrail.amazonaws.com");
  assert.ok(serviceCall, "the CloudTrail fixture has a call an AWS service made (sourceIPAddress = its name)");
  // One line of 48 KiB: Docker writes it in 16 KiB pieces, which the forwarder's docker multiline parser joins.
  const longLine = `WARN request body rejected: ${"0123456789abcdef ".repeat(2900)}`.trimEnd();
  /** An access line nginx writes for this request; the forwarder must parse it into the gateway's fields. */
  const access = (name: string, second: number, overrides: Record<string, string>): Shipped => {
    const shipped = fromContainer(name, "web", "gateway", accessLine(request(at(2, second), overrides)), "stdout", at(2, second));
    assert.ok(!("log" in shipped.document) && typeof shipped.document.response === "object", `${name}: parsed into the log_format's fields`);
    return shipped;
  };
  return [
    // gateway stdout: access lines (docker.gateway.stdout -> gateway-access-*)
    access("access line, proxied", 11, {}),
    access("access line, no route (404, nothing proxied)", 12, {
      request_uri: "/nowhere", args: "", kong_upstream_uri: "", kong_upstream_status: "null", status: "404", kong_latency_proxy: "null",
      kong_latency_kong: "0", kong_latency_request: "0", kong_service: "", kong_route: "",
    }),
    access("access line, upstream error from an IPv6 client, quotes and non-ASCII in the request", 13, {
      remote_addr: "2001:db8::17", request_method: "POST", request_uri: "/api/orders?q=caf\u00e9&x=\"1\"", args: "q=caf\u00e9&x=\"1\"",
      http_user_agent: "curl/8.5.0 \"quoted\" \\ back\tslash", kong_upstream_uri: "/api/orders?q=caf\u00e9&x=\"1\"", kong_upstream_status: "502",
      status: "502", kong_latency_request: "2004", kong_latency_proxy: "2001", kong_service: "orders", kong_route: "orders-route",
    }),
    access("access line, a 1.5 s request with an empty user agent", 14, {
      http_user_agent: "", kong_latency_request: "1500", kong_latency_proxy: "1498", kong_service: "payments", kong_route: "payments-route",
      request_uri: "/api/payments", args: "", kong_upstream_uri: "/api/payments",
    }),
    // gateway stdout that is not an access record: stays raw text in `log`
    fromContainer("malformed access line (cut short)", "web", "gateway", accessLine(request(at(2, 15), {})).slice(0, 120), "stdout", at(2, 15)),
    fromContainer("raw line on the gateway's stdout (the image's entrypoint)", "web", "gateway",
      "/docker-entrypoint.sh: Configuration complete; ready for start up", "stdout", at(2, 16)),
    // JSON on the gateway's stdout that is not the log_format: values that do not fit the mapping are ignored
    fromContainer("JSON line whose values do not fit the access mapping", "web", "gateway", JSON.stringify({
      started_at: "-", client_ip: "unix:", request: "GET / HTTP/1.1", response: { status: "-" }, latencies: { request: "0.042" },
    }), "stdout", at(2, 17), { ignored: ["client_ip", "response.status", "started_at"], asProduced: false }),
    fromContainer("JSON line with a thousand unknown fields", "web", "gateway", JSON.stringify(unknownFields("unknown", 1000)), "stdout", at(2, 18),
      { ignored: [], asProduced: false }),
    // gateway stderr and every other container: containers-*, raw text in `log`
    fromContainer("nginx error line (gateway stderr)", "web", "gateway",
      "2026/12/01 10:03:01 [error] 29#29: *17 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.9, " +
      "server: gateway, request: \"GET /api/orders HTTP/1.1\", upstream: \"http://127.0.0.1:8082/api/orders\", host: \"gateway.example.com\"",
      "stderr", at(3, 1)),
    fromContainer("another container's line (Kafka)", "kafka", "kafka",
      "[2026-12-01 10:03:02,101] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)", "stdout", at(3, 2)),
    fromContainer("another container's JSON line (Kibana), not parsed", "logging", "kibana",
      JSON.stringify({ "@timestamp": "2026-12-01T10:03:03.000+00:00", "log.level": "info", message: "Kibana is now available", service: { node: { roles: ["ui"] } } }),
      "stdout", at(3, 3)),
    fromContainer("a 48 KiB line joined from Docker's 16 KiB pieces", "web", "loadgen", longLine, "stderr", at(3, 4)),
    fromContainer("an empty line", "monitoring", "prometheus", "", "stdout", at(3, 5)),
    consume("a message on the containers topic without the forwarder's tag", LOGGING_ENV.KAFKA_TOPIC_CONTAINERS,
      { log: "written by something else", stream: "stdout" }, null, { ignored: [], asProduced: false }),
    consume("a message on the containers topic that is not JSON", LOGGING_ENV.KAFKA_TOPIC_CONTAINERS, "not json", null,
      { ignored: [], asProduced: false }),
    // CloudTrail: cloudtrail-*, _id = eventID
    ...fixtures.map((record) => fromCloudTrail(`CloudTrail ${record.eventName} (${record.sourceIPAddress})`, record,
      { ignored: record === serviceCall ? ["sourceIPAddress.ip"] : [], asProduced: true })),
    fromCloudTrail("CloudTrail record with huge request and response parameters", hugeCloudTrailRecord()),
    fromCloudTrail("CloudTrail record whose eventTime does not parse", { ...fixtures[0], eventID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", eventTime: "yesterday" },
      { ignored: ["eventTime"], asProduced: false }),
    consume("a message on the CloudTrail topic that is not JSON", LOGGING_ENV.KAFKA_TOPIC_CLOUDTRAIL, "not json", null, { ignored: [], asProduced: false }),
    // The users' services, through the ingest endpoint: apps-*, _id = log_id
    fromService("a service's line from the forwarder folder (forward)", at(4, 1), {
      "service.name": "orders", log: "order 42 shipped to 75001", "log.level": "info", "host.name": "app-host-1", "container.name": "orders-1", stream: "stdout",
    }),
    fromService("an OTLP record with its trace context and attributes", at(4, 2), {
      "service.name": "checkout", log: "payment authorised for cart 9", "log.level": "warn", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736",
      "span.id": "00f067aa0ba902b7", "host.name": "checkout-7d9f", "http.request.method": "POST", "deployment.environment": "prod",
    }, "otlp"),
    fromService("a JSON line parsed into the service's fields: numbers, booleans, mixed arrays, nested objects", at(4, 3), {
      "service.name": "payments", log: "card declined", "log.level": "error", user_id: 42, amount: 12.5, ok: false,
      retries: [1, 2.5, "3"], args: [42, "x", true, { nested: 1 }], ctx: { request: { id: "r-1", headers: { "x-b3": ["a", 1] } } },
    }),
    fromService("another service's fields of the same names with other types", at(4, 4), {
      "service.name": "inventory", log: "stock low for sku 17", "log.level": "warning", user_id: "u-17", amount: "n/a", ok: "yes", ctx: "flat text",
    }),
    fromService("a service's own @timestamp and every key Elasticsearch reserves", at(4, 5), {
      "service.name": "legacy", log: "started in 3.2s", "log.level": "info", "@timestamp": "2026-12-01T09:00:00.000Z",
      ...Object.fromEntries(METADATA_KEYS.map((key, i) => [key, i % 2 === 0 ? `their ${key}` : { value: i }])),
      // Taken already: this _index is dropped rather than overwrite it.
      __index: "a field of their own",
    }),
    fromService("a line the endpoint cut at 256 KiB", at(4, 6), {
      "service.name": "batch", log: `dumping state: ${"key=value ".repeat(26_213)}`.slice(0, 256 * 1024), "log.level": "debug", "log.truncated": true,
    }),
    fromService("a bare OTLP body: no level, host or container", at(4, 7), { "service.name": "unknown", log: "bare body" }, "otlp"),
    consume("a message on the apps topic that is not JSON", LOGGING_ENV.KAFKA_TOPIC_APPS, "not json", null, { ignored: [], asProduced: false }),
    // Last: past the field limit of the day's gateway index, dynamic fields are ignored instead of rejecting the line.
    fromContainer("JSON line whose unknown fields go past the field limit", "web", "gateway", JSON.stringify(unknownFields("more", 1000)), "stdout", at(2, 19), {
      asProduced: false,
      ignored: (ignored) => {
        assert.ok(ignored.length > 0, "fields past index.mapping.total_fields.limit are in _ignored");
        assert.deepEqual(ignored.filter((f) => !f.startsWith("more_")), [], "only the line's own unknown fields are ignored");
      },
    }),
  ];
}

// ---- What Kibana and Grafana read

type Need = "searchable" | "aggregatable" | "date" | "numeric";

/** One field one dashboard panel reads, with what it needs of the field. */
interface FieldUse {
  tool: "Kibana" | "Grafana";
  /** The saved object or dashboard, e.g. `dashboard "AWS API activity"`. */
  object: string;
  panel: string;
  field: string;
  need: Need;
  index: string;
  account: EsAccount;
}

/** What each Lens operation needs of its sourceField. */
const LENS_NEEDS: Record<string, Need> = {
  date_histogram: "date", terms: "aggregatable", unique_count: "aggregatable", last_value: "aggregatable", count: "aggregatable",
  percentile: "numeric", percentile_rank: "numeric", average: "numeric", median: "numeric", sum: "numeric", min: "numeric",
  max: "numeric", standard_deviation: "numeric", range: "numeric",
};
/** What each dashboard control needs of its field. */
const CONTROL_NEEDS: Record<string, Need> = { optionsListControl: "aggregatable", rangeSliderControl: "numeric", timeSlider: "date" };
/** What each Grafana Elasticsearch metric and bucket aggregation needs of its field. */
const GRAFANA_NEEDS: Record<string, Need> = {
  avg: "numeric", sum: "numeric", min: "numeric", max: "numeric", percentiles: "numeric", extended_stats: "numeric", histogram: "numeric",
  cardinality: "aggregatable", terms: "aggregatable", date_histogram: "date", top_metrics: "aggregatable",
};
const NUMERIC_TYPES = new Set(["long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"]);

/**
 * Every field the Kibana saved objects read, per panel: what fieldsUsed (test/helpers/kibana-objects.ts) finds in one
 * panel's copy of the object must be searchable, and a field a Lens operation, a control, a sort or the time field
 * works on needs the capability of that use. Unknown operations are refused, so the table above stays complete.
 */
function kibanaUses(objects: SavedObject[]): FieldUse[] {
  const titles = new Map(objects.filter((o) => o.type === "index-pattern").map((o) => [o.id, String(o.attributes.title)]));
  const uses: FieldUse[] = [];
  for (const o of objects) {
    const object = `${o.type} "${String(o.attributes.title)}"`;
    /** The data view of the object, or of the panel whose references start with `prefix`. */
    const dataView = (prefix = ""): string => {
      const ids = [...new Set(o.references.filter((r) => r.type === "index-pattern" && r.name.startsWith(prefix)).map((r) => r.id))];
      assert.equal(ids.length, 1, `${object}${prefix ? ` ${prefix}` : ""}: one data view, found ${ids.join(", ") || "none"}`);
      return titles.get(ids[0])!;
    };
    const use = (panel: string, field: string, need: Need, index: string) => uses.push({ tool: "Kibana", object, panel, field, need, index, account: KIBANA_ACCOUNT });
    if (o.type === "index-pattern") {
      use("(time field)", String(o.attributes.timeFieldName), "date", String(o.attributes.title));
    } else if (o.type === "search") {
      const index = dataView();
      for (const field of fieldsUsed(o)) use("(saved search)", field, "searchable", index);
      for (const [field] of (o.attributes.sort as [string, string][] | undefined) ?? []) use("(sort)", field, "aggregatable", index);
    } else if (o.type === "dashboard") {
      // The same object holding one panel (or one control) at a time: fieldsUsed then finds that panel's fields only.
      const alone = (panels: unknown[], controls?: Record<string, unknown>): SavedObject => {
        const attributes: Record<string, unknown> = { ...o.attributes, panelsJSON: JSON.stringify(panels) };
        delete attributes.kibanaSavedObjectMeta;
        delete attributes.controlGroupInput;
        if (controls) attributes.controlGroupInput = { panelsJSON: JSON.stringify(controls) };
        return { ...o, attributes };
      };
      const covered = new Set<string>();
      const meta = { ...o, attributes: { ...o.attributes, panelsJSON: "[]", controlGroupInput: undefined } };
      for (const field of fieldsUsed(meta)) {
        covered.add(field);
        for (const index of new Set(o.references.filter((r) => r.type === "index-pattern").map((r) => titles.get(r.id)!))) {
          use("(dashboard query and filters)", field, "searchable", index);
        }
      }
      for (const panel of dashboardPanels(o)) {
        const state = panel.embeddableConfig.attributes?.state;
        if (!state) continue; // a saved search by reference: checked as the search itself
        const title = (panel as unknown as { title?: string }).title ?? `panel ${panel.panelIndex}`;
        const index = dataView(`${panel.panelIndex}:`);
        for (const field of fieldsUsed(alone([panel]))) {
          covered.add(field);
          use(title, field, "searchable", index);
        }
        for (const layer of Object.values(state.datasourceStates.formBased?.layers ?? {})) {
          for (const column of Object.values(layer.columns) as { operationType?: string; sourceField?: string }[]) {
            if (!column.sourceField || column.sourceField === "___records___") continue;
            const need = LENS_NEEDS[column.operationType ?? ""];
            assert.ok(need, `${object} panel "${title}": Lens operation ${column.operationType} is not in LENS_NEEDS`);
            use(title, column.sourceField, need, index);
          }
        }
      }
      for (const [id, control] of Object.entries(dashboardControls(o))) {
        const title = `control "${String(control.explicitInput.title ?? id)}"`;
        const need = CONTROL_NEEDS[control.type];
        assert.ok(need, `${object} ${title}: control type ${control.type} is not in CONTROL_NEEDS`);
        const index = dataView(`controlGroup_${id}:`);
        for (const field of fieldsUsed(alone([], { [id]: control }))) {
          covered.add(field);
          use(title, field, need, index);
        }
      }
      // The panel-by-panel reading misses nothing the whole-object reading finds.
      assert.deepEqual(fieldsUsed(o).filter((f) => !covered.has(f)), [], `${object}: fields outside any panel`);
    }
  }
  return uses;
}

/** Grafana panels, those inside collapsed rows included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels((p as unknown as { panels?: Panel[] }).panels ?? [])]);
}

/** `[gateway-access-]YYYY.MM.DD` (Grafana's daily pattern) -> `gateway-access-*`; a plain pattern as it is. */
const grafanaIndexPattern = (index: string): string => index.replace(/^\[([^\]]*)\].*$/, "$1*");

/**
 * Every field the Grafana Elasticsearch panels read: time field, metric and bucket aggregation fields, and the fields
 * their Lucene queries and filters compare (same `field:` syntax that kqlFields reads); the datasource's own time and
 * log message fields too.
 */
function grafanaUses(dashboards: { file: string; dashboard: Dashboard }[] = loadDashboards()): FieldUse[] {
  const sources = new Map(loadDatasources().filter((d) => d.type === "elasticsearch").map((d) => [d.uid, d]));
  const uses: FieldUse[] = [];
  for (const [uid, source] of sources) {
    const index = grafanaIndexPattern(String(source.jsonData?.index));
    const object = `datasource "${source.name}" (${uid})`;
    uses.push({ tool: "Grafana", object, panel: "(time field)", field: String(source.jsonData?.timeField), need: "date", index, account: GRAFANA_ACCOUNT });
    if (source.jsonData?.logMessageField) {
      uses.push({ tool: "Grafana", object, panel: "(log message field)", field: String(source.jsonData.logMessageField), need: "searchable", index, account: GRAFANA_ACCOUNT });
    }
  }
  for (const { file, dashboard } of dashboards) {
    const object = `dashboard "${dashboard.title}" (${file})`;
    for (const panel of allPanels(dashboard.panels)) {
      for (const target of panel.targets ?? []) {
        const source = sources.get((target.datasource ?? panel.datasource)?.uid ?? "");
        if (!source) continue;
        const index = grafanaIndexPattern(String(source.jsonData?.index));
        const use = (field: string, need: Need) => uses.push({ tool: "Grafana", object, panel: panel.title, field, need, index, account: GRAFANA_ACCOUNT });
        use(target.timeField ?? String(source.jsonData?.timeField), "date");
        for (const agg of [...(target.metrics ?? []), ...(target.bucketAggs ?? [])]) {
          if (agg.field !== undefined) {
            const need = GRAFANA_NEEDS[agg.type];
            assert.ok(need, `${object} panel "${panel.title}": aggregation ${agg.type} is not in GRAFANA_NEEDS`);
            use(agg.field, need);
          }
        }
        const queries = [target.query ?? "", ...(target.bucketAggs ?? []).flatMap((b) => b.settings?.filters?.map((f) => f.query) ?? [])];
        for (const field of queries.flatMap(kqlFields)) use(field, "searchable");
      }
    }
  }
  return uses;
}

type Capability = { type: string; searchable: boolean; aggregatable: boolean };
/** `_field_caps` fields of one index pattern as one account: field -> type -> capability. */
type FieldCaps = Record<string, Record<string, Capability>>;
const capsKey = (index: string, account: EsAccount) => `${index} as ${account}`;

/** Why a field does not serve a use, or undefined when it does. */
function capabilityProblem(caps: FieldCaps, field: string, need: Need): string | undefined {
  const byType = caps[field];
  if (!byType) {
    // _field_caps lists a flattened field, not its keys; a key can be queried, not aggregated (Lens) or typed.
    const parts = field.split(".");
    const parent = parts.map((_, i) => parts.slice(0, i).join(".")).find((p) => p && caps[p]?.flattened);
    if (parent && need === "searchable") return undefined;
    return parent ? `is a key of the flattened field ${parent}, which is not ${need}` : "is not in the mapping";
  }
  const types = Object.keys(byType);
  if (types.length !== 1) return `has conflicting types (${types.join(", ")}) across the indices`;
  const { type, searchable, aggregatable } = byType[types[0]];
  if (need === "searchable" && !searchable) return `is ${type}, not searchable`;
  if (need === "aggregatable" && !aggregatable) return `is ${type}, not aggregatable`;
  if (need === "date" && !(["date", "date_nanos"].includes(type) && aggregatable)) return `is ${type}, not a date`;
  if (need === "numeric" && !(NUMERIC_TYPES.has(type) && aggregatable)) return `is ${type}, not numeric`;
  return undefined;
}

/** Every use a field does not serve, naming the tool, dashboard or object, panel and field. */
function dashboardProblems(uses: FieldUse[], caps: Map<string, FieldCaps>): string[] {
  return uses.flatMap((u) => {
    const found = caps.get(capsKey(u.index, u.account));
    assert.ok(found, `no _field_caps fetched for ${capsKey(u.index, u.account)}`);
    const problem = capabilityProblem(found, u.field, u.need);
    return problem ? [`${u.tool} ${u.object}, panel "${u.panel}": ${u.field} (needs ${u.need}, in ${u.index} as ${u.account}) ${problem}`] : [];
  });
}

// ---- Helpers on the node's answers

/** A field's mapping parameters as the node answers them. */
type MappedDefinition = Record<string, unknown> & { type?: string };

/**
 * Mapped fields of every index of a dataset as the node has them, every parameter included (`include_defaults`: a
 * value equal to its default, such as a field's ignore_malformed that the index setting already sets, is left out of
 * GET _mapping), by dotted path; multi-fields as `<field>.<name>`, metadata fields left out.
 */
async function realMappings(es: Client, dataset: string): Promise<Map<string, Map<string, MappedDefinition>>> {
  const answer = await es.indices.getFieldMapping({ index: `${dataset}-*`, fields: "*", include_defaults: true });
  return new Map(Object.entries(answer).map(([index, { mappings }]) => [
    index,
    new Map(Object.entries(mappings).filter(([field]) => !field.startsWith("_"))
      .map(([field, { mapping }]) => [field, Object.values(mapping)[0] as MappedDefinition])),
  ]));
}

/** The template's own definitions of a dataset's fields (component templates first, as setup.sh composes them). */
function templateDefinitions(dataset: string): Map<string, MappingProperty> {
  const out = new Map<string, MappingProperty>();
  for (const mappings of composedMappings(dataset)) {
    for (const [field, def] of mappingDefinitions(mappings.properties as Record<string, MappingProperty> | undefined)) out.set(field, def);
  }
  return out;
}

/** The dataset of an index name (`cloudtrail-2026.12.01` -> `cloudtrail`). */
const datasetOf = (index: string): string => {
  const dataset = datasetNames().find((d) => index.startsWith(`${d}-`));
  assert.ok(dataset, `${index} is no dataset's index`);
  return dataset;
};

describe("Elasticsearch 8.19 (real node, ILM stand-in) with every document shape the aggregator writes", function () {
  this.timeout(300_000);
  let nodes: ElasticsearchNodes;
  let elastic: Client;
  const clients = new Map<EsAccount, Client>();
  const client = (account: EsAccount): Client => {
    if (!clients.has(account)) clients.set(account, nodes.client(account));
    return clients.get(account)!;
  };
  let shipped: Shipped[];
  /** The `_id` of each shipped document as the bulk answered it. */
  const ids = new Map<Shipped, string>();
  let bulkItems: { name: string; status: number; error?: unknown }[];
  const fieldCaps = new Map<string, FieldCaps>();
  let kibana: FieldUse[];
  let grafana: FieldUse[];

  before(async function () {
    shipped = shapes();
    kibana = kibanaUses(loadSavedObjects().map((l) => l.object));
    grafana = grafanaUses();
    nodes = new ElasticsearchNodes(loopbackLoggingFacts(1, FIRST_ADDRESS));
    await nodes.start(0);
    await nodes.waitHealthy(0);
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", ...serviceEnvironment("logging", "setup", nodes.dotEnv(0)), ES_URL: nodes.url(0), ES_CA: nodes.pki.caFile };
    for (const script of ["security/security.sh", "setup.sh"]) {
      try {
        execFileSync("sh", [path.join(REPO_ROOT, "hosts", "logging", "setup", script)], { env, encoding: "utf8", stdio: "pipe" });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        assert.fail(`${script} failed against the node:\n${stdout ?? ""}${stderr ?? ""}\nnode log:\n${nodes.log(0).slice(-3000)}`);
      }
    }
    elastic = client("elastic");
    // One bulk per output, as the aggregator's three es outputs send theirs.
    bulkItems = [];
    for (const prefix of Object.values(INDEX_PREFIXES)) {
      const batch = shipped.filter((s) => s.index.startsWith(`${prefix}-`));
      const answer = await client("fluentBit").bulk({
        operations: batch.flatMap((s) => [{ index: { _index: s.index, ...(s.id === undefined ? {} : { _id: s.id }) } }, s.document]),
      });
      answer.items.forEach((item, i) => {
        const result = item.index!;
        ids.set(batch[i], result._id!);
        bulkItems.push({ name: `${batch[i].name} -> ${result._index}`, status: result.status, ...(result.error ? { error: result.error } : {}) });
      });
    }
    await elastic.indices.refresh({ index: Object.values(INDEX_PREFIXES).map((p) => `${p}-*`) });
    for (const use of [...kibana, ...grafana]) {
      const key = capsKey(use.index, use.account);
      if (fieldCaps.has(key)) continue;
      const answer = await client(use.account).fieldCaps({ index: use.index, fields: "*" });
      fieldCaps.set(key, answer.fields as unknown as FieldCaps);
    }
  });

  after(async () => {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await nodes?.close();
  });

  it("indexes every shape with zero rejected items (bulk as fluent-bit, one bulk per es output)", () => {
    assert.equal(bulkItems.length, shipped.length);
    const rejected = bulkItems.filter((i) => ![200, 201].includes(i.status));
    assert.deepEqual(rejected.map((i) => `${i.name}: ${i.status} ${JSON.stringify(i.error)}`), []);
    // Each in its dataset's index of the event's day; a record without a usable time, of the day it was consumed.
    assert.deepEqual([...new Set(shipped.map((s) => s.index))].sort(), Object.values(INDEX_PREFIXES).map((p) => `${p}-${DAY}`).sort());
  });

  it("gives every index the template's settings: malformed values ignored, dynamic fields past the limit ignored", async () => {
    const answer = await elastic.indices.getSettings({ index: Object.values(INDEX_PREFIXES).map((p) => `${p}-*`), flat_settings: true });
    for (const [index, { settings }] of Object.entries(answer)) {
      const flat = settings as Record<string, string>;
      const composed = composedSettings(datasetOf(index));
      assert.equal(flat["index.mapping.ignore_malformed"], "true", `${index}`);
      assert.equal(flat["index.mapping.total_fields.ignore_dynamic_beyond_limit"], "true", `${index}`);
      assert.equal(flat["index.mapping.total_fields.limit"], String(composed["index.mapping.total_fields.limit"]), `${index}`);
      assert.equal(flat["index.lifecycle.name"], datasetOf(index), `${index}: its ILM policy (stored by the ILM stand-in, never run)`);
    }
  });

  it("maps every template field as the template writes it (type, format, ignore_above, ignore_malformed, sub-fields)", async () => {
    const problems: string[] = [];
    for (const dataset of datasetNames()) {
      const expected = templateDefinitions(dataset);
      for (const [index, real] of await realMappings(elastic, dataset)) {
        for (const [field, def] of expected) {
          const got = real.get(field);
          if (!got) problems.push(`${index} has no ${field}`);
          // Sub-fields are compared as fields of their own (`sourceIPAddress.ip`).
          for (const [key, value] of Object.entries(def).filter(([k]) => k !== "fields")) {
            if (JSON.stringify(got?.[key]) !== JSON.stringify(value)) problems.push(`${index} ${field}.${key}: ${JSON.stringify(got?.[key])}, template ${JSON.stringify(value)}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it("maps the fields dashboards and searches depend on with the intended types", async () => {
    const intended: Record<string, Record<string, Record<string, unknown>>> = {
      [INDEX_PREFIXES.gateway]: {
        "@timestamp": { type: "date" }, started_at: { type: "date", format: "epoch_millis", ignore_malformed: true },
        client_ip: { type: "ip", ignore_malformed: true },
        "request.method": { type: "keyword" }, "request.uri": { type: "keyword" }, "request.headers": { type: "flattened" },
        "response.status": { type: "short", ignore_malformed: true }, upstream_status: { type: "short" }, "latencies.request": { type: "float" },
        "latencies.proxy": { type: "float" }, "service.name": { type: "keyword" }, "route.name": { type: "keyword" },
        "host.name": { type: "keyword" }, "container.name": { type: "keyword" }, stream: { type: "keyword" }, log: { type: "text" },
        // Carried for the _id (the same value), kept in _source only: neither indexed nor with doc values.
        "log_id": { type: "keyword", index: false, doc_values: false },
        // Dynamic: a string where the template maps `request.*` (subobjects:false keeps both), the unknown fields.
        request: { type: "keyword", ignore_above: 1024 }, unknown_0000: { type: "keyword" }, unknown_0001: { type: "long" },
        unknown_0002: { type: "keyword" }, "unknown_0003.nested": { type: "keyword" },
      },
      [INDEX_PREFIXES.containers]: {
        "@timestamp": { type: "date" }, log: { type: "text" }, stream: { type: "keyword" }, "container.name": { type: "keyword" },
        "host.name": { type: "keyword" }, payload: { type: "keyword" }, "log_id": { type: "keyword", index: false, doc_values: false },
      },
      [INDEX_PREFIXES.apps]: {
        "@timestamp": { type: "date" }, "service.name": { type: "keyword" }, log: { type: "text" }, "log.level": { type: "keyword" },
        "log.truncated": { type: "keyword" }, "host.name": { type: "keyword" }, "container.name": { type: "keyword" }, "trace.id": { type: "keyword" },
        "span.id": { type: "keyword" }, "ingest.protocol": { type: "keyword" }, "log_id": { type: "keyword", index: false, doc_values: false },
        // Dynamic: every unknown value a keyword, numbers too; an object's leaves and the text beside them both.
        user_id: { type: "keyword" }, amount: { type: "keyword" }, ok: { type: "keyword" }, retries: { type: "keyword" }, args: { type: "keyword" },
        "args.nested": { type: "keyword" }, ctx: { type: "keyword" }, "ctx.request.id": { type: "keyword" }, "ctx.request.headers.x-b3": { type: "keyword" },
        payload: { type: "keyword" },
      },
      [INDEX_PREFIXES.cloudtrail]: {
        "@timestamp": { type: "date" }, eventTime: { type: "date", ignore_malformed: true }, eventName: { type: "keyword" }, eventSource: { type: "keyword" },
        awsRegion: { type: "keyword" }, errorCode: { type: "keyword" }, errorMessage: { type: "text" },
        "userIdentity.arn": { type: "keyword" }, "userIdentity.type": { type: "keyword" },
        // An IP or a service's name: both aggregatable, the IPs also as an ip field.
        sourceIPAddress: { type: "keyword", ignore_above: 256 }, "sourceIPAddress.ip": { type: "ip", ignore_malformed: true },
        requestParameters: { type: "flattened" }, responseElements: { type: "flattened" }, additionalEventData: { type: "flattened" },
        resources: { type: "flattened" },
        // Dynamic: booleans and date-like strings stay keywords (date_detection off).
        readOnly: { type: "keyword" }, managementEvent: { type: "keyword" }, "tlsDetails.tlsVersion": { type: "keyword" },
        "userIdentity.sessionContext.attributes.creationDate": { type: "keyword" }, requestID: { type: "keyword" }, payload: { type: "keyword" },
      },
    };
    const problems: string[] = [];
    for (const [dataset, fields] of Object.entries(intended)) {
      for (const [index, real] of await realMappings(elastic, dataset)) {
        for (const [field, want] of Object.entries(fields)) {
          const got = real.get(field);
          for (const [key, value] of Object.entries(want)) {
            if (got?.[key] !== value) problems.push(`${index} ${field}: ${key} is ${JSON.stringify(got?.[key])}, intended ${JSON.stringify(value)}`);
          }
        }
        // What no template maps comes from the dynamic templates: strings and booleans as keyword, numbers as long/float.
        const template = templateDefinitions(dataset);
        const dynamicTypes = new Set([...real].filter(([field]) => !template.has(field)).map(([, def]) => String(def.type)));
        for (const type of dynamicTypes) if (!["keyword", "long", "float"].includes(type)) problems.push(`${index}: a dynamic field is ${type}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("ignores (never rejects) the values that do not fit: _ignored names exactly those fields", async () => {
    const problems: string[] = [];
    for (const s of shipped) {
      const id = ids.get(s)!;
      const { hits } = await elastic.search({ index: s.index, query: { ids: { values: [id] } }, fields: ["_ignored"], _source: false });
      assert.equal(hits.hits.length, 1, `${s.name}: found by its _id ${id}`);
      const hit = hits.hits[0];
      const ignored = ((hit.fields?._ignored as string[] | undefined) ?? hit._ignored ?? []).slice().sort();
      if (typeof s.ignored === "function") s.ignored(ignored);
      else if (JSON.stringify(ignored) !== JSON.stringify([...s.ignored].sort())) problems.push(`${s.name}: _ignored ${JSON.stringify(ignored)}, expected ${JSON.stringify(s.ignored)}`);
    }
    assert.deepEqual(problems, []);
  });

  it("keeps malformed and raw lines searchable as text in `log`", async () => {
    const reader = client(KIBANA_ACCOUNT);
    const raw = shipped.filter((s) => typeof s.document.log === "string" && s.document.log !== "");
    assert.ok(raw.some((s) => s.index.startsWith(INDEX_PREFIXES.gateway)) && raw.some((s) => s.index.startsWith(INDEX_PREFIXES.containers)), "raw lines in both indices");
    for (const s of raw) {
      // The line's words (a long line's first ones, cut at a space), all of them required.
      const log = String(s.document.log);
      const words = log.length <= 300 ? log : log.slice(0, log.lastIndexOf(" ", 300));
      const { hits } = await reader.search({ index: s.index, query: { bool: { filter: [{ ids: { values: [ids.get(s)!] } }, { match: { log: { query: words, operator: "and" } } }] } } });
      assert.equal(hits.hits.length, 1, `${s.name}: log matches ${JSON.stringify(words)}`);
    }
  });

  it("indexes a line with a thousand unknown fields, and one past the field limit without rejecting it", async () => {
    const [[, real]] = [...(await realMappings(elastic, INDEX_PREFIXES.gateway))];
    assert.equal([...real.keys()].filter((f) => f.startsWith("unknown_")).length, 1000, "all thousand fields of the first line are mapped");
    const answer = await elastic.indices.getMapping({ index: `${INDEX_PREFIXES.gateway}-${DAY}` });
    const { mappings } = Object.values(answer)[0];
    const total = real.size + Object.keys(mappings.runtime ?? {}).length;
    assert.ok(total <= Number(composedSettings(INDEX_PREFIXES.gateway)["index.mapping.total_fields.limit"]), `${total} fields within the limit`);
  });

  it("keeps CloudTrail's huge parameters in _source: short leaves searchable, long ones not indexed (not in _ignored)", async () => {
    const huge = shipped.find((s) => s.name.includes("huge"))!;
    const reader = client(KIBANA_ACCOUNT);
    const find = async (query: object) => (await reader.search({ index: huge.index, query: { bool: { filter: [{ ids: { values: [ids.get(huge)!] } }, query] } } })).hits.hits.length;
    assert.equal(await find({ term: { "requestParameters.launchTemplate.parameter2999": "value-2999" } }), 1, "a key among thousands");
    assert.equal(await find({ term: { "responseElements.instancesSet.items.instanceId": "i-00000000000000049" } }), 1, "a leaf inside an array of objects");
    assert.equal(await find({ exists: { field: "requestParameters.userData" } }), 0, "a 64 KiB leaf is past ignore_above");
    const source = (await elastic.get({ index: huge.index, id: ids.get(huge)! }))._source as LogRecord;
    assert.equal(String(valuesAt(source, "requestParameters.userData")[0]).length, 64 * 1024, "the long value is kept in _source");
  });

  it("indexes every value a dashboard reads of what nginx and CloudTrail really write: nothing only in _source", async () => {
    // Each field once per dataset, with the panels that read it.
    const readers = new Map<string, FieldUse[]>();
    for (const use of [...kibana, ...grafana]) readers.set(`${use.index} ${use.field}`, [...(readers.get(`${use.index} ${use.field}`) ?? []), use]);
    const problems: string[] = [];
    let checked = 0;
    for (const uses of readers.values()) {
      const { index, field, account } = uses[0];
      const dataset = index.replace(/-\*$/, "");
      // A field missing from the mapping is the _field_caps tests' to report; a runtime field has nothing indexed.
      if (!fieldCaps.get(capsKey(index, account))?.[field] || mappedFields(dataset).get(field)?.runtime) continue;
      checked++;
      const hasValue = (v: unknown) => v !== null && v !== "" && !(typeof v === "object" && Object.keys(v as object).length === 0);
      const withValue = shipped.filter((s) => s.asProduced && datasetOf(s.index) === dataset && valuesAt(s.document, field).some(hasValue));
      const { hits } = await elastic.search({
        index, size: 100, _source: false,
        query: { bool: { filter: [{ exists: { field } }, { ids: { values: withValue.map((s) => ids.get(s)!) } }] } },
      });
      const found = new Set(hits.hits.map((h) => h._id));
      for (const s of withValue.filter((w) => !found.has(ids.get(w)!))) {
        const panels = [...new Set(uses.map((u) => `${u.tool} ${u.object}, panel "${u.panel}"`))].join("; ");
        problems.push(`${field} of "${s.name}" (${JSON.stringify(valuesAt(s.document, field)[0])}) is only in _source, read by ${panels}`);
      }
    }
    assert.ok(checked > 20, `${checked} fields checked`);
    assert.deepEqual(problems, []);
  });

  it("counts calls AWS services made by their name in the panel by source (sourceIPAddress), the IPs also as sourceIPAddress.ip", async () => {
    const { aggregations } = await client(KIBANA_ACCOUNT).search({
      index: `${INDEX_PREFIXES.cloudtrail}-*`, size: 0,
      aggs: { source: { terms: { field: "sourceIPAddress", size: 50 } }, ip: { terms: { field: "sourceIPAddress.ip", size: 50 } } },
    });
    const keys = (name: string) => ((aggregations?.[name] as { buckets: { key: string }[] }).buckets.map((b) => b.key)).sort();
    const sources = shipped.flatMap((s) => valuesAt(s.document, "sourceIPAddress").map(String));
    assert.deepEqual(keys("source"), [...new Set(sources)].sort(), "every source, cloudtrail.amazonaws.com included");
    assert.ok(keys("source").includes("cloudtrail.amazonaws.com"));
    assert.deepEqual(keys("ip"), [...new Set(sources.filter((v) => /^[\d.]+$|:/.test(v)))].sort(), "the addresses only");
    const { hits } = await client(KIBANA_ACCOUNT).search({
      index: `${INDEX_PREFIXES.cloudtrail}-*`, query: { term: { "sourceIPAddress.ip": "198.51.100.0/24" } }, _source: false,
    });
    const inRange = shipped.filter((s) => String(s.document.sourceIPAddress).startsWith("198.51.100."));
    assert.ok(inRange.length > 0);
    assert.deepEqual(hits.hits.map((h) => h._id).sort(), inRange.map((s) => ids.get(s)!).sort(), "a CIDR query on the ip sub-field");
  });

  it("serves every field the Kibana saved objects read, with the capability each use needs (_field_caps as operator; user_agent.original exists through the Painless stand-in)", () => {
    assert.ok(kibana.length > 30, `${kibana.length} uses found`);
    assert.ok(kibana.some((u) => u.field === "user_agent.original"), "the runtime field is among them");
    assert.deepEqual(dashboardProblems(kibana, fieldCaps), []);
  });

  it("serves every field the Grafana Elasticsearch panels read, with the capability each use needs (_field_caps as grafana)", () => {
    assert.ok(grafana.some((u) => u.tool === "Grafana" && u.need === "numeric"), "a metric is among them");
    assert.ok(grafana.length > 15, `${grafana.length} uses found`);
    assert.deepEqual(dashboardProblems(grafana, fieldCaps), []);
  });

  it("fails on a renamed field or a field without the capability, naming the dashboard, the panel and the field", () => {
    // Copies in memory: a Lens column, a Grafana terms field and a Lens percentile moved to fields that do not serve them.
    const objects = structuredClone(loadSavedObjects().map((l) => l.object));
    const edit = (title: string, panelTitle: string, change: (column: { sourceField?: string; operationType?: string }) => void) => {
      const dashboard = objects.find((o) => o.type === "dashboard" && o.attributes.title === title)!;
      const panels = dashboardPanels(dashboard);
      const panel = panels.find((p) => (p as unknown as { title?: string }).title === panelTitle)!;
      for (const layer of Object.values(panel.embeddableConfig.attributes!.state.datasourceStates.formBased!.layers)) {
        for (const column of Object.values(layer.columns)) change(column as { sourceField?: string; operationType?: string });
      }
      dashboard.attributes.panelsJSON = JSON.stringify(panels);
    };
    edit("AWS API activity", "Calls by source IP and region", (c) => c.sourceField === "sourceIPAddress" && (c.sourceField = "sourceIpAddress"));
    edit("API gateway", "Request latency p50 / p95 / p99 (ms)", (c) => c.operationType === "percentile" && (c.sourceField = "request.method"));
    const dashboards = structuredClone(loadDashboards());
    const grafanaPanel = dashboards.flatMap((d) => d.dashboard.panels).find((p) => p.title === "Top routes")!;
    grafanaPanel.targets![0].bucketAggs!.find((b) => b.type === "terms")!.field = "route.title";
    const problems = [...dashboardProblems(kibanaUses(objects), fieldCaps), ...dashboardProblems(grafanaUses(dashboards), fieldCaps)];
    const expect = (pattern: RegExp) => assert.ok(problems.some((p) => pattern.test(p)), `${pattern} in:\n${problems.join("\n")}`);
    expect(/^Kibana dashboard "AWS API activity", panel "Calls by source IP and region": sourceIpAddress \(needs aggregatable.*is not in the mapping$/);
    expect(/^Kibana dashboard "API gateway", panel "Request latency p50 \/ p95 \/ p99 \(ms\)": request\.method \(needs numeric.*is keyword, not numeric$/);
    expect(/^Grafana dashboard "API gateway" \(platform\/api-gateway\.json\), panel "Top routes": route\.title \(needs aggregatable.*is not in the mapping$/);
    assert.deepEqual(problems.filter((p) => !/: (sourceIpAddress|request\.method|route\.title) \(/.test(p)), [], "only the edited uses fail");
  });

  it("keeps every service's fields searchable whatever their type, its own @timestamp and reserved keys beside the event time", async () => {
    const reader = client(KIBANA_ACCOUNT);
    const find = async (query: object) => (await reader.search({ index: `${INDEX_PREFIXES.apps}-*`, query, _source: false })).hits.hits.map((h) => h._id).sort();
    const named = (prefix: string) => shipped.filter((s) => s.name.startsWith(prefix)).map((s) => ids.get(s)!);
    const [payments] = named("a JSON line parsed");
    const [inventory] = named("another service's fields");
    // One service's number and another's text under one name, and a mixed array: each value found as written.
    assert.deepEqual(await find({ term: { user_id: "42" } }), [payments]);
    assert.deepEqual(await find({ term: { user_id: "u-17" } }), [inventory]);
    assert.deepEqual(await find({ terms: { retries: ["2.5", "3"] } }), [payments]);
    assert.deepEqual(await find({ term: { "ctx.request.id": "r-1" } }), [payments]);
    assert.deepEqual(await find({ term: { ctx: "flat text" } }), [inventory]);
    const legacy = shipped.find((s) => s.name.includes("own @timestamp"))!;
    const source = (await elastic.get({ index: legacy.index, id: ids.get(legacy)! }))._source as LogRecord;
    assert.equal(source["@timestamp"], at(4, 5).toISOString(), "@timestamp is the event time the endpoint carried");
    assert.equal(source["_@timestamp"], "2026-12-01T09:00:00.000Z", "the service's own kept beside it");
    for (const key of METADATA_KEYS.filter((k) => k !== "_index")) assert.ok(`_${key}` in source && !(key in source), key);
    // Moved keys are fields like any other (the node's field list leaves out only its metadata fields).
    const caps = (await reader.fieldCaps({ index: legacy.index, fields: ["_@timestamp", "__id", "__routing.value"] })).fields;
    for (const field of ["_@timestamp", "__id", "__routing.value"]) assert.ok(caps[field]?.keyword?.searchable, `${field}: ${JSON.stringify(caps[field])}`);
    assert.deepEqual(await find({ term: { __id: "their _id" } }), [ids.get(legacy)!]);
    assert.equal(source.__index, "a field of their own", "a name already taken is kept, the reserved key dropped");
    // Each key moved is one the node refuses at a document's top level (the reason for the aggregator's reserved_keys).
    // As the es output writes a document: its own @timestamp first (text, so that a second one stays a duplicate key).
    const refused = await elastic.transport.request<{ items: { index: { status: number } }[] }>({
      method: "POST", path: "/_bulk",
      bulkBody: [...METADATA_KEYS, "@timestamp"].flatMap((key) => [
        JSON.stringify({ index: { _index: `${INDEX_PREFIXES.apps}-2100.01.01` } }), `{"@timestamp":"${at(4, 5).toISOString()}",${JSON.stringify(key)}:"x"}`,
      ]).join("\n") + "\n",
    });
    assert.deepEqual(refused.items.map((item) => item.index.status), [...METADATA_KEYS, "@timestamp"].map(() => 400));
    assert.deepEqual(await find({ term: { "log.level": "error" } }), [payments]);
    assert.deepEqual(await find({ exists: { field: "log.truncated" } }), named("a line the endpoint cut"));
  });

  it("keeps 200 identical lines as 200 documents (their _id is where each was read), and a line read again rewrites its own", async () => {
    // A repeated stack frame, 200 times with one Docker time: the documents differ in log_id only, so generate_id's
    // hash of the document made them one.
    const frame = "\tat com.example.orders.Handler.handle(Handler.java:42)";
    const lines = Array.from({ length: 200 }, (_, i) => fromContainer(`repeated frame ${i}`, "kafka", "kafka", frame, "stderr", at(9)));
    const index = lines[0].index;
    assert.deepEqual([...new Set(lines.map((l) => l.index))], [`${INDEX_PREFIXES.containers}-${DAY}`]);
    assert.equal(new Set(lines.map(({ document }) => JSON.stringify({ ...document, [LINE_ID_KEYS.id]: undefined }))).size, 1);
    const lineIds = lines.map((l) => l.id!);
    assert.equal(new Set(lineIds).size, 200, "200 distinct _ids");
    /** One bulk as es_containers sends it: each item's result. */
    const send = async (batch: Shipped[]) => (await client("fluentBit").bulk({
      operations: batch.flatMap((s) => [{ index: { _index: s.index, _id: s.id } }, s.document]),
    })).items.map((item) => `${item.index!.status} ${item.index!.result ?? JSON.stringify(item.index!.error)}`);
    assert.deepEqual([...new Set(await send(lines))], ["201 created"]);
    // A retried bulk or a redelivered Kafka message (the same records), and lines read again from the file (a
    // restart from an older DB offset: same file, same offsets): each rewrites its own document.
    const reread = lines.slice(40, 60).map((l, i) => fromContainer(`repeated frame ${40 + i}, read again`, "kafka", "kafka", frame, "stderr", at(9), undefined, l.readAt));
    assert.deepEqual(reread.map((r) => r.id), lineIds.slice(40, 60));
    assert.deepEqual([...new Set(await send([...lines.slice(0, 20), ...reread]))], ["200 updated"]);
    await elastic.indices.refresh({ index });
    assert.equal((await elastic.count({ index, query: { ids: { values: lineIds } } })).count, 200);
    assert.equal((await elastic.count({ index, query: { match_phrase: { log: "com.example.orders.Handler.handle" } } })).count, 200);
  });
});
