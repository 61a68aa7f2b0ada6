#!/usr/bin/env bash
# Deploy check, one stage per host in the order a log travels: web (gateway log, forwarder output), kafka (topic),
# logging (aggregator, index). The program runs it from each bundle folder as `bash checks/pipeline.sh`; the host's
# role comes from its .env. Each stage waits up to PIPELINE_CHECK_TIMEOUT seconds, then fails with one line naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# The rendered .env exists only on the host.
# shellcheck source=/dev/null
. ./.env
set +a

timeout=${PIPELINE_CHECK_TIMEOUT:-180}
read -r -a docker <<<"${DOCKER:-sudo docker}"
# The forwarder's and the aggregator's metrics (PORTS.forwarderMetrics and PORTS.aggregatorMetrics).
forwarder_metrics=${FORWARDER_METRICS_URL:-http://127.0.0.1:2021}/api/v2/metrics/prometheus
aggregator_metrics=${AGGREGATOR_METRICS_URL:-http://127.0.0.1:2020}/api/v2/metrics/prometheus
es_url=${ELASTICSEARCH_LOCAL_URL:-https://127.0.0.1:9200}
es_ca=${ELASTICSEARCH_CA:-tls/ca.crt}

# Prints the first positive count within the time limit, or fails with one line naming the stage.
wait_for() {
  local stage=$1 hint=$2 probe=$3 count deadline=$((SECONDS + timeout))
  while :; do
    count=$($probe 2>/dev/null || true)
    if [[ $count =~ ^[0-9]+$ ]] && (( count > 0 )); then
      echo "stage $stage: $count"
      return 0
    fi
    if (( SECONDS >= deadline )); then
      echo "stage $stage: nothing after ${timeout}s; look at $hint" >&2
      exit 1
    fi
    sleep "${PIPELINE_CHECK_INTERVAL:-5}"
  done
}

# Sum of a Fluent Bit counter (at the metrics URL given) over the plugin instance with the given alias.
fluent_bit_counter() {
  curl -fsS --max-time 5 "$1" \
    | awk -v metric="$2{" -v label="name=\"$3\"" 'index($0, metric) == 1 && index($0, label) { sum += $2 } END { printf "%d\n", sum }'
}

gateway_lines() {
  "${docker[@]}" compose logs --no-log-prefix gateway | grep -c '"started_at"'
}

# Records the kafka_gateway output has flushed to librdkafka.
forwarder_records() { fluent_bit_counter "$forwarder_metrics" fluentbit_output_proc_records_total kafka_gateway; }

# Sum of the latest offsets over the topic's partitions (lines `topic:partition:offset`). The tool's JVM gets a small
# heap of its own, not the broker's.
topic_messages() {
  "${docker[@]}" compose exec -T -e KAFKA_HEAP_OPTS=-Xmx128m kafka /opt/kafka/bin/kafka-get-offsets.sh \
    --bootstrap-server localhost:9092 --topic "$KAFKA_TOPIC_GATEWAY" --time -1 \
    | awk -F: 'NF >= 3 { sum += $NF } END { printf "%d\n", sum }'
}

aggregator_records() { fluent_bit_counter "$aggregator_metrics" fluentbit_input_records_total kafka_in; }

# As platform-check (read-only), trusting the program's CA; the credentials go on curl's stdin, not its command line.
gateway_documents() {
  printf 'user = "platform-check:%s"\n' "$ES_PASSWORD_PLATFORM_CHECK" |
    curl -fsS -K - --cacert "$es_ca" --max-time 5 "$es_url/gateway-access-*/_count" | sed -n 's/^{"count":\([0-9]*\).*/\1/p'
}

case "$HOST_ROLE" in
  web)
    wait_for gateway-log "'docker compose logs gateway' and the loadgen service" gateway_lines
    wait_for forwarder-output "'docker compose logs fluent-bit-forwarder' (Kafka at $KAFKA_BOOTSTRAP_SERVERS reachable?)" forwarder_records
    ;;
  kafka)
    wait_for topic "'docker compose logs kafka kafka-setup' and the web host's forwarder (topic $KAFKA_TOPIC_GATEWAY)" topic_messages
    ;;
  logging)
    wait_for aggregator "'docker compose logs fluent-bit' (consumer group $KAFKA_CONSUMER_GROUP at $KAFKA_BOOTSTRAP_SERVERS)" aggregator_records
    wait_for index "'docker compose logs fluent-bit setup' for rejected documents (index gateway-access-*)" gateway_documents
    ;;
  *)
    echo "checks/pipeline.sh: no pipeline stage runs on the ${HOST_ROLE:-unknown} host" >&2
    exit 2
    ;;
esac
