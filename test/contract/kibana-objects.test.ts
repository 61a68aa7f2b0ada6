import assert from "node:assert/strict";
import {
  LoadedObject,
  SavedObject,
  dashboardControls,
  dashboardPanels,
  embeddedJsonStrings,
  loadSavedObjects,
  parseEmbedded,
} from "../helpers/kibana-objects";

/**
 * Everything that makes one object point at another other than through a resolvable `references` entry
 * (an id or title inside JSON text, a reference name nothing uses, a reference to an object not in the files).
 */
function referenceProblems(objects: SavedObject[]): string[] {
  const problems: string[] = [];
  const byKey = new Map(objects.map((o) => [`${o.type}/${o.id}`, o]));
  const titles = new Set(objects.filter((o) => o.type === "index-pattern").map((o) => String(o.attributes.title)));
  for (const o of objects) {
    const where = `${o.type}/${o.id}`;
    const names = new Set(o.references.map((r) => r.name));
    const usedNames = new Set<string>();
    for (const r of o.references) {
      if (!byKey.has(`${r.type}/${r.id}`)) problems.push(`${where}: reference ${r.name} -> ${r.type}/${r.id} is in no file`);
      if (titles.has(r.id)) problems.push(`${where}: reference ${r.name} uses a data view title as id`);
    }
    const meta = embeddedJsonStrings(o.attributes).get("kibanaSavedObjectMeta.searchSourceJSON");
    if (meta !== undefined) {
      const source = JSON.parse(meta) as { index?: string; indexRefName?: string };
      if (source.index !== undefined) problems.push(`${where}: searchSourceJSON names its data view inline`);
      if (source.indexRefName !== undefined) {
        usedNames.add(source.indexRefName);
        if (!names.has(source.indexRefName)) problems.push(`${where}: indexRefName ${source.indexRefName} unresolved`);
      }
    }
    if (o.type === "dashboard") {
      for (const panel of dashboardPanels(o)) {
        if (panel.panelRefName !== undefined) {
          const name = `${panel.panelIndex}:${panel.panelRefName}`;
          usedNames.add(name);
          if (!names.has(name)) problems.push(`${where}: panel ${panel.panelIndex} has no reference ${name}`);
        }
        // By-value Lens: its own list only names references; the dashboard's `<panelIndex>:<name>` ones supply ids.
        for (const inner of panel.embeddableConfig.attributes?.references ?? []) {
          const name = `${panel.panelIndex}:${inner.name}`;
          usedNames.add(name);
          const outer = o.references.find((r) => r.name === name);
          if (!outer || outer.id !== inner.id || outer.type !== inner.type) {
            problems.push(`${where}: Lens panel ${panel.panelIndex} reference ${inner.name} has no matching ${name}`);
          }
        }
      }
      for (const [controlId, control] of Object.entries(dashboardControls(o))) {
        if ("dataViewId" in control.explicitInput) problems.push(`${where}: control ${controlId} names its data view inline`);
        const own = o.references.filter((r) => r.name.startsWith(`controlGroup_${controlId}:`));
        if (own.length !== 1) problems.push(`${where}: control ${controlId} needs one controlGroup_${controlId}: reference`);
        own.forEach((r) => usedNames.add(r.name));
      }
    }
    for (const name of names) if (!usedNames.has(name)) problems.push(`${where}: reference ${name} is not used`);
  }
  return problems;
}

