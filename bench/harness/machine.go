package harness

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes this machine and the local broker.
func machineInfo(brokers []string, repo string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Brokers: strings.Join(brokers, ",")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.MemoryBytes = kb << 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.GoVersion = runtime.Version()
	if out, err := command(repo, "go", "env", "GOVERSION"); err == nil {
		m.GoVersion = out
	}
	if out, err := command(repo, "git", "rev-parse", "--short", "HEAD"); err == nil {
		m.SegmentdBuild = out
	}
	m.KafkaVersion = "unknown"
	if _, port, ok := strings.Cut(m.Brokers, ":"); ok {
		if pid := brokerPID(strings.Split(port, ",")[0]); pid > 0 {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil {
				if v := regexp.MustCompile(`kafka[-_]2\.1[0-9]-([0-9.]+)\.jar|kafka-([0-9]+\.[0-9]+\.[0-9]+)`).FindSubmatch(b); v != nil {
					m.KafkaVersion = string(v[1]) + string(v[2])
				}
			}
		}
	}
	return m
}

func command(dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func readLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func loadAvg1() float64 {
	f := strings.Fields(readLoadAvg())
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// loadSampler records the 1-minute load average every 5 s.
type loadSampler struct {
	stopc chan struct{}
	donec chan struct{}
	vals  []float64
}

func startLoadSampler(ctx context.Context) *loadSampler {
	s := &loadSampler{stopc: make(chan struct{}), donec: make(chan struct{})}
	go func() {
		defer close(s.donec)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			s.vals = append(s.vals, loadAvg1())
			select {
			case <-ctx.Done():
				return
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *loadSampler) stop(l *LoadAvg) {
	close(s.stopc)
	<-s.donec
	l.Series = s.vals
	var sum float64
	for _, v := range s.vals {
		l.Max1 = max(l.Max1, v)
		sum += v
	}
	if len(s.vals) > 0 {
		l.Mean1 = sum / float64(len(s.vals))
	}
}

// machineCPU returns the busy CPU time of the whole machine so far (all CPUs: user,
// nice, system, irq, softirq, steal), from /proc/stat.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * clockTick
}

// selfCPUTime returns the harness's own CPU time.
func selfCPUTime() time.Duration {
	d, _ := procCPU(os.Getpid())
	return d
}
