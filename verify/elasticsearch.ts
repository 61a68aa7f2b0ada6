import path from "node:path";
import ipaddr from "ipaddr.js";
import { Client, errors as esErrors } from "@elastic/elasticsearch";
import { INDEX_PREFIXES } from "../components/platform/naming";
import { ROLES } from "../components/platform/roles";
import { ES_ACCOUNTS } from "../components/credentials/elasticsearch";
import { ES_SERVICE_NAME } from "../components/credentials/tls";
import { checkServerIdentity } from "node:tls";
import { asUnreachable, excerpt, refusedPassword } from "./http";
import { membersOf, StackOutputs } from "./outputs";
import { flattenMapping, IndexTemplateFile, settingValue } from "./provisioning";
import { joinProblems, Outcome, warn } from "./report";

export interface EsContext {
  es: Client;
  outputs: StackOutputs;
  timeoutMs: number;
}

/** The read-only user verify logs in as to Elasticsearch and Kibana (hosts/logging/setup/security/users). */
export const checkUserAuth = (outputs: StackOutputs) => ({
  user: ES_ACCOUNTS.check,
  password: outputs.elasticsearchCheckPassword,
  output: "elasticsearchCheckPassword" as const,
  fix: "the logging host's setup service sets it on every deploy: see `docker compose logs setup` there",
});

export function elasticsearchClient(outputs: StackOutputs, timeoutMs: number): Client {
  // One attempt per call: a retry would only hide an unreachable port behind a longer wait. Only the program's CA is
  // trusted. A node certificate does not name the host's public address (verify's URL on aws), so the name checked
  // is the compose service name that every node certificate carries (components/credentials/tls.ts).
  return new Client({
    node: outputs.elasticsearchUrl,
    requestTimeout: timeoutMs,
    maxRetries: 0,
    auth: { username: ES_ACCOUNTS.check, password: outputs.elasticsearchCheckPassword },
    tls: { ca: outputs.elasticsearchCaCertificate, checkServerIdentity: (_host, cert) => checkServerIdentity(ES_SERVICE_NAME, cert) },
  });
}

// Node's TLS verification failures, as the client's ConnectionError words them (it keeps only the message).
const UNTRUSTED = /certificate|self[- ]signed|unable to verify|UNABLE_TO_GET_ISSUER|CERT_/i;

/** Runs one client call, turning network failures into host/port/security-group advice and HTTP errors into text. */
export async function esCall<T>(ctx: EsContext, call: (es: Client) => Promise<T>): Promise<T> {
  try {
    return await call(ctx.es);
  } catch (err) {
    if (err instanceof esErrors.ConnectionError && UNTRUSTED.test(err.message)) {
      throw new Error(
        `Elasticsearch (${ctx.outputs.elasticsearchUrl}) presented a certificate the stack's CA did not sign (${err.message}): ` +
          "is this the right stack, and did its last `pulumi up` render the logging host's certificates? (output elasticsearchCaCertificate)",
      );
    }
    const unreachable = asUnreachable("elasticsearch", ctx.outputs, err, ctx.timeoutMs);
    if (unreachable) throw unreachable;
    if (err instanceof esErrors.ResponseError && err.statusCode === 401) throw refusedPassword("elasticsearch", checkUserAuth(ctx.outputs));
    if (err instanceof esErrors.ResponseError) {
      throw new Error(`Elasticsearch answered HTTP ${err.statusCode}: ${excerpt(err.body)}`);
    }
    throw err;
  }
}

const isNotFound = (err: unknown) => err instanceof esErrors.ResponseError && err.statusCode === 404;

