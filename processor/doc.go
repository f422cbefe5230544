// Package processor is segmentd's Kafka loop: it consumes the events topics in a
// consumer group, applies each event to its contact's state, re-evaluates the segments
// the event can change, and produces membership transitions, changelog records and
// dead letters in one Kafka transaction per commit window.
//
// # Main types
//
// Processor (processor.go) owns the loop. Config (config.go) configures it; its zero
// value means the documented defaults. Transition (output.go) is one output record of
// SPEC §7.
//
// # Exactly once
//
// A window (window.go, window_run.go) begins a transaction, processes input records
// for up to Config.CommitInterval, advances backfills, and ends the transaction. The
// window is a unit with explicit dependencies (windowDeps, window_deps.go: rules,
// partitions, a store reader, the timer heap, a record sink, a clock, metrics); the
// Processor keeps the group session, the transaction and the loop, so applying and
// evaluating run without Kafka (TestWindowData, testdata/window). The
// transaction carries the transitions, the dead letters, one changelog record per
// changed contact (its full encoded record, memberships included) and per changed
// partition meta, and the input offsets (franz-go's GroupTransactSession). The
// window's state changes live in an overlay and a Pebble batch; only when the
// transaction has committed is the batch applied, together with the changelog offset
// it reflects, and are the in-memory bitmaps and partition metas updated. An aborted
// window is discarded and its input re-consumed. Pebble therefore never runs ahead of
// Kafka, and a crash between commit and batch is repaired by restoring the changelog
// tail (partition.go) before the partition is processed again.
//
// # Incremental evaluation
//
// For an event, the contact's attributes before and after are compared by the
// operators package's predicate indexes (RuleSet.Affected): only segments containing a
// predicate whose outcome changed are evaluated (evaluate.go). Each contact record
// carries its memberships: per segment incarnation, a transition counter N whose parity
// is membership, which also numbers transitions for deterministic output ids. The
// roaring bitmaps of members per (partition, segment) are an index derived from the
// records and rebuilt when a partition is opened.
//
// Segment references (references.go) read a contact's memberships from its record. A
// workspace's segments are indexed in dependency order, so candidates evaluated in
// ascending order see the memberships they reference settled; a membership change adds
// the segments referencing it (RuleSet.Referencing) to the contact's candidates, in
// the same window, whatever caused it; definition steps cascade the same way with the
// versions the contact has reached. Transitions caused that way carry via_segment.
//
// # Definitions and catalog
//
// Every process reads the segments and catalog topics whole (globals.go) into logs,
// compacted to each key's last entries once every owned partition has applied them;
// the loop applies new entries to its rules (rules.go) at the start of a window. Each accepted version or deletion of a segment is a step of its
// history; each partition's meta records which step (incarnation, rules, version,
// position) and catalog offsets it has applied; the steps after it become backfills
// (backfill.go), applied one at a time in topic order, in bounded chunks inside
// ordinary windows, so they commit with their transitions and resume after a crash. A
// contact an event reaches first is brought through its pending steps before the
// event is evaluated. Catalog records are steps too (catalog.go): a partition queues
// the records of products its contacts bought, in topic order, and scans the buyers
// of one record at a time against the catalog as of that record. Invalid records of
// these topics are dead-lettered once per group, by the owner of partition 0.
//
// # Goroutines
//
// Run is the loop goroutine; it owns rules, partitions and windows. It starts the
// globals reader goroutine and waits for it before returning. franz-go calls the
// assignment callbacks on its own goroutine: they restore partitions into the Store
// (on an errgroup, joined by the callback) and hand them over to the loop under
// Processor.mu; the loop picks them up after each poll. Chunked work on worker
// goroutines (preparation, timer reads, backfill scans, bitmap loads) goes through
// parallel, whose owner joins it. Produce promises run on franz-go goroutines and
// only touch window.mu.
package processor
