#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# One-shot Elasticsearch setup, before the aggregator writes: once the cluster answers yellow, the shared component
# templates (shard and replica counts from the env), then per dataset (one file in index-templates/) an ILM policy
# and an index template of the same name, and the replica count of the dataset's existing indices. Every call PUTs
# a whole object or a setting, so a re-run is idempotent. Any failure exits 1 with Elasticsearch's answer.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

: "${ES_URL:?ES_URL is required}"
: "${ES_RETENTION_DAYS:?ES_RETENTION_DAYS is required}"
: "${ES_SHARDS:?ES_SHARDS is required}"
: "${ES_REPLICAS:?ES_REPLICAS is required}"
: "${ES_CA:?ES_CA (the CA certificate file) is required}"
: "${ES_PASSWORD_PLATFORM_SETUP:?ES_PASSWORD_PLATFORM_SETUP is required}"
case $ES_RETENTION_DAYS in
  '' | *[!0-9]* | 0)
    echo "setup: ES_RETENTION_DAYS must be a positive whole number of days, got '$ES_RETENTION_DAYS'" >&2
    exit 1
    ;;
esac
case $ES_SHARDS in
  '' | *[!0-9]* | 0)
    echo "setup: ES_SHARDS must be a positive whole number, got '$ES_SHARDS'" >&2
    exit 1
    ;;
esac
case $ES_REPLICAS in
  '' | *[!0-9]*)
    echo "setup: ES_REPLICAS must be a whole number (0 or more), got '$ES_REPLICAS'" >&2
    exit 1
    ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# As platform-setup (role platform_setup), trusting the program's CA.
login_config platform-setup "$ES_PASSWORD_PLATFORM_SETUP" "$work/curlrc"

put_json() {
  http PUT "$ES_URL/$1" -K "$work/curlrc" -H 'Content-Type: application/json' --data-binary "$2" >/dev/null
  echo "setup: PUT /$1"
}

# A cluster node is healthy as soon as it answers HTTP, before the cluster has formed; templates need a master.
# A 408 (not yellow within the timeout) or 503 (no master yet) is retried by http's curl.
http GET "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=50s" -K "$work/curlrc" >/dev/null
echo "setup: cluster is yellow or green"

for file in "$here"/component-templates/*.json; do
  template=$(sed -e 's/[$]{ES_SHARDS}/'"$ES_SHARDS"'/g' -e 's/[$]{ES_REPLICAS}/'"$ES_REPLICAS"'/g' "$file")
  put_json "_component_template/$(basename "$file" .json)" "$template"
done

policy=$(sed 's/[$]{ES_RETENTION_DAYS}/'"$ES_RETENTION_DAYS"'/g' "$here/ilm-policy.json")
# The delay before a departed node's replicas are rebuilt elsewhere, as the component template sets it.
node_left_delay=$(sed -n 's/.*"index[.]unassigned[.]node_left[.]delayed_timeout": *"\([^"]*\)".*/\1/p' "$here/component-templates/pipeline-logs.json")
for file in "$here"/index-templates/*.json; do
  dataset=$(basename "$file" .json)
  # The template names this policy in index.lifecycle.name (a contract test checks that they match).
  put_json "_ilm/policy/$dataset" "$policy"
  put_json "_index_template/$dataset" "@$file"
  # Templates shape new indices only: a grown cluster also gives the existing ones their replicas, and indices made
  # before the delay was in the template get it. A new cluster has none yet, which this API refuses unless
  # allow_no_indices is set.
  put_json "$dataset-*/_settings?allow_no_indices=true" '{"index.number_of_replicas":'"$ES_REPLICAS"',"index.unassigned.node_left.delayed_timeout":"'"$node_left_delay"'"}'
done
echo "setup: done (retention ${ES_RETENTION_DAYS}d, ${ES_SHARDS} shard(s), ${ES_REPLICAS} replica(s))"
