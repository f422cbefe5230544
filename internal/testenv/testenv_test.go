package testenv

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "deploy", "local-kafka", "kafka.sh")); err != nil {
		t.Errorf("repo root %s has no kafka.sh: %v", root, err)
	}
	if got := PackageDir(); got != "./internal/testenv" {
		t.Errorf("PackageDir() = %q, want ./internal/testenv", got)
	}
}

func TestRepoRootFromSkipsOtherModules(t *testing.T) {
	// A go.mod of another module (a nested example, a vendored tool) is not the root.
	dir := t.TempDir()
	nested := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if root, err := repoRootFrom(nested); err == nil {
		t.Errorf("repoRootFrom found %s, want no root", root)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module github.com/segmentd/segmentd\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if root, err := repoRootFrom(nested); err != nil || root != dir {
		t.Errorf("repoRootFrom = %q, %v; want %q", root, err, dir)
	}
}

func TestFreeAddr(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr gave %s, which cannot be listened on: %v", addr, err)
	}
	ln.Close()
}

func TestChildEnv(t *testing.T) {
	t.Setenv("SEGMENTD_BROKERS", "elsewhere:9092")
	t.Setenv("TESTENV_KEPT", "1")
	env := ChildEnv()
	if slices.Contains(env, "SEGMENTD_BROKERS=elsewhere:9092") {
		t.Error("ChildEnv kept a SEGMENTD_ variable")
	}
	if !slices.Contains(env, "TESTENV_KEPT=1") {
		t.Error("ChildEnv dropped another variable")
	}
}

func TestBackground(t *testing.T) {
	stopped := make(chan struct{})
	t.Run("inner", func(t *testing.T) {
		Background(t, "loop", func(ctx context.Context) error {
			<-ctx.Done()
			close(stopped)
			return nil
		})
	})
	select {
	case <-stopped:
	default:
		t.Fatal("Background's cleanup returned before fn stopped")
	}
}
