// Package load turns the synthetic traffic of package gen into Kafka load for
// segmentd's benchmarks: random but valid segment definitions over every field and
// operator of the rule language, the records of a generator ready to produce, a
// producer with an open-loop mode and a preload mode, and the minimal events that
// seed the timer benchmark.
//
// # Definitions
//
// Definitions draws segment definitions for a set of workspaces. Conditions are dealt
// from a shuffled deck of every (field, operator) pair that SPEC §6 allows (Pairs), so
// that every pair appears once before any appears twice; values come from the
// vocabulary the generator's shops actually use (countries, languages, brands,
// collections, lists, tags, automations) and from ranges matching its data, so that
// segments have members. Every definition is validated with operators.ParseDefinition:
// Definitions never returns an invalid one.
//
// # Producing
//
// A Producer owns one franz-go client (idempotent, acks=all, franz-go's default snappy
// compression). Preload produces a given number of records as fast as the broker takes
// them, for maximum-throughput runs. OpenLoop produces at a fixed rate: record i is due
// at start + i/rate whatever happened before; when the producer cannot keep up it
// records how late each record was sent, but never slows the schedule down, so that
// latency measured from the scheduled instant is honest (no coordinated omission). The
// scheduled instant is also the record's timestamp.
//
// Stream adapts a gen.Generator: it yields kgo records for the events topic and
// extracts each record's delivery id (X-Shopify-Webhook-Id or the envelope's "id"),
// which output records name as their cause.
//
// # Timer seeding
//
// TimerSeed makes the cheapest events that give a contact one time-relative timer due
// at a chosen instant (a Form B orders/create or messages/inbound envelope of about
// 300 bytes), and TimerSegments the three time-relative segments they arm.
package load
