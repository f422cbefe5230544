package harness

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
)

// timerHorizon is segmentd's look-ahead: timers due within a minute are loaded into
// memory (processor/timers.go), at most 30 s apart. A window opening 62 s before the
// first timer includes that load.
const timerLookahead = 62 * time.Second

// timerInst is one size of the timer benchmark: its own topics and segmentd.
type timerInst struct {
	n       int
	s       *sut
	first   time.Time // the first timer is due
	res     *Timers
	w0, w1  mark
	idle0   mark
	idle1   mark
	seedEnd time.Time
}

// timers runs the timer benchmark: for each size, contacts whose only time-relative
// timer falls due within TimerSpread of a common instant, seeded through Kafka with
// one small event each. It measures the CPU of the window containing the timers'
// load and firing per timer fired, then idle CPU with every timer far in the future.
// The sizes run side by side, each in its own segmentd, their windows staggered.
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
		insts = append(insts, &timerInst{n: n, s: s, res: &Timers{Contacts: n}})
	}
	for _, in := range insts {
		if _, err := in.s.waitMetrics(ctx, 5*time.Minute, 100*time.Millisecond, func(m metrics) bool {
			return m.sum("segmentd_partitions_assigned") == float64(in.s.partitions) && m.sum("segmentd_partitions_restoring") == 0
		}); err != nil {
			return err
		}
	}

	// When will seeding be over? Estimate from the live rate of this run, halved, as
	// the sizes seed side by side on the same cores.
	rate := 2000.0
	if r.res.Live != nil && r.res.Live.EventsPerSecond > 0 {
		rate = r.res.Live.EventsPerSecond / 2
	}
	total := sum(cfg.TimerContacts)
	seedStart := time.Now()
	seedBy := seedStart.Add(time.Duration(float64(total)/rate*float64(time.Second)) + 20*time.Second)
	for k, in := range insts {
		in.first = seedBy.Add(timerLookahead + 5*time.Second + time.Duration(k)*(cfg.TimerSpread+10*time.Second)).Truncate(time.Second)
	}
	r.logf("timers: seeding %d contacts (sizes %v); first timers due at +%s", total, cfg.TimerContacts, insts[0].first.Sub(seedStart).Round(time.Second))
	for k, in := range insts {
		n := in.n
		i := 0
		st, err := r.prod.Preload(ctx, func() *kgo.Record {
			if i == n {
				return nil
			}
			due := in.first.Add(time.Duration(float64(cfg.TimerSpread) * float64(i) / float64(n)))
			rec := load.TimerSeed(in.s.events, timerShop(k, i%cfg.TimerWorkspaces), 1_000_001+int64(i), i%load.NumTimerKinds, due)
			i++
			return rec
		})
		if err != nil {
			return err
		}
		r.logf("timers: produced %d seed events for size %d in %.1f s", st.Records, n, st.Duration.Seconds())
	}
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
			if time.Since(seedStart) > 2*time.Hour {
				return fmt.Errorf("timer seeding not done after 2 hours")
			}
			time.Sleep(100 * time.Millisecond)
		}
		in.seedEnd = time.Now()
		in.res.SeedSeconds = in.seedEnd.Sub(seedStart).Seconds()
		in.res.SeedRate = float64(in.n) / in.res.SeedSeconds
		r.logf("timers: size %d seeded after %.1f s", in.n, in.res.SeedSeconds)
		if late := in.seedEnd.Sub(in.first.Add(-timerLookahead)); late > 0 {
			in.res.Note = fmt.Sprintf("seeding ended %.0f s into the measurement window: the window's CPU includes seeding", late.Seconds())
			r.note("timers %d: %s", in.n, in.res.Note)
		}
	}

	// The windows, in time order: open 62 s before the first timer (so the load into
	// memory is inside), close once every timer fired (at least spread + 3 s after).
	type step struct {
		at   time.Time
		in   *timerInst
		open bool
	}
	var steps []step
	for _, in := range insts {
		steps = append(steps, step{in.first.Add(-timerLookahead), in, true}, step{in.first.Add(cfg.TimerSpread + 3*time.Second), in, false})
	}
	slices.SortFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	for _, st := range steps {
		if err := sleepUntil(ctx, st.at); err != nil {
			return err
		}
		in := st.in
		if st.open {
			in.w0 = r.mark(ctx, in.s, time.Now(), 0)
			continue
		}
		wait := max(2*time.Minute, time.Duration(in.n/2000)*time.Second)
		deadline := time.Now().Add(wait)
		for {
			m, err := in.s.scrape(ctx)
			if err == nil && m.histogram("segmentd_timer_lateness_seconds").count-in.w0.m.histogram("segmentd_timer_lateness_seconds").count >= float64(in.n) {
				break
			}
			if time.Now().After(deadline) {
				r.note("timers %d: not every timer fired within %s of the last due instant", in.n, wait)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		in.w1 = r.mark(ctx, in.s, time.Now(), 0)
		r.logf("timers: size %d window closed", in.n)
	}

	// Idle: no events, every timer months away.
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
		h := in.w1.m.histogram("segmentd_timer_lateness_seconds").sub(in.w0.m.histogram("segmentd_timer_lateness_seconds"))
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
		t.RSSBytes = in.idle1.m.sum("process_resident_memory_bytes")
		r.logf("timers %d: %.0f fired, %.1f µs CPU each (%.1f raw), lateness p99 %.3f s; idle %.2f CPU-s/min",
			in.n, t.Fired, t.CPUMicrosPerTimer, t.RawCPUMicrosPerTimer, t.LatenessP99, t.IdleCPUPerMinute)
		r.res.Timers = append(r.res.Timers, *t)
	}
	for _, in := range insts {
		if _, err := in.s.stop(); err != nil {
			r.note("stopping %s: %v", in.s.name, err)
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
