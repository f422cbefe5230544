package blackbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/testenv"
)

// requireKcat returns the path of kcat, skipping the test without it (failing it
// under CI=true).
func requireKcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		testenv.MissingTool(t, "kcat", "install it with ./scripts/ensure-tools.sh kcat: "+err.Error())
	}
	return path
}

// ---------------------------------------------------------------------------------
// The segmentd process.

// proc is one running `segmentd run`.
type proc struct {
	cmd      *exec.Cmd
	logPath  string
	httpAddr string
	done     chan struct{} // closed when the process has exited
	waitErr  error         // set before done is closed
}

// startSegmentd starts `segmentd run` with args plus --http-addr, logging to logPath.
// The process is killed when the test ends if it is still running, and its log is
// printed if the test failed.
func startSegmentd(t *testing.T, bin, logPath string, args []string) *proc {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{logPath: logPath, httpAddr: httpAddr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"run", "--http-addr", p.httpAddr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = testenv.ChildEnv() // only the test's flags configure segmentd
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start segmentd: %v", err)
	}
	t.Logf("started segmentd (pid %d, http %s, log %s)", p.cmd.Process.Pid, p.httpAddr, logPath)
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("segmentd log %s (last 400 lines):\n%s", logPath, lastLines(string(b), 400))
		}
	})
	return p
}

// waitReady polls /readyz until it answers 200.
func (p *proc) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	url := "http://" + p.httpAddr + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for {
		select {
		case <-p.done:
			t.Fatalf("segmentd exited before it was ready: %v", p.waitErr)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := readAllClose(resp)
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(body))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("segmentd not ready after %v: GET %s: %s", timeout, url, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readAllClose(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.String(), err
}

// stop sends SIGTERM and requires a clean exit (status 0) within timeout.
func (p *proc) stop(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM segmentd: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("segmentd did not exit within %v of SIGTERM", timeout)
	}
	if p.waitErr != nil {
		t.Fatalf("segmentd exited with %v after SIGTERM; want status 0", p.waitErr)
	}
	return time.Since(start)
}

// kill sends SIGKILL and waits for the process to die.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL segmentd: %v", err)
	}
	<-p.done
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---------------------------------------------------------------------------------
// kcat.

// kcat runs kcat against one broker.
type kcat struct {
	path    string
	brokers string
}

// header is one record header.
type header struct{ Key, Value string }

// record is one record to produce or one consumed record. A nil Value is a null value
// (a tombstone).
type record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Value     *string
	Headers   []header
}

func str(s string) *string { return &s }

// produce produces one record with kcat: `-K '|'` separates the key from the value on
// one stdin line, and -Z turns an empty value into a null one.
func (k kcat) produce(t *testing.T, topic string, r record) {
	t.Helper()
	if strings.Contains(r.Key, "|") || r.Key == "" {
		t.Fatalf("test bug: key %q must be non-empty without '|'", r.Key)
	}
	value := ""
	if r.Value != nil {
		value = *r.Value
		if value == "" || strings.ContainsAny(value, "\n\r") {
			t.Fatalf("test bug: value %q must be one non-empty line", value)
		}
	}
	args := []string{"-P", "-b", k.brokers, "-t", topic, "-K", "|", "-Z",
		"-X", "acks=all", "-X", "message.timeout.ms=20000"}
	for _, h := range r.Headers {
		args = append(args, "-H", h.Key+"="+h.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.path, args...)
	cmd.Stdin = strings.NewReader(r.Key + "|" + value + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || strings.Contains(stderr.String(), "ERROR") {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
}

// consume reads a whole topic with kcat, read_committed, from the beginning to the
// end (-e), in JSON envelope mode (-J).
func (k kcat) consume(t *testing.T, topic string) []record {
	t.Helper()
	args := []string{"-C", "-b", k.brokers, "-t", topic, "-X", "isolation.level=read_committed",
		"-o", "beginning", "-e", "-J", "-q"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var out []record
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var j struct {
			Topic     string    `json:"topic"`
			Partition int32     `json:"partition"`
			Offset    int64     `json:"offset"`
			Headers   []*string `json:"headers"`
			Key       *string   `json:"key"`
			Payload   *string   `json:"payload"`
		}
		if err := json.Unmarshal(line, &j); err != nil {
			t.Fatalf("kcat -J printed an unexpected line %q: %v", line, err)
		}
		if len(j.Headers)%2 != 0 {
			t.Fatalf("kcat -J headers are not key/value pairs: %s", line)
		}
		r := record{Topic: j.Topic, Partition: j.Partition, Offset: j.Offset, Value: j.Payload}
		if j.Key != nil {
			r.Key = *j.Key
		}
		for i := 0; i < len(j.Headers); i += 2 {
			h := header{}
			if j.Headers[i] != nil {
				h.Key = *j.Headers[i]
			}
			if j.Headers[i+1] != nil {
				h.Value = *j.Headers[i+1]
			}
			r.Headers = append(r.Headers, h)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCount consumes topic until it holds at least n records or timeout passes, and
// returns what it read last.
func (k kcat) waitCount(t *testing.T, topic string, n int, timeout time.Duration, what string) []record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := k.consume(t, topic)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s holds %d records after %v, want %d:\n%s", what, topic, len(recs), timeout, n, dump(recs))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func dump(recs []record) string {
	var b strings.Builder
	for _, r := range recs {
		v := "<null>"
		if r.Value != nil {
			v = *r.Value
		}
		fmt.Fprintf(&b, "  p%d@%d key=%q headers=%v value=%s\n", r.Partition, r.Offset, r.Key, r.Headers, v)
	}
	return b.String()
}

func (r record) headerValues(key string) []string {
	var vs []string
	for _, h := range r.Headers {
		if h.Key == key {
			vs = append(vs, h.Value)
		}
	}
	return vs
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
