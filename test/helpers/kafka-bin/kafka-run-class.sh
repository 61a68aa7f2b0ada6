#!/usr/bin/env bash
# Stands in for /opt/kafka/bin/kafka-run-class.sh of the apache/kafka image: the same java command line (heap,
# performance, log4j and extra options from the same variables, then the class and its arguments), over the jars
# Maven resolved into TEST_KAFKA_LIBS (set by test/helpers/kafka-cluster.ts; not KAFKA_*, which the
# image's wrapper would turn into broker config) instead of /opt/kafka/libs.
set -euo pipefail
: "${TEST_KAFKA_LIBS:?the folder of the Kafka jars, test/kafka/target/kafka-<version>}"
# Word-split like the original, which expands these unquoted; defaults as in the original.
read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xmx256M}"
read -r -a performance <<<"${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
read -r -a log4j <<<"${KAFKA_LOG4J_OPTS:-}"
read -r -a extra <<<"${KAFKA_OPTS:-}"
exec java "${heap[@]}" "${performance[@]}" "${log4j[@]}" -cp "$TEST_KAFKA_LIBS/*" "${extra[@]}" "$@"
