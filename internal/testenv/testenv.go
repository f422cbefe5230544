// Package testenv holds what the tests of every package need from their environment:
// what a test does when something it needs is not there (it skips with the reason on a
// developer's machine, and fails when CI=true, where every test must run), the
// repository's root, a free loopback address and a freshly built segmentd binary. The
// bench harness uses the same helpers to build and place the processes it measures.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// CI reports whether the tests run in CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// EnvAllowMissing, set to 1, lets a developer run the tests without an optional tool
// (kcat, promtool, zsh, helm's download): such a test then stops, saying which tool is
// missing and how to install it. Without it, and always under CI, a missing tool is a
// failure: `make test-deps` installs every tool the tests use.
const EnvAllowMissing = "SEGMENTD_TEST_ALLOW_MISSING"

// MissingTool ends the test because the optional tool it needs (kcat, promtool, zsh,
// helm, a real Kafka broker…) is missing, for the reason why: a failure, unless
// EnvAllowMissing=1 outside CI, where the test stops and prints which tool is missing.
// It is the only way a test of segmentd may skip.
func MissingTool(t testing.TB, tool, why string) {
	t.Helper()
	if CI() || os.Getenv(EnvAllowMissing) != "1" {
		t.Fatalf("missing %s: %s (run make test-deps; %s=1 lets a local run go on without it, never under CI)", tool, why, EnvAllowMissing)
	}
	t.Skipf("missing optional tool %s, not run: %s", tool, why)
}

// modulePath is the line of segmentd's go.mod that FindRepoRoot looks for.
var modulePath = regexp.MustCompile(`(?m)^module github\.com/segmentd/segmentd\s*$`)

// FindRepoRoot walks up from the working directory (a test binary runs in its package's
// directory) to the directory holding segmentd's go.mod.
func FindRepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	return repoRootFrom(wd)
}

func repoRootFrom(start string) (string, error) {
	for d := start; ; {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && modulePath.Match(b) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of github.com/segmentd/segmentd in %s or any parent", start)
		}
		d = parent
	}
}

// RepoRoot is FindRepoRoot for a test: it fails the test when there is no root.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// PackageDir returns the working directory relative to the repository root, in the
// form `go test` takes ("./operators"), or "." at the root or when there is no root.
func PackageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	root, err := repoRootFrom(wd)
	if err != nil {
		return "."
	}
	rel, err := filepath.Rel(root, wd)
	if err != nil || rel == "." {
		return "."
	}
	return "./" + filepath.ToSlash(rel)
}

// FreeAddr returns a loopback address (host:port) whose port was free a moment ago.
func FreeAddr() (string, error) { return FreeAddrOn("127.0.0.1") }

// FreeAddrOn returns host:port, with a port of host that was free a moment ago.
func FreeAddrOn(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// GoCommand returns the go command: the one on PATH, or else the one of the toolchain
// that built this binary.
func GoCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// BuildSegmentd builds ./cmd/segmentd of the repository at root into dir and returns
// the binary's path. buildFlags go to go build before -o (e.g. "-ldflags", "-X ...").
func BuildSegmentd(ctx context.Context, root, dir string, buildFlags ...string) (string, error) {
	if root == "" {
		return "", errors.New("build segmentd: no repository root")
	}
	bin := filepath.Join(dir, "segmentd")
	args := append(append([]string{"build"}, buildFlags...), "-o", bin, "./cmd/segmentd")
	cmd := exec.CommandContext(ctx, GoCommand(), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/segmentd: %w\n%s", err, out)
	}
	return bin, nil
}

// SegmentdBinary builds ./cmd/segmentd into the test's temporary directory (removed
// when the test ends) and returns its path; it fails the test if the build fails.
func SegmentdBinary(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildSegmentd(ctx, RepoRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// ChildEnv returns the environment for a segmentd process that a test starts: the
// test's own, without any SEGMENTD_* variable, so that only the test's flags configure
// the process.
func ChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEGMENTD_") {
			env = append(env, kv)
		}
	}
	return env
}

// Background runs fn in a goroutine until the test ends: its cleanup cancels fn's
// context and waits for fn to return, reporting an error fn returns, or that what did
// not stop within 30 s. The returned channel is closed when fn returns, so that a test
// can notice that fn stopped early.
func Background(t testing.TB, what string, fn func(ctx context.Context) error) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var err error // written before stopped is closed
	go func() {
		err = fn(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", what)
		}
	})
	return stopped
}

// Eventually polls cond every 50 ms until it reports true, and fails the test if it has
// not after 30 s, with what and the last detail cond gave.
func Eventually(t testing.TB, what string, cond func() (ok bool, detail string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30s; last:\n%s", what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for writers and readers on several goroutines
// (a child process's output copiers, a command running in the background).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
