// Package testenv decides what a test does when something it needs is not there: it
// skips with the reason on a developer's machine, and fails when CI=true, where every
// test must run.
package testenv

import (
	"os"
	"testing"
)

// CI reports whether the tests run in CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends the test because of why: a skip that prints why, or, under CI, a
// failure.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (CI=true: a failure, not a skip)", why)
	}
	t.Skipf("skipping: %s (CI=true makes this a failure)", why)
}
