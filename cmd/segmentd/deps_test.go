package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/segmentd/segmentd/internal/testenv"
)

// TestNoBenchmarkDependency: the product builds without the benchmark. bench/ holds the
// harness and load driver, which depend on segmentd, never the other way round; the
// demo's generator lives in internal/gen.
func TestNoBenchmarkDependency(t *testing.T) {
	cmd := exec.Command(testenv.GoCommand(), "list", "-deps", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/segmentd/segmentd/bench/") {
			t.Errorf("segmentd depends on the benchmark package %s", pkg)
		}
	}
}
