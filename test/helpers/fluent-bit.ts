import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv";
import { parse } from "yaml";

/**
 * Checks Fluent Bit YAML configurations without a Fluent Bit binary, against the plugin schema that `fluent-bit -J`
 * prints for 5.1.1 (test/fixtures), plus the keys the schema leaves out (listed in the shared schema README).
 * Keys are case-insensitive, as in Fluent Bit. followRecord models what the filters do to one record and where it
 * goes, from the plugins' sources (only the filter options these configs use).
 */

export const SCHEMA_PATH = path.join(__dirname, "..", "fixtures", "fluent-bit-schema-5.1.1.json");

type Kind = "inputs" | "filters" | "outputs" | "processors";

interface SchemaProperty { name: string; type: string }
interface SchemaPlugin { name: string; properties: Record<string, SchemaProperty[] | undefined> }
export type FluentBitSchema = Record<Kind, SchemaPlugin[]>;

export function loadSchema(file = SCHEMA_PATH): FluentBitSchema {
  return JSON.parse(fs.readFileSync(file, "utf8")) as FluentBitSchema;
}

/** `service` keys read by Fluent Bit 5.1.1 (not in the schema; from the schema README). */
const SERVICE_KEYS = [
  "flush", "grace", "daemon", "log_file", "log_level", "parsers_file", "plugins_file", "streams_file", "http_server",
  "http_listen", "http_port", "health_check", "hc_errors_count", "hc_retry_failure_count", "hc_period", "hot_reload",
  "coro_stack_size", "scheduler.base", "scheduler.cap", "multiline_buffer_limit", "dns.mode", "dns.resolver",
  "dns.prefer_ipv4", "dns.prefer_ipv6", "storage.path", "storage.sync", "storage.metrics", "storage.checksum",
  "storage.backlog.mem_limit", "storage.backlog.flush_on_shutdown", "storage.max_chunks_up",
  "storage.delete_irrecoverable_chunks", "storage.trim_files", "storage.type", "storage.inherit",
  "storage.keep.rejected", "storage.rejected.path", "storage.rejected.limit", "json.convert_nan_to_null",
  "sp.convert_from_str_to_num", "security.fips_mode", "enable_chunk_trace",
];
const SERVICE_KEY_PREFIXES = ["flush.adaptive"];

/** Keys every plugin of a kind takes beside its schema entry (schema README). `tls.*` is matched as a prefix. */
const EXTRA_KEYS: Record<Kind, string[]> = {
  inputs: ["host", "listen", "port", "processors"],
  outputs: ["workers", "storage.total_limit_size", "host", "port", "processors"],
  filters: ["processors"],
  processors: ["condition"],
};
const EXTRA_PREFIXES: Record<Kind, string[]> = { inputs: ["tls."], outputs: ["tls."], filters: [], processors: [] };

/** Keys of a `parsers` entry (Fluent Bit's "configuring custom parsers"). */
const PARSER_KEYS = [
  "name", "format", "regex", "time_key", "time_format", "time_offset", "time_keep", "time_strict",
  "time_system_timezone", "types", "decode_field", "decode_field_as", "skip_empty_values",
];

// The file's overall shape; plugin properties are checked against the schema below.
const pluginList = { type: "array", items: { type: "object", required: ["name"], properties: { name: { type: "string" } } } };
const configShape = {
  type: "object",
  additionalProperties: false,
  properties: {
    service: { type: "object" },
    env: { type: "object" },
    includes: { type: "array", items: { type: "string" } },
    parsers: { type: "array", items: { type: "object", required: ["name", "format"] } },
    multiline_parsers: { type: "array", items: { type: "object", required: ["name"] } },
    customs: pluginList,
    plugins: { type: "array" },
    upstream_servers: { type: "array" },
    pipeline: {
      type: "object",
      additionalProperties: false,
      properties: { inputs: pluginList, filters: pluginList, outputs: pluginList },
    },
  },
};
const checkShape = new Ajv({ allErrors: true }).compile(configShape);

