#!/bin/sh
# Times aud-audit against the jq pipeline that answers the simplest of its
# questions (requests per API and decision) on the same generated log, and
# checks that both answers, and the generator's own count, agree.
#
#   cd build && make aud-audit bench && ../bench/audit_bench.sh [RECORDS]
#
# RECORDS defaults to 1,000,000 (about 450 MB). AUD_BUILDDIR names the build
# directory (default: the current one); TMPDIR where the log is written.
set -eu

n=${1:-1000000}
case $n in
'' | *[!0-9]*) echo "audit_bench: RECORDS must be a whole number, not '$n'" >&2; exit 2 ;;
esac
builddir=${AUD_BUILDDIR:-$(pwd)}
audit=$builddir/aud-audit
gen=$builddir/bench/gen_audit_log
for tool in "$audit" "$gen"; do
    if [ ! -x "$tool" ]; then
        echo "audit_bench: $tool is missing: run 'make aud-audit bench' in the build directory" >&2
        exit 2
    fi
done
if ! command -v jq >/dev/null 2>&1; then
    echo "audit_bench: jq is not installed (Debian package jq)" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/audit_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
log=$tmp/audit.log

echo "generating $n records..."
"$gen" -n "$n" -o "$log" --summary "$tmp/expected.txt"
bytes=$(wc -c < "$log")
echo "log: $bytes bytes, $(awk -v b="$bytes" -v n="$n" 'BEGIN { printf "%.0f", b / n }') bytes a line"
# Both tools read from the page cache, not the disk.
cat "$log" > /dev/null

now() { date +%s.%N; }

t0=$(now)
"$audit" "$log" > "$tmp/aud.txt"
t1=$(now)
LC_ALL=C jq -R -r 'fromjson? | .api + "|" + .decision' "$log" | LC_ALL=C sort | uniq -c > "$tmp/jq.txt"
t2=$(now)

# The answers: jq's, and aud-audit's own (from --json, untimed), in the
# generator's format ("COUNT API|DECISION", sorted).
sed 's/^ *//' "$tmp/jq.txt" > "$tmp/jq.norm"
"$audit" --json "$log" |
    jq -r '.apis[] | .api as $a | ("accept", "reject", "audit_reject") as $d | select(.[$d] > 0)
           | "\(.[$d]) \($a)|\($d)"' |
    LC_ALL=C sort -k2 > "$tmp/aud.norm"
LC_ALL=C sort -k2 "$tmp/jq.norm" > "$tmp/jq.sorted"
LC_ALL=C sort -k2 "$tmp/expected.txt" > "$tmp/expected.sorted"
if ! cmp -s "$tmp/jq.sorted" "$tmp/expected.sorted" || ! cmp -s "$tmp/aud.norm" "$tmp/expected.sorted"; then
    echo "audit_bench: the answers differ" >&2
    echo "expected:" >&2; cat "$tmp/expected.sorted" >&2
    echo "jq:" >&2; cat "$tmp/jq.sorted" >&2
    echo "aud-audit:" >&2; cat "$tmp/aud.norm" >&2
    exit 1
fi
echo "answers: aud-audit, jq and the generator agree"

awk -v a0="$t0" -v a1="$t1" -v j1="$t2" -v n="$n" 'BEGIN {
    aud = a1 - a0; jq = j1 - a1
    printf "aud-audit:   %8.2f s  (%.0f records/s)\n", aud, n / aud
    printf "jq pipeline: %8.2f s  (%.0f records/s)\n", jq, n / jq
    printf "ratio:       %8.1fx  (target: at least 2x)\n", jq / aud
}'
