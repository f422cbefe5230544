package harness

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/operators"
)

// timerLookahead: segmentd loads the timers due within a minute into memory
// (processor/timers.go), at most 30 s apart. A window opening 62 s before the first
// timer includes that load.
const timerLookahead = 62 * time.Second

// timerInst is one size of the timer benchmark: its own topics and segmentd. Its
// contacts are of three kinds: far ones, whose timer is days to months away (they
// are the bulk of a large size, and must cost nothing until then); the stream, whose
// timers fall due one after the other at Config.TimerRate during the measured
// interval (normal operation); and the burst, whose timers all fall due at one
// instant later (the capacity: how many timers per second the process fires).
type timerInst struct {
	k, n               int
	far, stream, burst int
	spread             time.Duration // of the stream
	s                  *sut
	first              time.Time // the stream's first timer is due
	burstAt            time.Time
	res                *Timers
	w0, w1, b0, b1     mark
	idle0, idle1       mark
	burstDone          time.Time
}

// timerSizes splits n contacts: the stream (TimerRate × TimerSpread, or all of them
// for a small size), then the burst (up to TimerBurst), then the far ones.
func timerSizes(cfg *Config, n int) (stream, burst, far int, spread time.Duration) {
	stream = min(n, int(cfg.TimerRate*cfg.TimerSpread.Seconds()))
	spread = time.Duration(float64(stream) / cfg.TimerRate * float64(time.Second))
	burst = min(cfg.TimerBurst, n-stream)
	return stream, burst, n - stream - burst, spread
}

// timerBurstSlot is the time reserved for one burst to fire.
func timerBurstSlot(burst int) time.Duration {
	return 30*time.Second + time.Duration(burst/2000)*time.Second
}

// farTimer returns the due instant of far contact i of far: between 1 day and 6, 30
// or 58 days ahead depending on its kind (load.TimerSeed dates its event before the
// instant: a message 7 days, an order 31 or 91 days; and a lifecycle contact is not
// lapsing-30 for 60 more days), so that no time-relative predicate of it flips
// within a day.
func farTimer(now time.Time, kind, i, far int) time.Time {
	days := map[int]float64{load.TimerEngaged: 6, load.TimerLastOrder: 30, load.TimerLifecycle: 58}[kind]
	frac := float64(i) / float64(max(far, 1))
	return now.Add(operators.Day + time.Duration(frac*(days-1)*float64(operators.Day)))
}

