#!/usr/bin/env bash
# Cluster roll gate, run on the host from the bundle folder (`bash cluster/gate.sh`) after this member's node has
# started and before the next member's. It fails closed: it passes only on evidence that this member's node is in a
# healthy cluster, or, on a new cluster, that it is founding one; anything else (no answer, a 401, an error) is
# asked again until ES_GATE_TIMEOUT seconds have passed, then the gate fails with one line naming the member and what
# was missing.
#
# A formed cluster (a member reports its UUID): passes once this node is in it and the cluster is green or yellow with
# no shard relocating, initializing or waiting for a node to come back (a copy still recovering onto this node is not
# yet one the next restart can lean on). Members that report two different clusters never pass.
#
# A first formation: the roll starts the members one by one on a first deploy too, and the first member of a new
# cluster cannot form it alone (a quorum of the initial master nodes must be up), so its gate passes when all of this
# holds, and only then:
# - no member reports a formed cluster, and every member that answers does so as elastic with a 200 and "_na_": a 401
#   tells nothing (a node of a formed cluster answers elastic with 401 for a few seconds after a restart, until its
#   security index is ready), so it is waited out;
# - fewer than a quorum of the members answer (once a quorum of founding nodes is up they form the cluster within
#   seconds, and the gate waits for that);
# - this node answers elastic with a 200 and "_na_";
# - this node's data path holds start.sh's .platform-founding marker (start.sh bootstrapped it with
#   cluster.initial_master_nodes) and not the healthcheck's .platform-cluster-formed (it has never been in a formed
#   cluster: a node that has been and now sees none is a cluster that lost its quorum, not a new one). The markers
#   are read in the node's container (`docker compose exec elasticsearch`: the es-data volume is only mounted there).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/common.sh
. cluster/common.sh

timeout=${ES_GATE_TIMEOUT:-600}
interval=${ES_GATE_INTERVAL:-5}

# This node's data path markers, read in its container: "formed", "founding" or "none"; anything else is an error
# (the container is not running, docker failed...).
data_markers() {
  # shellcheck disable=SC2016 # expanded by the container's sh
  "${docker[@]}" compose exec -T elasticsearch sh -c 'cd "${ES_DATA_DIR:-/usr/share/elasticsearch/data}" &&
    if [ -e .platform-cluster-formed ]; then echo formed; elif [ -e .platform-founding ]; then echo founding; else echo none; fi' 2>&1 || true
}

# One look at the cluster. Prints "pass <why>" when the gate may pass, else "wait <what is missing>".
check() {
  local code uuid markers nodes health
  scan_clear || return 0
  if [[ -z $formed_url ]]; then
    if ((unformed >= quorum)); then
      echo "wait no member reports a formed cluster, though $unformed of ${#members[@]} answer (a quorum is $quorum)"
      return
    fi
    read -r code uuid <<<"$(answer "$local_url")"
    if [[ $code == 000 ]]; then
      echo "wait no member reports a formed cluster, and this node does not answer"
      return
    elif [[ $code != 200 || $uuid != _na_ ]]; then
      echo "wait no member reports a formed cluster, and this node answers elastic with $code, not 200 and cluster UUID _na_"
      return
    fi
    markers=$(data_markers)
    case $markers in
      founding)
        echo "pass $ES_NODE_NAME: no member reports a formed cluster and $unformed of ${#members[@]} answer, fewer than a quorum ($quorum); this node bootstraps it (founding, never formed): first formation, passing"
        ;;
      formed)
        echo "wait no member reports a formed cluster, but this node's data path is marked formed (.platform-cluster-formed): it has been in a cluster, which has lost its quorum; not a first formation"
        ;;
      none)
        echo "wait no member reports a formed cluster, and this node's data path has no founding marker (.platform-founding): it does not bootstrap a new cluster"
        ;;
      *)
        echo "wait no member reports a formed cluster, and this node's data path markers cannot be read: $(oneline "$markers")"
        ;;
    esac
    return
  fi
  if ! nodes=$(get "$local_url/_cat/nodes?h=name" --fail-with-body 2>&1); then
    echo "wait no cluster answer from this node ($(oneline "$nodes"))"
  elif ! awk '{ print $1 }' <<<"$nodes" | grep -qxF "$ES_NODE_NAME"; then
    echo "wait node $ES_NODE_NAME is not in _cat/nodes (has: $(oneline "$nodes"))"
  # languid: after every pending cluster-state task, so a reroute queued when the node rejoined has assigned (and
  # started initializing) its shards before the counts below are read.
  elif ! health=$(get "$local_url/_cluster/health?wait_for_events=languid&timeout=4s" --fail-with-body 2>&1); then
    echo "wait no _cluster/health answer ($health)"
  elif ! [[ $health =~ \"status\":\"(green|yellow)\" ]]; then
    echo "wait cluster health is not green or yellow: $health"
  elif ! [[ $health =~ \"relocating_shards\":0[,}] ]]; then
    echo "wait shards are relocating: $health"
  elif ! [[ $health =~ \"initializing_shards\":0[,}] ]]; then
    echo "wait shards are initializing (recovering): $health"
  elif [[ $health =~ \"delayed_unassigned_shards\":[1-9] ]]; then
    echo "wait shards wait for a node that left (delayed allocation): $health"
  else
    echo "pass $ES_NODE_NAME is in the cluster, which is green or yellow with no shard relocating, initializing or delayed"
  fi
}

deadline=$((SECONDS + timeout))
while :; do
  verdict=$(check)
  if [[ $verdict == pass\ * ]]; then
    echo "gate: ${verdict#pass }"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "gate: $ES_NODE_NAME (${HOST_PRIVATE_IP:-?}) after ${timeout}s: ${verdict#wait }" >&2
    exit 1
  fi
  sleep "$interval"
done
