// Package scripts holds checks of the repository's scripts.
package scripts

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFuzzFindsEveryTarget: `make fuzz` runs scripts/fuzz.sh, whose list of targets is
// every fuzz function of the repository as Go's parser sees them (so a new FuzzX in an
// unusual form cannot be left out without this test failing).
func TestFuzzFindsEveryTarget(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "\n\tFUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh\n") {
		t.Error("the Makefile's fuzz target does not run scripts/fuzz.sh")
	}

	var want []string
	fset := token.NewFileSet()
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != ".." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Fuzz") {
				continue
			}
			dir, _ := filepath.Rel("..", filepath.Dir(path))
			if dir = filepath.ToSlash(dir); dir != "." {
				dir = "./" + dir
			}
			want = append(want, dir+" "+fn.Name.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("found no fuzz targets")
	}

	out, err := exec.Command("bash", "fuzz.sh", "-list").Output()
	if err != nil {
		t.Fatalf("fuzz.sh -list: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("fuzz.sh -list:\n%s\nthe fuzz targets of the repository:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
