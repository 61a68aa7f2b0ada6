#!/usr/bin/env bash
# Stands in for /opt/kafka/bin/kafka-broker-api-versions.sh (same class).
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
