package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/segmentd/segmentd/internal/testenv"
)

// The files under test, relative to the repository root.
const (
	rulesPath      = "deploy/prometheus/segmentd-alerts.yaml"
	ruleTestsPath  = "deploy/prometheus/segmentd-alerts_test.yaml"
	runbookPath    = "deploy/prometheus/README.md"
	dashboardPath  = "deploy/grafana/segmentd-dashboard.json"
	runbookURLBase = "https://github.com/segmentd/segmentd/blob/main/" + runbookPath
)

// repoPath is rel (slash-separated, from the repository root) as a local path.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), filepath.FromSlash(rel))
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// promtool returns the path of promtool. Missing, the test skips, or fails when
// CI=true: CI must run these checks.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	testenv.MissingTool(t, "promtool", "not found on PATH; install it with scripts/ensure-tools.sh promtool (Debian package prometheus)")
	return ""
}

// runPromtool runs promtool with args in dir and fails the test with its output if it
// fails.
func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	t.Logf("promtool %v:\n%s", args, out)
}
