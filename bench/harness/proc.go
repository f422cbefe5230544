package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// procCPU returns the user+system CPU time of process pid so far, all threads
// included (/proc/<pid>/stat, read by procfs).
func procCPU(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := p.Stat()
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return time.Duration(st.CPUTime() * float64(time.Second)), nil
}

// procRSS returns the resident set size of process pid in bytes (VmRSS of
// /proc/<pid>/status).
func procRSS(pid int) (int64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	if st.VmRSS == 0 {
		return 0, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return int64(st.VmRSS), nil
}

// child is a process under test: segmentd (incremental or naive) or the pass-through
// loop. The harness starts and stops it and reads its CPU, memory and metrics.
type child struct {
	name     string
	bin      string
	args     []string
	httpAddr string // "" for a process without an HTTP server
	logPath  string

	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	waitErr error
	log     *os.File
	// cpuExited is the CPU time of processes of this child that already exited.
	cpuExited time.Duration
}

// start starts the process; its stdout and stderr go to logPath (appended).
func (c *child) start() error {
	if c.cmd != nil {
		return fmt.Errorf("%s: already running", c.name)
	}
	if err := os.MkdirAll(filepath.Dir(c.logPath), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "\n===== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), c.bin, strings.Join(c.args, " "))
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	c.cmd, c.log, c.started, c.done = cmd, f, time.Now(), make(chan struct{})
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// running reports whether the process is still alive.
func (c *child) running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// exitErr returns an error if the process exited.
func (c *child) exitErr() error {
	if c.cmd != nil && !c.running() {
		return fmt.Errorf("%s exited: %v (log %s)", c.name, c.waitErr, c.logPath)
	}
	return nil
}

// cpu returns the process's CPU time so far (this run only).
func (c *child) cpu() (time.Duration, error) {
	if c.cmd == nil {
		return 0, fmt.Errorf("%s: not running", c.name)
	}
	return procCPU(c.pid())
}

// stop sends SIGTERM, waits up to 60 s, then kills. It returns the CPU time of this
// run (from the kernel's accounting of the exited process).
func (c *child) stop() (time.Duration, error) {
	if c.cmd == nil {
		return 0, nil
	}
	defer func() { c.cmd = nil }()
	defer c.log.Close()
	if c.running() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(60 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	ps := c.cmd.ProcessState
	cpu := ps.UserTime() + ps.SystemTime()
	c.cpuExited += cpu
	var err error
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && !(ws.Exited() && ws.ExitStatus() == 0) && !(ws.Signaled() && ws.Signal() == syscall.SIGTERM) {
		err = fmt.Errorf("%s ended with %v (log %s)", c.name, c.waitErr, c.logPath)
	}
	return cpu, err
}

// scrape reads the process's /metrics.
func (c *child) scrape(ctx context.Context) (metrics, error) {
	if c.httpAddr == "" {
		return nil, fmt.Errorf("%s has no metrics endpoint", c.name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", c.name, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// ready reports whether /readyz answers 200.
func (c *child) ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitMetrics polls the metrics until ok returns true, the process exits or the
// timeout passes.
func (c *child) waitMetrics(ctx context.Context, timeout, every time.Duration, ok func(metrics) bool) (metrics, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := c.exitErr(); err != nil {
			return nil, err
		}
		m, err := c.scrape(ctx)
		if err == nil && ok(m) {
			return m, nil
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("%s: condition not reached within %v (last scrape error: %v)", c.name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}

// brokerPID finds the pid of the local Kafka broker started by
// deploy/local-kafka/kafka.sh for the given port, or 0.
func brokerPID(port string) int {
	dir := os.Getenv("SEGMENTD_KAFKA_DIR")
	if dir == "" {
		tmp := os.Getenv("TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		dir = filepath.Join(tmp, "segmentd-kafka-"+port)
	}
	b, err := os.ReadFile(filepath.Join(dir, "kafka.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	if _, err := procCPU(pid); err != nil {
		return 0
	}
	return pid
}
