import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../components/platform/repo";

/**
 * What `verify` expects to find deployed is read from the repo's own provisioning files, never hard-coded, so a new
 * dashboard or saved object is checked without touching this command. Folders relative to the repo root.
 */
export const PROVISIONING_DIRS = {
  kibanaObjects: "provisioning/kibana",
  grafanaDatasources: "provisioning/grafana/datasources",
  grafanaDashboards: "provisioning/grafana/dashboards",
  // The logging bundle's setup files; the gateway template is found there by its index pattern, whatever its file name.
  indexTemplates: "hosts/logging/setup",
} as const;

export type ProvisioningDirs = Record<keyof typeof PROVISIONING_DIRS, string>;

export function repoDirs(root = REPO_ROOT): ProvisioningDirs {
  return Object.fromEntries(Object.entries(PROVISIONING_DIRS).map(([k, v]) => [k, path.join(root, v)])) as ProvisioningDirs;
}

/** Files in `dir` ending in one of `extensions`, sorted by name; `recursive` takes each subfolder's files in its place. */
export function filesIn(dir: string, extensions: readonly string[], recursive = false): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    throw new Error(`${dir} is missing: verify compares the platform with the repo's provisioning files`);
  }
  return entries.flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return recursive ? filesIn(file, extensions, true) : [];
    return extensions.some((ext) => name.endsWith(ext)) ? [file] : [];
  });
}

function nonEmpty<T>(items: T[], what: string, dir: string): T[] {
  if (items.length === 0) throw new Error(`no ${what} found in ${dir}`);
  return items;
}

export interface SavedObjectRef {
  type: string;
  id: string;
  title?: string;
}

export interface NdjsonLine {
  file: string;
  /** 1-based line number in the file. */
  line: number;
  value: unknown;
}

/** Every non-blank line of the `*.ndjson` files in `dir` (by file name), parsed; throws with file:line on a line that is not JSON. */
export function readNdjson(dir: string): NdjsonLine[] {
  return filesIn(dir, [".ndjson"]).flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .flatMap((text, i) => {
        if (text.trim() === "") return [];
        try {
          return [{ file, line: i + 1, value: JSON.parse(text) as unknown }];
        } catch (err) {
          throw new Error(`${file}:${i + 1} is not JSON: ${(err as Error).message}`);
        }
      }),
  );
}

/** Every saved object (type + fixed id) in the NDJSON exports; the export summary line has neither and is skipped. */
export function loadKibanaObjects(dir: string): SavedObjectRef[] {
  const objects = readNdjson(dir)
    .map(({ value }) => value as { type?: unknown; id?: unknown; attributes?: { title?: unknown } })
    .filter((o) => typeof o.type === "string" && typeof o.id === "string")
    .map((o) => ({
      type: o.type as string,
      id: o.id as string,
      ...(typeof o.attributes?.title === "string" ? { title: o.attributes.title } : {}),
    }));
  return nonEmpty(objects, "Kibana saved objects", dir);
}

export interface Uid {
  uid: string;
  name: string;
}

/** The datasources of Grafana's provisioning YAML files; each must carry a fixed uid. */
export function loadDatasourceUids(dir: string): Uid[] {
  const uids = filesIn(dir, [".yaml", ".yml"]).flatMap((file) => {
    const doc = parseYaml(readFileSync(file, "utf8")) as { datasources?: { uid?: unknown; name?: unknown }[] } | null;
    return (doc?.datasources ?? []).map((ds) => {
      if (typeof ds.uid !== "string") throw new Error(`${file}: datasource ${String(ds.name)} has no fixed uid`);
      return { uid: ds.uid, name: String(ds.name ?? ds.uid) };
    });
  });
  return nonEmpty(uids, "Grafana datasources", dir);
}

/** The dashboards (JSON, any depth below the folder) and their fixed uids. */
export function loadDashboardUids(dir: string): Uid[] {
  const uids = filesIn(dir, [".json"], true).map((file) => {
    const doc = JSON.parse(readFileSync(file, "utf8")) as { uid?: unknown; title?: unknown; dashboard?: { uid?: unknown; title?: unknown } };
    const model = doc.dashboard ?? doc;
    if (typeof model.uid !== "string" || model.uid === "") throw new Error(`${file}: dashboard has no fixed uid`);
    return { uid: model.uid, name: String(model.title ?? model.uid) };
  });
  return nonEmpty(uids, "Grafana dashboards", dir);
}

