#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# One-shot Elasticsearch setup, before the aggregator writes: the shared component templates, then per dataset
# (one file in index-templates/) an ILM policy and an index template of the same name. Every call PUTs a whole
# object, so a re-run is idempotent. Any failure exits 1 with Elasticsearch's answer.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

: "${ES_URL:?ES_URL is required}"
: "${ES_RETENTION_DAYS:?ES_RETENTION_DAYS is required}"
case $ES_RETENTION_DAYS in
  '' | *[!0-9]* | 0)
    echo "setup: ES_RETENTION_DAYS must be a positive whole number of days, got '$ES_RETENTION_DAYS'" >&2
    exit 1
    ;;
esac

put_json() {
  http PUT "$ES_URL/$1" -H 'Content-Type: application/json' --data-binary "$2" >/dev/null
  echo "setup: PUT /$1"
}

for file in "$here"/component-templates/*.json; do
  put_json "_component_template/$(basename "$file" .json)" "@$file"
done

policy=$(sed 's/[$]{ES_RETENTION_DAYS}/'"$ES_RETENTION_DAYS"'/g' "$here/ilm-policy.json")
for file in "$here"/index-templates/*.json; do
  dataset=$(basename "$file" .json)
  # The template names this policy in index.lifecycle.name (a contract test checks that they match).
  put_json "_ilm/policy/$dataset" "$policy"
  put_json "_index_template/$dataset" "@$file"
done
echo "setup: done (retention ${ES_RETENTION_DAYS}d)"
