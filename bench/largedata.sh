#!/bin/sh
# largedata.sh: `kepler fit` on a large table (default 1,000,000 rows, 5
# inputs): memory over the run and throughput. The fit uses mini-batch
# fitness (--batch-rows) with full-data confirmation of the front; this
# prints the resident set size (VmRSS) and its peak (VmHWM) at each
# checkpoint time, so a flat memory profile shows as equal figures, and
# the JSON's evaluation rates at the end.
# Usage: bench/largedata.sh [--rows N] [--time SECONDS] [--at "60 600"]
#                           [--threads N]
KEPLER=${KEPLER:-$(dirname "$0")/../kepler}
rows=1000000; budget=600; at="60 600"; threads=
while [ $# -gt 0 ]; do
    case $1 in
    --rows) rows=$2; shift 2 ;;
    --time) budget=$2; shift 2 ;;
    --at) at=$2; shift 2 ;;
    --threads) threads="--threads $2"; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--time S] [--at \"T1 T2\"] [--threads N]" >&2; exit 2 ;;
    esac
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/largedata.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# y = x0*x1/x2 + sin(x3) - x4^2/3 on a deterministic pseudo-random design.
awk -v n="$rows" 'BEGIN { srand(7); print "x0,x1,x2,x3,x4,y";
    for (i = 0; i < n; i++) {
        a = 1 + 4 * rand(); b = 1 + 4 * rand(); c = 1 + 4 * rand()
        d = 6 * rand() - 3; e = 4 * rand() - 2
        printf "%.6f,%.6f,%.6f,%.6f,%.6f,%.12g\n", a, b, c, d, e,
            a * b / c + sin(d) - e * e / 3 } }' >"$dir/big.csv"
echo "data: $rows rows x 6 columns, $(du -h "$dir/big.csv" | cut -f1) of CSV"

"$KEPLER" fit "$dir/big.csv" --time "$budget" --json "$dir/fit.json" \
    --quiet --force $threads &
pid=$!
# the libtool wrapper execs the real binary in place, so $pid is kepler
start=$(date +%s)
for t in $at; do
    while [ $(( $(date +%s) - start )) -lt "$t" ] && kill -0 "$pid" 2>/dev/null; do
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
        echo "at ${t}s: VmRSS $((rss / 1024)) MB, peak VmHWM $((hwm / 1024)) MB"
    else
        echo "at ${t}s: the run had already ended"
    fi
done
wait "$pid"
echo "exit status $?"
sed -n 's/^  "\(seconds\|evaluations\|evaluations_per_second\|node_evaluations_per_second\|rows\|rounds\)": \(.*\),$/\1: \2/p' "$dir/fit.json"
grep -A3 '"best"' "$dir/fit.json" | sed -n 's/.*"expr": "\(.*\)",/best: \1/p'
