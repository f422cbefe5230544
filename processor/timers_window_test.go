package processor

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestTimerWait: the loop waits for input until the next timer or the next load of
// the index, not sooner than a gap after the previous window, and never longer than
// the limit.
func TestTimerWait(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const ci = 100 * time.Millisecond
	tm := timers{nextLoad: now.Add(30 * time.Second)}
	for _, c := range []struct {
		name  string
		heap  []time.Duration // due instants, relative to now
		since time.Duration   // since the previous window
		want  time.Duration
	}{
		{"no timers: the limit", nil, time.Second, ci},
		{"a timer due before the limit", []time.Duration{30 * time.Millisecond}, time.Second, 30 * time.Millisecond},
		{"a timer due after the limit", []time.Duration{time.Second}, time.Second, ci},
		{"a due timer", []time.Duration{-time.Second}, time.Second, 0},
		{"a due timer right after a window", []time.Duration{-time.Second}, 40 * time.Millisecond, 60 * time.Millisecond},
		{"a timer due within the gap", []time.Duration{10 * time.Millisecond}, 70 * time.Millisecond, 30 * time.Millisecond},
	} {
		tm.heap = tm.heap[:0]
		for _, d := range c.heap {
			tm.heap = append(tm.heap, timerEntry{due: now.Add(d)})
		}
		if got := tm.wait(now, c.since, ci, ci); got != c.want {
			t.Errorf("%s: wait = %s, want %s", c.name, got, c.want)
		}
	}
	tm.heap = tm.heap[:0]
	tm.nextLoad = now.Add(20 * time.Millisecond)
	if got := tm.wait(now, time.Second, ci, ci); got != 20*time.Millisecond {
		t.Errorf("before the next load: wait = %s, want 20ms", got)
	}
	tm.nextLoad = time.Time{}
	if got := tm.wait(now, time.Second, ci, ci); got != 0 {
		t.Errorf("nothing loaded yet: wait = %s, want 0", got)
	}
}

// seedTimers creates n contacts of workspace ws with one timer each (load.TimerSeed),
// due at first, first+step, ..., and waits until the processor consumed them.
func seedTimers(t testing.TB, h *harness, n int, first time.Time, step time.Duration) {
	t.Helper()
	segs, err := load.TimerSegments(ws)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range segs {
		h.putSegment(ws, s.ID, string(s.Value))
		keys = append(keys, ws+"/"+s.ID)
	}
	waitBackfills(t, h, keys...)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = load.TimerSeed(h.cfg.Topics.Events[0], ws, int64(1_000_001+i), i%load.NumTimerKinds, first.Add(time.Duration(i)*step))
	}
	if err := h.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitConsumed(t, h)
}

