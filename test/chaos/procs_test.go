package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/segmentd/segmentd/internal/testenv"
)

// ---------------------------------------------------------------------------------
// Timeline of faults and other harness actions.

type tlEntry struct {
	At     time.Time
	Kind   string // a fault kind (faultKill, ...) or an informational kind
	Slot   string
	Detail string
}

// Fault kinds, counted in the summary.
const (
	faultKill          = "kill-9"
	faultScaleUp       = "scale-up"
	faultScaleDown     = "scale-down"
	faultWipe          = "data-dir-deletion"
	faultBrokerRestart = "broker-restart"
	faultPause         = "sigstop-zombie"
)

type timeline struct {
	mu      sync.Mutex
	start   time.Time
	entries []tlEntry
	live    func(string) // if set, every entry is also given to it as it happens
}

func (tl *timeline) add(kind, slot, format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	e := tlEntry{At: time.Now(), Kind: kind, Slot: slot, Detail: fmt.Sprintf(format, args...)}
	tl.entries = append(tl.entries, e)
	if tl.live != nil {
		tl.live(fmt.Sprintf("%8.3fs %-18s %-3s %s", e.At.Sub(tl.start).Seconds(), e.Kind, e.Slot, e.Detail))
	}
}

func (tl *timeline) count(kind string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for _, e := range tl.entries {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// format renders the entries between from and to (zero: unbounded).
func (tl *timeline) format(from, to time.Time) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	for _, e := range tl.entries {
		if (!from.IsZero() && e.At.Before(from)) || (!to.IsZero() && e.At.After(to)) {
			continue
		}
		fmt.Fprintf(&b, "  %8.3fs %s %-18s %-3s %s\n", e.At.Sub(tl.start).Seconds(), e.At.UTC().Format("15:04:05.000"), e.Kind, e.Slot, e.Detail)
	}
	return b.String()
}

// ---------------------------------------------------------------------------------
// segmentd processes.

// cluster runs the segmentd processes of one test: slots p0, p1, p2, each with its
// own data dir and a stable --instance-id.
type cluster struct {
	t        *testing.T
	bin      string
	baseArgs []string
	logDir   string
	tl       *timeline

	mu    sync.Mutex
	slots []*slot
	// tolerateExits: unexpected exits are tolerated (and counted as restarts) while
	// this is positive (a broker restart is in progress) and until tolerateUntil.
	tolerateExits int
	tolerateUntil time.Time
	restarts      []string // harness restarts after an exit the harness did not cause
	unexpected    []string // exits that are test failures
	stopped       bool     // the test is over: restart nothing
	// restarting: the goroutines restarting a process after an exit; shutdown waits
	// for them (they start nothing once stopped is set).
	restarting sync.WaitGroup
}

// slot is one logical process: its name is its --instance-id.
type slot struct {
	name    string
	dataDir string
	want    bool  // the harness wants it running
	cur     *proc // the current process (running or exited), nil before the first start
	starts  int
	logs    []string
}

// proc is one run of `segmentd run`.
type proc struct {
	slot     *slot
	n        int
	cmd      *exec.Cmd
	logPath  string
	httpAddr string
	started  time.Time
	done     chan struct{}
	waitErr  error // set before done is closed
	expected bool  // under cluster.mu: the harness killed or stopped it
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func newCluster(t *testing.T, bin, logDir, dataRoot string, baseArgs []string, tl *timeline, n int) *cluster {
	c := &cluster{t: t, bin: bin, baseArgs: baseArgs, logDir: logDir, tl: tl}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("p%d", i)
		c.slots = append(c.slots, &slot{name: name, dataDir: filepath.Join(dataRoot, name)})
	}
	return c
}

func (c *cluster) slot(name string) *slot {
	for _, s := range c.slots {
		if s.name == name {
			return s
		}
	}
	panic("no slot " + name)
}

// start starts a new process for s (which must not be running) and marks it wanted.
func (c *cluster) start(s *slot) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startLocked(s)
}