/** Swallows a 404 into undefined so that "missing" reads as a finding, not as an HTTP error. */
async function orMissing<T>(ctx: EsContext, call: (es: Client) => Promise<T>): Promise<T | undefined> {
  return esCall(ctx, async (es) => {
    try {
      return await call(es);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
}

const indexPattern = (prefix: string) => `${prefix}-*`;
const GATEWAY = indexPattern(INDEX_PREFIXES.gateway);
const CONTAINERS = indexPattern(INDEX_PREFIXES.containers);

/**
 * Red fails; yellow warns (on one node it means an index asks for a replica it can never get). Every logging member
 * runs one node named after it (ES_NODE_NAME): fewer nodes fail, naming the members whose node is not in the cluster.
 */
export async function clusterHealth(ctx: EsContext): Promise<string | Outcome> {
  const h = await esCall(ctx, (es) => es.cluster.health());
  const expected = membersOf(ctx.outputs, "logging");
  const detail = `${h.status}, ${h.number_of_nodes} of ${expected.length} node(s), ${h.active_shards} active / ${h.unassigned_shards} unassigned shards`;
  if (h.number_of_nodes !== expected.length) {
    const joined = new Set((await esCall(ctx, (es) => es.cat.nodes({ format: "json", h: "name" }))).map((n) => n.name));
    const missing = expected.filter((name) => !joined.has(name));
    const extra = [...joined].filter((name) => name !== undefined && !expected.includes(name));
    throw new Error(`${detail}: ${[
      ...(missing.length ? [`not in the cluster: ${missing.join(", ")} (docker compose logs elasticsearch on that host)`] : []),
      ...(extra.length ? [`not a logging member: ${extra.join(", ")}`] : []),
    ].join("; ") || "the node list changed while asking"}`);
  }
  if (h.status === "red") throw new Error(`cluster is red: ${detail}; some primary shards are unassigned (disk watermark? see GET _cluster/allocation/explain)`);
  if (h.status === "yellow") return warn(detail);
  return detail;
}

/** Each dataset has its index template (named after it, for its index pattern) naming an ILM policy that exists. */
export async function templatesAndPolicies(ctx: EsContext, datasets: readonly string[] = Object.values(INDEX_PREFIXES)): Promise<string> {
  const problems: string[] = [];
  const found: string[] = [];
  for (const name of datasets) {
    const res = await orMissing(ctx, (es) => es.indices.getIndexTemplate({ name }));
    const template = res?.index_templates.find((t) => t.name === name)?.index_template;
    if (!template) {
      problems.push(`index template ${name} is missing (the logging host's setup service creates it)`);
      continue;
    }
    const patterns = ([] as string[]).concat(template.index_patterns);
    if (!patterns.includes(indexPattern(name))) problems.push(`index template ${name} covers ${patterns.join(",")}, not ${indexPattern(name)}`);
    const policy = settingValue(template.template?.settings, "index.lifecycle.name");
    if (typeof policy !== "string" || policy === "") {
      problems.push(`index template ${name} names no ILM policy (index.lifecycle.name)`);
      continue;
    }
    const lifecycle = await orMissing(ctx, (es) => es.ilm.getLifecycle({ name: policy }));
    if (!lifecycle?.[policy]) problems.push(`ILM policy ${policy} (named by template ${name}) is missing`);
    else found.push(`${name} -> ${policy}`);
  }
  if (problems.length) throw new Error(joinProblems(problems));
  return `templates with their ILM policies: ${found.join(", ")}`;
}

/** Gateway documents with an event time in the last `minutes` minutes. */
export async function recentGatewayDocuments(ctx: EsContext, minutes: number): Promise<string> {
  const { count } = await esCall(ctx, (es) =>
    es.count({ index: GATEWAY, query: { range: { "@timestamp": { gte: `now-${minutes}m` } } } }),
  );
  if (count > 0) return `${count} gateway documents in the last ${minutes} min`;
  const newest = await esCall(ctx, (es) =>
    es.search<unknown>({ index: GATEWAY, size: 0, aggs: { newest: { max: { field: "@timestamp" } } } }),
  );
  const agg = newest.aggregations?.newest as { value_as_string?: string } | undefined;
  throw new Error(
    `no gateway documents in ${GATEWAY} in the last ${minutes} min (newest: ${agg?.value_as_string ?? "none at all"}); ` +
      "follow the pipeline: loadgen and gateway (web), forwarder outputs, Kafka topic, aggregator (logging)",
  );
}

/**
 * Container log documents by member (`host.name`), over the whole retention: every host's forwarder has shipped its
 * containers' lines at least once. None at all fails; a member without any warns, as a quiet host may have logged
 * nothing since its oldest retained index.
 */
export async function containerLogsPerMember(ctx: EsContext): Promise<string | Outcome> {
  const expected = ROLES.flatMap((role) => membersOf(ctx.outputs, role));
  const result = await esCall(ctx, (es) =>
    es.search<unknown>({ index: CONTAINERS, size: 0, aggs: { members: { terms: { field: "host.name", size: 100 } } } }),
  );
  const buckets = (result.aggregations?.members as { buckets?: { key: string; doc_count: number }[] } | undefined)?.buckets ?? [];
  const counts = new Map(buckets.map((bucket) => [bucket.key, bucket.doc_count]));
  const missing = expected.filter((member) => !counts.has(member));
  const hint = "docker compose logs fluent-bit-forwarder on that host (Kafka reachable?), then the containers topic and the aggregators";
  if (missing.length === expected.length) throw new Error(`no container logs in ${CONTAINERS} from any member: ${hint}`);
  const found = expected.filter((member) => counts.has(member)).map((member) => `${member} ${counts.get(member)}`).join(", ");
  if (missing.length) return warn(`no container logs from ${missing.join(", ")} (${hint}); ${found}`);
  return `container logs from all ${expected.length} members: ${found}`;
}

const NUMERIC = new Set(["long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"]);
const STRING = new Set(["keyword", "constant_keyword", "wildcard", "text", "match_only_text"]);

/** Whether a `_source` value is what a field of this type should receive (what ES would index, not merely coerce). */
export function valueFits(type: string, value: unknown): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.every((v) => valueFits(type, v));
  if (NUMERIC.has(type)) return typeof value === "number";
  if (type === "date" || type === "date_nanos") {
    return typeof value === "number" || (typeof value === "string" && (/^\d+$/.test(value) || !Number.isNaN(Date.parse(value))));
  }
  if (type === "ip") return typeof value === "string" && ipaddr.isValid(value);
  if (type === "boolean") return typeof value === "boolean";
  if (STRING.has(type)) return ["string", "number", "boolean"].includes(typeof value);
  if (type === "flattened" || type === "object" || type === "nested") return typeof value === "object";
  return true; // a type this check does not model: the mapping comparison still covers it
}

/** Values at a field path, whether the document nests objects (`{"request":{"id":..}}`) or dots keys (`"request.id"`). */
export function valuesAt(doc: unknown, field: string): unknown[] {
  const walk = (node: unknown, parts: string[]): unknown[] => {
    if (parts.length === 0) return [node];
    if (Array.isArray(node)) return node.flatMap((n) => walk(n, parts));
    if (!node || typeof node !== "object") return [];
    const out: unknown[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const key = parts.slice(0, i).join(".");
      if (Object.prototype.hasOwnProperty.call(node, key)) out.push(...walk((node as Record<string, unknown>)[key], parts.slice(i)));
    }
    return out;
  };
  return walk(doc, field.split("."));
}

/**
 * The newest gateway index is mapped as the repo's template says (same type for every template field), and its newest
 * parsed document carries values of those types.
 */
export async function mappedTypes(ctx: EsContext, template: IndexTemplateFile): Promise<string> {
  const mappings = await esCall(ctx, (es) => es.indices.getMapping({ index: GATEWAY }));
  const newest = Object.keys(mappings).sort().pop();
  if (!newest) throw new Error(`no ${GATEWAY} index exists yet`);
  const actual = flattenMapping(mappings[newest].mappings.properties as Parameters<typeof flattenMapping>[0]);
  const problems = [...template.fields]
    .filter(([field, type]) => actual.get(field) !== type)
    .map(([field, type]) => `${field} is ${actual.get(field) ?? "unmapped"} in ${newest} (template: ${type})`);

  const res = await esCall(ctx, (es) =>
    es.search<Record<string, unknown>>({
      index: newest,
      size: 1,
      sort: [{ "@timestamp": { order: "desc" } }],
      query: { exists: { field: "response.status" } },
    }),
  );
  const hit = res.hits.hits[0];
  if (!hit?._source) throw new Error(joinProblems([`${newest} holds no parsed gateway document (none has response.status)`, ...problems]));
  for (const [field, type] of template.fields) {
    const bad = valuesAt(hit._source, field).filter((v) => !valueFits(type, v));
    if (bad.length) problems.push(`document ${hit._id} has ${field}=${excerpt(JSON.stringify(bad[0]), 60)}, not a ${type}`);
  }
  if (problems.length) throw new Error(joinProblems(problems));
  return `${newest}: ${template.fields.size} fields typed as in ${path.basename(template.file)}; document ${hit._id} fits`;
}
