package helmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/testenv"
)

// helmVersion is the Helm release built when no helm 3+ is on PATH. The module proxy's
// versions: go list -m -versions helm.sh/helm/v3
const helmVersion = "v3.22.0"

// kubeVersion is the Kubernetes version the chart is rendered for (helm's default
// depends on how helm was built: a `go install`ed helm assumes 1.20).
const kubeVersion = "1.33.0"

// installTimeout bounds `go install` of helm (about two minutes on 2 cores, first time).
const installTimeout = 8 * time.Minute

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the path of a helm binary, obtaining it once per test process. When
// there is none it skips t, saying why, or fails it under CI=true.
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		start := time.Now()
		var how string
		helmPath, how, helmErr = findHelm()
		if helmErr == nil {
			t.Logf("helm: %s (%s, %s)", helmPath, how, time.Since(start).Round(time.Millisecond))
		}
	})
	if helmErr != nil {
		testenv.MissingTool(t, "helm", helmErr.Error())
	}
	return helmPath
}

// findHelm looks for helm in $SEGMENTD_HELM, on PATH and in the cache, and builds it
// into the cache when none is found.
func findHelm() (path, how string, err error) {
	if p := os.Getenv("SEGMENTD_HELM"); p != "" {
		if _, err := helmMajor(p); err != nil {
			return "", "", fmt.Errorf("SEGMENTD_HELM=%s: %w", p, err)
		}
		return p, "from $SEGMENTD_HELM", nil
	}
	var notes []string
	if p, err := exec.LookPath("helm"); err == nil {
		major, err := helmMajor(p)
		if err == nil && major >= 3 {
			return p, "on PATH", nil
		}
		notes = append(notes, fmt.Sprintf("%s on PATH is not Helm 3+ (%v)", p, err))
	}
	dir, err := cacheBinDir()
	if err != nil {
		return "", "", err
	}
	cached := filepath.Join(dir, "helm")
	if _, err := helmMajor(cached); err == nil {
		return cached, "cached", nil
	}
	if testing.Short() && os.Getenv("CI") != "true" {
		return "", "", fmt.Errorf("-short: not building helm %s into %s (run without -short once, or put helm on PATH); %s",
			helmVersion, dir, strings.Join(notes, "; "))
	}
	if err := installHelm(dir); err != nil {
		return "", "", err
	}
	if _, err := helmMajor(cached); err != nil {
		return "", "", fmt.Errorf("built %s, but it does not run: %w", cached, err)
	}
	return cached, "built with go install " + helmVersion, nil
}

// cacheBinDir is where the helm build is kept: outside the repository, shared by every
// clone on the machine, next to the Kafka jars of deploy/local-kafka.
func cacheBinDir() (string, error) {
	base, err := os.UserCacheDir() // $XDG_CACHE_HOME or ~/.cache on Linux
	if err != nil {
		return "", fmt.Errorf("find a cache dir for helm: %w", err)
	}
	return filepath.Join(base, "segmentd", "helm-"+helmVersion, "bin"), nil
}

// installHelm builds helm into dir with go install, through a temporary GOBIN and a
// rename, so that concurrent test processes never see a half-written binary.
func installHelm(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no helm on PATH, and no go command to build it: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create helm cache dir: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return fmt.Errorf("create helm install dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	// Outside any module, so the repository's go.mod, go.work and GOFLAGS (-mod=...)
	// play no part.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go install helm.sh/helm/v3/cmd/helm@%s: %w\n%s", helmVersion, err, tail(out, 4000))
	}
	if err := os.Rename(filepath.Join(tmp, "helm"), filepath.Join(dir, "helm")); err != nil {
		return fmt.Errorf("move helm into the cache: %w", err)
	}
	return nil
}

var helmVersionRE = regexp.MustCompile(`^v(\d+)\.`)

// helmMajor runs `helm version` and returns the major version.
func helmMajor(path string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version", "--template", "{{.Version}}").Output()
	if err != nil {
		return 0, fmt.Errorf("helm version: %w", err)
	}
	m := helmVersionRE.FindSubmatch(bytes.TrimSpace(out))
	if m == nil {
		return 0, fmt.Errorf("helm version printed %q", out)
	}
	return strconv.Atoi(string(m[1]))
}

// runHelm runs helm with args in the repository root, with helm's own config, cache
// and data dirs in a temporary dir, and returns its stdout; a non-zero exit is an error
// carrying stderr.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := helm(t) // first: it may take minutes to build
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
