import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";
import { IMAGE_VERSIONS } from "../../components/platform/versions";
import { INDEX_PREFIXES, datasets } from "../../components/platform/naming";
import { ROLES, Role } from "../../components/platform/roles";
import { PORTS } from "../../components/platform/ports";
import { SAMPLE_FACTS, sampleEnv } from "../helpers/sample-facts";
import { APPS_TIME_KEY, appsPayload } from "../helpers/apps-record";
import { loadCompose, mountedFrom, publishedPorts, serviceEnvironment } from "../helpers/compose";
import {
  CONTAINER_ID, FluentBitConfig, LINE_ID_KEYS, LogRecord, ReadAt, bulkItem, byAlias, containerLog, followRecord, inputTag, isOn, lineId,
  loadSchema, matchTag, outputsFor, parseConfig, parseTime, prop, propList, readAccessor, rewriteTag, routes, tailRecord, validateConfig,
} from "../helpers/fluent-bit";

const FORWARDER = "forwarder/fluent-bit.yaml";
const AGGREGATOR = "hosts/logging/fluent-bit/fluent-bit.yaml";
/** The ingest endpoint (web host), the lead's; here only as one more Fluent Bit of a bundle. */
const INGEST = "hosts/web/ingest/fluent-bit.yaml";

/** Every Fluent Bit each bundle runs: its compose service and the repository file its --config is, through its mounts. */
function fluentBitConfigs(): { file: string; role: Role; service: string }[] {
  return ROLES.flatMap((role) => Object.entries(loadCompose(role).services)
    .filter(([, service]) => service.image?.startsWith("fluent/fluent-bit:"))
    .map(([name, service]) => {
      const config = (service.command as string[]).find((arg) => arg.startsWith("--config="))!.slice("--config=".length);
      const file = mountedFrom(role, service, config);
      assert.ok(file, `${role}/${name}: ${config} is not in a bundle mount`);
      return { file: path.relative(REPO_ROOT, file), role, service: name };
    }));
}

