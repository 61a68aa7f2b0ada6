#!/usr/bin/env bash
# A Kafka member's roll gate, run from the bundle folder after `docker compose up --wait kafka`: waits until this
# member's broker is registered in the cluster and no partition is under-replicated, so that the next member may
# restart. While no broker of the cluster answers at all (first formation: fewer than a quorum of controllers are
# up, the brokers wait for one), it passes at once: the next member is what brings the quorum.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# The rendered .env exists only on the host.
# shellcheck source=/dev/null
. ./.env
set +a

timeout=${KAFKA_GATE_TIMEOUT:-600}
interval=${KAFKA_GATE_INTERVAL:-5}
# One JVM tool call's budget: a broker waiting for a quorum accepts connections but does not answer.
call_seconds=${KAFKA_GATE_CALL_SECONDS:-60}
read -r -a docker <<<"${DOCKER:-sudo docker}"

# The tool's JVM gets a small heap of its own: the broker's KAFKA_HEAP_OPTS (-Xms512m) would commit as much again
# beside the broker on a 2 GiB host.
tool() {
  timeout "$call_seconds" "${docker[@]}" compose exec -T -e KAFKA_HEAP_OPTS=-Xmx128m kafka \
    "/opt/kafka/bin/$1" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${@:2}"
}

deadline=$((SECONDS + timeout))
first=1
while :; do
  if brokers=$(tool kafka-broker-api-versions.sh 2>/dev/null); then
    if ! grep -q "(id: $KAFKA_NODE_ID rack:" <<<"$brokers"; then
      missing="broker $KAFKA_NODE_ID is not registered ($(grep -c '(id: [0-9]* rack:' <<<"$brokers" || true) broker(s) are)"
    elif ! under=$(tool kafka-topics.sh --describe --under-replicated-partitions 2>&1); then
      missing="the partition list is unavailable: ${under//$'\n'/ }"
    elif [[ -n $under ]]; then
      missing="$(grep -c 'Partition:' <<<"$under" || true) partition(s) are under-replicated"
    else
      echo "kafka gate: $HOST_MEMBER: broker $KAFKA_NODE_ID is in the cluster, no partition under-replicated"
      exit 0
    fi
  elif (( first )); then
    echo "kafka gate: $HOST_MEMBER: no broker of $KAFKA_BOOTSTRAP_SERVERS answers (first formation, no quorum yet); passing"
    exit 0
  else
    missing="no broker of $KAFKA_BOOTSTRAP_SERVERS answers any more"
  fi
  first=0
  if (( SECONDS >= deadline )); then
    echo "kafka gate: $HOST_MEMBER: after ${timeout}s $missing" >&2
    exit 1
  fi
  sleep "$interval"
done
