import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { INDEX_PREFIXES } from "../components/platform/naming";
import { EsContext, esCall } from "./elasticsearch";
import { request } from "./http";

export interface LatencyOptions {
  samples: number;
  /** How long to wait for the last marker to become searchable. */
  waitMs: number;
  pollMs: number;
}

/** Finds the marked request whether the gateway logged it parsed (uri, query string) or only as a raw line. */
export function markerQuery(uri: string, marker: string) {
  return {
    bool: {
      should: [
        { term: { "request.uri": uri } },
        { term: { "request.querystring": `verify=${marker}` } },
        { match_phrase: { log: marker } },
      ],
      minimum_should_match: 1,
    },
  };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Sends marked requests to the gateway and polls Elasticsearch until each is searchable: the time a log line takes from
 * the gateway's stdout through forwarder, Kafka and aggregator to a refreshed index (resolution: the poll interval).
 */
export async function endToEndLatency(ctx: EsContext, opts: LatencyOptions): Promise<string> {
  const run = randomBytes(6).toString("hex");
  const pending = new Map<string, { uri: string; sentAt: number }>();
  for (let i = 0; i < opts.samples; i++) {
    const marker = `verify-${run}-${i}`;
    const uri = `/health?verify=${marker}`;
    const sentAt = performance.now();
    // Any status will do: the gateway logs every request it answers.
    await request("gateway", ctx.outputs, uri, { timeoutMs: ctx.timeoutMs });
    pending.set(marker, { uri, sentAt });
  }
  const seconds: number[] = [];
  const deadline = performance.now() + opts.waitMs;
  for (;;) {
    for (const [marker, { uri, sentAt }] of pending) {
      const { count } = await esCall(ctx, (es) => es.count({ index: `${INDEX_PREFIXES.gateway}-*`, query: markerQuery(uri, marker) }));
      if (count > 0) {
        seconds.push((performance.now() - sentAt) / 1000);
        pending.delete(marker);
      }
    }
    if (pending.size === 0 || performance.now() >= deadline) break;
    await sleep(opts.pollMs);
  }
  if (pending.size > 0) {
    throw new Error(
      `${pending.size} of ${opts.samples} marked requests not searchable after ${opts.waitMs / 1000}s ` +
        `(e.g. ${[...pending.values()][0].uri}); the gateway answered, so look downstream: forwarder, Kafka, aggregator, Elasticsearch`,
    );
  }
  const f = (s: number) => `${s.toFixed(1)}s`;
  return `${opts.samples} requests: min ${f(Math.min(...seconds))}, median ${f(median(seconds))}, max ${f(Math.max(...seconds))} (poll every ${opts.pollMs / 1000}s)`;
}
