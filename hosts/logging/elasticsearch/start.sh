#!/usr/bin/env bash
# The Elasticsearch container's entrypoint: turns the member's .env values into node settings, then execs its
# arguments (the image's own ENTRYPOINT and CMD). The image reads settings from dotted environment variables; only
# the settings that apply are passed, through `env` because bash cannot export a dotted name.
set -euo pipefail

: "${ES_NODE_NAME:?ES_NODE_NAME is required}"
data_dir=${ES_DATA_DIR:-/usr/share/elasticsearch/data}
http_port=${ES_HTTP_PORT:-9200}
ca=${ES_CA:-/usr/share/elasticsearch/config/certs/ca.crt}

settings=("node.name=$ES_NODE_NAME")
if [[ -z ${ES_SEED_HOSTS:-} ]]; then
  # One node: it elects itself and never joins another (the platform's single-node layout).
  settings+=("discovery.type=single-node")
  exec env "${settings[@]}" "$@"
fi

for key in ES_INITIAL_MASTER_NODES ES_CLUSTER_MEMBERS HOST_PRIVATE_IP HOST_ZONE; do
  if [[ -z ${!key:-} ]]; then
    echo "start: $key is empty; a node of a cluster (ES_SEED_HOSTS='$ES_SEED_HOSTS') needs it" >&2
    exit 1
  fi
done

# True when another member answers with the UUID of a formed cluster ("_na_" until a master is elected). Asked as
# elastic over HTTPS (the image's ELASTIC_PASSWORD, on curl's stdin); any answer without a UUID, a 401 included,
# is a node that is there but reports no formed cluster.
peer_formed() {
  local ip answer members
  : "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is required to ask the other members}"
  IFS=, read -r -a members <<<"$ES_CLUSTER_MEMBERS"
  for ip in "${members[@]}"; do
    [[ $ip == "$HOST_PRIVATE_IP" ]] && continue
    answer=$(printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" | curl -sS -K - --cacert "$ca" --max-time 3 "https://$ip:$http_port/" 2>/dev/null) || continue
    if [[ $answer =~ \"cluster_uuid\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" && ${BASH_REMATCH[1]} != "_na_" ]]; then
      echo "start: $ip is in formed cluster ${BASH_REMATCH[1]}" >&2
      return 0
    fi
  done
  return 1
}

settings+=(
  "discovery.seed_hosts=$ES_SEED_HOSTS"
  # The host's address: the container's own is not reachable from the other hosts; 9300 is published.
  "network.publish_host=$HOST_PRIVATE_IP"
  "node.attr.zone=$HOST_ZONE"
  # A replica never lands in its primary's zone while another zone has a node.
  "cluster.routing.allocation.awareness.attributes=zone"
)
# Elastic: set cluster.initial_master_nodes only for a new cluster's first formation, never on a node of a formed
# one. Elasticsearch writes _state at a node's first start, formed or not, so two markers in the data path tell the
# cases apart: .platform-founding, written here when this node bootstraps, and .platform-cluster-formed, written by
# the healthcheck once the node reports a formed cluster. A founding node restarted before the formation keeps
# bootstrapping; a node that was ever formed (or ran as a single node, or joined) never does again.
formed_marker=$data_dir/.platform-cluster-formed
founding_marker=$data_dir/.platform-founding
if [[ -e $formed_marker ]]; then
  echo "start: this node has been in a formed cluster; restarting in it" >&2
elif [[ -d $data_dir/_state && ! -e $founding_marker ]]; then
  echo "start: $data_dir holds the state of a cluster it did not found (a single node grown, or a node that joined); restarting in it" >&2
elif peer_formed; then
  echo "start: joining the formed cluster" >&2
else
  echo "start: no formed cluster among $ES_CLUSTER_MEMBERS and none in this data path; bootstrapping with $ES_INITIAL_MASTER_NODES" >&2
  touch "$founding_marker"
  settings+=("cluster.initial_master_nodes=$ES_INITIAL_MASTER_NODES")
fi
exec env "${settings[@]}" "$@"