export type Plugin = Record<string, unknown> & { name: string };
export interface FluentBitConfig {
  service?: Record<string, unknown>;
  env?: Record<string, unknown>;
  parsers?: Record<string, unknown>[];
  pipeline?: { inputs?: Plugin[]; filters?: Plugin[]; outputs?: Plugin[] };
}

export function parseConfig(text: string): FluentBitConfig {
  return parse(text) as FluentBitConfig;
}

/** A property value as Fluent Bit reads it: keys are case-insensitive. */
export function prop(plugin: Record<string, unknown>, key: string): unknown {
  const found = Object.keys(plugin).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : plugin[found];
}

/** A Fluent Bit boolean: YAML 1.2 reads `on` as a string, Fluent Bit reads it as true. */
export function isOn(value: unknown): boolean {
  return value === true || (typeof value === "string" && /^(on|true|yes)$/i.test(value));
}

/** Multi-value properties (rule, add, remove...) may be one string or a YAML list. */
export function propList(plugin: Record<string, unknown>, key: string): string[] {
  const value = prop(plugin, key);
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function knownKeys(schema: FluentBitSchema, kind: Kind, name: string): { keys: Set<string>; prefixes: string[] } | undefined {
  const candidates = kind === "processors" ? [...schema.processors, ...schema.filters] : schema[kind];
  const plugin = candidates.find((p) => p.name.toLowerCase() === name.toLowerCase());
  if (!plugin) return undefined;
  const keys = new Set<string>(["name", ...EXTRA_KEYS[kind]]);
  const prefixes = [...EXTRA_PREFIXES[kind]];
  for (const group of Object.values(plugin.properties)) {
    for (const p of group ?? []) {
      if (p.type === "prefixed string") prefixes.push(p.name.toLowerCase());
      else keys.add(p.name.toLowerCase());
    }
  }
  return { keys, prefixes };
}

function checkPlugin(schema: FluentBitSchema, kind: Kind, plugin: Record<string, unknown>, where: string, errors: string[]): void {
  const name = String(prop(plugin, "name"));
  const known = knownKeys(schema, kind, name);
  if (!known) {
    errors.push(`${where}: unknown ${kind.replace(/s$/, "")} plugin '${name}'`);
    return;
  }
  for (const key of Object.keys(plugin)) {
    const k = key.toLowerCase();
    if (!known.keys.has(k) && !known.prefixes.some((p) => k.startsWith(p) && k.length > p.length)) {
      errors.push(`${where} (${name}): unknown property '${key}'`);
    }
  }
  const processors = prop(plugin, "processors");
  if (processors === undefined) return;
  if (typeof processors !== "object" || processors === null || Array.isArray(processors)) {
    errors.push(`${where} (${name}): processors must be a map of logs/metrics/traces lists`);
    return;
  }
  for (const [signal, list] of Object.entries(processors)) {
    if (!["logs", "metrics", "traces"].includes(signal) || !Array.isArray(list)) {
      errors.push(`${where} (${name}): processors.${signal} is not a logs/metrics/traces list`);
      continue;
    }
    list.forEach((p, i) => checkPlugin(schema, "processors", p as Record<string, unknown>, `${where}.processors.${signal}[${i}]`, errors));
  }
}

/** Every `${VAR}` in a string value anywhere in the config. */
function variables(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === "string") {
    for (const m of value.matchAll(/\$\{([^}]*)\}/g)) out.add(m[1]);
  } else if (Array.isArray(value)) {
    value.forEach((v) => variables(v, out));
  } else if (value && typeof value === "object") {
    Object.values(value).forEach((v) => variables(v, out));
  }
  return out;
}

