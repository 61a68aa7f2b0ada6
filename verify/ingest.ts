import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { INDEX_PREFIXES } from "../components/platform/naming";
import { INGEST_PLATFORM_SOURCE } from "../components/platform/ingest-sources";
import { PORTS } from "../components/platform/ports";
import { EsContext, esCall, valuesAt } from "./elasticsearch";
import { ForwardConnectionError, ForwardRefusedError, sendForward } from "./forward";
import { excerpt } from "./http";

/** The service name verify's record carries (as its forward tag): what the endpoint makes `service.name`. */
export const VERIFY_SERVICE = "platform-verify";

export interface IngestCheckOptions {
  /** How long the record may take to become searchable. */
  waitMs: number;
  pollMs: number;
}

const APPS = `${INDEX_PREFIXES.apps}-*`;

/**
 * Sends one uniquely marked record through the ingest endpoint's forward port (TLS with the stack's CA, the shared key,
 * the stack's own source `platform` and its password, acked), at 127.0.0.1:ingest.localForwardPort (the SSH tunnel's
 * local end on aws, the published port on docker), then waits until `apps-*` holds it with its service name.
 */
export async function ingestDelivery(ctx: EsContext, opts: IngestCheckOptions, send: typeof sendForward = sendForward): Promise<string> {
  const { ingest, ingestCredentials } = ctx.outputs;
  const source = ingestCredentials.sources[INGEST_PLATFORM_SOURCE];
  if (!source) {
    throw new Error(`the ingestCredentials output has no source ${INGEST_PLATFORM_SOURCE} (it lists ${Object.keys(ingestCredentials.sources).join(", ") || "none"}): run \`pulumi up\` with this version of the program`);
  }
  const marker = `verify-ingest-${randomBytes(6).toString("hex")}`;
  const where = `the ingest endpoint (127.0.0.1:${ingest.localForwardPort}, web host ${ctx.outputs.hosts.web.publicIp} tcp/${PORTS.ingestForward})`;
  const sentAt = performance.now();
  try {
    await send(
      { host: "127.0.0.1", port: ingest.localForwardPort, ca: ingest.caCertificate },
      { sharedKey: ingestCredentials.sharedKey, username: INGEST_PLATFORM_SOURCE, password: source.password },
      VERIFY_SERVICE,
      [{ time: new Date(), record: { log: `npm run verify: ingest check ${marker}`, "log.level": "info" } }],
      { timeoutMs: ctx.timeoutMs },
    );
  } catch (err) {
    throw new Error(ingestFailure(err, where, ctx.outputs.tunnels.length > 0));
  }
  const deadline = sentAt + opts.waitMs;
  for (;;) {
    const res = await esCall(ctx, (es) => es.search<Record<string, unknown>>({ index: APPS, size: 1, query: { match_phrase: { log: marker } } }));
    const hit = res.hits.hits[0];
    if (hit?._source) {
      const seconds = ((performance.now() - sentAt) / 1000).toFixed(1);
      const services = valuesAt(hit._source, "service.name");
      if (!services.includes(VERIFY_SERVICE)) {
        throw new Error(`${hit._index}/${hit._id} holds the marked record, but its service.name is ${JSON.stringify(services[0] ?? null)}, not ${VERIFY_SERVICE} (the tag it was sent with): see hosts/web/ingest/records.lua`);
      }
      if (!valuesAt(hit._source, "log").some((log) => typeof log === "string" && log.includes(marker))) {
        throw new Error(`${hit._index}/${hit._id} matched the marker, but its log is ${excerpt(JSON.stringify(hit._source.log), 80)}`);
      }
      const protocol = valuesAt(hit._source, "ingest.protocol")[0];
      return `a record sent as ${INGEST_PLATFORM_SOURCE} was acked and searchable in ${hit._index} after ${seconds}s (service.name ${VERIFY_SERVICE}, ingest.protocol ${String(protocol)})`;
    }
    if (performance.now() >= deadline) break;
    await sleep(opts.pollMs);
  }
  throw new Error(
    `the endpoint acknowledged the marked record (${marker}), but it is not in ${APPS} after ${opts.waitMs / 1000}s: look downstream: ` +
      "the ingest service's kafka output on the web host (docker compose logs ingest), the apps topic, the aggregators",
  );
}

/** What an operator reads when the forward port does not take the record. */
function ingestFailure(err: unknown, where: string, tunnel: boolean): string {
  if (err instanceof ForwardRefusedError) {
    return `${where} refused the stack's own source ${INGEST_PLATFORM_SOURCE}: ${err.message}. The ingestCredentials output is not what the endpoint checks: ` +
      "`pulumi up` renders both from the same secrets (web host: docker compose logs ingest)";
  }
  const code = err instanceof ForwardConnectionError ? err.code : undefined;
  const message = (err as Error).message ?? String(err);
  if (code === "ECONNREFUSED" || code === "ECONNRESET") {
    return `${where} refused the connection: ${tunnel ? "the SSH tunnel's forward to the web host found nothing on the port" : "nothing listens there"}. ` +
      "Check the ingest service on the web host: docker compose ps ingest, docker compose logs ingest";
  }
  if (/certificate|self[- ]signed|unable to verify|CERT_|ERR_TLS/i.test(`${code ?? ""} ${message}`)) {
    return `${where} presented a certificate the stack's CA did not sign for 127.0.0.1 (${message}): is this the right stack, and did its last \`pulumi up\` render the ingest certificate? (output ingest.caCertificate)`;
  }
  return `${where}: ${message}${tunnel ? " (through the SSH tunnel)" : ""}`;
}
