#!/usr/bin/env bash
# A Kafka member's roll gate, run from the bundle folder after `docker compose up --wait kafka`. It fails closed: it
# passes only on evidence that this member's broker is registered in the cluster and no partition is
# under-replicated, or, on a new cluster, that this member is waiting to form it. Anything else (a tool call that
# fails or does not finish, docker failing, a broker missing) is asked again until KAFKA_GATE_TIMEOUT seconds have
# passed, then the gate fails with one line naming the member and what was missing.
#
# A first formation: the roll starts the members one by one on a first deploy too, and the first controller cannot
# form a quorum alone (its broker neither registers nor answers until one exists), so its gate passes when all of this
# holds, and only then:
# - no broker of the cluster answers (the tool's "Request METADATA failed on brokers [...]": every bootstrap server
#   refused or dropped it), as opposed to any other failure;
# - this member is a controller (a voter of the quorum: broker-only members join an existing cluster);
# - its controller has never seen a leader elected: the KRaft quorum state in its data volume
#   (__cluster_metadata-0/quorum-state, read in its container) still has leaderEpoch 0. The first election moves it
#   to 1 and it never goes back, so a formed cluster that lost its quorum is not taken for a new one.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# The rendered .env exists only on the host.
# shellcheck source=/dev/null
. ./.env
set +a

timeout=${KAFKA_GATE_TIMEOUT:-600}
interval=${KAFKA_GATE_INTERVAL:-5}
# One JVM tool call's budget (never past the gate's bound by more than a few seconds): a broker waiting for a quorum
# may accept connections without answering.
call_seconds=${KAFKA_GATE_CALL_SECONDS:-60}
read -r -a docker <<<"${DOCKER:-sudo docker}"
: "${HOST_MEMBER:?HOST_MEMBER is required (.env)}"
: "${KAFKA_NODE_ID:?KAFKA_NODE_ID is required (.env)}"
: "${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS is required (.env)}"
# The KRaft quorum state in the kafka service's data volume (KAFKA_LOG_DIRS in compose.yaml, the metadata log's dir).
quorum_state=/var/lib/kafka/data/__cluster_metadata-0/quorum-state

deadline=$((SECONDS + timeout))

# The tool's JVM gets a small heap of its own: the broker's KAFKA_HEAP_OPTS (-Xms512m) would commit as much again
# beside the broker on a 2 GiB host.
tool() {
  local budget=$((deadline - SECONDS))
  ((budget >= 10)) || budget=10
  ((budget <= call_seconds)) || budget=$call_seconds
  timeout "$budget" "${docker[@]}" compose exec -T -e KAFKA_HEAP_OPTS=-Xmx128m kafka \
    "/opt/kafka/bin/$1" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${@:2}"
}

# The last non-empty line of $1, on one line, for a one-line failure.
last_line() {
  grep -v '^[[:space:]]*$' <<<"$1" | tail -n 1 | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//' || true
}

# Why a failed kafka-broker-api-versions.sh call (exit status $1, output $2) is or is not a first formation: prints
# "pass <why>" or "wait <what is missing>".
first_formation() {
  local status=$1 output=$2 state epoch
  if ((status == 124)); then
    echo "wait kafka-broker-api-versions.sh did not finish within its budget (at most ${call_seconds}s)"
    return
  fi
  if ! grep -q 'Request METADATA failed on brokers' <<<"$output"; then
    echo "wait kafka-broker-api-versions.sh failed (exit $status): $(last_line "$output")"
    return
  fi
  if [[ ,${KAFKA_PROCESS_ROLES:-}, != *,controller,* ]]; then
    echo "wait no broker of $KAFKA_BOOTSTRAP_SERVERS answers, and this member is no controller (roles: ${KAFKA_PROCESS_ROLES:-none}), so it forms no cluster"
    return
  fi
  if ! state=$("${docker[@]}" compose exec -T kafka cat "$quorum_state" 2>&1); then
    echo "wait no broker of $KAFKA_BOOTSTRAP_SERVERS answers, and this controller's quorum state cannot be read: $(last_line "$state")"
    return
  fi
  if ! [[ $state =~ \"leaderEpoch\":([0-9]+) ]]; then
    echo "wait no broker of $KAFKA_BOOTSTRAP_SERVERS answers, and this controller's quorum state has no leaderEpoch: $(last_line "$state")"
    return
  fi
  epoch=${BASH_REMATCH[1]}
  if ((epoch > 0)); then
    echo "wait no broker of $KAFKA_BOOTSTRAP_SERVERS answers, and this controller has seen a leader elected (epoch $epoch): a formed cluster without a quorum, not a first formation"
    return
  fi
  echo "pass no broker of $KAFKA_BOOTSTRAP_SERVERS answers and this controller has never seen a leader elected (epoch 0): first formation (no quorum yet), passing"
}

while :; do
  status=0
  brokers=$(tool kafka-broker-api-versions.sh 2>&1) || status=$?
  if ((status != 0)); then
    verdict=$(first_formation "$status" "$brokers")
    if [[ $verdict == pass\ * ]]; then
      echo "kafka gate: $HOST_MEMBER: ${verdict#pass }"
      exit 0
    fi
    missing=${verdict#wait }
  elif ! grep -q "(id: $KAFKA_NODE_ID rack:" <<<"$brokers"; then
    missing="broker $KAFKA_NODE_ID is not registered ($(grep -c '(id: [0-9]* rack:' <<<"$brokers" || true) broker(s) are)"
  else
    status=0
    under=$(tool kafka-topics.sh --describe --under-replicated-partitions 2>&1) || status=$?
    if ((status == 124)); then
      missing="kafka-topics.sh did not finish within its budget (at most ${call_seconds}s)"
    elif ((status != 0)); then
      missing="the partition list is unavailable (kafka-topics.sh exit $status): $(last_line "$under")"
    elif grep -q 'Partition:' <<<"$under"; then
      missing="$(grep -c 'Partition:' <<<"$under" || true) partition(s) are under-replicated"
    elif [[ -n $under ]]; then
      missing="kafka-topics.sh --under-replicated-partitions printed no partition but: $(last_line "$under")"
    else
      echo "kafka gate: $HOST_MEMBER: broker $KAFKA_NODE_ID is in the cluster, no partition under-replicated"
      exit 0
    fi
  fi
  if ((SECONDS >= deadline)); then
    echo "kafka gate: $HOST_MEMBER: after ${timeout}s $missing" >&2
    exit 1
  fi
  sleep "$interval"
done
