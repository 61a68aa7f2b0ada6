#!/usr/bin/env bash
# Shard allocation around a member's restart in the roll, run on the host from the bundle folder, as elastic:
#   bash cluster/allocation.sh primaries   before this member's node restarts
#   bash cluster/allocation.sh all         once it is back, before its gate
# Elastic's rolling restart (Elasticsearch 8.19 docs, "Full-cluster restart and rolling restart procedures", rolling
# restart steps 1, 6 and 7): limit allocation to primaries before a node stops, so the cluster does not rebuild the
# replicas it held elsewhere (I/O for nothing, since the node comes back with its copies); once the node has rejoined,
# remove the setting so they recover onto it; then wait for the cluster's health before the next node (the gate).
# The setting is persistent, as in those steps (transient settings are deprecated), and the roll owns it: `primaries`
# sets cluster.routing.allocation.enable=primaries, `all` removes it (null: the default, all).
#
# Fails closed, asking again until ES_ALLOCATION_TIMEOUT seconds have passed, then failing with one line naming the
# member and what was missing: the setting must be confirmed by a GET _cluster/settings after the PUT. With no formed
# cluster among the members (a first deploy: no node yet, or founding nodes answering "_na_") there is nothing to
# limit or lift, and the script says so and passes; a member answering without a cluster UUID (a 401) is waited out,
# since it may be a formed cluster's node whose security is not ready.
#
# `all` first waits until this member's node is in the formed cluster (up to ES_ALLOCATION_JOIN_TIMEOUT seconds, 180
# by default, within the overall bound of 300), so its replicas recover onto it rather than elsewhere; if it has not joined by then, the
# limit is lifted anyway (the cluster must be free to rebuild those replicas elsewhere) and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/common.sh
. cluster/common.sh

mode=${1:-}
case $mode in
  primaries) value='"primaries"' ;;
  all) value=null ;;
  *)
    echo "usage: bash cluster/allocation.sh primaries|all" >&2
    exit 2
    ;;
esac
timeout=${ES_ALLOCATION_TIMEOUT:-300}
interval=${ES_ALLOCATION_INTERVAL:-5}
join_timeout=${ES_ALLOCATION_JOIN_TIMEOUT:-180}
begun=$SECONDS

# The effective cluster.routing.allocation.enable of the cluster behind $1, as "persistent=<value> transient=<value>"
# ("-" where unset); empty on any error.
current() {
  local settings persistent transient
  settings=$(get "$1/_cluster/settings?flat_settings=true" --fail-with-body 2>/dev/null) || return 0
  persistent=$(sed -n 's/.*"persistent":{[^}]*"cluster\.routing\.allocation\.enable":"\([a-z_]*\)".*/\1/p' <<<"$settings")
  transient=$(sed -n 's/.*"transient":{[^}]*"cluster\.routing\.allocation\.enable":"\([a-z_]*\)".*/\1/p' <<<"$settings")
  echo "persistent=${persistent:--} transient=${transient:--}"
}

# One attempt. Prints "done <what was done>", "fail <why>" (lifted without the node: no retry) or "wait <what is
# missing>".
attempt() {
  local code uuid nodes put want
  scan_clear || return 0
  if [[ -z $formed_url ]]; then
    if [[ $mode == all ]]; then
      # After this member's node step: its node answers (the compose healthcheck waited for that).
      read -r code uuid <<<"$(answer "$local_url")"
      if [[ $code != 200 || $uuid != _na_ ]]; then
        echo "wait no member reports a formed cluster, and this node answers elastic with $code, not 200 and cluster UUID _na_"
        return
      fi
    fi
    echo "done no member reports a formed cluster ($unformed of ${#members[@]} answer, none formed): nothing to $([[ $mode == all ]] && echo lift || echo limit)"
    return
  fi
  local joined=yes
  if [[ $mode == all ]]; then
    nodes=$(get "$formed_url/_cat/nodes?h=name" --fail-with-body 2>&1) || nodes=""
    if ! awk '{ print $1 }' <<<"$nodes" | grep -qxF "$ES_NODE_NAME"; then
      if ((SECONDS - begun < join_timeout)); then
        echo "wait node $ES_NODE_NAME is not in the cluster yet (${formed_url#https://} lists: $(oneline "$nodes"))"
        return
      fi
      joined=no
    fi
  fi
  if ! put=$(get "$formed_url/_cluster/settings" -X PUT -H 'Content-Type: application/json' --fail-with-body \
    -d "{\"persistent\":{\"cluster.routing.allocation.enable\":$value}}" 2>&1); then
    echo "wait PUT _cluster/settings on ${formed_url#https://} failed: $(oneline "$put")"
    return
  fi
  # A transient value would override the persistent one: the roll leaves it to whoever set it, and fails.
  want="persistent=$([[ $mode == all ]] && echo - || echo primaries) transient=-"
  local now
  now=$(current "$formed_url")
  if [[ $now != "$want" ]]; then
    echo "wait cluster.routing.allocation.enable reads ${now:-nothing (no answer)} after the PUT, not $want"
  elif [[ $joined == no ]]; then
    echo "fail node $ES_NODE_NAME did not join the cluster within ${join_timeout}s; shard allocation is lifted anyway (all), so the cluster may rebuild its replicas elsewhere"
  elif [[ $mode == all ]]; then
    echo "done node $ES_NODE_NAME is in the cluster; cluster.routing.allocation.enable removed (all)"
  else
    echo "done cluster.routing.allocation.enable=primaries (persistent) before $ES_NODE_NAME restarts"
  fi
}

deadline=$((begun + timeout))
while :; do
  result=$(attempt)
  case $result in
    done\ *)
      echo "allocation: $ES_NODE_NAME: ${result#done }"
      exit 0
      ;;
    fail\ *)
      echo "allocation: $ES_NODE_NAME (${HOST_PRIVATE_IP:-?}): ${result#fail }" >&2
      exit 1
      ;;
  esac
  if ((SECONDS >= deadline)); then
    echo "allocation: $ES_NODE_NAME (${HOST_PRIVATE_IP:-?}) $mode after ${timeout}s: ${result#wait }" >&2
    exit 1
  fi
  sleep "$interval"
done
