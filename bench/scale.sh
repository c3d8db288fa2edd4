#!/bin/sh
# scale.sh: scale-out benchmark of `kepler fit` on one fixed problem,
#   y = x**3/2 - x*z + z**2/4 on 50 exact decimal rows,
# stopped as soon as the verifier proves a formula exact. For each seed it
# measures the time to solution with 1 rank x 1 thread, 1 rank x 2 threads
# and (with an MPI build) 2 ranks x 1 thread under mpirun, and the bytes
# rank 0 sends per second (ring migration + policy-data allgather).
# Usage: bench/scale.sh [--seeds N] [--budget SECONDS]
# Needs a build configured --with-mpi for the 2-rank column (else skipped).
KEPLER=${KEPLER:-$(dirname "$0")/../kepler}
seeds=5; budget=60
while [ $# -gt 0 ]; do
    case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    *) echo "usage: $0 [--seeds N] [--budget SECONDS]" >&2; exit 2 ;;
    esac
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/scale.XXXXXX")
trap 'rm -rf "$dir"' EXIT
awk 'BEGIN { print "x,z,y"; for (i = 1; i <= 50; i++) {
    x = i / 5; z = (i * 7 % 11) / 4
    printf "%.2f,%.4f,%.6f\n", x, z, x * x * x / 2 - x * z + z * z / 4 } }' >"$dir/p.csv"
mpi=no
config=$(dirname "$KEPLER")/config.h
grep -q '^#define KP_HAVE_MPI 1' "$config" 2>/dev/null && command -v mpirun >/dev/null && mpi=yes

field() { sed -n "s/.*\"$1\": \\([-0-9.eE+a-z]*\\).*/\\1/p" "$2" | head -n 1; }
# run LABEL CMD...: prints seconds, exact, evaluations/s of one run.
run() {
    label=$1; shift
    "$@" >/dev/null 2>"$dir/err"
    s=$(field seconds "$dir/out.json"); ex=$(grep -A8 '"best"' "$dir/out.json" | field exact /dev/stdin)
    eps=$(field evaluations_per_second "$dir/out.json")
    bps=$(sed -n 's/.*(\([0-9]*\) bytes\/s).*/\1/p' "$dir/err")
    printf '%-8s %-22s %8.2f %6s %10.0f %12s\n' "$seed" "$label" "$s" "$ex" "$eps" "${bps:--}"
    echo "$label $s $ex" >>"$dir/all"
}
printf '%-8s %-22s %8s %6s %10s %12s\n' seed config seconds exact evals/s "bytes/s r0"
seed=1
while [ "$seed" -le "$seeds" ]; do
    common="fit $dir/p.csv --time $budget --seed $seed --json $dir/out.json --force"
    run "1 rank x 1 thread" "$KEPLER" $common --threads 1 --quiet
    run "1 rank x 2 threads" "$KEPLER" $common --threads 2 --quiet
    [ "$mpi" = yes ] && run "2 ranks x 1 thread" mpirun -np 2 --oversubscribe \
        --allow-run-as-root "$KEPLER" $common --threads 1
    seed=$((seed + 1))
done
[ "$mpi" = yes ] || echo "(2-rank runs skipped: build with ./configure --with-mpi)"
# Median time to solution per configuration (unsolved runs count as the
# budget, so the median is a lower bound when half fail).
echo
for label in "1 rank x 1 thread" "1 rank x 2 threads" "2 ranks x 1 thread"; do
    grep "^$label " "$dir/all" >"$dir/one" 2>/dev/null || continue
    [ -s "$dir/one" ] || continue
    med=$(awk '{print $(NF-1)}' "$dir/one" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    solved=$(grep -c ' true$' "$dir/one")
    printf 'median time to solution, %-20s %6.2f s (%d of %d solved)\n' "$label:" "$med" "$solved" "$(wc -l <"$dir/one")"
done
