#!/usr/bin/env bash
# Stands in for /opt/kafka/bin/kafka-server-start.sh: same class and heap default; the log4j configuration is the
# one the image's wrapper wrote next to server.properties (the original's ../config/log4j2.yaml).
set -euo pipefail
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=file:$(dirname "$1")/log4j2.yaml}
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
