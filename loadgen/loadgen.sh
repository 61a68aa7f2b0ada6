#!/bin/sh
# Load generator for the API gateway (runs in the curl image: busybox sh + curl). Every second it starts one curl
# process that sends LOADGEN_REQUESTS_PER_SECOND requests in parallel, cycling through a mix of methods, routes,
# bad routes, bodies (small, large, over the gateway's limit), query strings, user agents and X-Forwarded-For
# client addresses. Stops promptly on SIGTERM/SIGINT.
#
# Environment:
#   LOADGEN_TARGET_URL           gateway base URL (default http://gateway)
#   LOADGEN_REQUESTS_PER_SECOND  positive integer (default 5)
#   LOADGEN_MAX_REQUESTS         stop after this many requests; 0 = run until stopped (default 0)
#   LOADGEN_CLIENT_IPS           space-separated client addresses sent as X-Forwarded-For (default: documentation
#                                ranges, IPv4 and IPv6)
#   LOADGEN_HEARTBEAT_FILE       touched every second, read by the healthcheck (default /tmp/loadgen.heartbeat)
#   LOADGEN_MAX_TIME             per-request timeout in seconds (default 8)
set -eu

target=${LOADGEN_TARGET_URL:-http://gateway}
rate=${LOADGEN_REQUESTS_PER_SECOND:-5}
max_requests=${LOADGEN_MAX_REQUESTS:-0}
client_ips=${LOADGEN_CLIENT_IPS:-203.0.113.10 203.0.113.77 198.51.100.23 198.51.100.142 192.0.2.45 2001:db8::1f 2001:db8:85a3::8a2e:370:7334}
heartbeat=${LOADGEN_HEARTBEAT_FILE:-/tmp/loadgen.heartbeat}
max_time=${LOADGEN_MAX_TIME:-8}

is_count() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}
for setting in "LOADGEN_REQUESTS_PER_SECOND=$rate" "LOADGEN_MAX_REQUESTS=$max_requests" "LOADGEN_MAX_TIME=$max_time"; do
    if ! is_count "${setting#*=}"; then
        echo "loadgen: ${setting%%=*} must be a non-negative integer, got '${setting#*=}'" >&2
        exit 64
    fi
done
if [ "$rate" -eq 0 ]; then
    echo "loadgen: LOADGEN_REQUESTS_PER_SECOND must be at least 1" >&2
    exit 64
fi

ip_count=0
for _ in $client_ips; do
    ip_count=$((ip_count + 1))
done
if [ "$ip_count" -eq 0 ]; then
    echo "loadgen: LOADGEN_CLIENT_IPS is empty" >&2
    exit 64
fi

sent=0
batch_pid=""
previous_pid=""
sleep_pid=""
work_dir=""

stop() {
    trap - TERM INT
    for pid in $batch_pid $previous_pid $sleep_pid; do
        kill "$pid" 2>/dev/null || true
    done
    if [ -n "$work_dir" ]; then rm -rf "$work_dir"; fi
    echo "loadgen: stopped after $sent requests"
    exit 0
}
trap stop TERM INT

# Request bodies: a large one the gateway accepts (256 KiB) and one over its 1 MiB limit (413).
work_dir=$(mktemp -d)
large_body=$work_dir/large.json
oversized_body=$work_dir/oversized.json
make_body() { # <file> <bytes of padding>
    { printf '{"note":"'; head -c "$2" /dev/zero | tr '\0' 'x'; printf '"}'; } >"$1"
}
make_body "$large_body" 262144
make_body "$oversized_body" 1572864

# Sets client_ip to address number $1 (from 0) of client_ips, without a subshell.
pick_client_ip() {
    i=0
    for client_ip in $client_ips; do
        if [ "$i" -eq "$1" ]; then
            return 0
        fi
        i=$((i + 1))
    done
}

# Starts one curl process (in the background, pid in batch_pid) sending requests number $1 .. $1+$2-1.
start_batch() {
    first=$1
    count=$2
    set -- --no-progress-meter --parallel --parallel-max "$count"
    k=$first
    while [ "$k" -lt $((first + count)) ]; do
        if [ "$k" -gt "$first" ]; then
            set -- "$@" --next
        fi
        id=$((k % 9000 + 1000))
        method=GET
        path=/api/users
        data=""
        case $((k % 18)) in
            0) path=/api/users ;;
            1) path="/api/users/$id?fields=name,email" ;;
            2) method=POST data='{"name":"Ada Lovelace","email":"ada@example.com"}' ;;
            3) method=PUT path=/api/users/$id data='{"email":"ada@example.org"}' ;;
            4) method=DELETE path=/api/users/$id ;;
            5) path="/api/orders?status=open&page=2&per_page=50" ;;
            6) method=POST path=/api/orders data=@$large_body ;;
            7) path=/api/orders/$id ;;
            8) method=PATCH path=/api/orders/$id data='{"status":"shipped"}' ;;
            9) method=POST path=/api/payments data='{"order_id":'"$id"',"amount":42.50,"currency":"EUR"}' ;;
            10) path="/api/payments/$id?expand=refunds" ;;
            11) path=/health ;;
            12) path=/api/unknown ;;
            13) path=/admin/../etc/passwd ;;
            14) method=PUT path=/api/payments/$id data=@$oversized_body ;;
            15) method=HEAD path=/api/users ;;
            16) path="/api/users?q=ada%20lovelace&sort=-created_at" ;;
            17) method=OPTIONS path=/api/orders ;;
        esac
        case $((k % 5)) in
            0) agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36" ;;
            1) agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1" ;;
            2) agent="okhttp/4.12.0" ;;
            3) agent="python-requests/2.31.0" ;;
            4) agent="loadgen/1.0 (curl)" ;;
        esac
        pick_client_ip $((k % ip_count))
        set -- "$@" --output /dev/null --max-time "$max_time" --globoff --path-as-is \
            --user-agent "$agent" --header "X-Forwarded-For: $client_ip"
        case $method in
            GET) ;;
            HEAD) set -- "$@" --head ;;
            *) set -- "$@" --request "$method" ;;
        esac
        if [ -n "$data" ]; then
            set -- "$@" --header "Content-Type: application/json" --data-binary "$data"
        fi
        set -- "$@" "$target$path"
        k=$((k + 1))
    done
    # Error statuses are the point of the mix; curl prints only transport failures.
    curl "$@" &
    batch_pid=$!
}

echo "loadgen: $rate requests/s to $target, limit $max_requests requests (0 = none)"
while [ "$max_requests" -eq 0 ] || [ "$sent" -lt "$max_requests" ]; do
    count=$rate
    if [ "$max_requests" -gt 0 ] && [ $((max_requests - sent)) -lt "$count" ]; then
        count=$((max_requests - sent))
    fi
    start_batch "$sent" "$count"
    sent=$((sent + count))
    touch "$heartbeat"
    # Background sleep + wait: a signal interrupts `wait` at once, where it would wait for a foreground sleep.
    sleep 1 &
    sleep_pid=$!
    wait "$sleep_pid" || true
    sleep_pid=""
    # A batch gets two seconds before the loop waits for it (slow responses may overlap the next second).
    if [ -n "$previous_pid" ]; then
        wait "$previous_pid" || true
    fi
    previous_pid=$batch_pid
    batch_pid=""
done
if [ -n "$previous_pid" ]; then
    wait "$previous_pid" || true
fi
rm -rf "$work_dir"
echo "loadgen: done after $sent requests"