// waitBackfills waits until the definitions keys are live and their backfills are
// over: a contact created while they run may be evaluated again by them after the
// clock moves (reason "definition") and its timer re-armed.
func waitBackfills(t testing.TB, h *harness, keys ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	live := func() bool {
		v := h.proc.view.Load()
		for _, k := range keys {
			if v.segs[k] == nil {
				return false
			}
		}
		return true
	}
	for !live() {
		if time.Now().After(deadline) {
			t.Fatalf("segments %v not live after 60s", keys)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The gauge is set after each committed window: once a window committed after
	// the definitions were applied (or a second went by without one: the window
	// that applied them had committed already), it counts their backfills.
	windows, since := committedWindows(h), time.Now()
	for (committedWindows(h) == windows && time.Since(since) < time.Second) || testutil.ToFloat64(h.proc.m.backfillsPending) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("backfills pending after 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTimeTransitions waits until n transitions of reason "time" arrived and checks
// that each customer got exactly one.
func waitTimeTransitions(t *testing.T, h *harness, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := map[int64]int{}
		h.out.Lock()
		for _, r := range h.out.membership {
			if r.T.Reason == ReasonTime {
				seen[r.T.CustomerID]++
			}
		}
		h.out.Unlock()
		for id, k := range seen {
			if k > 1 {
				t.Fatalf("customer %d got %d time transitions, want 1", id, k)
			}
		}
		if len(seen) == n {
			time.Sleep(200 * time.Millisecond) // nothing more may follow
			h.out.Lock()
			extra := 0
			for _, r := range h.out.membership {
				if r.T.Reason == ReasonTime {
					extra++
				}
			}
			h.out.Unlock()
			if extra != n {
				t.Fatalf("%d time transitions, want %d", extra, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d contacts flipped by time after 60s", len(seen), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func committedWindows(h *harness) float64 {
	return testutil.ToFloat64(h.proc.m.windows.WithLabelValues("committed"))
}

// TestTimersBeyondMaxWindowRecords: a window fires every due timer it has time for,
// not only MaxWindowRecords of them.
func TestTimersBeyondMaxWindowRecords(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.MaxWindowRecords = 5; c.CommitInterval = time.Second })
		const n = 60
		seedTimers(t, h, n, h.now().Add(time.Hour), time.Millisecond)
		time.Sleep(2 * time.Second) // a window to load the index ran
		before := committedWindows(h)
		h.advance(2 * time.Hour)
		waitTimeTransitions(t, h, n)
		time.Sleep(time.Second) // the window is counted once its End returned
		if got := committedWindows(h) - before; got != 1 {
			t.Errorf("%d due timers fired in %.0f windows, want 1 (MaxWindowRecords is 5)", n, got)
		}
	})
}

// TestTimersTimeBudget: a window stops firing timers when its time is up and puts
// back the batch it read ahead; the next windows fire the rest, each exactly once.
func TestTimersTimeBudget(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.CommitInterval = time.Millisecond })
		const n = 3 * timerBatch * 4
		seedTimers(t, h, n, h.now().Add(time.Hour), time.Millisecond)
		before := committedWindows(h)
		h.advance(2 * time.Hour)
		waitTimeTransitions(t, h, n)
		if got := committedWindows(h) - before; got < 2 {
			t.Errorf("%d due timers fired in %.0f window, want several (a 1 ms CommitInterval)", n, got)
		}
	})
}

// TestTimerWakesLoop: with a long CommitInterval, the loop does not poll for input
// past a timer's instant: each timer fires within a fraction of the interval.
func TestTimerWakesLoop(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const ci = 2 * time.Second
		h := newHarness(t, b, func(c *Config) { c.Now = time.Now; c.CommitInterval = ci })
		h.putSegment(ws, "sixty", seg("sixty", `{"field":"days_since_last_order","op":"gte","value":60}`))
		time.Sleep(300 * time.Millisecond)
		start := time.Now().Round(0)
		// Due 2.5 s, 4.7 s and 6.9 s from now: each more than a CommitInterval after
		// the previous window, and in the middle of what would be a poll.
		offsets := []time.Duration{2500 * time.Millisecond, 4700 * time.Millisecond, 6900 * time.Millisecond}
		for i, d := range offsets {
			id := int64(71 + i)
			h.envelope(ws+"/"+itoa(id), "orders/create", ws, "o"+itoa(id), order(id, 700+id, start.Add(d-60*24*time.Hour), "10.00"))
		}
		for i, d := range offsets {
			due := start.Add(d)
			recs := h.waitTransitions(i, 1)
			late := time.Since(due)
			r := recs[len(recs)-1]
			if r.T.Reason != ReasonTime || r.T.CustomerID != int64(71+i) {
				t.Fatalf("unexpected transition %s", r.short())
			}
			if late > 600*time.Millisecond {
				t.Errorf("timer %d fired (and was read) %s after its instant, want well within the %s CommitInterval", i, late.Round(time.Millisecond), ci)
			} else {
				t.Logf("timer %d read %s after its instant", i, late.Round(time.Millisecond))
			}
		}
	})
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
