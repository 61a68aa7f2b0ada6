# shellcheck shell=bash disable=SC2034 # the variables set here are read by the scripts that source this one
# Sourced by cluster/gate.sh and cluster/allocation.sh, which run on the host from the bundle folder: the member's .env,
# how to ask a node as elastic, and what every member answers on GET /.

set -a
# The rendered .env exists only on the host.
# shellcheck source=/dev/null
. ./.env
set +a

port=${ES_HTTP_PORT:-9200}
# This member's own node, published on the host's loopback; ES_GATE_LOCAL_URL points elsewhere (a test whose nodes
# listen on other loopback addresses).
local_url=${ES_GATE_LOCAL_URL:-https://127.0.0.1:$port}
read -r -a docker <<<"${DOCKER:-sudo docker}"
: "${ES_PASSWORD_ELASTIC:?ES_PASSWORD_ELASTIC is required (.env)}"
: "${ES_NODE_NAME:?ES_NODE_NAME is required (.env)}"
IFS=, read -r -a members <<<"${ES_CLUSTER_MEMBERS:?ES_CLUSTER_MEMBERS is required (.env)}"
quorum=$((${#members[@]} / 2 + 1))

# A call as elastic over HTTPS trusting the program's CA (tls/ca.crt here, its copy in the node container), with the
# host's curl or else the node container's; the credentials go on curl's stdin. Extra curl options follow the URL.
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

# $1 on one line, for a one-line failure.
oneline() {
  tr -s '[:space:]' ' ' <<<"$1" | sed 's/^ //; s/ $//'
}

# A node's answer to GET / as elastic: "<HTTP status> <cluster UUID>". The status is 000 without an answer; the UUID
# is "_na_" while the node is in no formed cluster, "-" for anything but a 200 that names one. A 401 tells nothing of
# the cluster: a node of a formed cluster answers elastic with 401 until its security index is ready.
answer() {
  local out code
  out=$(get "$1/" -w '\n%{http_code}' 2>/dev/null) || true
  code=${out##*$'\n'}
  [[ $code =~ ^[0-9]{3}$ ]] || code=000
  if [[ $code == 200 && $out =~ \"cluster_uuid\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]]; then
    echo "200 ${BASH_REMATCH[1]}"
  else
    echo "$code -"
  fi
}

# Asks every member's node and sets: `formed_url`, a member that reports a formed cluster (empty if none does);
# `clusters`, each formed cluster's UUID and the members in it; `unformed`, how many answer elastic with no formed
# cluster (_na_); `unclear`, the members that answer otherwise (a 401...) with their status. A member that does not
# answer counts nowhere.
scan() {
  local ip code uuid
  formed_url="" clusters=() unformed=0 unclear=()
  declare -gA in_cluster=()
  for ip in "${members[@]}"; do
    read -r code uuid <<<"$(answer "https://$ip:$port")"
    if [[ $code == 200 && $uuid == _na_ ]]; then
      unformed=$((unformed + 1))
    elif [[ $code == 200 && $uuid != - ]]; then
      [[ -n $formed_url ]] || formed_url="https://$ip:$port"
      in_cluster[$uuid]+="${in_cluster[$uuid]:+,}$ip"
    elif [[ $code != 000 ]]; then
      unclear+=("$ip ($code)")
    fi
  done
  for uuid in "${!in_cluster[@]}"; do
    clusters+=("$uuid: ${in_cluster[$uuid]}")
  done
  return 0
}

# Scans the members; when their answers cannot be taken as they are (two clusters, or none formed while some answer
# elastic otherwise than with a cluster UUID), prints "wait <why>" and fails.
scan_clear() {
  scan
  if ((${#clusters[@]} > 1)); then
    echo "wait members report different clusters: ${clusters[*]}"
    return 1
  elif [[ -z $formed_url ]] && ((${#unclear[@]})); then
    echo "wait no member reports a formed cluster, and ${unclear[*]} answer(s) elastic without a cluster UUID (a formed cluster's node answers 401 until its security index is ready): not a first formation"
    return 1
  fi
}