func (c *cluster) startLocked(s *slot) error {
	if c.stopped {
		return errors.New("cluster stopped")
	}
	if s.cur != nil && !s.cur.exited() {
		return fmt.Errorf("%s is already running (pid %d)", s.name, s.cur.cmd.Process.Pid)
	}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return err
	}
	s.starts++
	p := &proc{slot: s, n: s.starts, httpAddr: addr, done: make(chan struct{}),
		logPath: filepath.Join(c.logDir, fmt.Sprintf("%s-%02d.log", s.name, s.starts))}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return err
	}
	args := append([]string{"run", "--http-addr", addr, "--data-dir", s.dataDir, "--instance-id", s.name}, c.baseArgs...)
	p.cmd = exec.Command(c.bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = testenv.ChildEnv() // only the test's flags configure segmentd
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start segmentd %s: %w", s.name, err)
	}
	p.started = time.Now()
	s.cur, s.want = p, true
	s.logs = append(s.logs, p.logPath)
	c.tl.add("start", s.name, "pid %d, start #%d, http %s, log %s", p.cmd.Process.Pid, p.n, addr, filepath.Base(p.logPath))
	go c.supervise(p, logf)
	return nil
}

// supervise waits for p to exit; an exit the harness did not cause is recorded and, if
// the slot is still wanted, the slot is restarted after a second.
func (c *cluster) supervise(p *proc, logf *os.File) {
	p.waitErr = p.cmd.Wait()
	logf.Close()
	close(p.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.expected || c.stopped {
		return
	}
	status := "exit status 0"
	if p.waitErr != nil {
		status = p.waitErr.Error()
	}
	tolerated := c.tolerateExits > 0 || time.Now().Before(c.tolerateUntil)
	what := fmt.Sprintf("%s (pid %d, start #%d) exited by itself after %v: %s; log %s",
		p.slot.name, p.cmd.Process.Pid, p.n, time.Since(p.started).Round(time.Millisecond), status, p.logPath)
	if tolerated {
		c.tl.add("exit(tolerated)", p.slot.name, "%s", what)
	} else {
		c.tl.add("exit(UNEXPECTED)", p.slot.name, "%s", what)
		c.unexpected = append(c.unexpected, what+"\n"+indent(lastLines(readFile(p.logPath), 30), "    | "))
	}
	if !p.slot.want || p.slot.cur != p {
		return
	}
	c.restarting.Go(func() {
		time.Sleep(time.Second)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stopped || !p.slot.want || p.slot.cur != p {
			return
		}
		c.restarts = append(c.restarts, what)
		if err := c.startLocked(p.slot); err != nil {
			c.tl.add("restart-failed", p.slot.name, "%v", err)
		}
	})
}

// kill sends SIGKILL to the slot's process and waits for it to die, recording it on
// the timeline as kind. It reports false if the slot had no running process.
func (c *cluster) kill(s *slot, kind, why string) bool {
	c.mu.Lock()
	p := s.cur
	if p == nil || p.exited() {
		c.mu.Unlock()
		return false
	}
	p.expected = true
	c.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	c.tl.add(kind, s.name, "pid %d after %v up (%s)", p.cmd.Process.Pid, time.Since(p.started).Round(time.Millisecond), why)
	return true
}

// signal sends sig to the slot's running process; it returns false if there is none.
func (c *cluster) signal(s *slot, sig syscall.Signal) (*proc, bool) {
	c.mu.Lock()
	p := s.cur
	c.mu.Unlock()
	if p == nil || p.exited() {
		return nil, false
	}
	return p, p.cmd.Process.Signal(sig) == nil
}

// stop sends SIGTERM and waits up to timeout for the process to exit; the slot is no
// longer wanted. It returns an error if the process did not exit 0 in time (it is
// then killed).
func (c *cluster) stop(s *slot, timeout time.Duration) error {
	c.mu.Lock()
	s.want = false
	p := s.cur
	if p == nil || p.exited() {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	// segmentd handles SIGTERM once main has run (its handler is installed before the
	// HTTP server starts); a SIGTERM in the first milliseconds of a just-restarted
	// process would take the default action instead. Wait for /healthz first.
	waited := p.waitHealthy(15 * time.Second)
	c.mu.Lock()
	p.expected = true
	c.mu.Unlock()
	if waited > 500*time.Millisecond {
		c.tl.add("wait-healthy", s.name, "SIGTERM deferred %v until /healthz answered", waited.Round(time.Millisecond))
	}
	t0 := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killed (log %s)", s.name, p.cmd.Process.Pid, timeout, p.logPath)
	}
	c.tl.add("sigterm", s.name, "pid %d exited in %v: %v", p.cmd.Process.Pid, time.Since(t0).Round(time.Millisecond), exitString(p.waitErr))
	if p.waitErr != nil {
		log := readFile(p.logPath)
		phase := "while processing"
		if !strings.Contains(log, "msg=processing") && !strings.Contains(log, `"msg":"processing"`) {
			phase = "during startup (it had not logged \"processing\" yet)"
		}
		return fmt.Errorf("%s (pid %d) exited with %v after SIGTERM, want status 0: SIGTERM came %v after it started, %s; log %s:\n%s",
			s.name, p.cmd.Process.Pid, p.waitErr, t0.Sub(p.started).Round(time.Millisecond), phase, p.logPath, indent(lastLines(log, 8), "    | "))
	}
	return nil
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// running returns the slots the harness wants running.
func (c *cluster) wanted() []*slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*slot
	for _, s := range c.slots {
		if s.want {
			out = append(out, s)
		}
	}
	return out
}

// current returns the current processes of the wanted slots.
func (c *cluster) current() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*proc
	for _, s := range c.slots {
		if s.want && s.cur != nil {
			out = append(out, s.cur)
		}
	}
	return out
}

