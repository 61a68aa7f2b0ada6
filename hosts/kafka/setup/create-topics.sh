#!/usr/bin/env bash
# Creates the platform's topics, or converges existing ones (retention, min.insync.replicas, partition count); safe
# on every deploy. Runs in the apache/kafka image (bash, /opt/kafka/bin) once the broker is healthy.
set -euo pipefail

: "${KAFKA_BOOTSTRAP:?}" "${KAFKA_TOPICS:?}" "${KAFKA_PARTITIONS:?}" "${KAFKA_RETENTION_HOURS:?}"
: "${KAFKA_REPLICATION_FACTOR:?}" "${KAFKA_MIN_INSYNC_REPLICAS:?}"
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
if ! [[ $KAFKA_REPLICATION_FACTOR =~ ^[1-9][0-9]*$ ]]; then
  echo "kafka-setup: KAFKA_REPLICATION_FACTOR must be a positive integer, got '$KAFKA_REPLICATION_FACTOR'" >&2
  exit 1
fi
# At least one replica in sync, and never more than there are replicas (every acks=all produce would fail).
if ! [[ $KAFKA_MIN_INSYNC_REPLICAS =~ ^[1-9][0-9]*$ ]] || (( KAFKA_MIN_INSYNC_REPLICAS > KAFKA_REPLICATION_FACTOR )); then
  echo "kafka-setup: KAFKA_MIN_INSYNC_REPLICAS must be a positive integer of at most KAFKA_REPLICATION_FACTOR ($KAFKA_REPLICATION_FACTOR), got '$KAFKA_MIN_INSYNC_REPLICAS'" >&2
  exit 1
fi
topic_configs="retention.ms=$retention_ms,min.insync.replicas=$KAFKA_MIN_INSYNC_REPLICAS"

# A topic can only be created with as many replicas as brokers are registered: members start one at a time.
wait_seconds=${KAFKA_SETUP_BROKER_WAIT_SECONDS:-300}
deadline=$((SECONDS + wait_seconds))
while :; do
  brokers=$("$bin/kafka-broker-api-versions.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" 2>/dev/null | grep -c '(id: [0-9]* rack:' || true)
  (( brokers >= KAFKA_REPLICATION_FACTOR )) && break
  if (( SECONDS >= deadline )); then
    echo "kafka-setup: only ${brokers:-0} broker(s) registered at $KAFKA_BOOTSTRAP after ${wait_seconds}s, KAFKA_REPLICATION_FACTOR=$KAFKA_REPLICATION_FACTOR needs $KAFKA_REPLICATION_FACTOR" >&2
    exit 1
  fi
  sleep 5
done

IFS=, read -r -a topics <<<"$KAFKA_TOPICS"
for topic in "${topics[@]}"; do
  "$bin/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists --topic "$topic" \
    --partitions "$KAFKA_PARTITIONS" --replication-factor "$KAFKA_REPLICATION_FACTOR" \
    --config "retention.ms=$retention_ms" --config "min.insync.replicas=$KAFKA_MIN_INSYNC_REPLICAS"
  # --if-not-exists leaves an existing topic as it was: converge what config may have changed since.
  "$bin/kafka-configs.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --alter --entity-type topics --entity-name "$topic" \
    --add-config "$topic_configs"
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
  echo "kafka-setup: $topic ready (partitions >= $KAFKA_PARTITIONS, retention ${KAFKA_RETENTION_HOURS}h, min.insync.replicas $KAFKA_MIN_INSYNC_REPLICAS)"
done
