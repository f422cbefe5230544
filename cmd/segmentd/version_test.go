package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segmentd/segmentd/internal/testenv"
)

// TestResolveBuild: a stamped version and revision win; without them, what the Go
// toolchain recorded (module version, VCS revision); without that, "dev".
func TestResolveBuild(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name              string
		version, revision string
		bi                *debug.BuildInfo
		want              buildInfo
	}{
		{"stamped", "v1.2.3", "abc", vcs, buildInfo{"v1.2.3", "abc", "go1.99"}},
		{"stamped version only", "v1.2.3", "", vcs, buildInfo{"v1.2.3", "0123456789abcdef0123-dirty", "go1.99"}},
		{"vcs", "", "", vcs, buildInfo{"0123456789ab-dirty", "0123456789abcdef0123-dirty", "go1.99"}},
		{"go install", "", "", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v0.4.0"}},
			buildInfo{"v0.4.0", "unknown", "go1.99"}},
		{"nothing", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, buildInfo{"dev", "unknown", runtime.Version()}},
		{"no build info", "", "", nil, buildInfo{"dev", "unknown", runtime.Version()}},
	} {
		if got := resolveBuild(tc.version, tc.revision, tc.bi); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestBuildInfoMetric: segmentd_build_info is 1 with the build as labels.
func TestBuildInfoMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newBuildInfoMetric(buildInfo{"v1.2.3", "abc", "go1.99"}))
	want := `# HELP segmentd_build_info Always 1; its labels name the build of segmentd running: version, VCS revision and Go version.
# TYPE segmentd_build_info gauge
segmentd_build_info{goversion="go1.99",revision="abc",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "segmentd_build_info"); err != nil {
		t.Error(err)
	}
}

// TestMakeBuildStampsVersion: `make build` stamps VERSION and REVISION into the binary,
// and `segmentd version` and `segmentd --version` print them.
func TestMakeBuildStampsVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testenv.MissingTool(t, "make", "not found on PATH")
	}
	bin := filepath.Join(t.TempDir(), "segmentd")
	cmd := exec.Command("make", "-s", "build", "BIN="+bin, "VERSION=v9.8.7-test", "REVISION=feedc0de")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		want := "segmentd v9.8.7-test (revision feedc0de, " + runtime.Version() + ")\n"
		if err != nil || string(out) != want {
			t.Errorf("segmentd %s: %q, %v; want %q", arg, out, err, want)
		}
	}
}
