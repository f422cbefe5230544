// Package kafkatest gives tests a Kafka broker to talk to: the in-process fake
// (github.com/twmb/franz-go/pkg/kfake) and a real Apache Kafka 4.x broker, so that one
// test suite runs against both.
//
//	func TestSomething(t *testing.T) {
//		kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
//			events := b.Topic(t, "events", 3, nil) // unique name, deleted after the test
//			cl := b.Client(t, kgo.DefaultProduceTopic(events))
//			...
//		})
//	}
//
// # Brokers
//
// [Kfake] starts a fresh single-broker kfake cluster per call, closed when the test
// ends. It is fast and always available, but it is a re-implementation of the protocol:
// what passes there must also pass on the real broker.
//
// [Real] returns the real broker: a single-node KRaft broker (combined broker and
// controller) on 127.0.0.1:19092 run by deploy/local-kafka/kafka.sh, started by the
// first test of a test binary that needs it (`kafka.sh up`, found by walking up from the
// working directory to go.mod) and left running for the next test binaries; stop it with
// `kafka.sh down` (`make kafka-down`). The first start downloads Kafka from Maven Central
// into ~/.cache/segmentd (once) and needs Java 17+ and Maven. Because the broker is
// shared by every test and every test binary, tests must create their topics with
// [Broker.Topic] (unique names) and use unique group and transactional ids
// ([UniqueName]).
//
// If the real broker cannot be started, the test is skipped with the reason, unless
// CI=true, where it fails with the broker log's path and tail: a missing Java or Maven
// on a laptop is a skip, never in CI.
//
// # Environment
//
//   - SEGMENTD_TEST_KAFKA=host:port[,host:port...]: use this already-running broker as
//     the real one instead of starting one with kafka.sh (it must answer, or the test
//     fails).
//   - SEGMENTD_TEST_BROKERS=kfake | kafka | kfake,kafka: which brokers [All] runs
//     against. Without it, both, or only kfake under `go test -short`.
//   - SEGMENTD_KAFKA_PORT, SEGMENTD_KAFKA_DIR, SEGMENTD_KAFKA_CACHE, ...: passed through
//     to kafka.sh (see its header).
//
// # Differences worth knowing
//
// Both brokers disable topic auto-creation and default to 1 partition, and both allow
// group session timeouts down to 1 s. kfake completes transactions synchronously (there
// are no PREPARE_COMMIT/PREPARE_ABORT states to observe, and no
// CONCURRENT_TRANSACTIONS errors), skips group.initial.rebalance.delay.ms, and keeps
// everything in memory.
package kafkatest
