import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";

/**
 * The record the ingest endpoint (hosts/web/ingest) produces to the apps topic, as issue 18's design fixes it, and
 * how the apps indices map each of its fields. The ingest's own tests check that it emits them; the aggregator's, the
 * index template's and the Kibana objects' tests read them from here, so the four cannot disagree.
 */

/** Every field the endpoint emits, with the type `apps-*` gives it (hosts/logging/setup/index-templates/apps.json). */
export const APPS_FIELD_TYPES: Record<string, string> = {
  // The record's own service.name (or service_name, service), else OTLP's resource attribute, else the forward tag.
  "service.name": "keyword",
  // The line: forward's `log` or `message`, OTLP's string body.
  log: "text",
  // Lower-case, from log.level, level, severity or OTLP's severityText; absent if none.
  "log.level": "keyword",
  // Set (true) when the endpoint cut a line longer than 256 KiB.
  "log.truncated": "keyword",
  // As the source sends them: the user forwarder folder sets both, OTLP's resource host.name.
  "host.name": "keyword",
  "container.name": "keyword",
  // OTLP's trace context, in hex.
  "trace.id": "keyword",
  "span.id": "keyword",
  // forward or otlp.
  "ingest.protocol": "keyword",
  // Made by the endpoint once per record: the aggregator's _id.
  log_id: "keyword",
};

/** Fields only the sources send (the endpoint passes them on as they come); the endpoint itself sets all the others. */
export const APPS_SOURCE_FIELDS = ["host.name", "container.name"];

/** The key the endpoint's kafka output carries the event time under (timestamp_key), which the aggregator removes. */
export const APPS_TIME_KEY = "fluentbit_time";

/** The ingest endpoint's folder: its Fluent Bit config and Lua. */
export const INGEST_DIR = path.join(REPO_ROOT, "hosts", "web", "ingest");

/** The event time as the endpoint's kafka output writes it (iso8601, microseconds, UTC). */
export const appsTime = (at: Date): string => at.toISOString().replace(/\.(\d{3})Z$/, ".$1456Z");

let counter = 0;

/**
 * A record as the endpoint produces it: the shaped fields, the event time under APPS_TIME_KEY, and whatever else the
 * service sent (`fields`).
 */
export function appsPayload(at: Date, fields: Record<string, unknown>, protocol: "forward" | "otlp" = "forward"): Record<string, unknown> {
  counter += 1;
  return {
    "ingest.protocol": protocol,
    log_id: `web:${protocol}:1796119200.123456:${counter}`,
    ...fields,
    [APPS_TIME_KEY]: appsTime(at),
  };
}

/** The ingest endpoint's files; fails naming the folder while it does not exist. */
export function ingestFiles(): { file: string; text: string }[] {
  if (!fs.existsSync(INGEST_DIR)) throw new Error(`the ingest endpoint's folder ${path.relative(REPO_ROOT, INGEST_DIR)} is missing`);
  return fs.readdirSync(INGEST_DIR).filter((f) => /\.(ya?ml|lua)$/.test(f)).map((f) => ({ file: f, text: fs.readFileSync(path.join(INGEST_DIR, f), "utf8") }));
}
