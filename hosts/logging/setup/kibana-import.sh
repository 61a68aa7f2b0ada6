#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# One-shot Kibana import of every saved-object file (NDJSON) with overwrite. Exits 1, printing Kibana's answer,
# unless the import reports "success":true and no errors.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

: "${KIBANA_URL:?KIBANA_URL is required}"
: "${SAVED_OBJECTS_DIR:?SAVED_OBJECTS_DIR is required}"
: "${ES_PASSWORD_KIBANA_IMPORT:?ES_PASSWORD_KIBANA_IMPORT is required}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bundle=$work/saved-objects.ndjson
# As kibana-import (Elastic's kibana_admin role).
login_config kibana-import "$ES_PASSWORD_KIBANA_IMPORT" "$work/curlrc"
count=0
for file in "$SAVED_OBJECTS_DIR"/*.ndjson; do
  [ -e "$file" ] || continue
  # One upload for all files, so references between files resolve inside the same import; awk drops blank lines
  # and ends every line with a newline.
  awk 'NF' "$file" >>"$bundle"
  count=$((count + 1))
done
if [ "$count" -eq 0 ]; then
  echo "kibana-import: no *.ndjson file in $SAVED_OBJECTS_DIR" >&2
  exit 1
fi

response=$(http POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" -K "$work/curlrc" \
  -H 'kbn-xsrf: true' --form "file=@$bundle;filename=saved-objects.ndjson")
case $response in
  *'"errors"'* | *'"success":false'*) ok=no ;;
  *'"success":true'*) ok=yes ;;
  *) ok=no ;;
esac
if [ "$ok" != yes ]; then
  printf 'kibana-import: import of %s file(s) failed: %s\n' "$count" "$response" >&2
  exit 1
fi
echo "kibana-import: imported $count file(s): $response"