// tolerate makes unexpected exits tolerated until the returned function is called,
// and for grace after that.
func (c *cluster) tolerate(grace time.Duration) func() {
	c.mu.Lock()
	c.tolerateExits++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.tolerateExits--
		if until := time.Now().Add(grace); until.After(c.tolerateUntil) {
			c.tolerateUntil = until
		}
		c.mu.Unlock()
	}
}

// shutdown stops every process (SIGTERM, then SIGKILL after 20 s) and restarts none.
func (c *cluster) shutdown() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.restarting.Wait() // a pending restart sees stopped and starts nothing
	c.mu.Lock()
	var ps []*proc
	for _, s := range c.slots {
		if s.cur != nil && !s.cur.exited() {
			s.cur.expected = true
			ps = append(ps, s.cur)
		}
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
			}
		}()
	}
	wg.Wait()
}

// ---------------------------------------------------------------------------------
// HTTP: readiness and metrics.

var httpClient = &http.Client{Timeout: 2 * time.Second}

// ready reports whether p answers /readyz with 200.
func (p *proc) ready() bool {
	resp, err := httpClient.Get("http://" + p.httpAddr + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// waitHealthy waits up to timeout for p to answer /healthz (or to exit) and returns
// how long it waited.
func (p *proc) waitHealthy(timeout time.Duration) time.Duration {
	t0 := time.Now()
	for time.Since(t0) < timeout && !p.exited() {
		resp, err := httpClient.Get("http://" + p.httpAddr + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(t0)
}

// metrics scrapes p's /metrics and sums the samples of each counter, gauge and untyped
// metric by name (over its label sets).
func (p *proc) metrics() (map[string]float64, error) {
	resp, err := httpClient.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			out[name] += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
	}
	return out, nil
}

// waitReady waits until p answers /readyz 200, p exits, or ctx ends.
func (p *proc) waitReady(ctx context.Context) error {
	for {
		if p.ready() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.slot.name, exitString(p.waitErr))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", p.slot.name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------------------------
// Logs.

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// allLogs returns every log file of every slot, in start order per slot.
func (c *cluster) allLogs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.slots {
		out = append(out, s.logs...)
	}
	return out
}

// logLine is one line of a segmentd log with its time (zero if none could be parsed).
type logLine struct {
	file string
	at   time.Time
	text string
}

// grepLogs returns the log lines (of every process) that contain one of needles, or
// that were written between from and to and contain one of the window needles.
func (c *cluster) grepLogs(needles []string, from, to time.Time, windowNeedles []string, max int) []logLine {
	var out []logLine
	for _, path := range c.allLogs() {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			padded := line + " "
			at := lineTime(line)
			hit := false
			for _, n := range needles {
				if strings.Contains(line, n) {
					hit = true
					break
				}
			}
			if !hit && !at.IsZero() && !at.Before(from) && !at.After(to) {
				for _, n := range windowNeedles {
					if strings.Contains(padded, n) {
						hit = true
						break
					}
				}
			}
			if hit {
				out = append(out, logLine{file: filepath.Base(path), at: at, text: line})
			}
		}
		f.Close()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// lineTime parses the time of a slog line: text ("time=2026-...") or JSON
// ("time":"2026-...").
func lineTime(line string) time.Time {
	i := strings.Index(line, "time=")
	skip := len("time=")
	if i < 0 {
		i = strings.Index(line, `"time":"`)
		skip = len(`"time":"`)
	}
	if i < 0 {
		return time.Time{}
	}
	s := line[i+skip:]
	if j := strings.IndexAny(s, " \""); j >= 0 {
		s = s[:j]
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return at
}
