package operators

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// The data-driven test files (testdata/*.txt) are read by cockroachdb/datadriven:
//
//	# comment
//	command arg=value ...
//	input line
//	...
//	----
//	expected output line
//	...
//
// A case ends at a blank line. `go test ./operators -run TestData -rewrite` regenerates
// the expected output (review the diff).

// ddCase is one case of a data-driven file, as the commands of rules_test.go read it.
type ddCase struct {
	pos   string // file:line of the command
	cmd   string
	args  map[string]string // an argument without a value maps to ""
	input []string
}

func ddCaseOf(d *datadriven.TestData) *ddCase {
	c := &ddCase{pos: d.Pos, cmd: d.Cmd, args: map[string]string{}}
	for _, a := range d.CmdArgs {
		c.args[a.Key] = strings.Join(a.Vals, ",")
	}
	if d.Input != "" {
		c.input = strings.Split(d.Input, "\n")
	}
	return c
}

// runDDFile runs every case of path through run, comparing (or, with -rewrite,
// replacing) the expected output.
func runDDFile(t *testing.T, path string, run func(t *testing.T, c *ddCase) string) {
	datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
		return run(t, ddCaseOf(d))
	})
}

// ddFiles returns the testdata files matching pattern.
func ddFiles(t *testing.T, pattern string) []string {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata files match %s: %v", pattern, err)
	}
	return files
}