function load(file: string): FluentBitConfig {
  return parseConfig(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
}


/**
 * The record a json-file line of a compose service becomes in the forwarder's tail input: the docker multiline
 * parser's keys, then where it was read (path_key, offset_key).
 */
function dockerLine(
  service?: string, log = "line\n", stream = "stdout", at: ReadAt = { path: containerLog(), offset: 0 }, time = "2025-01-01T00:00:00.000000000Z",
): LogRecord {
  const attrs = service ? { attrs: { tag: `web-${service}-1`, "com.docker.compose.service": service } } : {};
  return tailRecord(byAlias(load(FORWARDER).pipeline?.inputs, "docker_logs"), { log, stream, time, ...attrs }, at);
}

/**
 * One Kafka message as the aggregator's kafka input emits it, through its filters (the logging .env): the outputs it
 * reaches and what the first one's es output makes of it, `consumed` standing for the time the input stamped.
 */
function throughAggregator(message: LogRecord, consumed: Date) {
  const aggregator = load(AGGREGATOR);
  const inTag = inputTag(byAlias(aggregator.pipeline?.inputs, "kafka_in"));
  const [filtered, ...more] = followRecord(aggregator, inTag, message, sampleEnv("logging"));
  assert.equal(more.length, 0, "one record per message");
  const outputs = outputsFor(aggregator, filtered.tag);
  const es = (aggregator.pipeline?.outputs ?? []).find((o) => prop(o, "alias") === outputs[0]);
  assert.ok(es, `${filtered.tag} reaches no output`);
  return { outputs, filtered, item: bulkItem(es, filtered, consumed) };
}

/** The tags a record ends up with after the config's filters. */
function finalTags(config: FluentBitConfig, tag: string, record: LogRecord): string[] {
  return followRecord(config, tag, record).map((r) => r.tag);
}

describe("Fluent Bit configurations", () => {
  const configs = fluentBitConfigs();

  it("finds the forwarder on every host, the aggregator on the logging host and the ingest endpoint on the web host", () => {
    assert.deepEqual(configs.map((c) => `${c.role} ${c.service} ${c.file}`).sort(), [
      ...ROLES.map((role) => `${role} fluent-bit-forwarder ${FORWARDER}`), `logging fluent-bit ${AGGREGATOR}`, `web ingest ${INGEST}`,
    ].sort());
  });

  for (const { file, role, service } of configs) {
    it(`${file} parses and is valid for Fluent Bit 5.1 (the 5.1.1 schema) with the ${role} .env`, () => {
      // With the environment compose gives the container: every ${VAR} the config reads must be passed to it.
      assert.deepEqual(validateConfig(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"), serviceEnvironment(role, service)), []);
    });
  }

  describe("the validator", () => {
    const valid = [
      "pipeline:",
      "  inputs:",
      "    - name: dummy",
      "      tag: t",
      "  outputs:",
      "    - name: stdout",
      "      match: '*'",
    ];
    const check = (lines: string[], env: Record<string, string> = {}) => validateConfig(lines.join("\n"), env);

    it("accepts a minimal config", () => assert.deepEqual(check(valid), []));

    it("rejects an unknown plugin", () => {
      const errors = check([...valid, "    - name: kafkaa", "      match: '*'"]);
      assert.match(errors.join("\n"), /unknown output plugin 'kafkaa'/);
    });

    it("rejects an unknown property, case-insensitively known ones pass", () => {
      assert.deepEqual(check([...valid, "      Retry_Limit: no_limits", "      WORKERS: 1"]), []);
      assert.match(check([...valid, "      mem_buf_limit: 5M"]).join("\n"), /unknown property 'mem_buf_limit'/);
    });

    it("rejects an unknown service key (Fluent Bit would ignore it silently)", () => {
      assert.match(check(["service:", "  mem_buf_limit: 5M", ...valid]).join("\n"), /service: unknown key 'mem_buf_limit'/);
    });

    it("rejects an undefined ${VAR} and accepts a defined one", () => {
      const withVar = [...valid.slice(0, 3), "      tag: ${TAG_NAME}", ...valid.slice(4)];
      assert.match(check(withVar).join("\n"), /\$\{TAG_NAME\} is not defined/);
      assert.deepEqual(check(withVar, { TAG_NAME: "t" }), []);
    });

    it("rejects an unknown processor and a parser filter naming an undefined parser", () => {
      const errors = check([
        ...valid,
        "      processors:",
        "        logs:",
        "          - name: no_such_processor",
        "  filters:",
        "    - name: parser",
        "      match: '*'",
        "      key_name: log",
        "      parser: missing",
      ]);
      assert.match(errors.join("\n"), /unknown processor plugin 'no_such_processor'/);
      assert.match(errors.join("\n"), /parser 'missing' is not defined/);
    });
  });

  describe("Match wildcard", () => {
    it("follows Fluent Bit's semantics", () => {
      assert.ok(matchTag("*", "a.b"));
      assert.ok(matchTag("docker.*", "docker.containers.x"));
      assert.ok(matchTag("docker.gateway", "docker.gateway"));
      assert.ok(!matchTag("docker.gateway", "docker.gatewayx"));
      assert.ok(!matchTag("docker.containers.*", "docker.gateway"));
      assert.ok(matchTag("a.*.c", "a.b.b.c"));
      assert.ok(!matchTag("a.b", "aXb"), "a dot is literal");
    });
  });

  describe("routing: every tag an input emits reaches an output", () => {
    const forwarder = load(FORWARDER);
    const aggregator = load(AGGREGATOR);
    const tailTag = inputTag(byAlias(forwarder.pipeline?.inputs, "docker_logs"));
    const services = ["gateway", "loadgen", "nginx-exporter", undefined];
    const forwarded = services.map((service) => ({ service, tags: finalTags(forwarder, tailTag, dockerLine(service)) }));

    it("forwarder: gateway stdout goes to kafka_gateway only, every other line to kafka_containers only", () => {
      for (const { service, tags } of forwarded) {
        assert.equal(tags.length, 1, `${service}: ${tags.join(", ")}`);
        const expected = service === "gateway" ? ["kafka_gateway"] : ["kafka_containers"];
        assert.deepEqual(outputsFor(forwarder, tags[0]), expected, `${service ?? "unlabelled"} -> ${tags[0]}`);
      }
      // nginx's error log is the gateway's stderr: the containers dataset, not the access index.
      const stderrTags = finalTags(forwarder, tailTag, dockerLine("gateway", "error\n", "stderr"));
      assert.equal(stderrTags.length, 1, stderrTags.join(", "));
      assert.deepEqual(outputsFor(forwarder, stderrTags[0]), ["kafka_containers"], `gateway stderr -> ${stderrTags[0]}`);
    });

    it("aggregator: the restored tag routes gateway records to es_gateway and the rest to es_containers", () => {
      const inTag = inputTag(byAlias(aggregator.pipeline?.inputs, "kafka_in"));
      const stderrTag = finalTags(forwarder, tailTag, dockerLine("gateway", "error\n", "stderr"))[0];
      for (const { service, tags } of [...forwarded, { service: "gateway stderr", tags: [stderrTag] }]) {
        const record = { topic: "t", partition: 0, offset: 1, error: null, key: null, payload: { fluentbit_tag: tags[0] } };
        const restored = finalTags(aggregator, inTag, record);
        assert.deepEqual(restored, [tags[0]], "the original tag comes back");
        const expected = service === "gateway" ? ["es_gateway"] : ["es_containers"];
        assert.deepEqual(outputsFor(aggregator, restored[0]), expected);
      }
      // A payload that is not a forwarder record still lands somewhere instead of being unrouted.
      const untagged = finalTags(aggregator, inTag, { topic: "t", payload: "not json" });
      assert.equal(untagged.length, 1);
      assert.equal(outputsFor(aggregator, untagged[0]).length, 1, `untagged -> ${untagged[0]}`);
    });
  });

  // The web host's forwarder counts the ingest endpoint's refused senders from its lines (refusal_reason's Lua runs
  // under LuaJIT in test/integration/fluent-bit-lua.test.ts; the counter was read from a real 5.1.1 by hand,
  // test/fixtures/monitoring/metrics/ingest-refusals.prom).
  describe("the ingest endpoint's refusals, counted from its lines", () => {
    const forwarder = load(FORWARDER);
    const filters = forwarder.pipeline?.filters ?? [];
    const tailTag = inputTag(byAlias(forwarder.pipeline?.inputs, "docker_logs"));
    const refused = "[2026/12/07 21:23:44.840] [error] [input:forward:forward_in] shared_key mismatch\n";
    const counter = byAlias(filters, "count_refusals");
    const counterTag = String(prop(counter, "tag"));

    it("copies the lines of compose service ingest alone (tag ingest.lines), which then reach no output", () => {
      const copy = byAlias(filters, "copy_ingest_lines");
      assert.deepEqual(rewriteTag(copy, tailTag, dockerLine("ingest", refused, "stderr")), { tag: "ingest.lines", keep: true });
      for (const service of ["gateway", "kibana", "ingest-2", undefined]) assert.equal(rewriteTag(copy, tailTag, dockerLine(service, refused, "stderr")), undefined, service);
      assert.deepEqual(filters.filter((f) => routes(f, "ingest.lines")).map((f) => prop(f, "alias")), ["refusal_reason", "count_refusals"]);
      assert.ok(isOn(prop(counter, "discard_logs")), "count_refusals drops the copies");
      assert.deepEqual(outputsFor(forwarder, "ingest.lines"), []);
    });

    it("ships the endpoint's line itself to kafka_containers as any container's, untouched by the counting", () => {
      const [shipped, ...more] = followRecord(forwarder, tailTag, dockerLine("ingest", refused, "stderr"), sampleEnv("web"));
      assert.equal(more.length, 0, "the copy goes nowhere");
      assert.deepEqual(outputsFor(forwarder, shipped.tag), ["kafka_containers"]);
      const [other] = followRecord(forwarder, tailTag, dockerLine("loadgen", refused, "stderr"), sampleEnv("web"));
      assert.equal(shipped.record.log, refused.trimEnd());
      assert.deepEqual(shipped.record, { ...other.record, "container.name": "ingest" });
    });

    it("labels the counter by the reason alone, never with the line, and serves it on forwarderLogMetrics only", () => {
      assert.deepEqual(propList(counter, "add_label"), ["reason $reason"]);
      assert.equal(prop(counter, "label_field"), undefined);
      assert.equal(prop(counter, "metric_mode"), "counter");
      const name = ["metric_namespace", "metric_subsystem", "metric_name"].map((key) => String(prop(counter, key))).join("_");
      assert.equal(name, "platform_ingest_refusals_total");
      assert.deepEqual(outputsFor(forwarder, counterTag), ["refusal_metrics"]);
      const exporter = byAlias(forwarder.pipeline?.outputs, "refusal_metrics");
      assert.equal(exporter.name, "prometheus_exporter");
      assert.equal(Number(prop(exporter, "port")), PORTS.forwarderLogMetrics);
    });
  });

  describe("what each line becomes (the pipeline model in test/helpers/fluent-bit.ts)", () => {
    const forwarder = load(FORWARDER);
    const aggregator = load(AGGREGATOR);
    const tailTag = inputTag(byAlias(forwarder.pipeline?.inputs, "docker_logs"));
    const inTag = inputTag(byAlias(aggregator.pipeline?.inputs, "kafka_in"));

    /** One line through the forwarder, Kafka and the aggregator: the output it reaches, the document and its _id. */
    function ship(line: LogRecord): { kafka: string; es: string; document: LogRecord; id: string | undefined } {
      const [forwarded, ...more] = followRecord(forwarder, tailTag, line, sampleEnv("web"));
      assert.equal(more.length, 0, "one record per line");
      // The only filter the model cannot run is the Lua one that carries the tag (checked under "document shape");
      // line_id's Lua it runs as its TypeScript copy (checked there too).
      assert.deepEqual(forwarded.unmodelled, ["carry_tag"]);
      const [kafka, ...otherOutputs] = outputsFor(forwarder, forwarded.tag);
      assert.equal(otherOutputs.length, 0, `${forwarded.tag} reaches one output`);
      const payload = { ...forwarded.record, fluentbit_tag: forwarded.tag, fluentbit_time: "2025-01-01T00:00:00.000000Z" };
      const message = { topic: "t", partition: 0, offset: 1, error: null, key: null, payload };
      const [consumed, ...moreConsumed] = followRecord(aggregator, inTag, message, sampleEnv("logging"));
      assert.equal(moreConsumed.length, 0);
      const [es, ...otherIndices] = outputsFor(aggregator, consumed.tag);
      assert.equal(otherIndices.length, 0, `${consumed.tag} reaches one output`);
      const item = bulkItem(byAlias(aggregator.pipeline?.outputs, es), consumed, new Date("2025-01-01T00:00:01.000Z"));
      assert.notEqual(item.id, "generated", "no content hash");
      return { kafka, es, document: consumed.record, id: item.id };
    }

    const access = JSON.stringify({ request: { method: "GET", uri: "/api/users" }, response: { status: 200 } });

    it("an access line (gateway stdout, valid JSON) becomes the gateway's fields in the access index", () => {
      const { kafka, es, document } = ship(dockerLine("gateway", `${access}\n`));
      assert.deepEqual([kafka, es], ["kafka_gateway", "es_gateway"]);
      assert.deepEqual(document.request, { method: "GET", uri: "/api/users" });
      assert.ok(!("log" in document), "no raw copy of the line");
      assert.equal(document["container.name"], "gateway");
      assert.equal(document["host.name"], "web");
    });

    it("a malformed stdout line stays in the access index as raw text, without Docker's newline", () => {
      const { kafka, es, document } = ship(dockerLine("gateway", "{\"request\": truncated\n"));
      assert.deepEqual([kafka, es], ["kafka_gateway", "es_gateway"]);
      assert.equal(document.log, "{\"request\": truncated");
    });

    it("nginx's error log (gateway stderr) goes to the containers index, not the access index", () => {
      const error = "2025/01/01 00:00:00 [error] 29#29: *1 client intended to send too large body: 2097152 bytes\n";
      const { kafka, es, document } = ship(dockerLine("gateway", error, "stderr"));
      assert.deepEqual([kafka, es], ["kafka_containers", "es_containers"]);
      assert.equal(document.log, error.trimEnd());
      assert.equal(document["container.name"], "gateway");
      assert.equal(document.stream, "stderr");
    });

    it("a JSON line on the gateway's stderr is not parsed as an access record", () => {
      const { es, document } = ship(dockerLine("gateway", `${access}\n`, "stderr"));
      assert.equal(es, "es_containers");
      assert.equal(document.log, access);
    });

    it("another container's line goes to the containers index without Docker's newline", () => {
      const { kafka, es, document } = ship(dockerLine("loadgen", "sent 5 requests\n"));
      assert.deepEqual([kafka, es], ["kafka_containers", "es_containers"]);
      assert.equal(document.log, "sent 5 requests");
      assert.equal(document["container.name"], "loadgen");
    });

    it("neither the forwarder's lines nor the aggregator's are shipped, another container's with a similar name is", () => {
      assert.deepEqual(followRecord(forwarder, tailTag, dockerLine("fluent-bit-forwarder")), []);
      assert.deepEqual(followRecord(forwarder, tailTag, dockerLine("fluent-bit")), []);
      assert.deepEqual(followRecord(forwarder, tailTag, dockerLine("fluent-bit-exporter")).map((r) => r.record["container.name"]), ["fluent-bit-exporter"]);
    });

    it("one document per line: 200 identical lines get 200 ids, a line read or delivered again keeps its id", () => {
      // A repeated stack frame, 200 times in the same millisecond (the same Docker time, even): only the offset differs.
      const frame = "    at com.example.orders.Handler.handle(Handler.java:42)\n";
      const lineBytes = Buffer.byteLength(`${JSON.stringify(dockerLine("loadgen", frame, "stderr"))}\n`);
      const shipped = Array.from({ length: 200 }, (_, i) => ship(dockerLine("loadgen", frame, "stderr", { path: containerLog(), offset: i * lineBytes })));
      assert.deepEqual([...new Set(shipped.map((s) => s.es))], ["es_containers"]);
      assert.equal(new Set(shipped.map((s) => s.id)).size, 200, "200 distinct _ids");
      // The documents differ in log_id only: generate_id's hash of the document made them one.
      const withoutId = shipped.map(({ document }) => JSON.stringify({ ...document, [LINE_ID_KEYS.id]: undefined }));
      assert.equal(new Set(withoutId).size, 1);
      // Read again (a restart from an older DB offset) or delivered again (Kafka, a retried bulk): the same id.
      const again = ship(dockerLine("loadgen", frame, "stderr", { path: containerLog(), offset: 17 * lineBytes }));
      assert.equal(again.id, shipped[17].id);
      assert.equal(shipped[17].id, `${CONTAINER_ID}:2025-01-01T00:00:00.000000000Z:${17 * lineBytes}`);
      // After a rotation, the container's next file has the same name and starts again at offset 0: Docker's later
      // time keeps its lines apart from the first file's.
      const nextFile = ship(dockerLine("loadgen", frame, "stderr", { path: containerLog(), offset: 0 }, "2025-01-01T00:07:12.345678901Z"));
      assert.notEqual(nextFile.id, shipped[0].id);
      // Another container's line at the same offset and time.
      const other = ship(dockerLine("loadgen", frame, "stderr", { path: containerLog("0".repeat(64)), offset: 0 }));
      assert.notEqual(other.id, shipped[0].id);
    });

    it("a split line flushed unfinished and its rest (same offset, same Docker time) are two documents", () => {
      // The multiline parser's timer flushed the first 16 KiB pieces: the tail reports the offset of the next line,
      // where the rest starts; Docker gave every piece the first one's time.
      const at: ReadAt = { path: containerLog(), offset: 3 * 16_500 };
      const head = ship(dockerLine("loadgen", "x".repeat(3 * 16_384), "stdout", at));
      const rest = ship(dockerLine("loadgen", "y".repeat(100) + "\n", "stdout", at));
      assert.equal(head.id, lineId(at, "2025-01-01T00:00:00.000000000Z", true));
      assert.equal(rest.id, lineId(at, "2025-01-01T00:00:00.000000000Z"));
      assert.notEqual(head.id, rest.id);
    });

    it("gateway access lines get the same rule: identical requests are one document each", () => {
      const access = `${JSON.stringify({ request: { method: "GET", uri: "/health" }, response: { status: 200 } })}\n`;
      const [first, second] = [0, 200].map((offset) => ship(dockerLine("gateway", access, "stdout", { path: containerLog(), offset })));
      assert.deepEqual([first.es, second.es], ["es_gateway", "es_gateway"]);
      assert.notEqual(first.id, second.id);
      assert.equal(first.id, first.document[LINE_ID_KEYS.id]);
    });

    it("where a line was read travels as log_id only: the position keys are not in the document", () => {
      for (const line of [dockerLine("gateway", "{\"a\": 1}\n"), dockerLine("loadgen", "x\n")]) {
        const { document, id } = ship(line);
        assert.equal(id, lineId({ path: containerLog(), offset: 0 }, "2025-01-01T00:00:00.000000000Z"));
        assert.ok(!(LINE_ID_KEYS.path in document) && !(LINE_ID_KEYS.offset in document), Object.keys(document).join(", "));
      }
    });

    it("every id_key names a key with no dot: a record accessor ends a key name at a dot, `$log.id` reads `log` (the line)", () => {
      const record = { log: "the line\n", "log.id": "c:t:0", log_id: "c:t:0" };
      assert.equal(readAccessor("$log.id", record), "the line\n", "Fluent Bit's reading (src/flb_record_accessor.c)");
      const aggregator = load(AGGREGATOR);
      const ids = (aggregator.pipeline?.outputs ?? []).filter((o) => o.name === "es").map((o) => String(prop(o, "id_key")));
      assert.equal(ids.length, 4);
      for (const id of ids) assert.match(id, /^\$[A-Za-z_][\w-]*$/, `${id}: a plain key`);
    });

    it("match_regex is anchored at the tag's start, as onig_match is", () => {
      assert.ok(routes({ match_regex: "docker\\.gateway" }, "docker.gateway.stdout"));
      assert.ok(!routes({ match_regex: "gateway" }, "docker.gateway.stdout"));
    });
  });

  describe("CloudTrail records (the optional cloudtrail module's topic)", () => {
    const aggregator = load(AGGREGATOR);
    const topic = datasets(SAMPLE_FACTS.environment).cloudtrailTopic;
    // Consumed a day after the call: the index and @timestamp must still be the call's.
    const consumed = new Date("2026-12-01T08:00:00.000Z");
    const record = {
      eventVersion: "1.10",
      eventTime: "2026-11-30T23:59:58Z",
      eventSource: "s3.amazonaws.com",
      eventName: "GetObject",
      awsRegion: "eu-west-1",
      sourceIPAddress: "203.0.113.7",
      userIdentity: { type: "IAMUser", arn: "arn:aws:iam::111122223333:user/ana", userName: "ana" },
      requestParameters: { bucketName: "b", key: "k" },
      errorCode: "AccessDenied",
      eventID: "3038ebd2-c98a-4c65-9b6e-e22506292313",
    };
    /** The Lambda's message (key = eventID, payload = the record) through the aggregator. */
    const consume = (payload: unknown, onTopic = topic) =>
      throughAggregator({ topic: onTopic, partition: 0, offset: 7, error: null, key: record.eventID, payload }, consumed);

    it("a record on the CloudTrail topic goes to es_cloudtrail only, as the record's own fields", () => {
      const { outputs, filtered } = consume(record);
      assert.deepEqual(outputs, ["es_cloudtrail"]);
      assert.deepEqual(filtered.record, record, "no Kafka metadata, no payload wrapper, eventTime kept");
      assert.deepEqual(filtered.unmodelled, []);
    });

    it("is written to cloudtrail-<eventTime's day> with _id = eventID and @timestamp = eventTime", () => {
      const { item } = consume(record);
      assert.deepEqual(item, { index: `${INDEX_PREFIXES.cloudtrail}-2026.11.30`, id: record.eventID, timestamp: "2026-11-30T23:59:58.000Z" });
    });

    it("a redelivered record (CloudTrail is at least once) rewrites the same document", () => {
      const es = byAlias(aggregator.pipeline?.outputs, "es_cloudtrail");
      assert.equal(prop(es, "write_operation"), "index", "index, not create: a duplicate replaces instead of failing");
      const reordered = Object.fromEntries(Object.entries(record).reverse());
      assert.deepEqual(consume(reordered).item, consume(record).item);
      assert.equal(consume(record).item.id, record.eventID, "the id is the event's, not a hash of the record");
    });

    it("an eventTime that does not parse stays in the document, and the record still lands (on the consumption day)", () => {
      const { outputs, filtered, item } = consume({ ...record, eventTime: "yesterday" });
      assert.deepEqual(outputs, ["es_cloudtrail"]);
      assert.equal(filtered.record.eventTime, "yesterday");
      assert.deepEqual(item, { index: `${INDEX_PREFIXES.cloudtrail}-2026.12.01`, id: record.eventID, timestamp: consumed.toISOString() });
    });

    it("a message that is not JSON still reaches es_cloudtrail instead of blocking the consumer", () => {
      const { outputs, item } = consume("not json");
      assert.deepEqual(outputs, ["es_cloudtrail"]);
      assert.equal(item.id, undefined, "no eventID: Elasticsearch picks an id");
    });

    it("log topics never reach the CloudTrail index, with or without a carried tag", () => {
      for (const onTopic of [sampleEnv("logging").KAFKA_TOPIC_GATEWAY, sampleEnv("logging").KAFKA_TOPIC_CONTAINERS]) {
        assert.deepEqual(consume(record, onTopic).outputs, ["es_containers"], `${onTopic}, untagged`);
        assert.deepEqual(consume({ fluentbit_tag: "docker.gateway.stdout" }, onTopic).outputs, ["es_gateway"], onTopic);
      }
    });

    it("the model reads times as strptime does (from the start, UTC) and takes _id only from a string", () => {
      assert.deepEqual(parseTime("2026-11-30T23:59:58Z", "%Y-%m-%dT%H:%M:%SZ"), new Date("2026-11-30T23:59:58Z"));
      assert.deepEqual(parseTime("2025-01-01T00:00:00.123456Z", "%Y-%m-%dT%H:%M:%S.%L"), new Date("2025-01-01T00:00:00.123Z"));
      assert.equal(parseTime("2026-11-30 23:59:58Z", "%Y-%m-%dT%H:%M:%SZ"), undefined);
      const es = byAlias(aggregator.pipeline?.outputs, "es_cloudtrail");
      assert.equal(bulkItem(es, { tag: "t", record: { eventID: 1 }, unmodelled: [] }, consumed).id, undefined);
    });
  });

  describe("the users' services' records (the ingest endpoint's apps topic)", () => {
    const aggregator = load(AGGREGATOR);
    const env = sampleEnv("logging");
    const topic = datasets(SAMPLE_FACTS.environment).appsTopic;
    // Consumed a day after the service sent it: the index and @timestamp must still be the record's.
    const consumed = new Date("2026-12-02T08:00:00.000Z");
    const sent = new Date("2026-11-30T23:59:58.250Z");
    const record = appsPayload(sent, { "service.name": "orders", log: "order 42 shipped", "log.level": "info", "host.name": "app-1", "container.name": "orders" });
    /** The endpoint's message (no key) through the aggregator. */
    const consume = (payload: unknown, onTopic = topic) => throughAggregator({ topic: onTopic, partition: 1, offset: 9, error: null, key: null, payload }, consumed);

    it("a record on the apps topic goes to es_apps only, as the service sent it, without Kafka's metadata or the carried time", () => {
      const { outputs, filtered } = consume(record);
      assert.deepEqual(outputs, ["es_apps"]);
      const { [APPS_TIME_KEY]: time, ...fields } = record;
      assert.ok(time, "the endpoint carries the event time");
      assert.deepEqual(filtered.record, fields);
      assert.deepEqual(filtered.unmodelled, []);
    });

    it("is written to apps-<the event's day> with _id = log_id and @timestamp = the event time", () => {
      assert.deepEqual(consume(record).item, { index: `${INDEX_PREFIXES.apps}-2026.11.30`, id: record.log_id, timestamp: sent.toISOString() });
      const es = byAlias(aggregator.pipeline?.outputs, "es_apps");
      assert.equal(prop(es, "write_operation"), "index", "a redelivered message rewrites its document");
    });

    it("a service cannot send its records into the platform's indices with a carried tag of the forwarder's", () => {
      for (const tag of ["docker.gateway.stdout", "docker.containers.kafka", "cloudtrail.events"]) {
        assert.deepEqual(consume({ ...record, fluentbit_tag: tag }).outputs, ["es_apps"], tag);
        assert.ok(!("fluentbit_tag" in consume({ ...record, fluentbit_tag: tag }).filtered.record), "the key is dropped");
      }
      // And the other way: a log topic's record never reaches apps-*, whatever it carries.
      for (const onTopic of [env.KAFKA_TOPIC_GATEWAY, env.KAFKA_TOPIC_CONTAINERS]) {
        assert.deepEqual(consume({ ...record, fluentbit_tag: "apps.logs" }, onTopic).outputs, ["es_containers"], onTopic);
      }
    });

    it("keys Elasticsearch refuses in a document get a leading underscore, or are dropped when that name is taken", () => {
      const refused = { "@timestamp": "2026-11-30T23:00:00Z", _id: "their own id", _source: "s", _index: "i", __index: "taken", _routing: "r" };
      const { filtered, item } = consume({ ...record, ...refused });
      const moved = { "_@timestamp": refused["@timestamp"], __id: refused._id, __source: "s", __index: "taken", __routing: "r" };
      assert.deepEqual(filtered.record, { ...filtered.record, ...moved });
      for (const key of ["@timestamp", "_id", "_source", "_index", "_routing"]) assert.ok(!(key in filtered.record), key);
      assert.equal(item.id, record.log_id, "the _id is still the endpoint's");
      assert.equal(item.timestamp, sent.toISOString(), "and @timestamp the event time, once");
      // The renames and removals name the same keys: none is only dropped, none left in place.
      const reserved = byAlias(aggregator.pipeline?.filters, "reserved_keys");
      assert.equal(prop(reserved, "match"), "apps.logs");
      const renamed = propList(reserved, "rename").map((r) => r.trim().split(/\s+/));
      assert.deepEqual(renamed.filter(([from, to]) => to !== `_${from}`), [], "each to its name with a leading underscore");
      assert.deepEqual(renamed.map(([from]) => from), propList(reserved, "remove"));
      assert.ok(renamed.some(([from]) => from === "@timestamp"), "the es output's time_key");
      assert.equal(prop(byAlias(aggregator.pipeline?.outputs, "es_apps"), "time_key"), "@timestamp");
    });

    it("a message that is not JSON still reaches es_apps instead of blocking the consumer", () => {
      const { outputs, item } = consume("not json");
      assert.deepEqual(outputs, ["es_apps"]);
      assert.deepEqual(item, { index: `${INDEX_PREFIXES.apps}-2026.12.02`, id: undefined, timestamp: consumed.toISOString() });
    });
  });

  describe("aliases the monitoring alerts and dashboards use", () => {
    const expected: [string, "inputs" | "outputs", string[]][] = [
      [FORWARDER, "inputs", ["docker_logs"]],
      [FORWARDER, "outputs", ["kafka_gateway", "kafka_containers", "refusal_metrics"]],
      [AGGREGATOR, "inputs", ["kafka_in"]],
      [AGGREGATOR, "outputs", ["es_gateway", "es_containers", "es_apps", "es_cloudtrail"]],
    ];
    for (const [file, kind, aliases] of expected) {
      it(`${file} ${kind}: ${aliases.join(", ")}`, () => {
        const present = (load(file).pipeline?.[kind] ?? []).map((p) => prop(p, "alias"));
        assert.deepEqual(present, aliases);
      });
    }
  });

  describe("document shape", () => {
    const forwarder = load(FORWARDER);
    const aggregator = load(AGGREGATOR);

    it("the aggregator writes the daily indices named in components/platform/naming.ts", () => {
      const prefix = (alias: string) => prop(byAlias(aggregator.pipeline?.outputs, alias), "logstash_prefix");
      assert.equal(prefix("es_gateway"), INDEX_PREFIXES.gateway);
      assert.equal(prefix("es_containers"), INDEX_PREFIXES.containers);
      assert.equal(prefix("es_cloudtrail"), INDEX_PREFIXES.cloudtrail);
      assert.equal(prefix("es_apps"), INDEX_PREFIXES.apps);
      // The ingest endpoint's records carry their log_id as the forwarder's do.
      for (const alias of ["es_gateway", "es_containers", "es_apps"]) {
        const es = byAlias(aggregator.pipeline?.outputs, alias);
        assert.equal(prop(es, "logstash_dateformat"), "%Y.%m.%d");
        // Idempotent with derived ids in every release; `create` loops on 409s in 5.1.1 (see the config's comment).
        assert.equal(prop(es, "write_operation"), "index");
        // _id = where the forwarder read the line, not a hash of the record (identical lines would become one).
        assert.equal(prop(es, "id_key"), `$${LINE_ID_KEYS.id}`, alias);
        assert.ok(!isOn(prop(es, "generate_id")), `${alias}: no generate_id`);
        assert.equal(prop(es, "retry_limit"), "no_limits");
        assert.ok(isOn(prop(es, "trace_error")), "trace_error");
        assert.ok(isOn(prop(es, "suppress_type_name")), "suppress_type_name");
      }
    });

    it("the event time travels in a key that the aggregator reads and removes (one @timestamp only)", () => {
      const keys = ["kafka_gateway", "kafka_containers"].map((a) => prop(byAlias(forwarder.pipeline?.outputs, a), "timestamp_key"));
      assert.equal(new Set(keys).size, 1);
      assert.notEqual(keys[0], "@timestamp", "the es output adds @timestamp itself");
      const restore = byAlias(aggregator.pipeline?.filters, "restore_time");
      assert.equal(prop(restore, "key_name"), keys[0]);
      assert.ok(!isOn(prop(restore, "preserve_key")));
    });

    it("the forwarder's Kafka outputs hold a missing topic's records for minutes (below librdkafka's int overflow) in bounded memory", () => {
      // rd_kafka_topic_set_notexists computes `metadata_propagation_max_ms * 1000` in an int: from 2147484 on it is
      // negative and the records fail at once (tried by hand with Fluent Bit 5.1.1 and Kafka 4.1.1: 3600000 lost all
      // of them, 1800000 delivered all once the topics were created 45 s later, the default 30 s lost them).
      for (const alias of ["kafka_gateway", "kafka_containers"]) {
        const output = byAlias(forwarder.pipeline?.outputs, alias);
        const holdMs = Number(prop(output, "rdkafka.topic.metadata.propagation.max.ms"));
        assert.ok(holdMs >= 10 * 60_000, `${alias}: ${holdMs} ms is shorter than a first deploy's topic setup may take`);
        assert.ok(holdMs * 1000 <= 2 ** 31 - 1, `${alias}: ${holdMs} ms overflows librdkafka's int`);
        assert.equal(prop(output, "rdkafka.message.timeout.ms"), 0, alias);
        // Memory beside the host's own services: librdkafka's queue well below its 1 GiB default, the rest on disk.
        assert.ok(Number(prop(output, "rdkafka.queue.buffering.max.kbytes")) <= 65536, alias);
        assert.equal(prop(output, "rdkafka.request.required.acks"), -1, alias);
      }
    });

    it("the forwarder's line_id filter reads the tail's position keys and Docker's time, and writes the key the es outputs' id_key reads", () => {
      const tail = byAlias(forwarder.pipeline?.inputs, "docker_logs");
      assert.equal(prop(tail, "path_key"), LINE_ID_KEYS.path);
      assert.equal(prop(tail, "offset_key"), LINE_ID_KEYS.offset);
      const filter = byAlias(forwarder.pipeline?.filters, "line_id");
      assert.equal(prop(filter, "match"), "docker.*");
      const lua = String(prop(filter, "code"));
      for (const key of [LINE_ID_KEYS.path, LINE_ID_KEYS.offset, LINE_ID_KEYS.dockerTime, "log"]) assert.ok(lua.includes(`record["${key}"]`), `reads ${key}`);
      for (const key of [LINE_ID_KEYS.path, LINE_ID_KEYS.offset]) assert.match(lua, new RegExp(`record\\["${key}"\\] = nil`), `removes ${key}`);
      assert.match(lua, new RegExp(`record\\["${LINE_ID_KEYS.id.replace(".", "\\.")}"\\] = `), `writes ${LINE_ID_KEYS.id}`);
      // Once per record: after the gateway's lines are re-emitted under their own tag (they start over from the first
      // filter), before a parsed JSON line could bring its own `time` and before document_shape removes Docker's.
      const order = (forwarder.pipeline?.filters ?? []).map((f) => prop(f, "alias"));
      assert.ok(order.indexOf("route_gateway") < order.indexOf("line_id"), order.join(", "));
      assert.ok(order.indexOf("line_id") < order.indexOf("parse_gateway"), order.join(", "));
      assert.ok(order.indexOf("line_id") < order.indexOf("document_shape"), order.join(", "));
      assert.ok(propList(byAlias(forwarder.pipeline?.filters, "document_shape"), "remove").includes(LINE_ID_KEYS.dockerTime));
    });

    it("the carried tag key is the one the aggregator restores from and then removes", () => {
      const lua = String(prop(byAlias(forwarder.pipeline?.filters, "carry_tag"), "code"));
      const key = /record\["([^"]+)"\]\s*=\s*tag/.exec(lua)?.[1];
      assert.ok(key, "the lua filter writes the tag into a record key");
      const rules = prop(byAlias(aggregator.pipeline?.filters, "restore_tag"), "rule") as string[];
      // After the apps topic's rule only (a service's own key of that name must not route it).
      assert.ok(rules[0].startsWith("$topic ") && rules[1].startsWith(`$payload['${key}'] `), rules.join("\n"));
      assert.deepEqual(prop(byAlias(aggregator.pipeline?.filters, "drop_carried_tag"), "remove"), [key]);
    });
  });

  describe("images", () => {
    it("FLUENT_BIT_VERSION is an exact 5.1 release the 5.1.1 schema describes, 5.1.3 or later", () => {
      const [, minor, patch] = /^(\d+\.\d+)\.(\d+)$/.exec(IMAGE_VERSIONS.FLUENT_BIT_VERSION) ?? [];
      const schema = loadSchema() as unknown as { "fluent-bit": { version: string } };
      assert.equal(`${minor}.`, schema["fluent-bit"].version.replace(/\d+$/, ""), "same minor release as the schema");
      // Releases before 5.1.3 count a bulk with some rejected items as delivered (fluent/fluent-bit#12321).
      assert.ok(Number(patch) >= 3, IMAGE_VERSIONS.FLUENT_BIT_VERSION);
    });

    for (const { file, role, service: name } of fluentBitConfigs()) {
      it(`${role}/${name} runs fluent/fluent-bit:\${FLUENT_BIT_VERSION}, publishing the API port of ${file} for Prometheus`, () => {
        const service = loadCompose(role).services[name];
        assert.equal(service.image, "fluent/fluent-bit:${FLUENT_BIT_VERSION}");
        const port = Number(load(file).service?.http_port);
        const metrics = { "fluent-bit-forwarder": PORTS.forwarderMetrics, ingest: PORTS.ingestMetrics } as Record<string, number>;
        assert.equal(port, metrics[name] ?? PORTS.aggregatorMetrics);
        // The release image is distroless: a healthcheck would need a shell or an HTTP client it does not have.
        assert.equal(service.healthcheck, undefined);
        // The ingest endpoint also publishes the ports the services send to; the pipeline check follows the platform's
        // own lines only.
        if (name === "ingest") {
          assert.deepEqual([...publishedPorts(service)].sort(), [PORTS.ingestForward, PORTS.ingestOtlp, port].sort());
          return;
        }
        // The forwarder also serves the counters it derives from log lines (the ingest endpoint's refusals).
        const exporter = name === "fluent-bit-forwarder" ? Number(prop(byAlias(load(file).pipeline?.outputs, "refusal_metrics"), "port")) : undefined;
        if (exporter !== undefined) assert.equal(exporter, PORTS.forwarderLogMetrics);
        assert.deepEqual(publishedPorts(service), exporter === undefined ? [port] : [port, exporter]);
        // The pipeline check reads the same port by default.
        const check = fs.readFileSync(path.join(REPO_ROOT, "checks", "pipeline.sh"), "utf8");
        assert.ok(check.includes(`http://127.0.0.1:${port}}/api/v2/metrics/prometheus`), `checks/pipeline.sh reads ${port}`);
      });
    }
  });
});
