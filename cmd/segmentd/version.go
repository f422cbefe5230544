package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set at build time by the Makefile and the Dockerfile:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.revision=0123abc" ./cmd/segmentd
//
// These two are the only package-level variables of the command, written by the linker
// and never at run time.
var (
	version  string
	revision string
)

// buildInfo says which build of segmentd is running.
type buildInfo struct {
	Version, Revision, GoVersion string
}

// currentBuild is the build of this binary: the stamped version and revision, else
// what the Go toolchain recorded (the module version, the VCS revision of a build in a
// checkout), else "dev" and "unknown".
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveBuild(version, revision, bi)
}

func resolveBuild(stampedVersion, stampedRevision string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: stampedVersion, Revision: stampedRevision, GoVersion: runtime.Version()}
	var vcsRevision string
	modified := false
	if bi != nil {
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version // go install module@version
		}
	}
	if b.Revision == "" {
		b.Revision = vcsRevision
		if b.Revision != "" && modified {
			b.Revision += "-dirty"
		}
	}
	if b.Version == "" && vcsRevision != "" {
		b.Version = shortRevision(vcsRevision)
		if modified {
			b.Version += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

func shortRevision(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

func (b buildInfo) String() string {
	return fmt.Sprintf("segmentd %s (revision %s, %s)", b.Version, b.Revision, b.GoVersion)
}

// versionCommand prints the build: `segmentd version`, `segmentd --version`.
func versionCommand(w io.Writer) error {
	_, err := fmt.Fprintln(w, currentBuild())
	return err
}

// newBuildInfoMetric is segmentd_build_info{version,revision,goversion} = 1, so that
// dashboards can show which builds are running.
func newBuildInfoMetric(b buildInfo) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "segmentd_build_info",
		Help:        "Always 1; its labels name the build of segmentd running: version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	}, func() float64 { return 1 })
}
