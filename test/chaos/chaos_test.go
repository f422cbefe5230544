package chaos

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

var (
	flagLarge    = flag.Bool("chaos.large", false, "the large run: 50 kills, two scale cycles, two data-dir deletions, a broker restart (~15 min; needs -timeout 30m); also SEGMENTD_CHAOS=large")
	flagSeed     = flag.Int64("chaos.seed", 0, "seed of the event stream, definitions and fault schedule (0: pick one and print it)")
	flagLogLevel = flag.String("chaos.log-level", "info", "segmentd's --log-level")
	flagKeep     = flag.Bool("chaos.keep", false, "keep topics, group, data dirs and logs even when the test passes")
	flagBin      = flag.String("chaos.bin", "", "run this segmentd binary instead of building ./cmd/segmentd")
)

// plan sizes one run.
type plan struct {
	name           string
	live           time.Duration // the live stream, during which faults are injected
	rate           int           // live events per second
	kills          int
	scaleCycles    int // 1 → 3 → 1
	wipes          int // data-dir deletions
	brokerRestarts int
	pauses         int // zombies: SIGSTOP past the session timeout, then SIGCONT
	workspaces     int
	contacts       int // per workspace
	quiesce        time.Duration
	stableFor      time.Duration // no new output for this long
	needs          time.Duration // the test's minimum -timeout
}

var (
	defaultPlan = plan{name: "default", live: 80 * time.Second, rate: 250, kills: 12, scaleCycles: 1, wipes: 1,
		workspaces: 2, contacts: 300, quiesce: 150 * time.Second, stableFor: 3 * time.Second, needs: 5 * time.Minute}
	largePlan = plan{name: "large", live: 11 * time.Minute, rate: 300, kills: 50, scaleCycles: 2, wipes: 2, brokerRestarts: 1, pauses: 1,
		workspaces: 2, contacts: 300, quiesce: 5 * time.Minute, stableFor: 5 * time.Second, needs: 20 * time.Minute}
)

func choosePlan() plan {
	if *flagLarge || strings.EqualFold(strings.TrimSpace(os.Getenv("SEGMENTD_CHAOS")), "large") {
		return largePlan
	}
	return defaultPlan
}

// exclusionTag is segmentd's default --exclusion-tag.
const exclusionTag = "exclude_from_galantis"

// harness is the state of one run.
type harness struct {
	t       *testing.T
	pl      plan
	b       *kafkatest.Broker
	adm     *kadm.Client
	tp      topics
	group   string
	tl      *timeline
	cluster *cluster
	ref     *reference
	rng     *rand.Rand // the fault schedule's: used by the monkey goroutine only

	mu      sync.Mutex
	errs    []string // harness-level failures found during the run (reported at the end)
	skips   []string // faults that could not be injected, and why
	kafkaSh string
}

func (h *harness) errorf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	h.errs = append(h.errs, msg)
	h.tl.add("ERROR", "", "%s", firstLine(msg))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestChaos: see the package documentation.
