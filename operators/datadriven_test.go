package operators

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rewrite regenerates the expected output of the data-driven tests:
//
//	go test ./operators -run TestData -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata files")

// A data-driven test file is a sequence of cases in the style of pebble's datadriven
// package:
//
//	# comment
//	command arg=value ...
//	input line
//	...
//	----
//	expected output line
//	...
//
// A case ends at a blank line. Output must not contain blank lines.
type ddCase struct {
	pos      string // file:line of the command
	cmd      string
	args     map[string]string
	input    []string
	expected []string

	// For rewriting: the case's lines in the file.
	outStart, outEnd int // [outStart, outEnd) are the expected output lines
}

// parseDDFile splits a data-driven file into cases.
func parseDDFile(t *testing.T, path string, lines []string) []*ddCase {
	var cases []*ddCase
	for i := 0; i < len(lines); {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			i++
			continue
		}
		c := &ddCase{pos: fmt.Sprintf("%s:%d", path, i+1), args: map[string]string{}}
		fields := strings.Fields(line)
		c.cmd = fields[0]
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			c.args[k] = v
		}
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "----"; i++ {
			if strings.TrimSpace(lines[i]) == "" {
				t.Fatalf("%s: blank line before ----", c.pos)
			}
			c.input = append(c.input, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s: missing ----", c.pos)
		}
		i++
		c.outStart = i
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			c.expected = append(c.expected, lines[i])
		}
		c.outEnd = i
		cases = append(cases, c)
	}
	return cases
}

// runDDFile runs every case of path through run, comparing (or, with -rewrite,
// replacing) the expected output.
func runDDFile(t *testing.T, path string, run func(t *testing.T, c *ddCase) string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	cases := parseDDFile(t, path, lines)
	var out []string // rewritten file
	last := 0
	for _, c := range cases {
		got := strings.TrimRight(run(t, c), "\n")
		gotLines := strings.Split(got, "\n")
		if got == "" {
			gotLines = nil
		}
		for _, l := range gotLines {
			if strings.TrimSpace(l) == "" {
				t.Fatalf("%s: output has a blank line:\n%s", c.pos, got)
			}
		}
		if *rewrite {
			out = append(out, lines[last:c.outStart]...)
			out = append(out, gotLines...)
			last = c.outEnd
			continue
		}
		if want := strings.Join(c.expected, "\n"); got != want {
			t.Errorf("%s: %s\ninput:\n%s\nwant:\n%s\ngot:\n%s", c.pos, c.cmd, strings.Join(c.input, "\n"), want, got)
		}
	}
	if *rewrite {
		out = append(out, lines[last:]...)
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ddFiles returns the testdata files matching pattern.
func ddFiles(t *testing.T, pattern string) []string {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata files match %s: %v", pattern, err)
	}
	return files
}
