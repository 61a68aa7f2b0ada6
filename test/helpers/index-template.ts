import fs from "node:fs";
import path from "node:path";
import { composedTemplate, flattenSettings, mappingDefinitions, repoDirs, TemplateBody } from "../../verify/provisioning";

/** Files the logging host's `setup` service PUTs to Elasticsearch (see hosts/logging/setup/setup.sh). */
export const LOGGING_SETUP_DIR = repoDirs().indexTemplates;
export const GATEWAY_DATASET = "gateway-access";

type Json = Record<string, unknown>;
type Mappings = NonNullable<TemplateBody["mappings"]>;

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

/** The index template file setup.sh PUTs for a dataset, as written (see composedBodies for what an index gets). */
export function loadIndexTemplate(dataset: string): IndexTemplate {
  return readJson<IndexTemplate>(path.join(LOGGING_SETUP_DIR, "index-templates", `${dataset}.json`));
}

/** The template bodies a new index of the dataset (`<dataset>-*`) is built from, component templates first. */
function composedBodies(dataset: string): (TemplateBody | undefined)[] {
  return composedTemplate(LOGGING_SETUP_DIR, `${dataset}-*`).bodies;
}

/** The ILM policy body as setup.sh sends it, with the retention placeholder replaced. */
export function ilmPolicy(retentionDays: string): Json {
  const raw = fs.readFileSync(path.join(LOGGING_SETUP_DIR, "ilm-policy.json"), "utf8");
  return JSON.parse(raw.split("${ES_RETENTION_DAYS}").join(retentionDays)) as Json;
}

/**
 * Settings of a new index: component templates in `composed_of` order, then the index template's own; keys as written
 * (`{a: {b: 1}, "c.d": 2}` -> `{"a.b": 1, "c.d": 2}`: index settings may be written either way).
 */
export function composedSettings(dataset: string): Json {
  return Object.assign({}, ...composedBodies(dataset).map((b) => Object.fromEntries(flattenSettings(b?.settings ?? {}))));
}

/** The raw mappings of a new index, in merge order (component templates first). */
export function composedMappings(dataset: string): Mappings[] {
  return composedBodies(dataset)
    .map((b) => b?.mappings)
    .filter((m): m is Mappings => m !== undefined);
}

/**
 * Every mapped field path of a dataset's indices with its type (and format), as verify's mappingDefinitions reads
 * them: nested `properties` and dotted names both give dotted paths, multi-fields appear as `<field>.<name>`; runtime
 * fields are added and flagged.
 */
export function mappedFields(dataset: string): Map<string, MappedField> {
  const fields = new Map<string, MappedField>();
  for (const mappings of composedMappings(dataset)) {
    for (const [name, def] of mappingDefinitions(mappings.properties)) {
      fields.set(name, { type: String(def.type ?? "object"), ...(def.format ? { format: String(def.format) } : {}) });
    }
    for (const [name, def] of Object.entries((mappings.runtime as Json | undefined) ?? {})) {
      fields.set(name, { type: String((def as Json).type), runtime: true });
    }
  }
  return fields;
}

/** The fields a dataset's index template maps itself (its `properties`, by dotted path), without its component templates'. */
export function ownMappedFields(dataset: string): Map<string, MappedField> {
  const own = loadIndexTemplate(dataset).template?.mappings?.properties as Parameters<typeof mappingDefinitions>[0];
  return new Map([...mappingDefinitions(own)].map(([name, def]) => [name, { type: String(def.type ?? "object") }]));
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
