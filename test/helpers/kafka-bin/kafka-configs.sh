#!/usr/bin/env bash
# Stands in for /opt/kafka/bin/kafka-configs.sh (same class).
exec "$(dirname "$0")/kafka-run-class.sh" kafka.admin.ConfigCommand "$@"
