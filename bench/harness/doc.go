// Package harness is segmentd's end-to-end benchmark: it runs segmentd as a separate
// process against a real Kafka broker, with the baselines it must be compared with,
// in one run on one machine, and reports throughput, latency, CPU, memory, backfill,
// restore and timer figures against issue 7's and issue 14's targets (Run; the
// command is bench/cmd/segmentd-bench).
//
// # Phases
//
// One run creates uniquely named topics, produces internal/gen's demo segments and
// load.Definitions' random ones over every field and operator, the catalog, the
// history of every contact and then the live events, and measures:
//
//   - seed: segmentd, then segmentd --bench-naive-evaluation, each with its own group
//     and data dir, consume the preloaded history (an import);
//   - live: with the live events preloaded behind the history, the naive segmentd,
//     the pass-through loop (RunPassthrough, started on the offsets after the history)
//     and segmentd each consume them; throughput is sustained events/s from the first
//     commit to committed offsets at the end, CPU from /proc/<pid>/stat;
//   - latency: segmentd at LatencyFraction of its measured maximum, on an open loop
//     (load.Producer.OpenLoop), each output matched to its cause's scheduled instant;
//   - memory, backfill (a new definition for the largest shop, with the path it took:
//     the attribute index's algebra or a scan, from segmentd_backfill_contacts_total
//     and _read_total by mode and the "segment step backfilled" log lines);
//   - preview (issue 14): Config.PreviewRequests sequential requests to each of the
//     admin API's segments:preview, segments/{id}:preview and audiences:estimate over
//     the largest shop, each with a new random definition (or audience); p50, p99 and
//     max per route, answers checked for status 200 and the SPEC §8 fields;
//   - definitions (issue 14): Config.BurstDefinitions new definitions over every
//     shop produced at once, timed until every partition logged "segment backfilled"
//     for each and segmentd_backfills_pending stayed 0 (at most BurstTimeout: a
//     timeout is reported, not an error), with CPU, transitions and the modes;
//   - scan (the seed product's method: the rule evaluated over every contact, from
//     the stopped segmentd's Pebble store), restore (data dir deleted, restarted);
//   - kstreams (issue 16): the Kafka Streams peer of bench/peers/kstreams (built
//     with mvn, or Config.KStreamsJar; skipped with a note without Java) and a fresh
//     segmentd, on definitions restricted to the peer's rule subset, each from the
//     first live offset with empty state over the same events: throughput, CPU, RSS,
//     state on disk, latency at LatencyFraction of each one's maximum, and a
//     differential check that their transitions per (contact, segment) are identical;
//   - timers (issue 5): at each size, its own segmentd and contacts with one timer
//     each: a stream falling due at TimerRate (lateness, CPU per timer), a burst due
//     at one instant (capacity), the rest days to months away (idle CPU).
//
// Results go to <OutDir>/<Profile>.json, a Markdown rendering (.md) and a plot drawn
// with gonum.org/v1/plot (.png).
//
// # Processes
//
// Every process under test is a child with its own HTTP address, data dir and log;
// the harness stops them (SIGTERM) and deletes its topics at the end unless Keep.
// Children die with the harness (Pdeathsig). The machine is measured as it is: other
// load shows in the load average recorded with the results.
//
// BenchmarkLiveProcessor (processor_bench_test.go) runs the same live workload
// through processor.Processor in-process, for CPU profiles of the hot path.
package harness
