import path from "node:path";
import { readNdjson, repoDirs } from "../../verify/provisioning";

/** Saved objects imported into Kibana at deploy (see the logging bundle's kibana-import service). */
export const KIBANA_OBJECTS_DIR = repoDirs().kibanaObjects;

export interface Reference {
  name: string;
  type: string;
  id: string;
}

export interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: Reference[];
}

export interface LoadedObject {
  file: string;
  line: number;
  object: SavedObject;
}

/** Every line of every `*.ndjson` file, parsed (throws with file:line on a line that is not JSON); `file` is the file name. */
export function loadSavedObjects(dir: string = KIBANA_OBJECTS_DIR): LoadedObject[] {
  return readNdjson(dir).map(({ file, line, value }) => ({ file: path.basename(file), line, object: value as SavedObject }));
}

/** Attributes Kibana stores as JSON text; each must parse. */
const JSON_STRING_KEYS = new Set(["fields", "fieldFormatMap", "fieldAttrs", "runtimeFieldMap", "sourceFilters", "typeMeta"]);

/** Every attribute (at any depth) that holds embedded JSON text, by dotted path. */
export function embeddedJsonStrings(attributes: Record<string, unknown>, prefix = ""): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(attributes)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string" && (key.endsWith("JSON") || JSON_STRING_KEYS.has(key) || key === "visState")) {
      found.set(full, value);
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of embeddedJsonStrings(value as Record<string, unknown>, full)) found.set(k, v);
    }
  }
  return found;
}

export function parseEmbedded<T>(object: SavedObject, dottedPath: string): T {
  const value = embeddedJsonStrings(object.attributes).get(dottedPath);
  if (value === undefined) throw new Error(`${object.type}/${object.id} has no ${dottedPath}`);
  return JSON.parse(value) as T;
}

/** Field names a KQL query compares, e.g. `response.status >= 400 and service.name : users`. */
export function kqlFields(query: string): string[] {
  return [...query.matchAll(/([A-Za-z_@][\w.@-]*)\s*(?:>=|<=|>|<|:)/g)].map((m) => m[1]);
}

interface KibanaQuery {
  query?: string;
  language?: string;
}

interface KibanaFilter {
  meta?: { key?: string };
}

function queryFields(query: KibanaQuery | undefined): string[] {
  return query?.language === "kuery" && typeof query.query === "string" ? kqlFields(query.query) : [];
}

function filterFields(filters: KibanaFilter[] | undefined): string[] {
  return (filters ?? []).map((f) => f.meta?.key).filter((k): k is string => typeof k === "string");
}

export interface LensPanel {
  type: string;
  panelIndex: string;
  panelRefName?: string;
  gridData: { i: string };
  embeddableConfig: {
    attributes?: {
      references: Reference[];
      state: {
        query?: KibanaQuery;
        filters?: KibanaFilter[];
        datasourceStates: { formBased?: { layers: Record<string, { columns: Record<string, LensColumn> }> } };
      };
    };
  };
}

interface LensColumn {
  sourceField?: string;
  filter?: KibanaQuery;
  params?: { filters?: { input: KibanaQuery }[] };
}

export interface ControlPanel {
  type: string;
  explicitInput: { id: string; fieldName: string } & Record<string, unknown>;
}

export function dashboardPanels(object: SavedObject): LensPanel[] {
  return parseEmbedded<LensPanel[]>(object, "panelsJSON");
}

export function dashboardControls(object: SavedObject): Record<string, ControlPanel> {
  const embedded = embeddedJsonStrings(object.attributes).get("controlGroupInput.panelsJSON");
  return embedded === undefined ? {} : (JSON.parse(embedded) as Record<string, ControlPanel>);
}

/** Lens's placeholder for "count of documents": not a document field. */
const RECORDS = "___records___";

/** Every document field an object reads: columns, sort, queries (KQL), filters, Lens columns, controls. */
export function fieldsUsed(object: SavedObject): string[] {
  const a = object.attributes;
  const used: string[] = [];
  if (object.type === "index-pattern" && typeof a.timeFieldName === "string") used.push(a.timeFieldName);
  if (Array.isArray(a.columns)) used.push(...(a.columns as string[]).filter((c) => c !== "_source"));
  if (Array.isArray(a.sort)) used.push(...(a.sort as [string, string][]).map(([field]) => field));
  const meta = embeddedJsonStrings(a).get("kibanaSavedObjectMeta.searchSourceJSON");
  if (meta !== undefined) {
    const source = JSON.parse(meta) as { query?: KibanaQuery; filter?: KibanaFilter[] };
    used.push(...queryFields(source.query), ...filterFields(source.filter));
  }
  if (object.type === "dashboard") {
    for (const panel of dashboardPanels(object)) {
      const state = panel.embeddableConfig.attributes?.state;
      if (!state) continue;
      used.push(...queryFields(state.query), ...filterFields(state.filters));
      for (const layer of Object.values(state.datasourceStates.formBased?.layers ?? {})) {
        for (const column of Object.values(layer.columns)) {
          if (column.sourceField && column.sourceField !== RECORDS) used.push(column.sourceField);
          used.push(...queryFields(column.filter));
          for (const f of column.params?.filters ?? []) used.push(...queryFields(f.input));
        }
      }
    }
    used.push(...Object.values(dashboardControls(object)).map((c) => c.explicitInput.fieldName));
  }
  return [...new Set(used)];
}
