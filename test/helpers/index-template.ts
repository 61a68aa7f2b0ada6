import fs from "node:fs";
import path from "node:path";

/** Files the logging host's `setup` service PUTs to Elasticsearch (see hosts/logging/setup/setup.sh). */
export const LOGGING_SETUP_DIR = path.join(__dirname, "..", "..", "hosts", "logging", "setup");
export const GATEWAY_DATASET = "gateway-access";

type Json = Record<string, unknown>;

export interface TemplateBody {
  settings?: Json;
  mappings?: Json;
}

export interface IndexTemplate {
  index_patterns: string[];
  priority?: number;
  composed_of?: string[];
  template?: TemplateBody;
}

export interface MappedField {
  type: string;
  format?: string;
  /** A runtime field of the mapping (computed at search time, nothing indexed). */
  runtime?: boolean;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** Dataset names: one index template file each, named after the dataset (also its ILM policy's name). */
export function datasetNames(): string[] {
  return fs
    .readdirSync(path.join(LOGGING_SETUP_DIR, "index-templates"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => path.basename(f, ".json"))
    .sort();
}

export function loadIndexTemplate(dataset: string): IndexTemplate {
  return readJson<IndexTemplate>(path.join(LOGGING_SETUP_DIR, "index-templates", `${dataset}.json`));
}

export function loadComponentTemplate(name: string): { template?: TemplateBody } {
  return readJson(path.join(LOGGING_SETUP_DIR, "component-templates", `${name}.json`));
}

/** The ILM policy body as setup.sh sends it, with the retention placeholder replaced. */
export function ilmPolicy(retentionDays: string): Json {
  const raw = fs.readFileSync(path.join(LOGGING_SETUP_DIR, "ilm-policy.json"), "utf8");
  return JSON.parse(raw.split("${ES_RETENTION_DAYS}").join(retentionDays)) as Json;
}

/** `{a: {b: 1}, "c.d": 2}` -> `{"a.b": 1, "c.d": 2}`: index settings may be written either way. */
function flattenSettings(settings: Json, prefix = ""): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(settings)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      Object.assign(out, flattenSettings(value as Json, full));
    } else {
      out[full] = value;
    }
  }
  return out;
}

/** Settings of a new index: component templates in `composed_of` order, then the index template's own. */
export function composedSettings(dataset: string): Json {
  const index = loadIndexTemplate(dataset);
  const bodies = [...(index.composed_of ?? []).map((c) => loadComponentTemplate(c).template), index.template];
  return Object.assign({}, ...bodies.map((b) => flattenSettings(b?.settings ?? {})));
}

function addProperties(fields: Map<string, MappedField>, properties: Json, prefix: string): void {
  for (const [name, raw] of Object.entries(properties)) {
    const def = raw as Json;
    const full = prefix ? `${prefix}.${name}` : name;
    if (def.properties) {
      addProperties(fields, def.properties as Json, full);
      continue;
    }
    fields.set(full, { type: String(def.type ?? "object"), ...(def.format ? { format: String(def.format) } : {}) });
    for (const [sub, subDef] of Object.entries((def.fields as Json | undefined) ?? {})) {
      fields.set(`${full}.${sub}`, { type: String((subDef as Json).type) });
    }
  }
}

/** The raw mappings of a new index, in merge order (component templates first). */
export function composedMappings(dataset: string): Json[] {
  const index = loadIndexTemplate(dataset);
  return [...(index.composed_of ?? []).map((c) => loadComponentTemplate(c).template), index.template]
    .map((b) => b?.mappings)
    .filter((m): m is Json => m !== undefined);
}

/**
 * Every mapped field path of a dataset's indices with its type: nested `properties` and dotted names both give
 * dotted paths, multi-fields appear as `<field>.<name>`, runtime fields are flagged.
 */
export function mappedFields(dataset: string): Map<string, MappedField> {
  const fields = new Map<string, MappedField>();
  for (const mappings of composedMappings(dataset)) {
    addProperties(fields, (mappings.properties as Json | undefined) ?? {}, "");
    for (const [name, def] of Object.entries((mappings.runtime as Json | undefined) ?? {})) {
      fields.set(name, { type: String((def as Json).type), runtime: true });
    }
  }
  return fields;
}

/** Mapped fields of the gateway access-log indices (`gateway-access-*`). */
export function gatewayTemplateFields(): Map<string, MappedField> {
  return mappedFields(GATEWAY_DATASET);
}

/**
 * Whether a document field is searchable under this mapping: mapped itself, or a key inside a mapped
 * `flattened` field (e.g. `request.headers.user-agent`).
 */
export function resolvesInMapping(fields: Map<string, MappedField>, field: string): boolean {
  if (fields.has(field)) return true;
  const parts = field.split(".");
  for (let i = parts.length - 1; i > 0; i--) {
    if (fields.get(parts.slice(0, i).join("."))?.type === "flattened") return true;
  }
  return false;
}