/** Returns every problem found (empty = valid). `env` is the container environment the config runs with. */
export function validateConfig(text: string, env: Record<string, string>, schema: FluentBitSchema = loadSchema()): string[] {
  let config: FluentBitConfig;
  try {
    config = parseConfig(text);
  } catch (e) {
    return [`YAML does not parse: ${(e as Error).message}`];
  }
  if (!checkShape(config)) {
    return (checkShape.errors ?? []).map((e) => `shape: ${e.instancePath || "/"} ${e.message ?? ""}`.trim());
  }
  const errors: string[] = [];
  for (const key of Object.keys(config.service ?? {})) {
    const k = key.toLowerCase();
    if (!SERVICE_KEYS.includes(k) && !SERVICE_KEY_PREFIXES.some((p) => k.startsWith(p))) {
      errors.push(`service: unknown key '${key}'`);
    }
  }
  const parserNames = new Set<string>();
  (config.parsers ?? []).forEach((parser, i) => {
    parserNames.add(String(prop(parser, "name")));
    for (const key of Object.keys(parser)) {
      if (!PARSER_KEYS.includes(key.toLowerCase())) errors.push(`parsers[${i}]: unknown key '${key}'`);
    }
  });
  for (const kind of ["inputs", "filters", "outputs"] as const) {
    (config.pipeline?.[kind] ?? []).forEach((plugin, i) => checkPlugin(schema, kind, plugin, `pipeline.${kind}[${i}]`, errors));
  }
  // A parser filter naming a parser the config does not define fails at start (no parsers_file is loaded).
  (config.pipeline?.filters ?? []).forEach((plugin, i) => {
    if (String(prop(plugin, "name")).toLowerCase() !== "parser") return;
    for (const name of propList(plugin, "parser")) {
      if (!parserNames.has(name)) errors.push(`pipeline.filters[${i}]: parser '${name}' is not defined in parsers`);
    }
  });
  const defined = new Set([...Object.keys(env), ...Object.keys(config.env ?? {})]);
  for (const name of variables(config)) {
    if (!defined.has(name)) errors.push(`\${${name}} is not defined in the environment`);
  }
  return errors;
}

