// Fetches the grafana.com dashboards listed in GRAFANA_COM_DASHBOARDS ("id:revision id:revision ...") and writes
// them where Grafana's "grafana-com" dashboard provider reads. A file-provisioned dashboard gets no import wizard, so
// every datasource input (`__inputs`, `${DS_*}`) is bound here to the provisioned datasource UIDs.
// A dashboard that cannot be imported (grafana.com unreachable, a wrong revision, a broken export) only warns and
// keeps its last good copy: Grafana waits for this job, and an optional dashboard must not keep it stopped.
// Runs in node:${NODE_VERSION} on the monitoring host; test/contract/monitoring-grafana-com.test.ts and
// test/integration/grafana-com-import.test.ts run this file.
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";

/** Provisioned datasource UID per plugin type (provisioning/grafana/datasources). */
const DATASOURCE_UIDS = { prometheus: "prometheus", elasticsearch: "elasticsearch-gateway" };
const FILE_PREFIX = "grafana-com-";
const ATTEMPTS = 4;

function parseList(text) {
  return text.split(/\s+/).filter(Boolean).map((entry) => {
    const match = /^(\d+):(\d+)$/.exec(entry);
    if (!match) throw new Error(`GRAFANA_COM_DASHBOARDS entry "${entry}" is not id:revision`);
    return { id: Number(match[1]), revision: Number(match[2]) };
  });
}

/** What each `${NAME}` input placeholder stands for: a datasource reference or a constant's text. */
function inputValues(dashboard) {
  const values = new Map();
  for (const input of dashboard.__inputs ?? []) {
    if (input.type === "datasource") {
      const uid = DATASOURCE_UIDS[input.pluginId];
      if (!uid) throw new Error(`input ${input.name} needs a ${input.pluginId} datasource, which is not provisioned`);
      values.set(input.name, { text: uid, ref: { type: input.pluginId, uid } });
    } else if (input.type === "constant") {
      values.set(input.name, { text: String(input.value ?? "") });
    }
  }
  return values;
}

function replacePlaceholders(node, values, key) {
  if (typeof node === "string") {
    // Legacy exports name the datasource as a bare string; a {type, uid} reference needs no lookup by name.
    const whole = /^\$\{([A-Za-z0-9_]+)\}$/.exec(node);
    if (key === "datasource" && whole && values.get(whole[1])?.ref) return values.get(whole[1]).ref;
    return node.replace(/\$\{([A-Za-z0-9_]+)\}/g, (text, name) => values.get(name)?.text ?? text);
  }
  if (Array.isArray(node)) return node.map((item) => replacePlaceholders(item, values));
  if (node && typeof node === "object") {
    return Object.fromEntries(Object.entries(node).map(([k, value]) => [k, replacePlaceholders(value, values, k)]));
  }
  return node;
}

/** The dashboard as Grafana's file provider should load it: bound to our UIDs, with a fixed uid of its own. */
function bindDashboard(raw, id) {
  const dashboard = replacePlaceholders(raw, inputValues(raw));
  // Import-wizard metadata; library panels (__elements) cannot be file-provisioned anyway.
  for (const key of ["__inputs", "__requires", "__elements"]) delete dashboard[key];
  // Datasource-type variables (e.g. ds_prometheus) would otherwise start empty.
  for (const variable of dashboard.templating?.list ?? []) {
    const uid = variable.type === "datasource" ? DATASOURCE_UIDS[variable.query] : undefined;
    if (uid) variable.current = { selected: true, text: uid, value: uid };
  }
  const leftover = JSON.stringify(dashboard).match(/\$\{DS_[A-Za-z0-9_]*\}/);
  if (leftover) throw new Error(`dashboard ${id} references ${leftover[0]}, which no __inputs entry declares`);
  return { ...dashboard, id: null, uid: `${FILE_PREFIX}${id}` };
}

/** A client error other than 429 (e.g. 404 for a revision that does not exist) answers the same on every retry. */
const isFinal = (status) => status >= 400 && status < 500 && status !== 429;

async function download(url) {
  for (let attempt = 1; ; attempt++) {
    let final = false;
    try {
      const response = await globalThis.fetch(url, { signal: globalThis.AbortSignal.timeout(30_000) });
      if (!response.ok) {
        final = isFinal(response.status);
        throw new Error(`HTTP ${response.status}`);
      }
      // A body cut off in transit fails to parse too, so invalid JSON is retried like a network error.
      return await response.json();
    } catch (error) {
      if (final || attempt >= ATTEMPTS) throw new Error(`${url}: ${error.message}`);
      await sleep(2_000 * attempt);
    }
  }
}

async function main() {
  const outDir = process.argv[2];
  if (!outDir) throw new Error("usage: import-dashboards.mjs <output folder>");
  const baseUrl = (process.env.GRAFANA_COM_URL ?? "https://grafana.com").replace(/\/$/, "");
  const wanted = parseList(process.env.GRAFANA_COM_DASHBOARDS ?? "");
  await mkdir(outDir, { recursive: true });
  const listed = new Set(wanted.map(({ id }) => `${FILE_PREFIX}${id}.json`));
  for (const { id, revision } of wanted) {
    const file = `${FILE_PREFIX}${id}.json`;
    try {
      const raw = await download(`${baseUrl}/api/dashboards/${id}/revisions/${revision}/download`);
      const tmp = path.join(outDir, `.${file}.tmp`);
      await writeFile(tmp, JSON.stringify(bindDashboard(raw, id), null, 2) + "\n");
      // rename() replaces the old copy in one step: Grafana never reads a half-written file.
      await rename(tmp, path.join(outDir, file));
      process.stdout.write(`imported grafana.com dashboard ${id} revision ${revision} as ${file}\n`);
    } catch (error) {
      const kept = existsSync(path.join(outDir, file)) ? `keeping the last good copy ${file}` : "no earlier copy to keep";
      process.stderr.write(`WARNING: grafana.com dashboard ${id} revision ${revision} not imported: ${error.message}; ${kept}\n`);
    }
  }
  // Dashboards dropped from the list disappear from Grafana too.
  for (const file of await readdir(outDir)) {
    if (file.startsWith(FILE_PREFIX) && !listed.has(file)) await rm(path.join(outDir, file));
  }
}

main().catch((error) => {
  process.stderr.write(`grafana.com dashboard import failed: ${error.message}\n`);
  process.exit(1);
});
