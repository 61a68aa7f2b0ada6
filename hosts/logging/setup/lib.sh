# shellcheck shell=sh
# Shared by setup.sh, security/security.sh and kibana-import.sh (sourced): one HTTP call that fails loudly, and
# the curl config that logs in.

# http METHOD URL [curl options...]: prints the response body. Any non-2xx answer, or none, prints the method,
# URL and body to stderr and exits 1. Transient failures (refused connection, 5xx) are retried a few times.
http() {
  method=$1
  url=$2
  shift 2
  if ! body=$(curl -sS --fail-with-body --retry 5 --retry-connrefused --retry-delay 3 -X "$method" "$@" "$url" 2>&1); then
    printf '%s %s failed: %s\n' "$method" "$url" "$body" >&2
    exit 1
  fi
  printf '%s\n' "$body"
}

# login_config USER PASSWORD FILE: writes a curl config that logs in as USER and, with ES_CA set, trusts that CA
# only. Credentials go through the file, never curl's command line (visible in ps); pass it with `-K FILE`.
login_config() {
  printf 'user = "%s:%s"\n' "$1" "$2" >"$3"
  if [ -n "${ES_CA:-}" ]; then printf 'cacert = "%s"\n' "$ES_CA" >>"$3"; fi
}
