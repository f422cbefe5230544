// Package blackbox tests the segmentd binary from the outside, as an operator would
// run it: `segmentd run --brokers` against a real Apache Kafka broker, with every input
// produced and every output read by kcat (https://github.com/edenhill/kcat), never by
// segmentd's own code. The expectations come from SPEC.md (§3 topics, §4 input forms
// and dead letters, §6 definitions, §7 output records, §8 the CLI), not from running
// the program.
//
// # What it checks
//
// TestBlackBox starts `segmentd run --brokers` on a fresh data dir and, in order:
//
//  1. produces segment definitions (keyed <workspace>/<id>), an invalid one and a
//     mis-keyed one, and catalog records (one mis-keyed), and waits for their dead
//     letters;
//  2. produces events in both forms (Form A webhooks with X-Shopify-* headers, in any
//     case and with or without "X-"; Form B envelopes), keyed <shop>/<customer_id>,
//     including redeliveries of a webhook id in both forms, a delete, and bad records
//     (invalid JSON, null value, unknown topic, key mismatch, missing shop header,
//     invalid enum, invalid timestamp, invalid id);
//  3. changes the catalog, re-sends an identical definition, adds a definition and
//     deletes it with a tombstone;
//  4. stops segmentd with SIGTERM (exit status 0 within 30 s), restarts it on the same
//     data dir and produces an old delivery again and new events;
//  5. kills it with SIGKILL right after an event, restarts it and produces another.
//
// After each phase it reads the membership and dead-letter topics with kcat
// (read_committed, -J) and requires exactly the expected records: per contact and
// segment the sequence of transitions (type, reason, cause, segment_version), the key,
// the `type` header and a unique id for each; and each dead letter once, with the
// original key, value and headers, its segmentd-error reason code and a non-empty
// segmentd-detail (for the invalid definition, naming the offending path).
//
// # Running
//
//	./deploy/local-kafka/kafka.sh up           # or let kafkatest start it
//	./scripts/ensure-tools.sh kcat
//	SEGMENTD_TEST_KAFKA=127.0.0.1:19092 go test ./test/blackbox/ -v -count=1
//
// `make test` does all of this. The test builds ./cmd/segmentd once per test binary,
// uses unique topic names and a unique consumer group per run (so runs against the
// shared broker never collide), and deletes its topics and group when it passes (a
// failed run leaves them for a post-mortem, and prints segmentd's log).
//
// # When it skips
//
//   - kcat is not installed: skipped, unless CI=true, where it fails.
//   - no real broker: see internal/kafkatest.Real (skipped locally, a failure under
//     CI=true or when SEGMENTD_TEST_KAFKA names a broker that does not answer).
//   - the real broker is not selected: `go test -short` without SEGMENTD_TEST_BROKERS,
//     or SEGMENTD_TEST_BROKERS without "kafka" (as for the other real-broker suites, so
//     that `make test-short` never starts a broker).
package blackbox
