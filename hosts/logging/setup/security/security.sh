#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# One-shot, as the `elastic` superuser, before any other client: the platform's roles (roles/<name>.json), its native
# users (users) and Kibana's built-in kibana_system account, with the passwords the program generated. Every call PUTs
# a whole role or user, or sets a password, so each deploy brings Elasticsearch back to the program's values. elastic's
# own password is the one the nodes bootstrap with (ELASTIC_PASSWORD, the same ES_PASSWORD_ELASTIC), never changed here.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"

: "${ES_URL:?ES_URL is required}"
: "${ES_CA:?ES_CA (the CA certificate file) is required}"

# ES_PASSWORD_<USER> (upper case, - as _), as components/credentials/elasticsearch.ts names it; letters and digits only, so it
# goes into JSON unescaped.
password_for() {
  variable=ES_PASSWORD_$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
  value=$(printenv "$variable" || true)
  case $value in
    '' | *[!A-Za-z0-9]*)
      echo "security: $variable must be set to letters and digits only (the password of $1)" >&2
      exit 1
      ;;
  esac
  if [ "${#value}" -lt 20 ]; then
    echo "security: $variable is ${#value} characters long, expected at least 20" >&2
    exit 1
  fi
  printf '%s' "$value"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Credentials and bodies with passwords go through files, not the command line (visible in ps).
elastic=$(password_for elastic)
login_config elastic "$elastic" "$work/curlrc"

send() {
  http "$1" "$ES_URL/$2" -K "$work/curlrc" -H 'Content-Type: application/json' --data-binary "@$3" >/dev/null
  echo "security: $1 /$2"
}

for file in "$here"/roles/*.json; do
  send PUT "_security/role/$(basename "$file" .json)" "$file"
done

grep -v '^#' "$here/users" | while read -r user roles; do
  [ -n "$user" ] || continue
  password=$(password_for "$user")
  printf '{"password":"%s","roles":["%s"]}' "$password" "$(printf '%s' "$roles" | sed 's/,/","/g')" >"$work/user.json"
  send PUT "_security/user/$user" "$work/user.json"
done

password=$(password_for kibana_system)
printf '{"password":"%s"}' "$password" >"$work/password.json"
send POST _security/user/kibana_system/_password "$work/password.json"
echo "security: done"
