// Package state is segmentd's local state: the contact records (Contact) and the
// Pebble store that keeps them (Store).
//
// # Contact
//
// A Contact is everything segmentd knows of one customer of one workspace: profile,
// consents, orders, per-message delivery state, automation completions (counts, and
// the times of the recent ones for windows), lists, tags, related data, the delivery
// ids seen in the last 7 days, and its segment memberships.
// Contact.Apply applies a decoded event (package events) with the effects of SPEC §4;
// Contact.Attrs derives the attribute view (operators.Attrs) that rules evaluate. The
// record is encoded in a compact versioned binary form (contact_codec.go), the same
// bytes in Pebble and in the changelog topic, bounded in size by folding old detail
// into aggregates (contact_fold.go; Contact, "Bounded size"). Records of released
// formats are checked in under testdata/golden and must keep decoding.
//
// # Store
//
// Store (store.go) keeps, per partition: contact records by contact key, the dense-id
// map (dense id → contact key, for bitmaps), the PartitionMeta (applied definitions,
// catalog offsets, backfill cursors, next dense id) and the changelog offset the
// stored data reflects. Keys start with a space byte and the partition number, so a
// partition's data is one range per space and dropping a partition is a DeleteRange.
//
// # Invariants
//
// The Store never runs ahead of Kafka: a Batch holds a commit window's writes and is
// committed only after the window's transaction committed, with the changelog offset
// it reflects. Replaying the changelog from that offset reproduces the partition
// exactly. A Contact is owned by one goroutine at a time; the Store is safe for
// concurrent use.
package state