/** Fluent Bit's `Match` wildcard: `*` stands for any run of characters (dots included); the rest is literal. */
export function matchTag(pattern: string, tag: string): boolean {
  const regex = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${regex}$`).test(tag);
}

/**
 * Whether a filter or output with this `match` / `match_regex` receives records of `tag`. `match_regex` is tried
 * with onig_match at the tag's start (src/flb_router.c), so it is anchored there but not at the end.
 */
export function routes(plugin: Record<string, unknown>, tag: string): boolean {
  const match = prop(plugin, "match");
  const matchRegex = prop(plugin, "match_regex");
  if (typeof matchRegex === "string") return (new RegExp(`^(?:${matchRegex})`).exec(tag)?.[0].length ?? 0) > 0;
  return typeof match === "string" && matchTag(match, tag);
}

/**
 * A record accessor such as `$attrs['com.docker.compose.service']` or `$topic`, read from a record. As Fluent Bit
 * reads one (src/flb_record_accessor.c, ra_parse_buffer), a key name ends at a dot outside quotes: `$log.id` reads
 * `log`, and what follows the dot is literal text.
 */
export function readAccessor(accessor: string, record: Record<string, unknown>): unknown {
  const m = /^\$([^[.]+)((?:\['[^']*'\])*)/.exec(accessor);
  if (!m) throw new Error(`unsupported record accessor '${accessor}'`);
  const keys = [m[1], ...[...m[2].matchAll(/\['([^']*)'\]/g)].map((k) => k[1])];
  let value: unknown = record;
  for (const key of keys) {
    if (!value || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The tag a `rewrite_tag` filter gives a record, or undefined when no rule matches (the record keeps its tag).
 * Rules are `KEY REGEX NEW_TAG KEEP`; the new tag may use `$TAG`, `$TAG[n]`, capture groups `$0`..`$9` and record
 * accessors such as `$stream` (a missing key adds nothing). `${VAR}` in a rule is the container environment's, as
 * Fluent Bit reads every property value.
 */
export function rewriteTag(
  filter: Record<string, unknown>, tag: string, record: Record<string, unknown>, env: Record<string, string> = {},
): { tag: string; keep: boolean } | undefined {
  for (const rule of propList(filter, "rule").map((r) => interpolate(r, env))) {
    const [key, regex, newTag, keep] = rule.trim().split(/\s+/);
    const value = readAccessor(key, record);
    if (typeof value !== "string") continue;
    const found = new RegExp(regex).exec(value);
    if (!found) continue;
    const composed = newTag
      .replace(/\$TAG\[(\d+)\]/g, (_, n: string) => tag.split(".")[Number(n)] ?? "")
      .replace(/\$TAG/g, tag)
      .replace(/\$(\d)/g, (_, n: string) => found[Number(n)] ?? "")
      .replace(/\$[A-Za-z_][\w-]*(?:\['[^']*'\])*/g, (accessor) => String(readAccessor(accessor, record) ?? ""));
    return { tag: composed, keep: /^(true|on|yes)$/i.test(keep ?? "") };
  }
  return undefined;
}

export type LogRecord = Record<string, unknown>;
/**
 * A record where it leaves the filters: its tag, its content, its event time when a parser set one (otherwise the
 * time its input stamped), and the filters the model could not run.
 */
export interface FilteredRecord { tag: string; record: LogRecord; time?: Date; unmodelled: string[] }

/** `${VAR}` in a config value, from the container environment (unknown names stay as written). */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([^}]*)\}/g, (whole, name: string) => env[name] ?? whole);
}

/** A `KEY VALUE` pair of a multi-value property (grep rules, modify rename/set). */
function pair(entry: string): [string, string] {
  const [key, ...rest] = entry.trim().split(/\s+/);
  return [key, rest.join(" ")];
}

/** strptime conversions a `time_format` may use here; `%L` is Fluent Bit's fraction of a second. */
const TIME_FIELDS: Record<string, string> = { Y: "(\\d{4})", m: "(\\d{2})", d: "(\\d{2})", H: "(\\d{2})", M: "(\\d{2})", S: "(\\d{2})", L: "(\\d+)" };

/**
 * A time text read with a `time_format` as UTC (no `%z` is used here, and Fluent Bit then applies no offset). Like
 * strptime, the format must match from the start and text may follow it. Undefined when it does not match.
 */
export function parseTime(text: string, format: string): Date | undefined {
  const order: string[] = [];
  const pattern = format.replace(/%(.)|[.*+?^${}()|[\]\\]/g, (whole, conversion?: string) => {
    if (conversion === undefined) return `\\${whole}`;
    if (!(conversion in TIME_FIELDS)) throw new Error(`time_format conversion %${conversion} is not modelled`);
    order.push(conversion);
    return TIME_FIELDS[conversion];
  });
  const found = new RegExp(`^${pattern}`).exec(text);
  if (!found) return undefined;
  const part = (c: string) => found[order.indexOf(c) + 1];
  const number = (c: string) => (order.includes(c) ? Number(part(c)) : 0);
  const millis = order.includes("L") ? Math.floor(Number(`0.${part("L")}`) * 1000) : 0;
  return new Date(Date.UTC(number("Y"), number("m") - 1, order.includes("d") ? number("d") : 1, number("H"), number("M"), number("S"), millis));
}

/**
 * What a parser of the config's `parsers` makes of a text: json (an object only) or regex (named groups; the
 * pattern is read as a JavaScript RegExp, which agrees with Onigmo's Ruby syntax on the patterns used here).
 * `time_key` read with `time_format` is the event time, and it is left out of the result unless `time_keep` is on,
 * or when it does not match the format (src/flb_parser_regex.c). Undefined when the text does not parse.
 */
function runParser(parser: Record<string, unknown>, text: string): { parsed: LogRecord; time?: Date } | undefined {
  let parsed: LogRecord | undefined;
  const format = String(prop(parser, "format")).toLowerCase();
  if (format === "json") {
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === "object" && !Array.isArray(value)) parsed = value as LogRecord;
    } catch {
      parsed = undefined;
    }
  } else if (format === "regex") {
    const groups = new RegExp(String(prop(parser, "regex"))).exec(text)?.groups;
    if (groups) parsed = { ...groups };
  } else {
    throw new Error(`parser format '${format}' is not modelled`);
  }
  if (!parsed) return undefined;
  const timeKey = String(prop(parser, "time_key") ?? "time");
  const timeFormat = prop(parser, "time_format");
  if (typeof timeFormat !== "string" || typeof parsed[timeKey] !== "string") return { parsed };
  const time = parseTime(parsed[timeKey] as string, timeFormat);
  if (!time || !isOn(prop(parser, "time_keep"))) delete parsed[timeKey];
  return { parsed, time };
}

/**
 * The parser filter (plugins/filter_parser): the first parser that reads `key_name` replaces the record, and the
 * time it read (if any) becomes the record's.
 */
function parserFilter(config: FluentBitConfig, filter: Plugin, record: LogRecord): { record: LogRecord; time?: Date } {
  const key = String(prop(filter, "key_name"));
  const text = record[key];
  if (typeof text !== "string") return { record };
  for (const name of propList(filter, "parser")) {
    const parser = (config.parsers ?? []).find((p) => prop(p, "name") === name);
    if (!parser) throw new Error(`parser '${name}' is not defined`);
    const result = runParser(parser, text);
    if (!result) continue;
    const kept: LogRecord = isOn(prop(filter, "reserve_data")) ? { ...record } : {};
    if (!isOn(prop(filter, "preserve_key"))) delete kept[key];
    else kept[key] = text;
    return { record: { ...kept, ...result.parsed }, time: result.time };
  }
  return { record };
}

/** The grep filter: `regex` keeps and `exclude` drops the records whose KEY (a name or accessor) matches. */
function grepKeeps(filter: Plugin, record: LogRecord): boolean {
  const matches = (entry: string): boolean => {
    const [key, regex] = pair(entry);
    const value = key.startsWith("$") ? readAccessor(key, record) : record[key];
    return typeof value === "string" && new RegExp(regex).test(value);
  };
  return propList(filter, "regex").every(matches) && !propList(filter, "exclude").some(matches);
}

/** The nest filter's `lift`: the keys of a map value move up, with `add_prefix`. */
function nestLift(filter: Plugin, record: LogRecord): LogRecord {
  if (String(prop(filter, "operation")).toLowerCase() !== "lift") throw new Error("only nest lift is modelled");
  const under = String(prop(filter, "nested_under"));
  const nested = record[under];
  if (!nested || typeof nested !== "object" || Array.isArray(nested)) return record;
  const prefix = String(prop(filter, "add_prefix") ?? "");
  const rest = { ...record };
  delete rest[under];
  return { ...rest, ...Object.fromEntries(Object.entries(nested).map(([k, v]) => [`${prefix}${k}`, v])) };
}

/** The modify filter's rename (only to a key not present), remove and set, in the order the config lists them. */
function modify(filter: Plugin, record: LogRecord, env: Record<string, string>): LogRecord {
  const out = { ...record };
  for (const key of Object.keys(filter)) {
    const op = key.toLowerCase();
    if (["name", "alias", "match", "match_regex"].includes(op)) continue;
    for (const entry of propList(filter, key)) {
      const [from, to] = pair(entry);
      if (op === "rename") {
        if (from in out && !(to in out)) {
          out[to] = out[from];
          delete out[from];
        }
      } else if (op === "remove") {
        delete out[from];
      } else if (op === "set") {
        out[from] = interpolate(to, env);
      } else {
        throw new Error(`modify ${key} is not modelled`);
      }
    }
  }
  return out;
}

/** Where the tail input read a line: the path it found the file under and the offset it reports. */
export interface ReadAt { path: string; offset: number }

/**
 * The record the tail input emits for a line read at `at`, given what its parser made of the line: `path_key` and
 * `offset_key`, when set, are appended after the parsed keys (plugins/in_tail/tail_file.c, record_append_custom_keys
 * with a multiline parser). The path is the name the file was found under (`orig_name`, kept when a rotation renames
 * the file); the offset, with a multiline parser, is where the record's last physical line starts.
 */
export function tailRecord(input: Plugin, parsed: LogRecord, at: ReadAt): LogRecord {
  if (String(prop(input, "name")).toLowerCase() !== "tail") throw new Error(`${input.name} is not a tail input`);
  const out = { ...parsed };
  const pathKey = prop(input, "path_key");
  const offsetKey = prop(input, "offset_key");
  if (typeof pathKey === "string") out[pathKey] = at.path;
  if (typeof offsetKey === "string") out[offsetKey] = at.offset;
  return out;
}

/** The keys the forwarder's Lua filter line_id reads and writes (test/contract/fluent-bit.test.ts checks its code). */
export const LINE_ID_KEYS = { path: "fluentbit_path", offset: "fluentbit_offset", dockerTime: "time", id: "log_id" } as const;

/**
 * The `log_id` the forwarder's line_id filter gives a line: `<container id>:<Docker's time>:<offset>`, the container
 * id being the file name's `<id>` of `<id>-json.log` (the whole path for another file), and `:partial` after it for
 * a split line the multiline parser flushed unfinished (its `log` has no final newline).
 */
export function lineId(at: ReadAt, dockerTime: string, unfinished = false): string {
  const container = /([^/]+)-json\.log$/.exec(at.path)?.[1] ?? at.path;
  return `${container}:${dockerTime}:${at.offset}${unfinished ? ":partial" : ""}`;
}

/**
 * Lua filters the model runs, by the function they `call`: TypeScript copies of the configs' inline scripts, each
 * returning the record the script returns (undefined for its return code 0, record unchanged).
 */
const LUA_MODELS: Record<string, (record: LogRecord) => LogRecord | undefined> = {
  line_id: (record) => {
    const path = record[LINE_ID_KEYS.path];
    const offset = record[LINE_ID_KEYS.offset];
    if (typeof path !== "string" || typeof offset !== "number") return undefined;
    const dockerTime = record[LINE_ID_KEYS.dockerTime];
    // The script falls back to the event time as a Lua number (%.9f); no record here lacks Docker's time.
    if (typeof dockerTime !== "string") throw new Error("line_id without Docker's `time` is not modelled");
    const out = { ...record };
    delete out[LINE_ID_KEYS.path];
    delete out[LINE_ID_KEYS.offset];
    out[LINE_ID_KEYS.id] = lineId({ path, offset }, dockerTime, typeof record.log === "string" && !record.log.endsWith("\n"));
    return out;
  },
};

/**
 * Follows one record from an input through the config's filters, in order, and returns what reaches the outputs.
 * A rewrite_tag match re-emits the record (as it is at that point) under its new tag, and it starts over from the
 * first filter, as records do that come back through an emitter input. Lua cannot run here: a Lua filter whose
 * function LUA_MODELS copies is run as that copy, any other is passed over and named in `unmodelled`.
 */
export function followRecord(
  config: FluentBitConfig, tag: string, record: LogRecord, env: Record<string, string> = {}, depth = 0,
): FilteredRecord[] {
  if (depth > 5) throw new Error(`rewrite_tag loop for tag '${tag}'`);
  let current = record;
  let time: Date | undefined;
  const unmodelled: string[] = [];
  const copies: FilteredRecord[] = [];
  for (const filter of config.pipeline?.filters ?? []) {
    if (!routes(filter, tag)) continue;
    const name = String(prop(filter, "name")).toLowerCase();
    if (name === "rewrite_tag") {
      const result = rewriteTag(filter, tag, current, env);
      if (!result) continue;
      const emitted = followRecord(config, result.tag, current, env, depth + 1);
      if (!result.keep) return emitted;
      copies.push(...emitted);
    } else if (name === "grep") {
      if (!grepKeeps(filter, current)) return [];
    } else if (name === "parser") {
      const parsed = parserFilter(config, filter, current);
      current = parsed.record;
      time = parsed.time ?? time;
    } else if (name === "nest") {
      current = nestLift(filter, current);
    } else if (name === "modify") {
      current = modify(filter, current, env);
    } else if (name === "lua") {
      const model = LUA_MODELS[String(prop(filter, "call"))];
      if (model) current = model(current) ?? current;
      else unmodelled.push(String(prop(filter, "alias") ?? name));
    } else if (name === "log_to_metrics") {
      // Counts the record into a metric (not modelled), which goes out under the filter's `tag`; with discard_logs
      // the record itself stops here.
      if (isOn(prop(filter, "discard_logs"))) return copies;
    } else {
      throw new Error(`filter '${name}' is not modelled`);
    }
  }
  return [...copies, { tag, record: current, ...(time ? { time } : {}), unmodelled }];
}

/** strftime for the conversions a `logstash_dateformat` uses here, in UTC (the es output uses gmtime_r). */
function formatDay(format: string, time: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const values: Record<string, string> = { Y: String(time.getUTCFullYear()), m: two(time.getUTCMonth() + 1), d: two(time.getUTCDate()) };
  return format.replace(/%(.)/g, (_, c: string) => {
    if (!(c in values)) throw new Error(`logstash_dateformat conversion %${c} is not modelled`);
    return values[c];
  });
}

/** One bulk item of the es output: the index it names, its `_id` and the document's `@timestamp`. */
export interface BulkItem { index: string; id: string | "generated" | undefined; timestamp: string }

/**
 * What an es output (plugins/out_es/es.c) makes of a filtered record: with logstash_format, the index is
 * `<logstash_prefix>-<logstash_dateformat of the event time>`; `_id` is the `id_key` record accessor's value when it
 * is a string (es_get_id_value; generate_id is ignored once id_key is set, es_conf.c), otherwise a hash of the
 * whole document with generate_id (MurmurHash3 of the packed record, @timestamp included), otherwise none (an id
 * Elasticsearch picks). `consumed` stands for the time the input stamped, when no parser set one.
 */
export function bulkItem(output: Plugin, filtered: FilteredRecord, consumed: Date): BulkItem {
  if (!isOn(prop(output, "logstash_format"))) throw new Error("only logstash_format is modelled");
  const time = filtered.time ?? consumed;
  const index = `${String(prop(output, "logstash_prefix"))}-${formatDay(String(prop(output, "logstash_dateformat") ?? "%Y.%m.%d"), time)}`;
  const idKey = prop(output, "id_key");
  let id: BulkItem["id"];
  if (typeof idKey === "string") {
    const value = readAccessor(idKey, filtered.record);
    id = typeof value === "string" ? value : undefined;
  } else if (isOn(prop(output, "generate_id"))) {
    id = "generated";
  }
  return { index, id, timestamp: time.toISOString() };
}

/** The tag an input emits, with tail's `*` expanded the way Fluent Bit does (the file path, `/` as `.`). */
export function inputTag(input: Plugin, samplePath = "/var/lib/docker/containers/abc/abc-json.log"): string {
  const tag = String(prop(input, "tag") ?? `${input.name}.0`);
  return tag.replace("*", samplePath.replace(/^\//, "").replace(/\//g, "."));
}

/** Aliases of the outputs that receive `tag`. */
export function outputsFor(config: FluentBitConfig, tag: string): string[] {
  return (config.pipeline?.outputs ?? []).filter((o) => routes(o, tag)).map((o) => String(prop(o, "alias") ?? o.name));
}

/** The plugin of a section with this alias; fails naming it when there is none. */
export function byAlias(list: Plugin[] | undefined, alias: string): Plugin {
  const found = (list ?? []).find((p) => prop(p, "alias") === alias);
  if (!found) throw new Error(`no plugin with alias ${alias}`);
  return found;
}

export const CONTAINER_ID = "4f9c2d1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d";

/** A container's json-file log, as the forwarder's tail input finds it. */
export function containerLog(id = CONTAINER_ID): string {
  return `/var/lib/docker/containers/${id}/${id}-json.log`;
}
