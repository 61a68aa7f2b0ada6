#!/usr/bin/env bash
# Cluster roll gate, run on the host from the bundle folder (`bash cluster/gate.sh`) after this member's node has
# started and before the next member's: waits until the node is in the cluster and the cluster is green or yellow
# with no shard relocating, initializing or waiting for this node to come back (a copy still recovering onto it is
# not yet one the next restart can lean on), up to ES_GATE_TIMEOUT seconds, then fails with one line naming the member. Passes at
# once while no member reports a formed cluster and fewer than a quorum of them answer: the first members of a new
# cluster cannot form it before a quorum of them has started.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# The rendered .env exists only on the host.
# shellcheck source=/dev/null
. ./.env
set +a

timeout=${ES_GATE_TIMEOUT:-600}
interval=${ES_GATE_INTERVAL:-5}
port=${ES_HTTP_PORT:-9200}
# This member's own node, published on the host's loopback; ES_GATE_LOCAL_URL points elsewhere (a test whose nodes
# listen on other loopback addresses).
local_url=${ES_GATE_LOCAL_URL:-https://127.0.0.1:$port}
read -r -a docker <<<"${DOCKER:-sudo docker}"
: "${ES_PASSWORD_ELASTIC:?ES_PASSWORD_ELASTIC is required (.env)}"

# GET a URL as elastic over HTTPS trusting the program's CA (tls/ca.crt here, its copy in the node container),
# with the host's curl or else the node container's; the credentials go on curl's stdin. Extra curl options follow.
get() {
  local url=$1
  shift
  if command -v curl >/dev/null; then
    printf 'user = "elastic:%s"\n' "$ES_PASSWORD_ELASTIC" | curl -sS -K - --cacert tls/ca.crt --max-time 5 "$@" "$url"
  else
    printf 'user = "elastic:%s"\n' "$ES_PASSWORD_ELASTIC" |
      "${docker[@]}" compose exec -T elasticsearch curl -sS -K - --cacert config/certs/ca.crt --max-time 5 "$@" "$url"
  fi
}

# The cluster UUID a node reports on GET /, "_na_" until it is in a formed cluster, empty without an answer. Any
# answer without a UUID (a 401 included) is a node that is there, reporting no formed cluster.
cluster_uuid() {
  local answer
  answer=$(get "$1/" 2>/dev/null) || return 0
  if [[ $answer =~ \"cluster_uuid\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo "_na_"
  fi
}

IFS=, read -r -a members <<<"${ES_CLUSTER_MEMBERS:?ES_CLUSTER_MEMBERS is required}"
quorum=$((${#members[@]} / 2 + 1))

# Sets `answering` (members whose node answers) and `formed` (the UUID one of them reports, empty if none does).
scan() {
  local ip uuid
  answering=0 formed=""
  for ip in "${members[@]}"; do
    uuid=$(cluster_uuid "https://$ip:$port")
    [[ -n $uuid ]] && answering=$((answering + 1))
    [[ -n $uuid && $uuid != "_na_" ]] && formed=$uuid
  done
  return 0
}

scan
if [[ -z $formed ]] && ((answering < quorum)); then
  echo "gate: $ES_NODE_NAME: no member reports a formed cluster and $answering of ${#members[@]} answer, fewer than a quorum ($quorum): first formation, passing"
  exit 0
fi

# Prints what is missing, nothing once the node is in the cluster and the cluster is usable and settled.
missing() {
  local nodes health
  scan
  if [[ -z $formed ]]; then
    echo "no member reports a formed cluster, though $answering of ${#members[@]} answer (a quorum is $quorum)"
  elif ! nodes=$(get "$local_url/_cat/nodes?h=name" --fail-with-body 2>&1); then
    echo "no cluster answer from this node ($nodes)"
  elif ! awk '{ print $1 }' <<<"$nodes" | grep -qxF "$ES_NODE_NAME"; then
    echo "node $ES_NODE_NAME is not in _cat/nodes (has: $(tr -s '[:space:]' ' ' <<<"$nodes"))"
  # languid: after every pending cluster-state task, so a reroute queued when the node rejoined has assigned (and
  # started initializing) its shards before the counts below are read.
  elif ! health=$(get "$local_url/_cluster/health?wait_for_events=languid&timeout=4s" --fail-with-body 2>&1); then
    echo "no _cluster/health answer ($health)"
  elif ! [[ $health =~ \"status\":\"(green|yellow)\" ]]; then
    echo "cluster health is not green or yellow: $health"
  elif ! [[ $health =~ \"relocating_shards\":0[,}] ]]; then
    echo "shards are relocating: $health"
  elif ! [[ $health =~ \"initializing_shards\":0[,}] ]]; then
    echo "shards are initializing (recovering): $health"
  elif [[ $health =~ \"delayed_unassigned_shards\":[1-9] ]]; then
    echo "shards wait for a node that left (delayed allocation): $health"
  fi
}

deadline=$((SECONDS + timeout))
while :; do
  gap=$(missing)
  if [[ -z $gap ]]; then
    echo "gate: $ES_NODE_NAME is in the cluster, which is green or yellow with no shard relocating, initializing or delayed"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "gate: $ES_NODE_NAME (${HOST_PRIVATE_IP:-?}) after ${timeout}s: $gap" >&2
    exit 1
  fi
  sleep "$interval"
done