export interface MappingProperty {
  type?: string;
  format?: string;
  properties?: Record<string, MappingProperty>;
  fields?: Record<string, MappingProperty>;
}

/**
 * Field path -> its mapping definition, flattening objects and multi-fields (`request.uri.text`), as the mapping API
 * shows them: an object with properties is no field of its own, a `nested` one is.
 */
export function mappingDefinitions(properties: Record<string, MappingProperty> | undefined, prefix = ""): Map<string, MappingProperty> {
  const out = new Map<string, MappingProperty>();
  for (const [name, def] of Object.entries(properties ?? {})) {
    const field = `${prefix}${name}`;
    if (def.properties) {
      if (def.type === "nested") out.set(field, def);
      for (const [k, v] of mappingDefinitions(def.properties, `${field}.`)) out.set(k, v);
    } else {
      out.set(field, def);
    }
    for (const [sub, subDef] of Object.entries(def.fields ?? {})) out.set(`${field}.${sub}`, subDef);
  }
  return out;
}

/** Field path -> type, flattening objects and multi-fields (`request.uri.text`), as the mapping API shows them. */
export function flattenMapping(properties: Record<string, MappingProperty> | undefined, prefix = ""): Map<string, string> {
  return new Map([...mappingDefinitions(properties, prefix)].map(([field, def]) => [field, def.type ?? "object"]));
}

/** Setting key -> value, nested objects as dotted keys (`{index: {a: 1}}` -> `index.a`), each key passed through `normalize`. */
export function flattenSettings(settings: unknown, normalize = (key: string) => key): Map<string, unknown> {
  const flat = new Map<string, unknown>();
  const walk = (value: unknown, prefix: string) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k);
    } else {
      flat.set(normalize(prefix), value);
    }
  };
  walk(settings, "");
  return flat;
}

/** A setting whichever way it is written: nested objects, dotted keys, with or without the `index.` prefix. */
export function settingValue(settings: unknown, key: string): unknown {
  const withoutPrefix = (k: string) => k.replace(/^index\./, "");
  return flattenSettings(settings, withoutPrefix).get(withoutPrefix(key));
}

export interface IndexTemplateFile {
  file: string;
  /** Fields of the index template and the component templates it is composed of, as a new index maps them. */
  fields: Map<string, string>;
  policy: unknown;
}

/** The `template` of an index or component template: what a new index gets. */
export interface TemplateBody {
  settings?: unknown;
  mappings?: { properties?: Record<string, MappingProperty> } & Record<string, unknown>;
}

interface TemplateDoc {
  index_patterns?: unknown;
  composed_of?: string[];
  template?: TemplateBody;
}

/**
 * The composable index template below `dir` whose index_patterns include `pattern`, and the bodies a new index is
 * built from: its `composed_of` component templates (found by file name, as the setup script names them) in
 * Elasticsearch's order, components first, the index template's own body last (absent bodies are `undefined`).
 */
export function composedTemplate(dir: string, pattern: string): { file: string; bodies: (TemplateBody | undefined)[] } {
  const docs = filesIn(dir, [".json"], true).map((file) => ({ file, doc: JSON.parse(readFileSync(file, "utf8")) as TemplateDoc }));
  const matches = docs.filter(({ doc }) => ([] as unknown[]).concat(doc.index_patterns ?? []).includes(pattern));
  if (matches.length !== 1) {
    throw new Error(`expected one index template for ${pattern} in ${dir}, found ${matches.length}`);
  }
  const { file, doc } = matches[0];
  const components = (doc.composed_of ?? []).map((name) => {
    const found = docs.find((d) => path.basename(d.file, ".json") === name && d.doc.index_patterns === undefined);
    if (!found) throw new Error(`${file} is composed of ${name}, but no ${name}.json component template is in ${dir}`);
    return found.doc;
  });
  return { file, bodies: [...components, doc].map((d) => d.template) };
}

/** The index template for `pattern` (see composedTemplate), with the fields and ILM policy a new index gets from it. */
export function loadIndexTemplate(dir: string, pattern: string): IndexTemplateFile {
  const { file, bodies } = composedTemplate(dir, pattern);
  const fields = new Map(bodies.flatMap((b) => [...flattenMapping(b?.mappings?.properties)]));
  if (fields.size === 0) throw new Error(`${file} and its component templates map no fields`);
  const policies = bodies.map((b) => settingValue(b?.settings, "index.lifecycle.name")).filter((p) => p !== undefined);
  return { file, fields, policy: policies.at(-1) };
}