describe("Kibana saved objects (provisioning/kibana/*.ndjson)", () => {
  let loaded: LoadedObject[];
  let objects: SavedObject[];
  before(() => {
    loaded = loadSavedObjects();
    objects = loaded.map((l) => l.object);
  });

  /** Ids of the saved searches a dashboard embeds, and of those that read a data view. */
  const searchesShownBy = (dashboard: SavedObject) => dashboard.references.filter((r) => r.type === "search").map((r) => r.id).sort();
  const searchesOver = (dataView: string) =>
    objects.filter((o) => o.type === "search" && o.references.some((r) => r.id === dataView)).map((o) => o.id).sort();

  const byTitle = (type: string, title: string): SavedObject => {
    const found = objects.filter((o) => o.type === type && o.attributes.title === title);
    assert.equal(found.length, 1, `exactly one ${type} titled "${title}"`);
    return found[0];
  };

  it("has one saved object per line, each with id, type, attributes and references", () => {
    assert.ok(loaded.length > 0, "no saved objects found");
    for (const { file, line, object } of loaded) {
      const at = `${file}:${line}`;
      assert.equal(typeof object.id, "string", `${at} id`);
      assert.ok(object.id.length > 0, `${at} id is empty`);
      assert.equal(typeof object.type, "string", `${at} type`);
      assert.equal(typeof object.attributes, "object", `${at} attributes`);
      assert.ok(Array.isArray(object.references), `${at} references`);
    }
  });

  it("uses unique ids", () => {
    const ids = objects.map((o) => o.id);
    assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), []);
  });

  it("embeds only JSON text that parses (searchSourceJSON, panelsJSON, optionsJSON, controls, ...)", () => {
    for (const o of objects) {
      for (const [key, text] of embeddedJsonStrings(o.attributes)) {
        assert.doesNotThrow(() => JSON.parse(text), `${o.type}/${o.id} ${key}`);
      }
    }
  });

  it("references other objects only through resolvable references, never by title", () => {
    assert.deepEqual(referenceProblems(objects), []);
  });

  it("detects a reference by title, an inline data view and an unresolved reference", () => {
    const search = structuredClone(byTitle("search", "All gateway logs"));
    const dataView = objects.find((o) => o.id === search.references[0].id)!;
    search.references[0].id = String(dataView.attributes.title);
    const meta = JSON.parse(String((search.attributes.kibanaSavedObjectMeta as Record<string, string>).searchSourceJSON));
    (search.attributes.kibanaSavedObjectMeta as Record<string, string>).searchSourceJSON = JSON.stringify({ ...meta, index: dataView.id });
    const problems = referenceProblems(objects.map((o) => (o.id === search.id ? search : o)));
    assert.ok(problems.some((p) => p.includes("uses a data view title as id")), problems.join("\n"));
    assert.ok(problems.some((p) => p.includes("names its data view inline")), problems.join("\n"));
    assert.ok(problems.some((p) => p.includes("is in no file")), problems.join("\n"));
  });

  it("gives every dashboard panel a unique panelIndex equal to its grid id", () => {
    for (const o of objects.filter((x) => x.type === "dashboard")) {
      const panels = dashboardPanels(o);
      const indexes = panels.map((p) => p.panelIndex);
      assert.equal(new Set(indexes).size, indexes.length, `${o.id}: duplicate panelIndex`);
      for (const p of panels) assert.equal(p.gridData.i, p.panelIndex, `${o.id}: panel ${p.panelIndex} grid id`);
    }
  });

  it("provides the data views, searches and dashboards the issue asks for", () => {
    for (const dv of objects.filter((o) => o.type === "index-pattern")) {
      assert.equal(dv.attributes.timeFieldName, "@timestamp", `${dv.id} time field`);
    }
    byTitle("search", "All gateway logs");
    const errors = byTitle("search", "Errors (4xx/5xx)");
    const source = parseEmbedded<{ query: { query: string; language: string } }>(
      errors,
      "kibanaSavedObjectMeta.searchSourceJSON",
    );
    assert.deepEqual(source.query, { query: "response.status >= 400", language: "kuery" });

    const api = byTitle("dashboard", "API gateway");
    const titles = dashboardPanels(api).map((p) => (p as unknown as { title: string }).title);
    for (const wanted of [/status class/, /Top 10 routes/, /4xx and 5xx/, /p50.*p95.*p99/, /client IPs/, /user agents/]) {
      assert.ok(titles.some((t) => wanted.test(t)), `API gateway dashboard lacks a panel matching ${wanted}`);
    }

    const explorer = byTitle("dashboard", "Logs explorer");
    assert.deepEqual(searchesShownBy(explorer), searchesOver("gateway-access"), "Logs explorer shows every gateway search");
    const controlFields = Object.values(dashboardControls(explorer)).map((c) => c.explicitInput.fieldName);
    assert.ok(controlFields.includes("service.name") && controlFields.includes("host.name"), String(controlFields));
  });

  describe("your services (the ingest endpoint's apps indices)", () => {
    const byId = (type: string, id: string): SavedObject => {
      const found = objects.find((o) => o.type === type && o.id === id);
      assert.ok(found, `no ${type} with the fixed id ${id}`);
      return found;
    };
    /** A dashboard's Lens panel: its query and its columns. */
    const lens = (dashboard: SavedObject, title: string) => {
      const panel = dashboardPanels(dashboard).find((p) => (p as unknown as { title: string }).title === title);
      assert.ok(panel, `no panel titled "${title}"`);
      const state = panel.embeddableConfig.attributes?.state;
      const layers = Object.values(state?.datasourceStates.formBased?.layers ?? {});
      assert.equal(layers.length, 1, `${title}: one layer`);
      return { query: state?.query, columns: Object.values(layers[0].columns) as { operationType?: string; sourceField?: string; params?: { size?: number } }[] };
    };

    it("has the data view apps on apps-*, with @timestamp as its time field", () => {
      const dataView = byId("index-pattern", "apps");
      assert.equal(dataView.attributes.title, "apps-*");
      assert.equal(dataView.attributes.timeFieldName, "@timestamp");
    });

    it("has a saved search of the latest lines: service, level, host and the line, newest first", () => {
      const search = byId("search", "apps-latest");
      assert.deepEqual(search.attributes.columns, ["service.name", "log.level", "host.name", "log"]);
      assert.deepEqual(search.attributes.sort, [["@timestamp", "desc"]]);
      assert.deepEqual(search.references.map((r) => r.id), ["apps"]);
      const source = parseEmbedded<{ query: { query: string } }>(search, "kibanaSavedObjectMeta.searchSourceJSON");
      assert.equal(source.query.query, "", "every line");
    });

    it("has a dashboard with the volume and the errors per service over time, and the latest lines", () => {
      const dashboard = byId("dashboard", "apps-services");
      const perService = (title: string) => {
        const { query, columns } = lens(dashboard, title);
        assert.ok(columns.some((c) => c.operationType === "date_histogram" && c.sourceField === "@timestamp"), `${title}: over time`);
        assert.ok(columns.some((c) => c.operationType === "terms" && c.sourceField === "service.name"), `${title}: per service`);
        assert.ok(columns.some((c) => c.operationType === "count"), `${title}: counts lines`);
        return query;
      };
      assert.deepEqual(perService("Log lines per service"), { query: "", language: "kuery" });
      const errors = perService("Errors per service (error, fatal, critical)");
      assert.equal(errors?.language, "kuery");
      assert.match(String(errors?.query), /^log\.level : \(error or fatal or critical\)$/);
      assert.deepEqual(searchesShownBy(dashboard), ["apps-latest"], "the latest lines, by reference");
      assert.deepEqual(searchesShownBy(dashboard), searchesOver("apps"), "every apps search");
      assert.ok(dashboard.references.filter((r) => r.type === "index-pattern").every((r) => r.id === "apps"), "only the apps data view");
      const controlFields = Object.values(dashboardControls(dashboard)).map((c) => c.explicitInput.fieldName);
      assert.deepEqual(controlFields, ["service.name", "host.name"]);
    });
  });

  describe("AWS API activity (CloudTrail)", () => {
    const searchQuery = (title: string) =>
      parseEmbedded<{ query: { query: string; language: string } }>(byTitle("search", title), "kibanaSavedObjectMeta.searchSourceJSON").query;
    /** The Lens columns of a dashboard panel, by column id. */
    const columnsOf = (dashboard: SavedObject, title: string) => {
      const panel = dashboardPanels(dashboard).find((p) => (p as unknown as { title: string }).title === title);
      assert.ok(panel, `no panel titled "${title}"`);
      const layers = Object.values(panel.embeddableConfig.attributes?.state.datasourceStates.formBased?.layers ?? {});
      assert.equal(layers.length, 1, `${title}: one layer`);
      return layers[0].columns as Record<string, { operationType?: string; sourceField?: string; params?: Record<string, unknown>; filter?: { query: string } }>;
    };

    it("has a data view on the daily cloudtrail indices", () => {
      assert.equal(byTitle("index-pattern", "cloudtrail-*").attributes.timeFieldName, "@timestamp");
    });

    it("has saved searches for failed calls and for console logins", () => {
      assert.deepEqual(searchQuery("AWS API errors"), { query: "errorCode : *", language: "kuery" });
      assert.deepEqual(searchQuery("Console logins"), { query: "eventName : ConsoleLogin", language: "kuery" });
    });

    it("shows the top 10 API calls of every 10 minutes, identities, failures, AccessDenied and sources, and both searches", () => {
      const dashboard = byTitle("dashboard", "AWS API activity");
      const top = Object.values(columnsOf(dashboard, "Top 10 API calls per 10 minutes"));
      assert.ok(top.some((c) => c.operationType === "date_histogram" && c.params?.interval === "10m"), "10-minute buckets");
      assert.ok(top.some((c) => c.operationType === "terms" && c.sourceField === "eventName" && c.params?.size === 10), "top 10 eventName");
      const fieldsOf = (title: string) => Object.values(columnsOf(dashboard, title)).map((c) => c.sourceField);
      assert.ok(fieldsOf("Calls by identity").includes("userIdentity.arn"));
      assert.ok(["sourceIPAddress", "awsRegion"].every((f) => fieldsOf("Calls by source IP and region").includes(f)));
      const failed = Object.values(columnsOf(dashboard, "Failed and AccessDenied calls")).map((c) => c.filter?.query ?? "");
      assert.ok(failed.includes("errorCode : *"), failed.join(" | "));
      assert.ok(failed.some((q) => /^errorCode : \(.*\bAccessDenied\b.*\)$/.test(q)), failed.join(" | "));
      assert.deepEqual(searchesShownBy(dashboard), searchesOver("cloudtrail"), "the dashboard shows every CloudTrail search");
    });
  });
});
