#!/bin/sh
# fuzz.sh runs every native fuzz test of the project for a while each
# (default 30s; pass another duration as the first argument), one after
# another, stopping at the first failure. New corpus entries that reproduce
# a failure are written under the package's testdata/fuzz, to be committed
# with the fix.
set -eu
fuzztime="${1:-30s}"
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $target ($fuzztime)"
		go test "$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime"
	done
done
