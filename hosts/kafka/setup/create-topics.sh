#!/usr/bin/env bash
# Creates the platform's topics, or converges existing ones (retention, partition count); safe on every deploy.
# Runs in the apache/kafka image (bash, /opt/kafka/bin) once the broker is healthy.
set -euo pipefail

: "${KAFKA_BOOTSTRAP:?}" "${KAFKA_TOPICS:?}" "${KAFKA_PARTITIONS:?}" "${KAFKA_RETENTION_HOURS:?}"
bin=${KAFKA_BIN:-/opt/kafka/bin}

if ! [[ $KAFKA_PARTITIONS =~ ^[1-9][0-9]*$ ]]; then
  echo "kafka-setup: KAFKA_PARTITIONS must be a positive integer, got '$KAFKA_PARTITIONS'" >&2
  exit 1
fi
# The topics are the buffer that lets the logging host be down for a day without losing a line.
if ! [[ $KAFKA_RETENTION_HOURS =~ ^[0-9]+$ ]] || (( KAFKA_RETENTION_HOURS < 24 )); then
  echo "kafka-setup: KAFKA_RETENTION_HOURS must be at least 24, got '$KAFKA_RETENTION_HOURS'" >&2
  exit 1
fi
retention_ms=$(( KAFKA_RETENTION_HOURS * 3600 * 1000 ))

IFS=, read -r -a topics <<<"$KAFKA_TOPICS"
for topic in "${topics[@]}"; do
  "$bin/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists --topic "$topic" \
    --partitions "$KAFKA_PARTITIONS" --replication-factor 1 --config "retention.ms=$retention_ms"
  # --if-not-exists leaves an existing topic as it was: converge what config may have changed since.
  "$bin/kafka-configs.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --alter --entity-type topics --entity-name "$topic" \
    --add-config "retention.ms=$retention_ms"
  current=$("$bin/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --describe --topic "$topic" \
    | sed -n 's/.*PartitionCount:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)
  if [[ -z $current ]]; then
    echo "kafka-setup: cannot read the partition count of $topic" >&2
    exit 1
  fi
  # Kafka can only add partitions; fewer than configured is grown, more is left alone.
  if (( current < KAFKA_PARTITIONS )); then
    "$bin/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --alter --topic "$topic" --partitions "$KAFKA_PARTITIONS"
  fi
  echo "kafka-setup: $topic ready (partitions >= $KAFKA_PARTITIONS, retention ${KAFKA_RETENTION_HOURS}h)"
done
