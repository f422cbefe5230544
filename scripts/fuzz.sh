#!/usr/bin/env bash
# Runs every fuzz target of the repository -- each `func FuzzX(` of a *_test.go file,
# found here, so a new target cannot be left out -- by its anchored name (-fuzz '^FuzzX$':
# Go refuses a -fuzz pattern that matches more than one target), FUZZTIME each (30s).
#
#   scripts/fuzz.sh          run them all (make fuzz; make fuzz FUZZTIME=3s)
#   scripts/fuzz.sh -list    print "<package dir> <target>" lines, one per target
set -euo pipefail
cd "$(dirname "$0")/.."

targets() {
  grep -r --include='*_test.go' --exclude-dir=testdata --exclude-dir='.?*' -o -E '^func Fuzz[A-Za-z0-9_]*\(' . |
    sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' | sort -u
}

if [[ "${1:-}" == -list ]]; then
  targets
  exit 0
fi

list=$(targets)
if [[ -z "$list" ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
fuzztime=${FUZZTIME:-30s}
while read -r dir name; do
  echo "fuzz: $dir $name ($fuzztime)" >&2
  go test "$dir" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime"
done <<<"$list"
