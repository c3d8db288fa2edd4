#!/bin/sh
# nguyen.sh: the Nguyen-1..12 symbolic-regression benchmark (Uy et al. 2011,
# as used by DSR/uDSR): 20 points drawn uniformly from the stated range, a
# fixed budget per problem, and a problem counts as recovered when kepler's
# verifier proves the best formula exact on the data (exact constants, every
# row reproduced to within a unit in the 13th significant digit), which no
# formula that differs from the law does by accident on 20 random points.
# Usage: bench/nguyen.sh [--budget SECONDS] [--seed N] [--engine E] [--only K]
#                        [--threads N] [--grammar G]
# The grammar defaults to koza (+ - * / sin cos exp log, the function set of
# DSR's Nguyen experiments).
# Prints a per-problem table and the recovery rate.
KEPLER=${KEPLER:-$(dirname "$0")/../kepler}
budget=60; seed=1; engine=hybrid; only=; threads=; grammar=koza
while [ $# -gt 0 ]; do
    case $1 in
    --budget) budget=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --threads) threads="--threads $2"; shift 2 ;;
    --grammar) grammar=$2; shift 2 ;;
    *) echo "usage: $0 [--budget S] [--seed N] [--engine E] [--only K] [--threads N]" >&2; exit 2 ;;
    esac
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/nguyen.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# name | variables | low | high | awk expression of x and y
problems='
1|1|-1|1|x^3 + x^2 + x
2|1|-1|1|x^4 + x^3 + x^2 + x
3|1|-1|1|x^5 + x^4 + x^3 + x^2 + x
4|1|-1|1|x^6 + x^5 + x^4 + x^3 + x^2 + x
5|1|-1|1|sin(x^2)*cos(x) - 1
6|1|-1|1|sin(x) + sin(x + x^2)
7|1|0|2|log(x + 1) + log(x^2 + 1)
8|1|0|4|sqrt(x)
9|2|0|1|sin(x) + sin(y^2)
10|2|0|1|2*sin(x)*cos(y)
11|2|0|1|x^y
12|2|0|1|x^4 - x^3 + y^2/2 - y'

printf '%-10s %-9s %-8s %s\n' problem recovered seconds best
recovered=0; total=0
echo "$problems" | while IFS='|' read -r k nv lo hi f; do
    [ -z "$k" ] && continue
    [ -n "$only" ] && [ "$only" != "$k" ] && continue
    csv="$dir/nguyen$k.csv"
    awk -v nv="$nv" -v lo="$lo" -v hi="$hi" -v s="$seed$k" "BEGIN {
        srand(s); if (nv == 1) print \"x,f\"; else print \"x,y,f\";
        for (i = 0; i < 20; i++) {
            x = lo + (hi - lo) * rand(); x = sprintf(\"%.6f\", x) + 0
            y = lo + (hi - lo) * rand(); y = sprintf(\"%.6f\", y) + 0
            v = $f
            if (nv == 1) printf \"%.6f,%.13g\\n\", x, v
            else printf \"%.6f,%.6f,%.13g\\n\", x, y, v
        } }" >"$csv"
    "$KEPLER" fit "$csv" --time "$budget" --seed "$seed" --engine "$engine" $threads --grammar "$grammar" \
        --json "$dir/n$k.json" --quiet --force >/dev/null 2>"$dir/n$k.err"
    best=$(grep -A8 '"best"' "$dir/n$k.json" | sed -n 's/.*"expr": "\(.*\)",/\1/p')
    ex=$(grep -A8 '"best"' "$dir/n$k.json" | grep -c '"exact": true')
    secs=$(sed -n 's/^  "seconds": \([0-9.]*\).*/\1/p' "$dir/n$k.json")
    printf 'Nguyen-%-3s %-9s %-8.1f %s\n' "$k" "$([ "$ex" = 1 ] && echo yes || echo no)" "$secs" "$best"
    echo "$ex" >>"$dir/results"
done
total=$(wc -l <"$dir/results")
recovered=$(grep -c '^1$' "$dir/results")
echo "recovered $recovered of $total (engine $engine, grammar $grammar, budget ${budget}s, seed $seed)"
