package harness

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// machineInfo describes this machine and the local broker.
func machineInfo(brokers []string, repo string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Brokers: strings.Join(brokers, ",")}
	fs, err := procfs.NewDefaultFS()
	if err == nil {
		if cpus, err := fs.CPUInfo(); err == nil && len(cpus) > 0 {
			m.CPUModel = cpus[0].ModelName
		}
		if mi, err := fs.Meminfo(); err == nil && mi.MemTotalBytes != nil {
			m.MemoryBytes = int64(*mi.MemTotalBytes)
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
			if p, err := procfs.NewProc(pid); err == nil {
				if args, err := p.CmdLine(); err == nil {
					if v := regexp.MustCompile(`kafka[-_]2\.1[0-9]-([0-9.]+)\.jar|kafka-([0-9]+\.[0-9]+\.[0-9]+)`).FindStringSubmatch(strings.Join(args, " ")); v != nil {
						m.KafkaVersion = v[1] + v[2]
					}
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
	l, err := procfs.NewDefaultFS()
	if err != nil {
		return 0
	}
	avg, err := l.LoadAvg()
	if err != nil {
		return 0
	}
	return avg.Load1
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
// nice, system, irq, softirq, steal; guest time is already counted in user), from
// /proc/stat.
func machineCPU() time.Duration {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0
	}
	st, err := fs.Stat()
	if err != nil {
		return 0
	}
	c := st.CPUTotal
	busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return time.Duration(busy * float64(time.Second))
}

// selfCPUTime returns the harness's own CPU time.
func selfCPUTime() time.Duration {
	d, _ := procCPU(os.Getpid())
	return d
}