// timers runs the timer benchmark. For each size, its own segmentd; its far contacts
// are seeded first (their timers are weeks away), then the stream and burst contacts,
// whose instants are set from the measured seeding rate so that seeding is over
// before the first one. It measures, per size: over the stream (from 62 s before its
// first timer, which includes the load into memory, until every stream timer fired)
// the lateness histogram and the CPU per timer; over the burst, how long it takes to
// fire them all (timers/s) and the CPU per timer; then idle CPU with every timer days
// away. The sizes run side by side, each in its own segmentd: the streams staggered,
// then the bursts one after the other, more than a minute after the last stream (so
// that no burst is loaded into memory during a stream).
func (r *run) timers(ctx context.Context) error {
	cfg := r.cfg
	var insts []*timerInst
	defer func() {
		for _, in := range insts {
			if in.s.running() {
				_, _ = in.s.stop()
			}
			if !cfg.Keep {
				_ = os.RemoveAll(in.s.dataDir)
			}
		}
	}()
	for k, n := range cfg.TimerContacts {
		name := fmt.Sprintf("timers-%d", n)
		events, err := r.topic(ctx, name+".events", int32(cfg.Partitions), false)
		if err != nil {
			return err
		}
		segTopic, err := r.topic(ctx, name+".segments", 1, true)
		if err != nil {
			return err
		}
		catTopic, err := r.topic(ctx, name+".catalog", 1, true)
		if err != nil {
			return err
		}
		var recs []*kgo.Record
		for w := range cfg.TimerWorkspaces {
			segs, err := load.TimerSegments(timerShop(k, w))
			if err != nil {
				return err
			}
			for _, s := range segs {
				recs = append(recs, &kgo.Record{Topic: segTopic, Key: s.Key, Value: s.Value})
			}
		}
		if err := r.prod.Client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return err
		}
		s := r.segmentd(name, events, segTopic, catTopic, cfg.Partitions, false)
		if err := s.start(); err != nil {
			return err
		}
		in := &timerInst{k: k, n: n, s: s, res: &Timers{Contacts: n}}
		in.stream, in.burst, in.far, in.spread = timerSizes(&cfg, n)
		in.res.Far, in.res.Stream, in.res.Burst = in.far, in.stream, in.burst
		in.res.StreamSeconds = in.spread.Seconds()
		if in.spread > 0 {
			in.res.StreamRate = float64(in.stream) / in.spread.Seconds()
		}
		insts = append(insts, in)
	}
	for _, in := range insts {
		if _, err := in.s.waitMetrics(ctx, 5*time.Minute, 100*time.Millisecond, func(m metrics) bool {
			return m.sum("segmentd_partitions_assigned") == float64(in.s.partitions) && m.sum("segmentd_partitions_restoring") == 0
		}); err != nil {
			return err
		}
	}

	// The far contacts first: their instants do not depend on when seeding ends.
	seedStart := time.Now()
	farTotal := 0
	for _, in := range insts {
		farTotal += in.far
		if err := r.seedTimers(ctx, in, 0, in.far, func(i, kind int) time.Time { return farTimer(seedStart, kind, i, in.far) }); err != nil {
			return err
		}
	}
	if err := r.waitTimerSeeds(ctx, insts, seedStart); err != nil {
		return err
	}
	// Then the stream and burst contacts, due once they are surely seeded: at the
	// rate the far ones were consumed (else the live rate of this run, halved as the
	// sizes seed side by side), with half again as much time and 20 s to spare.
	rate := 2000.0
	if farTime := time.Since(seedStart).Seconds(); farTotal >= 20_000 {
		rate = float64(farTotal) / farTime
	} else if r.res.Live != nil && r.res.Live.EventsPerSecond > 0 {
		rate = r.res.Live.EventsPerSecond / 2
	}
	near := 0
	for _, in := range insts {
		near += in.stream + in.burst
	}
	nearStart := time.Now()
	seedBy := nearStart.Add(time.Duration(1.5*float64(near)/rate*float64(time.Second)) + 20*time.Second)
	at := seedBy.Add(timerLookahead + 5*time.Second)
	var streamsEnd time.Time
	for _, in := range insts {
		in.first = at.Truncate(time.Second)
		at = in.first.Add(in.spread + 10*time.Second)
		if end := in.first.Add(in.spread); end.After(streamsEnd) {
			streamsEnd = end
		}
	}
	at = streamsEnd.Add(timerLookahead + 3*time.Second)
	for _, in := range insts {
		if in.burst > 0 {
			in.burstAt = at.Truncate(time.Second)
			at = in.burstAt.Add(timerBurstSlot(in.burst))
		}
	}
	r.logf("timers: %d far contacts seeded in %.1f s (%.0f/s); seeding %d more; first stream timers due at +%s",
		farTotal, nearStart.Sub(seedStart).Seconds(), rate, near, insts[0].first.Sub(nearStart).Round(time.Second))
	for _, in := range insts {
		in := in
		if err := r.seedTimers(ctx, in, in.far, in.far+in.stream+in.burst, func(i, _ int) time.Time {
			if j := i - in.far; j < in.stream {
				return in.first.Add(time.Duration(float64(in.spread) * float64(j) / float64(in.stream)))
			}
			return in.burstAt
		}); err != nil {
			return err
		}
	}
	if err := r.waitTimerSeeds(ctx, insts, seedStart); err != nil {
		return err
	}
	for _, in := range insts {
		in.res.SeedSeconds = time.Since(seedStart).Seconds()
		in.res.SeedRate = float64(in.n) / in.res.SeedSeconds
		if late := time.Since(in.first.Add(-timerLookahead)); late > 0 {
			in.res.Note = fmt.Sprintf("seeding ended %.0f s into the measurement window: the window's CPU includes seeding", late.Seconds())
			r.note("timers %d: %s", in.n, in.res.Note)
		}
	}
	r.logf("timers: every size seeded after %.1f s", time.Since(seedStart).Seconds())

	// The windows, in time order. A stream's opens 62 s before its first timer (so
	// that the load into memory is inside) and closes once every stream timer fired
	// (at least 3 s after the last instant); a burst's opens 2 s before its instant
	// and closes as soon as every burst timer fired.
	type step struct {
		at          time.Time
		in          *timerInst
		open, burst bool
	}
	var steps []step
	for _, in := range insts {
		steps = append(steps,
			step{at: in.first.Add(-timerLookahead), in: in, open: true},
			step{at: in.first.Add(in.spread + 3*time.Second), in: in})
		if in.burst > 0 {
			steps = append(steps,
				step{at: in.burstAt.Add(-2 * time.Second), in: in, open: true, burst: true},
				step{at: in.burstAt, in: in, burst: true})
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	const lateness = "segmentd_timer_lateness_seconds"
	for _, st := range steps {
		if err := sleepUntil(ctx, st.at); err != nil {
			return err
		}
		in := st.in
		if st.open {
			if late := time.Since(st.at); late > time.Second {
				r.note("timers %d: a measurement window opened %.1f s late", in.n, late.Seconds())
			}
			mk := r.mark(ctx, in.s, time.Now(), 0)
			if st.burst {
				in.b0 = mk
			} else {
				in.w0 = mk
			}
			continue
		}
		from, want := in.w0, float64(in.stream)
		if st.burst {
			from, want = in.b0, float64(in.burst)
		}
		wait := max(2*time.Minute, time.Duration(int(want)/1000)*time.Second)
		deadline := time.Now().Add(wait)
		poll := 200 * time.Millisecond
		if st.burst {
			poll = 50 * time.Millisecond
		}
		for {
			m, err := in.s.scrape(ctx)
			if err == nil && m.histogram(lateness).count-from.m.histogram(lateness).count >= want {
				break
			}
			if time.Now().After(deadline) {
				r.note("timers %d: not every timer fired within %s of the last due instant", in.n, wait)
				break
			}
			time.Sleep(poll)
		}
		mk := r.mark(ctx, in.s, time.Now(), 0)
		if st.burst {
			in.b1, in.burstDone = mk, mk.at
		} else {
			in.w1 = mk
		}
		r.logf("timers: size %d %s window closed", in.n, map[bool]string{false: "stream", true: "burst"}[st.burst])
	}

	// Idle: no events, every timer days away.
	if err := sleepUntil(ctx, time.Now().Add(10*time.Second)); err != nil {
		return err
	}
	for _, in := range insts {
		in.idle0 = r.mark(ctx, in.s, time.Now(), 0)
	}
	r.logf("timers: idle for %s", cfg.TimerIdle)
	if err := sleepUntil(ctx, time.Now().Add(cfg.TimerIdle)); err != nil {
		return err
	}
	for _, in := range insts {
		in.idle1 = r.mark(ctx, in.s, time.Now(), 0)
	}

	for _, in := range insts {
		t := in.res
		t.IdleSeconds = in.idle1.at.Sub(in.idle0.at).Seconds()
		idleRate := (in.idle1.cpu - in.idle0.cpu).Seconds() / t.IdleSeconds
		t.IdleCPUPerMinute = idleRate * 60
		h := in.w1.m.histogram(lateness).sub(in.w0.m.histogram(lateness))
		t.Fired = h.count
		t.LatenessP50, t.LatenessP99 = finite(h.quantile(0.5)), finite(h.quantile(0.99))
		t.LatenessOverflow = h.overflows(0.99)
		t.TimeTransitions = in.w1.m.sum("segmentd_transitions_total", "reason", "time") - in.w0.m.sum("segmentd_transitions_total", "reason", "time")
		t.WindowSeconds = in.w1.at.Sub(in.w0.at).Seconds()
		t.WindowCPUSeconds = (in.w1.cpu - in.w0.cpu).Seconds()
		if t.Fired > 0 {
			t.RawCPUMicrosPerTimer = t.WindowCPUSeconds / t.Fired * 1e6
			t.CPUMicrosPerTimer = max(0, t.WindowCPUSeconds-idleRate*t.WindowSeconds) / t.Fired * 1e6
		}
		if in.burst > 0 {
			bh := in.b1.m.histogram(lateness).sub(in.b0.m.histogram(lateness))
			t.BurstFired = bh.count
			t.BurstSeconds = in.burstDone.Sub(in.burstAt).Seconds()
			if t.BurstSeconds > 0 {
				t.BurstRate = t.BurstFired / t.BurstSeconds
			}
			if t.BurstFired > 0 {
				cpu := (in.b1.cpu - in.b0.cpu).Seconds() - idleRate*in.b1.at.Sub(in.b0.at).Seconds()
				t.BurstCPUMicrosPerTimer = max(0, cpu) / t.BurstFired * 1e6
			}
		}
		t.RSSBytes = in.idle1.m.sum("process_resident_memory_bytes")
		r.logf("timers %d: stream %.0f fired at %.0f/s, %.1f µs CPU each (%.1f raw), lateness p50 %.3f s p99 %.3f s; burst %.0f in %.2f s (%.0f/s, %.1f µs each); idle %.2f CPU-s/min",
			in.n, t.Fired, t.StreamRate, t.CPUMicrosPerTimer, t.RawCPUMicrosPerTimer, t.LatenessP50, t.LatenessP99,
			t.BurstFired, t.BurstSeconds, t.BurstRate, t.BurstCPUMicrosPerTimer, t.IdleCPUPerMinute)
		r.res.Timers = append(r.res.Timers, *t)
	}
	for _, in := range insts {
		if _, err := in.s.stop(); err != nil {
			r.note("stopping %s: %v", in.s.name, err)
		}
	}
	return nil
}

// seedTimers produces the seed events of contacts [from, to) of a size; due gives
// contact i's instant.
func (r *run) seedTimers(ctx context.Context, in *timerInst, from, to int, due func(i, kind int) time.Time) error {
	if from == to {
		return nil
	}
	i := from
	st, err := r.prod.Preload(ctx, func() *kgo.Record {
		if i == to {
			return nil
		}
		kind := i % load.NumTimerKinds
		rec := load.TimerSeed(in.s.events, timerShop(in.k, i%r.cfg.TimerWorkspaces), 1_000_001+int64(i), kind, due(i, kind))
		i++
		return rec
	})
	if err != nil {
		return err
	}
	r.logf("timers: produced %d seed events for size %d in %.1f s", st.Records, in.n, st.Duration.Seconds())
	return nil
}

// waitTimerSeeds waits until every size consumed its events topic.
func (r *run) waitTimerSeeds(ctx context.Context, insts []*timerInst, since time.Time) error {
	for _, in := range insts {
		end, err := r.adm.endOffsets(ctx, in.s.events)
		if err != nil {
			return err
		}
		for {
			if err := in.s.exitErr(); err != nil {
				return err
			}
			cm, err := r.adm.committed(ctx, in.s.group, in.s.events)
			if err == nil && remaining(end, cm) == 0 {
				break
			}
			if time.Since(since) > 2*time.Hour {
				return fmt.Errorf("timer seeding not done after 2 hours")
			}
			if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
				return err
			}
		}
	}
	return nil
}

func timerShop(size, w int) string { return fmt.Sprintf("timers-%d-%02d.myshopify.com", size, w) }

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
