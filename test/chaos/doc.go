// Package chaos is a fault-injection test of segmentd's exactly-once promise (SPEC §7:
// each transition exactly once for read_committed consumers, across crashes, restarts
// and rebalances; records per contact and segment alternate added/removed, starting
// with added).
//
// TestChaos builds ./cmd/segmentd once per test binary and runs real `segmentd run`
// processes against the real Kafka broker (internal/kafkatest.Real) while a producer
// feeds them a realistic Shopify and messaging stream (internal/gen, plus events gen does
// not make: orders/delete, customers/redact, purchasing summaries, back-in-stock,
// lifecycle overrides, re-deliveries, malformed records), changes segment definitions
// (create, change, quick double change, cosmetic change, invalid definition, delete,
// re-create) and the product catalog, and injects faults:
//
//   - kill -9 of a random process at a random moment, then a restart on the same data
//     dir and with the same --instance-id (so it fences its predecessor's transaction
//     and gets its static assignment back);
//   - scaling 1 → 3 → 1 processes in the same --group (the extra ones stopped with
//     SIGTERM, which must exit 0, then removed from the group as static members the way
//     an operator scaling down would);
//   - deleting a stopped process's data dir (full restore from the changelog);
//   - in the large run, restarting the broker (`KEEP=1 kafka.sh down`, `kafka.sh up`),
//     and a zombie: a process stopped with SIGSTOP for longer than the group session
//     timeout (its partitions move while it holds an open transaction), then resumed
//     with SIGCONT. A process that exits during a broker restart or right after being
//     resumed is restarted by the harness and counted; any other unexpected exit fails
//     the test (it is still restarted, so the comparison below runs).
//
// Then it stops producing, waits for quiescence (every process /readyz, every partition
// assigned and restored, no backfill pending, the group's committed offsets equal to
// the events topic's end offsets, no transaction open on an output topic, and no new
// output for a few seconds), reads every topic back and checks:
//
//  1. no transition id twice, and never the same type twice in a row per (contact,
//     segment);
//  2. per (contact, segment), records alternate added/removed starting with added;
//  3. final memberships (last record is "added") equal those of a reference that
//     applies the events topic's records, in partition order, to state.Contact (decoded
//     with events.Decode exactly as the processor does) and evaluates the final
//     definitions against the final catalog with package operators; every reference
//     member has at least one record;
//  4. for "stable" segments (defined before the first event, never changed, not
//     depending on the catalog) the exact sequence of transitions equals the
//     reference's, which evaluates them after every event: a lost added+removed pair
//     would not show in 1–3;
//  5. the dead-letter topic holds each malformed input exactly once.
//
// Segment definitions use no time-relative condition (days_since_*, in_last_days,
// more_than_days_ago, derived lifecycle_stage), so the reference does not depend on
// when the processor evaluated them.
//
// # Running
//
//	./deploy/local-kafka/kafka.sh up
//	SEGMENTD_TEST_KAFKA=127.0.0.1:19092 go test ./test/chaos/ -v -count=1
//
// The default run (part of `make test`) takes about 1.5–2 minutes: 12 kills, one scale
// 1 → 3 → 1 and one data-dir deletion, with no broker restart (the broker is shared
// with the other test packages that `go test ./...` runs at the same time).
//
// The large run, `go test ./test/chaos/ -run TestChaos -chaos.large -timeout 30m -v`
// (or SEGMENTD_CHAOS=large), takes about 12–15 minutes: 50 kills, two scale cycles,
// two data-dir deletions, a broker restart and a zombie. Because it restarts the
// broker, run it on a broker of its own: `make chaos` starts one on port 29092
// (SEGMENTD_KAFKA_PORT) and stops it afterwards (if the test fails it leaves it
// running, with the run's topics). The broker restart needs the broker to be the one
// kafka.sh manages with the same environment (`kafka.sh status` must print one of the
// test's broker addresses); otherwise that fault is skipped with a logged reason.
//
// Flags: -chaos.large, -chaos.seed N (the stream, definitions and fault schedule; 0
// picks one and prints it), -chaos.log-level (segmentd's, default info), -chaos.keep
// (keep topics, group, data dirs and logs even when the test passes; they are always
// kept when it fails, and their paths printed), -chaos.bin PATH (run that segmentd
// binary instead of building ./cmd/segmentd).
//
// # When it skips
//
// Under -short, when SEGMENTD_TEST_BROKERS leaves out the real broker, or when
// kafkatest cannot start one (a failure instead under CI=true or when
// SEGMENTD_TEST_KAFKA names a broker that does not answer).
package chaos
