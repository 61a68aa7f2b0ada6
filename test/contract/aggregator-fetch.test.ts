import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { kafkaPartitionFetchBytes } from "../../components/bundles/env";
import { INT_KEYS } from "../../components/config/keys";
import { datasets } from "../../components/platform/naming";
import { REPO_ROOT } from "../../components/platform/repo";
import { CLUSTER_SIZES } from "../../components/platform/topology";
import { byAlias, parseConfig, prop } from "../helpers/fluent-bit";
import { sampleEnv } from "../helpers/sample-facts";

/** What in_kafka sets from its 4M buffer_max_size (plugins/in_kafka/in_kafka.c): librdkafka refuses a larger response. */
const RECEIVE_MESSAGE_MAX_BYTES = 4_000_000;
const FETCH_MAX_BYTES = RECEIVE_MESSAGE_MAX_BYTES - 512;
const LARGEST_BATCH = 1_048_576;

describe("the aggregator's Kafka fetches stay under the response size librdkafka accepts", () => {
  const topics = Object.keys(datasets("dev")).length;
  const input = () => byAlias(parseConfig(fs.readFileSync(path.join(REPO_ROOT, "hosts/logging/fluent-bit/fluent-bit.yaml"), "utf8")).pipeline?.inputs, "kafka_in");

  it("reads the per-partition limit from the .env, and keeps the input's 4M buffer the bound is computed for", () => {
    assert.equal(prop(input(), "rdkafka.max.partition.fetch.bytes"), "${KAFKA_PARTITION_FETCH_BYTES}");
    assert.equal(prop(input(), "buffer_max_size"), undefined, "the bound assumes the plugin's default 4M");
    assert.equal(prop(input(), "threaded"), undefined, "a threaded kafka input commits offsets before the buffer has the records");
    assert.equal(sampleEnv("logging").KAFKA_PARTITION_FETCH_BYTES, "262144", "256 KiB with the default 3 partitions per topic");
  });

  it("for every partition count and cluster size: the assigned partitions' limits plus one largest batch fit a fetch", () => {
    for (let partitions = INT_KEYS.kafkaPartitions.min; partitions <= INT_KEYS.kafkaPartitions.max; partitions++) {
      for (const aggregators of [1, ...Array.from({ length: CLUSTER_SIZES.max - CLUSTER_SIZES.min + 1 }, (_, i) => CLUSTER_SIZES.min + i)]) {
        if (partitions < aggregators) continue;
        const limit = kafkaPartitionFetchBytes(topics, partitions, aggregators);
        const assigned = topics * Math.ceil(partitions / aggregators);
        assert.ok(limit > 0 && limit <= 262_144, `${partitions} partitions, ${aggregators} aggregators: ${limit}`);
        assert.ok((assigned - 1) * limit + LARGEST_BATCH <= FETCH_MAX_BYTES, `${partitions} partitions, ${aggregators} aggregators: ${assigned} x ${limit}`);
      }
    }
  });
});
