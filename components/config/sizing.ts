import { Architecture } from "./types";

/** Instance families the platform knows: architecture, and memory per vCPU for the m/c/r classes. */
export const FAMILIES: Record<string, Architecture> = {
  t4g: "arm64", m6g: "arm64", m7g: "arm64", m8g: "arm64", c6g: "arm64", c7g: "arm64", c8g: "arm64",
  r6g: "arm64", r7g: "arm64", r8g: "arm64",
  t3: "x86_64", t3a: "x86_64", m5: "x86_64", m5a: "x86_64", m6i: "x86_64", m6a: "x86_64", m7i: "x86_64",
  m7a: "x86_64", c5: "x86_64", c5a: "x86_64", c6i: "x86_64", c6a: "x86_64", c7i: "x86_64", c7a: "x86_64",
  r5: "x86_64", r5a: "x86_64", r6i: "x86_64", r6a: "x86_64", r7i: "x86_64", r7a: "x86_64",
};
const BURSTABLE_GIB: Record<string, number> = {
  nano: 0.5, micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, "2xlarge": 32,
};
const GIB_PER_VCPU: Record<string, number> = { m: 4, c: 2, r: 8 };

/** Memory of an instance type in GiB, from its family class and size (no API call, so preview and tests agree). */
export function instanceMemoryGiB(instanceType: string): number | undefined {
  const match = /^([a-z]+)(\d+)([a-z]*)\.(\w+)$/.exec(instanceType);
  if (!match || !(`${match[1]}${match[2]}${match[3]}` in FAMILIES)) return undefined;
  const [, cls, , , size] = match;
  if (cls === "t") return BURSTABLE_GIB[size];
  const vcpus = size === "medium" ? 1 : size === "large" ? 2 : size === "xlarge" ? 4 : /^(\d+)xlarge$/.test(size) ? 4 * Number(size.slice(0, -6)) : undefined;
  return vcpus === undefined ? undefined : vcpus * GIB_PER_VCPU[cls];
}

// Memory the logging host keeps for Kibana (its Node heap is capped at 1 GiB) and the two Fluent Bits: the
// aggregator, and the forwarder (at most 32 chunks and a 32 MiB Kafka queue per output in memory).
const KIBANA_GIB = 1;
const AGGREGATOR_GIB = 0.5;
const FORWARDER_GIB = 0.25;

/** Elasticsearch heap: half of what Kibana and the Fluent Bits leave, whole GiB, 1 to 31 (compressed oops). */
export function elasticsearchHeapGiB(memoryGiB: number): number {
  return Math.min(31, Math.max(1, Math.floor((memoryGiB - KIBANA_GIB - AGGREGATOR_GIB - FORWARDER_GIB) / 2)));
}
export const MIN_LOGGING_MEMORY_GIB = 4;