func TestChaos(t *testing.T) {
	if !kafkatest.RealSelected(t) { // -short selects kfake alone
		testenv.MissingTool(t, "a real Kafka broker", "not selected (-short or SEGMENTD_TEST_BROKERS without kafka)")
	}
	pl := choosePlan()
	if dl, ok := t.Deadline(); ok && time.Until(dl) < pl.needs {
		t.Fatalf("chaos: the %s run needs about %v but the test deadline is in %v: run with -timeout %v",
			pl.name, pl.needs, time.Until(dl).Round(time.Second), (pl.needs + 10*time.Minute).Round(time.Minute))
	}
	b := kafkatest.Real(t)
	testStart := time.Now()
	bin := *flagBin
	if bin == "" {
		bin = testenv.SegmentdBinary(t)
		t.Logf("chaos: built segmentd in %v", time.Since(testStart).Round(time.Millisecond))
	} else if _, err := os.Stat(bin); err != nil {
		t.Fatalf("-chaos.bin: %v", err)
	}

	seed := *flagSeed
	if seed == 0 {
		seed = time.Now().UnixNano()%1_000_000_000 + 1
	}
	t.Logf("chaos: %s run, seed %d (-chaos.seed %d reproduces the stream, the definitions and the fault schedule), broker %s",
		pl.name, seed, seed, strings.Join(b.Addrs, ","))

	run := kafkatest.UniqueName("chaos")
	h := &harness{t: t, pl: pl, b: b, adm: b.Admin(t), tp: newTopics(run), group: run + ".group",
		tl: &timeline{start: time.Now()}, rng: rand.New(rand.NewPCG(uint64(seed), 0xfa17))}
	if testing.Verbose() && pl.name == "large" {
		h.tl.live = func(s string) { t.Log(s) } // progress of a long run
	}
	workDir, err := os.MkdirTemp("", run+"-")
	if err != nil {
		t.Fatal(err)
	}
	logDir, dataRoot := filepath.Join(workDir, "logs"), filepath.Join(workDir, "data")
	for _, d := range []string{logDir, dataRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	baseArgs := append([]string{"--brokers", strings.Join(b.Addrs, ","), "--group", h.group, "--partitions", fmt.Sprint(partitions),
		"--commit-interval", "50ms", "--log-level", *flagLogLevel, "--exclusion-tag", exclusionTag}, h.tp.args()...)
	h.cluster = newCluster(t, bin, logDir, dataRoot, baseArgs, h.tl, 3)
	t.Cleanup(func() { h.cleanup(workDir) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if pl.brokerRestarts > 0 {
		h.checkBrokerRestartable(ctx)
	}

	// ---- Input topics, the initial definitions and the catalog, then p0.
	if err := createInputTopics(ctx, h.adm, h.tp); err != nil {
		t.Fatal(err)
	}
	day0 := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	g := gen.New(gen.Config{Seed: seed, Workspaces: pl.workspaces, ContactsPerWorkspace: pl.contacts, Start: day0})
	dc, err := newDefChanger(rand.New(rand.NewPCG(uint64(seed), 0xdef5)), day0, g.Workspaces(), g.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	prod, err := newProducer(b.Addrs, h.tp)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.cl.Close()
	initial := dc.initial()
	if err := validateDefinitions(initial); err != nil {
		t.Fatalf("test bug: %v", err)
	}
	for _, r := range initial {
		r.Topic = h.tp.segments
		prod.produce(ctx, r, "")
	}
	for _, rec := range g.Catalog() {
		prod.produce(ctx, &kgo.Record{Topic: h.tp.catalog, Key: rec.Key, Value: rec.Value}, "")
	}
	if err := h.flush(ctx, prod); err != nil {
		t.Fatal(err)
	}
	if err := h.cluster.start(h.cluster.slot("p0")); err != nil {
		t.Fatal(err)
	}
	if err := h.waitAllReady(ctx, 90*time.Second); err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Logf("chaos: p0 ready after %v", time.Since(testStart).Round(time.Millisecond))

	// ---- History, then the live stream with faults.
	feeder := newFeeder(g, rand.New(rand.NewPCG(uint64(seed), 0xfeed)), day0)
	history := 0
	for rec := range g.History() {
		r, fam := feeder.fromGen(rec, h.tp.events)
		prod.produce(ctx, r, fam)
		history++
	}
	h.tl.add("history", "", "%d records produced", history)

	liveStart := time.Now()
	h.tl.add("live", "", "stream at %d events/s for %v", pl.rate, pl.live)
	monkeyDone := make(chan struct{})
	go func() {
		defer close(monkeyDone)
		h.monkey(ctx, liveStart)
	}()
	produced := 0
	nextDef := liveStart.Add(3 * time.Second)
	nextCat := liveStart.Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		now := <-tick.C
		el := now.Sub(liveStart)
		if el >= pl.live && chanClosed(monkeyDone) {
			break
		}
		want := int(el.Seconds() * float64(pl.rate))
		if want-produced > 2*pl.rate { // stalled (broker restart): do not burst
			produced = want - 2*pl.rate
		}
		for ; produced < want; produced++ {
			r, fam := feeder.next(h.tp.events)
			prod.produce(ctx, r, fam)
		}
		if now.After(nextDef) {
			kind, recs := dc.changeDefinition()
			if kind != "def-invalid" {
				if err := validateDefinitions(recs); err != nil {
					t.Fatalf("test bug: %v", err)
				}
			}
			for _, r := range recs {
				r.Topic = h.tp.segments
				prod.produce(ctx, r, "")
				h.tl.add(kind, "", "%s %s", r.Key, shorten(r.Value, 160))
			}
			nextDef = now.Add(time.Duration(4000+dc.r.IntN(5000)) * time.Millisecond)
		}
		if now.After(nextCat) {
			kind, r := dc.changeCatalog()
			r.Topic = h.tp.catalog
			prod.produce(ctx, r, "")
			h.tl.add(kind, "", "%s %s", r.Key, shorten(r.Value, 120))
			nextCat = now.Add(time.Duration(5000+dc.r.IntN(7000)) * time.Millisecond)
		}
	}
	if err := h.flush(ctx, prod); err != nil {
		t.Fatal(err)
	}
	h.tl.add("live-end", "", "stopped producing after %v", time.Since(liveStart).Round(time.Millisecond))
	t.Logf("chaos: live phase done after %v (test time %v): %d events (%d history), %d definition and %d catalog records",
		time.Since(liveStart).Round(time.Millisecond), time.Since(testStart).Round(time.Second), prod.events, history, prod.defs, prod.cats)
	if n := prod.failed.Load(); n > 0 {
		t.Logf("chaos: %d records failed to produce (the reference reads the topics back, so they do not count): first: %v", n, prod.firstErr.Load())
	}
	if len(feeder.decodeSurprises) > 0 {
		t.Errorf("test bug: %d own events meant to be valid do not decode; first: %s", len(feeder.decodeSurprises), feeder.decodeSurprises[0])
	}

	// ---- Quiescence.
	qStart := time.Now()
	if state, err := h.waitQuiescent(ctx); err != nil {
		h.errorf("no quiescence within %v: %v\n%s", pl.quiesce, err, state)
	} else {
		t.Logf("chaos: quiescent after %v: %s", time.Since(qStart).Round(time.Millisecond), state)
	}

	// ---- Read everything back and compare.
	vStart := time.Now()
	v, err := h.verify(ctx)
	if err != nil {
		h.errorf("verification could not run: %v", err)
	}
	t.Logf("chaos: verified in %v", time.Since(vStart).Round(time.Millisecond))
	h.report(v, prod, dc, history, time.Since(testStart))
}

func chanClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func shorten(b []byte, n int) string {
	if b == nil {
		return "<tombstone>"
	}
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func (h *harness) flush(ctx context.Context, prod *producer) error {
	fctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := prod.flush(fctx); err != nil {
		return fmt.Errorf("flush the producer: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------------
// Faults.

type action struct {
	at   time.Duration // after the start of the live stream
	kind string
	n    int // which cycle
}

// schedule returns the faults of the plan, in time order.
func (h *harness) schedule() []action {
	pl := h.pl
	var as []action
	frac := func(f float64) time.Duration { return time.Duration(f * float64(pl.live)) }
	for i := 0; i < pl.scaleCycles; i++ {
		w := 1 / float64(pl.scaleCycles)
		as = append(as, action{at: frac(w*float64(i) + 0.15*w), kind: faultScaleUp, n: i},
			action{at: frac(w*float64(i) + 0.7*w), kind: faultScaleDown, n: i})
	}
	for i := 0; i < pl.pauses; i++ { // while three processes run, so that others take over
		w := 1 / float64(pl.scaleCycles)
		as = append(as, action{at: frac(w*float64(i%pl.scaleCycles) + 0.3*w), kind: faultPause, n: i})
	}
	for i := 0; i < pl.wipes; i++ {
		as = append(as, action{at: frac((float64(i) + 0.45) / float64(pl.wipes)), kind: faultWipe, n: i})
	}
	for i := 0; i < pl.brokerRestarts; i++ {
		as = append(as, action{at: frac((float64(i) + 0.55) / float64(pl.brokerRestarts)), kind: faultBrokerRestart, n: i})
	}
	for i := 0; i < pl.kills; i++ {
		as = append(as, action{at: frac(0.04 + 0.88*h.rng.Float64()), kind: faultKill, n: i})
	}
	sort.SliceStable(as, func(i, j int) bool { return as[i].at < as[j].at })
	return as
}

// monkey injects the scheduled faults one after the other (a late one runs as soon as
// the previous one is done).
func (h *harness) monkey(ctx context.Context, liveStart time.Time) {
	sched := h.schedule()
	var plan []string
	for _, a := range sched {
		plan = append(plan, fmt.Sprintf("%s@%.1fs", a.kind, a.at.Seconds()))
	}
	h.tl.add("schedule", "", "%s", strings.Join(plan, " "))
	for _, a := range sched {
		if d := time.Until(liveStart.Add(a.at)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		switch a.kind {
		case faultKill:
			h.killOne()
		case faultScaleUp:
			for _, name := range []string{"p1", "p2"} {
				if err := h.cluster.start(h.cluster.slot(name)); err != nil {
					h.errorf("scale up: start %s: %v", name, err)
				}
			}
			h.tl.add(faultScaleUp, "", "1 → 3 processes (cycle %d)", a.n+1)
		case faultScaleDown:
			h.scaleDown(ctx, a.n)
		case faultWipe:
			h.wipe()
		case faultBrokerRestart:
			h.restartBroker(ctx)
		case faultPause:
			h.pause(ctx)
		}
	}
}

// killOne kills a random running process with SIGKILL and restarts it on the same
// data dir, at once or after up to 3 s.
func (h *harness) killOne() {
	running := h.cluster.wanted()
	if len(running) == 0 {
		h.errorf("kill: no process wanted")
		return
	}
	victims := []*slot{pick(h.rng, running)}
	if len(running) > 1 && h.pl.name == "large" && h.rng.IntN(8) == 0 {
		// Now and then two at once.
		for _, s := range running {
			if s != victims[0] {
				victims = append(victims, s)
				break
			}
		}
	}
	for _, s := range victims {
		if !h.cluster.kill(s, faultKill, "scheduled") {
			h.tl.add(faultKill, s.name, "no running process to kill (being restarted); restarting it")
		}
	}
	var delay time.Duration
	switch h.rng.IntN(3) {
	case 0:
	case 1:
		delay = time.Duration(h.rng.IntN(500)) * time.Millisecond
	default:
		delay = time.Second + time.Duration(h.rng.IntN(2000))*time.Millisecond
	}
	time.Sleep(delay)
	for _, s := range victims {
		if err := h.cluster.start(s); err != nil {
			h.tl.add("restart-skipped", s.name, "%v", err)
		}
	}
}

// scaleDown stops p1 and p2 with SIGTERM (each must exit 0 within 30 s), then removes
// them from the group: a static member that stops stays in the group until its session
// times out (45 s), and an operator scaling down removes it (KIP-345).
func (h *harness) scaleDown(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for _, name := range []string{"p1", "p2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.cluster.stop(h.cluster.slot(name), 30*time.Second); err != nil {
				h.errorf("scale down: %v", err)
			}
		}()
	}
	wg.Wait()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := h.adm.LeaveGroup(lctx, kadm.LeaveGroup(h.group).InstanceIDs("p1", "p2").Reason("chaos: scaled down"))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		h.tl.add("leave-group", "", "removing static members p1, p2: %v", err)
	}
	h.tl.add(faultScaleDown, "", "3 → 1 processes (cycle %d): p1, p2 stopped with SIGTERM and removed from the group", n+1)
}

// wipe stops a random process (SIGKILL or SIGTERM), deletes its data dir and restarts
// it: it must restore every partition it gets from the changelog.
func (h *harness) wipe() {
	running := h.cluster.wanted()
	if len(running) == 0 {
		h.errorf("wipe: no process wanted")
		return
	}
	s := pick(h.rng, running)
	how := "SIGKILL"
	if h.rng.IntN(2) == 0 {
		how = "SIGTERM"
		if err := h.cluster.stop(s, 30*time.Second); err != nil {
			h.errorf("wipe: %v", err)
		}
	} else {
		h.cluster.kill(s, "kill-9(wipe)", "before deleting its data dir")
	}
	if err := os.RemoveAll(s.dataDir); err != nil {
		h.errorf("wipe: remove %s: %v", s.dataDir, err)
	}
	h.tl.add(faultWipe, s.name, "stopped with %s, deleted %s", how, s.dataDir)
	time.Sleep(time.Duration(500+h.rng.IntN(1500)) * time.Millisecond)
	if err := h.cluster.start(s); err != nil {
		h.errorf("wipe: restart %s: %v", s.name, err)
	}
}

// zombiePause is how long a paused process stays stopped: past the group session
// timeout (franz-go's default, 45 s), so that the group evicts it and its partitions
// move while it holds an open transaction.
const zombiePause = 55 * time.Second

// pause stops a random process with SIGSTOP for zombiePause, then resumes it with
// SIGCONT: a zombie that must be fenced (its transaction aborted, its late commit
// refused) and must not write anything twice. It may exit when it finds itself fenced:
// such an exit is tolerated and the process restarted.
func (h *harness) pause(ctx context.Context) {
	running := h.cluster.wanted()
	if len(running) < 2 {
		h.tl.add(faultPause, "", "skipped: fewer than two processes run")
		return
	}
	s := pick(h.rng, running)
	p, ok := h.cluster.signal(s, syscall.SIGSTOP)
	if !ok {
		h.tl.add(faultPause, s.name, "skipped: not running")
		return
	}
	h.tl.add(faultPause, s.name, "pid %d stopped (SIGSTOP) for %v", p.cmd.Process.Pid, zombiePause)
	select {
	case <-ctx.Done():
	case <-time.After(zombiePause):
	}
	release := h.cluster.tolerate(60 * time.Second)
	defer release()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		h.tl.add("sigcont", s.name, "pid %d: %v", p.cmd.Process.Pid, err)
		return
	}
	h.tl.add("sigcont", s.name, "pid %d resumed", p.cmd.Process.Pid)
	if err := h.waitAllReady(ctx, 2*time.Minute); err != nil {
		h.errorf("after resuming the zombie %s: %v", s.name, err)
	}
}

// checkBrokerRestartable finds kafka.sh and checks that it manages the test's broker.
func (h *harness) checkBrokerRestartable(ctx context.Context) {
	root, err := testenv.FindRepoRoot()
	if err != nil {
		h.skips = append(h.skips, fmt.Sprintf("broker restart: %v", err))
		return
	}
	script := filepath.Join(root, "deploy", "local-kafka", "kafka.sh")
	out, err := exec.CommandContext(ctx, "bash", script, "status").Output()
	addr := strings.TrimSpace(string(out))
	if err != nil || !slices.Contains(h.b.Addrs, addr) {
		h.skips = append(h.skips, fmt.Sprintf("broker restart: kafka.sh status (SEGMENTD_KAFKA_PORT=%q) gives %q (%v), not one of the test's brokers %v: "+
			"not restarting a broker this harness does not manage", os.Getenv("SEGMENTD_KAFKA_PORT"), addr, err, h.b.Addrs))
		return
	}
	h.kafkaSh = script
}

// restartBroker stops the broker keeping its data (KEEP=1 kafka.sh down) and starts it
// again. Processes that exit meanwhile are restarted by the cluster and counted.
func (h *harness) restartBroker(ctx context.Context) {
	if h.kafkaSh == "" {
		h.tl.add(faultBrokerRestart, "", "skipped: %s", strings.Join(h.skips, "; "))
		return
	}
	release := h.cluster.tolerate(60 * time.Second)
	defer release()
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "bash", append([]string{h.kafkaSh}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	t0 := time.Now()
	if out, err := run([]string{"KEEP=1"}, "down"); err != nil {
		h.errorf("broker restart: KEEP=1 kafka.sh down: %v\n%s", err, out)
		return
	}
	h.tl.add(faultBrokerRestart, "", "broker stopped (KEEP=1 kafka.sh down) in %v", time.Since(t0).Round(time.Millisecond))
	time.Sleep(time.Duration(1000+h.rng.IntN(3000)) * time.Millisecond)
	t1 := time.Now()
	if out, err := run(nil, "up"); err != nil {
		h.errorf("broker restart: kafka.sh up: %v\n%s", err, out)
		return
	}
	h.tl.add("broker-up", "", "broker up again in %v (down for %v)", time.Since(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	if err := h.waitAllReady(ctx, 3*time.Minute); err != nil {
		h.errorf("after the broker restart: %v", err)
	}
	h.tl.add("ready", "", "every process ready %v after the broker came back", time.Since(t1).Round(time.Millisecond))
}

// ---------------------------------------------------------------------------------
// Readiness and quiescence.

// waitAllReady waits until every wanted slot has a process answering /readyz.
func (h *harness) waitAllReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		notReady := h.notReady()
		if len(notReady) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %s", timeout, strings.Join(notReady, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *harness) notReady() []string {
	var out []string
	for _, s := range h.cluster.wanted() {
		h.cluster.mu.Lock()
		p := s.cur
		h.cluster.mu.Unlock()
		switch {
		case p == nil || p.exited():
			out = append(out, s.name+" not running")
		case !p.ready():
			out = append(out, s.name+" not ready")
		}
	}
	return out
}

// waitQuiescent waits until every process is ready, every partition is assigned and
// restored with no backfill pending, the group's committed offsets equal the events
// topic's end offsets, and the membership and dead-letter topics have not grown for
// plan.stableFor.
func (h *harness) waitQuiescent(ctx context.Context) (string, error) {
	deadline := time.Now().Add(h.pl.quiesce)
	var lastOut string
	var stableSince, openSince time.Time
	var openFirst string
	state := ""
	for {
		ok, st := h.quiescentNow(ctx)
		if strings.Contains(st, "open transaction on") {
			if openSince.IsZero() {
				openSince, openFirst = time.Now(), st
			}
		} else if !openSince.IsZero() {
			// Windows in flight are open transactions too: note only long ones.
			if d := time.Since(openSince); d > 2*time.Second {
				h.tl.add("open-transaction", "", "quiescence waited %v for open transactions (read_committed consumers stalled): first seen: %s",
					d.Round(time.Millisecond), openFirst)
			}
			openSince = time.Time{}
		}
		outEnds := h.endOffsets(ctx, h.tp.membership, h.tp.dlq)
		state = st + "; output end offsets " + outEnds
		if outEnds != lastOut || !ok {
			stableSince = time.Now()
			lastOut = outEnds
		}
		if ok && time.Since(stableSince) >= h.pl.stableFor {
			return state, nil
		}
		if time.Now().After(deadline) {
			var tails strings.Builder
			for _, p := range h.cluster.current() {
				fmt.Fprintf(&tails, "  %s (%s) last lines:\n%s\n", p.slot.name, p.logPath, indent(lastLines(readFile(p.logPath), 25), "    | "))
			}
			return state + "\n" + tails.String(), fmt.Errorf("not quiescent")
		}
		select {
		case <-ctx.Done():
			return state, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (h *harness) quiescentNow(ctx context.Context) (bool, string) {
	var why []string
	if nr := h.notReady(); len(nr) > 0 {
		why = append(why, strings.Join(nr, ", "))
	}
	sum := map[string]float64{}
	for _, p := range h.cluster.current() {
		m, err := p.metrics()
		if err != nil {
			why = append(why, fmt.Sprintf("%s metrics: %v", p.slot.name, err))
			continue
		}
		for _, k := range []string{"segmentd_partitions_assigned", "segmentd_partitions_restoring", "segmentd_backfills_pending"} {
			sum[k] += m[k]
		}
	}
	if sum["segmentd_partitions_assigned"] != partitions {
		why = append(why, fmt.Sprintf("%v partitions assigned", sum["segmentd_partitions_assigned"]))
	}
	if n := sum["segmentd_partitions_restoring"]; n != 0 {
		why = append(why, fmt.Sprintf("%v restoring", n))
	}
	if n := sum["segmentd_backfills_pending"]; n != 0 {
		why = append(why, fmt.Sprintf("%v backfills pending", n))
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := h.adm.ListEndOffsets(qctx, h.tp.events)
	if err != nil {
		return false, fmt.Sprintf("end offsets: %v", err)
	}
	committed, err := h.adm.FetchOffsets(qctx, h.group)
	if err != nil {
		return false, fmt.Sprintf("committed offsets: %v", err)
	}
	var lag []string
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(h.tp.events, o.Partition)
		at := int64(-1)
		if ok && c.Err == nil {
			at = c.At
		}
		if at != o.Offset {
			lag = append(lag, fmt.Sprintf("p%d %d/%d", o.Partition, at, o.Offset))
		}
		total += o.Offset
	})
	sort.Strings(lag)
	if len(lag) > 0 {
		why = append(why, "lag "+strings.Join(lag, " "))
	}
	// No transaction may be open on an output topic: a read_committed consumer sees
	// nothing past it (a process killed mid-window, whose transactional id nobody
	// re-initializes, leaves one open until the transaction timeout).
	if open := h.openTransactions(qctx, h.tp.membership, h.tp.dlq, h.tp.changelog); open != "" {
		why = append(why, open)
	}
	if len(why) == 0 {
		return true, fmt.Sprintf("all ready, %d events consumed and committed", total)
	}
	return false, strings.Join(why, "; ")
}

// openTransactions lists the partitions whose last stable offset is below the high
// watermark, or "" if there are none.
func (h *harness) openTransactions(ctx context.Context, topics ...string) string {
	lso, err := h.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return "last stable offsets: " + err.Error()
	}
	hwm, err := h.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return "end offsets: " + err.Error()
	}
	var open []string
	hwm.Each(func(o kadm.ListedOffset) {
		if l, ok := lso.Lookup(o.Topic, o.Partition); ok && l.Err == nil && l.Offset < o.Offset {
			open = append(open, fmt.Sprintf("%s/%d (stable %d < end %d)", o.Topic[strings.LastIndexByte(o.Topic, '.')+1:], o.Partition, l.Offset, o.Offset))
		}
	})
	if len(open) == 0 {
		return ""
	}
	sort.Strings(open)
	return "open transaction on " + strings.Join(open, " ")
}

func (h *harness) endOffsets(ctx context.Context, topics ...string) string {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := h.adm.ListEndOffsets(qctx, topics...)
	if err != nil {
		return "error: " + err.Error()
	}
	var parts []string
	ends.Each(func(o kadm.ListedOffset) {
		parts = append(parts, fmt.Sprintf("%s/%d=%d", o.Topic[strings.LastIndexByte(o.Topic, '.')+1:], o.Partition, o.Offset))
	})
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// ---------------------------------------------------------------------------------
// Verification and report.

func (h *harness) verify(ctx context.Context) (*verdict, error) {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	ref := newReference(exclusionTag)
	h.ref = ref
	stableIDs := map[string]bool{}
	for _, s := range stableDefs(time.Time{}) {
		stableIDs[s.id] = true
	}
	brokers := h.b.Addrs
	var timing []string
	read := func(topic string, iso kgo.IsolationLevel, fn func(*kgo.Record)) error {
		t0 := time.Now()
		ends, err := readTopic(rctx, brokers, h.adm, topic, iso, fn)
		var n int64
		for _, e := range ends {
			n += e
		}
		timing = append(timing, fmt.Sprintf("%s (%d offsets) %v", topic[strings.LastIndexByte(topic, '.')+1:], n, time.Since(t0).Round(time.Millisecond)))
		return err
	}
	if err := read(h.tp.segments, kgo.ReadUncommitted(), func(r *kgo.Record) { ref.applySegmentRecord(r, stableIDs) }); err != nil {
		return nil, err
	}
	if err := read(h.tp.catalog, kgo.ReadUncommitted(), ref.applyCatalogRecord); err != nil {
		return nil, err
	}
	ref.finishGlobals()
	if err := read(h.tp.events, kgo.ReadUncommitted(), ref.applyEvent); err != nil {
		return nil, err
	}
	var out []*outRec
	if err := read(h.tp.membership, kgo.ReadCommitted(), func(r *kgo.Record) { out = append(out, parseOut(r)) }); err != nil {
		return nil, err
	}
	var dlq []*kgo.Record
	if err := read(h.tp.dlq, kgo.ReadCommitted(), func(r *kgo.Record) { dlq = append(dlq, r) }); err != nil {
		return nil, err
	}
	h.t.Logf("chaos: read back (and applied to the reference): %s", strings.Join(timing, ", "))
	return compare(out, dlq, ref), nil
}

func (h *harness) report(v *verdict, prod *producer, dc *defChanger, history int, took time.Duration) {
	t := h.t
	c := h.cluster
	c.mu.Lock()
	restarts := slices.Clone(c.restarts)
	unexpected := slices.Clone(c.unexpected)
	starts := map[string]int{}
	for _, s := range c.slots {
		starts[s.name] = s.starts
	}
	c.mu.Unlock()
	faults := map[string]int{}
	for _, k := range []string{faultKill, faultScaleUp, faultScaleDown, faultWipe, faultBrokerRestart, faultPause} {
		faults[k] = h.tl.count(k)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "chaos %s run summary (%v):\n", h.pl.name, took.Round(time.Second))
	fmt.Fprintf(&b, "  events produced: %d (%d history, %d live); by topic: %s\n", prod.events, history, prod.events-history, sortedCounts(prod.byFamily))
	fmt.Fprintf(&b, "  segments topic: %d records (%d initial; mid-run %s); catalog topic: %d records (mid-run %s)\n",
		prod.defs, prod.defs-sumCounts(dc.counts, true), sortedCounts(dc.counts), prod.cats, sortedCounts(dc.catCounts))
	fmt.Fprintf(&b, "  faults: %s\n", sortedCounts(faults))
	fmt.Fprintf(&b, "  process starts: %s; harness restarts after an exit it did not cause: %d; unexpected exits: %d\n",
		sortedCounts(starts), len(restarts), len(unexpected))
	for _, s := range h.skips {
		fmt.Fprintf(&b, "  skipped: %s\n", s)
	}
	if v != nil {
		r := h.ref
		fmt.Fprintf(&b, "  reference: %d input records, %d contacts, %d guest orders, decode errors %s, Apply outcomes %s, %d final definitions (%d stable)\n",
			r.input, len(r.contacts), r.guests, sortedCounts(r.decodeErr), sortedCounts(r.outcomes), len(r.segs), countStable(r))
		fmt.Fprintf(&b, "  transitions: %d (%d added, %d removed) over %d (contact, segment) pairs; %d reference members; %d stable pairs compared step by step; %d dead letters\n",
			v.records, v.added, v.removed, v.pairs, v.refMembers, v.stablePairs, v.deadLetters)
		fmt.Fprintf(&b, "  mismatches: %d (malformed %d, duplicate ids %d, same type twice in a row %d, starting with removed %d, key in several partitions %d, "+
			"final membership %d, reference member without records %d, stable sequence %d, dead letters %d)\n",
			v.mismatches(), len(v.malformed), len(v.dupIDs), len(v.repeats), len(v.startsRemoved), len(v.splitPartition),
			len(v.finalDiff), len(v.missing), len(v.stableDiff), len(v.deadLetterDiff))
	}
	fmt.Fprintf(&b, "  timeline:\n%s", h.tl.format(time.Time{}, time.Time{}))
	t.Log(b.String())

	for _, r := range restarts {
		t.Logf("chaos: restarted after: %s", r)
	}
	for _, u := range unexpected {
		t.Errorf("chaos: a process exited without being killed or stopped, outside a broker restart:\n%s", u)
	}
	h.mu.Lock()
	for _, e := range h.errs {
		t.Errorf("chaos: %s", e)
	}
	h.mu.Unlock()
	if v == nil {
		return
	}
	const maxList = 20
	list := func(what string, items []string) {
		if len(items) == 0 {
			return
		}
		shown := items
		if len(shown) > maxList {
			shown = shown[:maxList]
		}
		t.Errorf("chaos: %s: %d\n  %s", what, len(items), strings.Join(shown, "\n  "))
	}
	list("malformed output records", v.malformed)
	list("duplicate transition ids (check 1)", v.dupIDs)
	list("(contact, segment) pairs with the same type twice in a row (check 1)", v.repeats)
	list("(contact, segment) pairs whose first record is a removal (check 2)", v.startsRemoved)
	list("contact keys in several membership partitions", v.splitPartition)
	list("(contact, segment) pairs whose final membership differs from the reference (check 3)", v.finalDiff)
	list("reference members without any record (check 3)", v.missing)
	list("stable (contact, segment) pairs whose transitions differ from the reference's (check 4)", v.stableDiff)
	list("dead letters not exactly once (check 5)", v.deadLetterDiff)
	if len(v.bad) > 0 {
		var bad []string
		for pk := range v.bad {
			bad = append(bad, pk)
		}
		sort.Strings(bad)
		shown := bad
		if len(shown) > 8 {
			shown = shown[:8]
		}
		var d strings.Builder
		for _, pk := range shown {
			d.WriteString(h.details(v, pk))
			d.WriteString("\n")
		}
		t.Errorf("chaos: evidence for %d of %d bad (contact, segment) pairs:\n%s", len(shown), len(bad), d.String())
	}
}

// sumCounts sums the counts; records=true counts a double change as two records.
func sumCounts(m map[string]int, records bool) int {
	n := 0
	for k, v := range m {
		if records && k == "def-double-change" {
			v *= 2
		}
		n += v
	}
	return n
}

func countStable(r *reference) int {
	n := 0
	for _, s := range r.segs {
		if s.stable {
			n++
		}
	}
	return n
}

// cleanup stops the processes; on success it deletes the topics, the group and the
// work dir, on failure (or with -chaos.keep) it keeps them and prints where they are
// and the tail of each process's last log.
func (h *harness) cleanup(workDir string) {
	t := h.t
	h.cluster.shutdown()
	h.tl.mu.Lock()
	h.tl.live = nil
	h.tl.mu.Unlock()
	if t.Failed() || *flagKeep {
		var b strings.Builder
		for _, s := range h.cluster.slots {
			if len(s.logs) == 0 {
				continue
			}
			last := s.logs[len(s.logs)-1]
			fmt.Fprintf(&b, "--- %s: %d logs, last %s (last 60 lines):\n%s\n", s.name, len(s.logs), last, lastLines(readFile(last), 60))
		}
		t.Logf("chaos: kept topics %s.*, group %s on %s, logs and data dirs in %s\n%s", strings.TrimSuffix(h.tp.events, ".events"),
			h.group, strings.Join(h.b.Addrs, ","), workDir, b.String())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := h.adm.DeleteTopics(ctx, h.tp.all()...); err != nil || resp.Error() != nil {
		t.Logf("chaos: delete topics: %v %v", err, resp.Error())
	}
	if resp, err := h.adm.LeaveGroup(ctx, kadm.LeaveGroup(h.group).InstanceIDs("p0", "p1", "p2").Reason("chaos test done")); err != nil {
		t.Logf("chaos: remove static members: %v", err)
	} else {
		_ = resp
	}
	if resp, err := h.adm.DeleteGroups(ctx, h.group); err != nil || resp.Error() != nil {
		t.Logf("chaos: delete group %s: %v %v", h.group, err, resp.Error())
	}
	os.RemoveAll(workDir)
}
