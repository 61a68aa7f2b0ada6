import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";
import { FluentBitConfig, Plugin, parseConfig, prop } from "../helpers/fluent-bit";

/**
 * After an outage of any length, each buffered chunk must be retried soon after the service is back, so the backlog
 * drains within DRAIN_BUDGET_S of the recovery; and no chunk may retry a service that is down too often.
 * The waits are computed from the configured values with Fluent Bit's and librdkafka's own formulas.
 */
const DRAIN_BUDGET_S = 30;

/**
 * Fluent Bit's retry wait for a chunk, src/flb_scheduler.c (5.1.1, unchanged on master in late August 2026):
 *
 *   static int backoff_full_jitter(int base, int cap, int n)
 *   {
 *       temp = xmin(cap, base * ipow(2, n));
 *       return random_uniform(base, temp);
 *   }
 *   ...flb_sched_request_create(config, data, tries):
 *       seconds = backoff_full_jitter((int)config->sched_base, (int)config->sched_cap, tries);
 *       seconds += 1;
 *       if (seconds > FLB_SCHED_REQUEST_FRAME) schedule_request_wait(...) else schedule_request_now(seconds, ...)
 *
 * A wait above FLB_SCHED_REQUEST_FRAME (10 s) is parked and promoted by a 10 s frame timer comparing whole seconds
 * of time(NULL) (schedule_request_promote), which can fire it up to 1 s late. Defaults: FLB_SCHED_BASE 5,
 * FLB_SCHED_CAP 2000 (include/fluent-bit/flb_scheduler.h).
 */
const SCHED_DEFAULTS = { base: 5, cap: 2000 };
const SCHED_REQUEST_FRAME_S = 10;

interface Backoff { base: number; cap: number }

function schedulerBackoff(config: FluentBitConfig): Backoff {
  const read = (key: string, fallback: number): number => Number(prop(config.service ?? {}, key) ?? fallback);
  return { base: read("scheduler.base", SCHED_DEFAULTS.base), cap: read("scheduler.cap", SCHED_DEFAULTS.cap) };
}

/** The longest a chunk can wait for its next attempt: the top of the jitter range once 2^n has passed the cap. */
function longestRetryWait({ base, cap }: Backoff): number {
  // random_uniform(base, temp) with temp < base has an empty range: the cap must not be below the base.
  assert.ok(Number.isInteger(base) && base >= 1 && cap >= base, `scheduler.base ${base}, scheduler.cap ${cap}`);
  const seconds = cap + 1;
  return seconds > SCHED_REQUEST_FRAME_S ? seconds + 1 : seconds;
}

/**
 * The shortest wait between two attempts of one chunk: random_uniform's floor plus the 1 s, less up to 1 s because
 * the timers fire on whole seconds (mk_event_timeout_create arms an absolute whole-second timerfd).
 */
function shortestRetryWait({ base }: Backoff): number {
  return base;
}

/**
 * librdkafka (lib/librdkafka-2.15.0/CONFIGURATION.md in Fluent Bit 5.1.1): "reconnect.backoff.ms: The initial time
 * to wait before reconnecting ... increased exponentially until reconnect.backoff.max.ms is reached. -25% to +50%
 * jitter is applied to each reconnect backoff." Default reconnect.backoff.max.ms: 10000.
 */
const RECONNECT_BACKOFF_MAX_DEFAULT_MS = 10000;

function reconnectBackoffMaxS(plugin: Plugin): number {
  return Number(prop(plugin, "rdkafka.reconnect.backoff.max.ms") ?? RECONNECT_BACKOFF_MAX_DEFAULT_MS) / 1000;
}

/**
 * out_kafka (plugins/out_kafka/kafka.c) hands records to librdkafka's queue and reports the chunk delivered; while
 * the queue is full it sleeps 1 s per attempt (flb_time_sleep(1000)) and answers FLB_RETRY to other chunks, which
 * then wait on the scheduler. After Kafka is back: librdkafka reconnects (at most 1.5 x the max backoff), the
 * queued records go out and the blocked flush gets in within its 1 s sleep, then each parked chunk's next attempt.
 */
const QUEUE_FULL_SLEEP_S = 1;

function kafkaHopWorstS(output: Plugin, backoff: Backoff): number {
  return 1.5 * reconnectBackoffMaxS(output) + QUEUE_FULL_SLEEP_S + longestRetryWait(backoff);
}

function load(file: string): FluentBitConfig {
  return parseConfig(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
}

function plugins(config: FluentBitConfig, kind: "inputs" | "outputs", name: string): Plugin[] {
  return (config.pipeline?.[kind] ?? []).filter((p) => String(p.name).toLowerCase() === name);
}

describe("Fluent Bit retry backoff: a backlog drains within 30 s of a recovery, without hammering", () => {
  const forwarder = load("forwarder/fluent-bit.yaml");
  const aggregator = load("hosts/logging/fluent-bit/fluent-bit.yaml");

  it("the budget fails Fluent Bit's default backoff (the measured 100 s drain)", () => {
    assert.ok(longestRetryWait(SCHED_DEFAULTS) > DRAIN_BUDGET_S);
    assert.equal(longestRetryWait(SCHED_DEFAULTS), 2002);
  });

  it("aggregator -> Elasticsearch: the next retry after a recovery comes within the budget", () => {
    const worst = longestRetryWait(schedulerBackoff(aggregator));
    assert.ok(worst <= DRAIN_BUDGET_S, `worst wait ${worst} s > ${DRAIN_BUDGET_S} s`);
  });

  it("forwarder -> Kafka: reconnect, blocked flush and next retry together come within the budget", () => {
    const outputs = plugins(forwarder, "outputs", "kafka");
    assert.equal(outputs.length, 2);
    for (const output of outputs) {
      const worst = kafkaHopWorstS(output, schedulerBackoff(forwarder));
      assert.ok(worst <= DRAIN_BUDGET_S, `${String(prop(output, "alias"))}: worst wait ${worst} s > ${DRAIN_BUDGET_S} s`);
    }
  });

  it("Kafka -> aggregator: the consumer reconnects within the budget", () => {
    const [input] = plugins(aggregator, "inputs", "kafka");
    assert.ok(1.5 * reconnectBackoffMaxS(input) <= DRAIN_BUDGET_S);
  });

  it("no chunk retries more often than every 5 s; once backed off, no Kafka client reconnects more than once a second", () => {
    for (const config of [forwarder, aggregator]) {
      assert.ok(shortestRetryWait(schedulerBackoff(config)) >= 5, JSON.stringify(schedulerBackoff(config)));
    }
    const kafkaClients = [...plugins(forwarder, "outputs", "kafka"), ...plugins(aggregator, "inputs", "kafka")];
    for (const plugin of kafkaClients) {
      assert.ok(0.75 * reconnectBackoffMaxS(plugin) >= 1, `${String(prop(plugin, "alias"))}: reconnects too often`);
    }
  });

  it("rejects a cap below the base (Fluent Bit's jitter range would be empty)", () => {
    assert.throws(() => longestRetryWait({ base: 10, cap: 5 }), /scheduler.base 10, scheduler.cap 5/);
  });
});
