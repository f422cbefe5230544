#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and the integration suites against kfake and a
# real Apache Kafka broker. Starts the local broker if none is running (and stops
# what it started); SEGMENTD_TEST_KAFKA=host:port uses an existing one instead.
set -euo pipefail
cd "$(dirname "$0")/.."

kafka=./deploy/local-kafka/kafka.sh
started=
if [[ -z "${SEGMENTD_TEST_KAFKA:-}" && "${SEGMENTD_TEST_BROKERS:-}" != kfake ]]; then
  if ! "$kafka" status >/dev/null 2>&1; then
    echo "test: starting the local Kafka broker (first run downloads it from Maven Central)" >&2
    if ! addr=$("$kafka" up); then
      echo "test: the local Kafka broker did not start; its log: $("$kafka" path)" >&2
      exit 1
    fi
    started=1
  else
    addr=$("$kafka" up)
  fi
  export SEGMENTD_TEST_KAFKA="$addr"
  echo "test: real Kafka broker at $SEGMENTD_TEST_KAFKA" >&2
fi
cleanup() { if [[ -n "$started" ]]; then "$kafka" down >&2 || true; fi; }
trap cleanup EXIT

# PKGS and TEST_TIMEOUT narrow the run (make chaos uses them).
go test -timeout "${TEST_TIMEOUT:-25m}" "$@" ${PKGS:-./...}
