#!/bin/sh
# scale.sh: scale-out benchmark: time to solution of one fixed problem
# each for `kepler fit` and `kepler search`, with 1 rank x 1 thread,
# 1 rank x 2 threads and 2 ranks x 1 thread (mpirun), over several seeds,
# and the migration traffic rank 0 sends per second.
#
#   fit:    y = sin(x)*cos(z) + x/z on 60 exact rows (12 significant
#           digits), stopped as soon as the verifier proves a formula
#           exact. 2 ranks is a different search (each rank has its own
#           --islands islands and policy samples), so both the time and
#           the rounds to solution may change.
#   search: capset n = 8, stopped at a 512-cap (the largest known). With 8
#           islands in all, "2 ranks x 4 islands" is bit for bit the run
#           of "1 rank x 8 islands" (same rounds, same cap): its speed-up
#           is pure parallel efficiency. "2 ranks x 8 islands" doubles the
#           islands instead.
#
# For every run it prints kepler's own seconds, the rounds, whether it was
# solved, the CPU seconds the run got (user + sys of all its processes: on
# a shared machine this shows how much of the cores it really had) and the
# bytes/s rank 0 sent; then per configuration the median time to solution
# (unsolved runs count as the budget), the speed-up over 1 x 1, and the
# median CPU seconds relative to 1 x 1 (the cost of distribution for the
# search rows, whose work is identical). The load average is printed
# before and after: note it next to any figure.
# Usage: bench/scale.sh [--seeds N] [--budget SECONDS] [--only fit|search]
# Needs a build configured --with-mpi for the 2-rank rows (else skipped).
KEPLER=${KEPLER:-$(dirname "$0")/../kepler}
seeds=5; budget=60; only=
while [ $# -gt 0 ]; do
    case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--seeds N] [--budget SECONDS] [--only fit|search]" >&2; exit 2 ;;
    esac
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/scale.XXXXXX")
trap 'rm -rf "$dir"' EXIT
awk 'BEGIN { print "x,z,y"; for (i = 1; i <= 60; i++) {
    x = 0.5 + (i * 13 % 29) / 10; z = 0.3 + (i * 7 % 17) / 8
    printf "%.4f,%.4f,%.12g\n", x, z, sin(x) * cos(z) + x / z } }' >"$dir/p.csv"
mpi=no
config=$(dirname "$KEPLER")/config.h
grep -q '^#define KP_HAVE_MPI 1' "$config" 2>/dev/null && command -v mpirun >/dev/null && mpi=yes
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none \
    OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none

echo "kepler $("$KEPLER" --version 2>/dev/null | sed 's/^kepler //'), $(nproc) cores, $(uname -m)"
echo "load before: $(uptime | sed 's/.*load average: //')"
field() { sed -n "s/.*\"$1\": \\([-0-9.eE+a-z]*\\).*/\\1/p" "$2" | head -n 1; }
# run KIND LABEL CMD...: one run; appends "KIND|LABEL|seconds|solved" to all.
run() {
    kind=$1 label=$2; shift 2
    rm -f "$dir/out.json"
    rm -f "$dir/time"
    if [ -x /usr/bin/time ]; then # Debian package time
        /usr/bin/time -f '%U %S' -o "$dir/time" "$@" >"$dir/out" 2>"$dir/err"
    else
        "$@" >"$dir/out" 2>"$dir/err"
    fi
    cpu=$(tail -n 1 "$dir/time" 2>/dev/null | awk '{ printf "%.1f", $1 + $2 }')
    bps=$(sed -n 's/.*(\([0-9]*\) bytes\/s).*/\1/p' "$dir/err")
    if [ "$kind" = fit ]; then
        s=$(field seconds "$dir/out.json"); r=$(field rounds "$dir/out.json")
        ex=$(grep -A8 '"best"' "$dir/out.json" | field exact /dev/stdin)
        [ "$ex" = true ] && ok=yes || ok=no
    else
        s=$(sed -n 's/^  \([0-9.]*\) s, .*/\1/p' "$dir/out")
        r=$(sed -n 's/.* \([0-9]*\) rounds,.*/\1/p' "$dir/out")
        grep -q 'target 512 reached' "$dir/out" && ok=yes || ok=no
    fi
    [ -n "$s" ] || { s=$budget; ok=no; }
    printf '%-6s %-4s %-28s %8.2f %6s %6s %6s %10s\n' "$kind" "$seed" "$label" \
        "$s" "${r:--}" "$ok" "${cpu:--}" "${bps:--}"
    [ "$ok" = yes ] || s=$budget
    echo "$kind|$label|$s|${cpu:-0}|$ok" >>"$dir/all"
}
printf '%-6s %-4s %-28s %8s %6s %6s %6s %10s\n' "" seed config seconds rounds solved "cpu s" "bytes/s r0"
seed=1
while [ "$seed" -le "$seeds" ]; do
    if [ "$only" != search ]; then
        f="fit $dir/p.csv --time $budget --seed $seed --json $dir/out.json --force"
        run fit "1 rank x 1 thread" "$KEPLER" $f --threads 1 --quiet
        run fit "1 rank x 2 threads" "$KEPLER" $f --threads 2 --quiet
        [ "$mpi" = yes ] && run fit "2 ranks x 1 thread" mpirun -np 2 "$KEPLER" $f --threads 1
        [ "$mpi" = yes ] && run fit "2 ranks x 1 thread, random" mpirun -np 2 "$KEPLER" $f \
            --threads 1 --topology random
    fi
    if [ "$only" != fit ]; then
        c="search capset --n 8 --target 512 --time $budget --seed $seed"
        run search "1 rank x 1 thread, 8 isl" "$KEPLER" $c --threads 1 --islands 8
        run search "1 rank x 2 threads, 8 isl" "$KEPLER" $c --threads 2 --islands 8
        [ "$mpi" = yes ] && run search "2 ranks x 1 thread, 4+4 isl" mpirun -np 2 "$KEPLER" $c \
            --threads 1 --islands 4
        [ "$mpi" = yes ] && run search "2 ranks x 1 thread, 8+8 isl" mpirun -np 2 "$KEPLER" $c \
            --threads 1 --islands 8
    fi
    seed=$((seed + 1))
done
[ "$mpi" = yes ] || echo "(2-rank runs skipped: build with ./configure --with-mpi)"
echo "load after: $(uptime | sed 's/.*load average: //')"
echo
# Median time to solution per configuration, and speed-up over 1 x 1.
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for kind in fit search; do
    grep -q "^$kind|" "$dir/all" 2>/dev/null || continue
    base=
    grep "^$kind|" "$dir/all" | cut -d'|' -f2 | awk '!seen[$0]++' >"$dir/labels"
    while IFS= read -r label; do
        grep -F "$kind|$label|" "$dir/all" >"$dir/one"
        med=$(cut -d'|' -f3 "$dir/one" | median)
        cmed=$(cut -d'|' -f4 "$dir/one" | median)
        solved=$(grep -c '|yes$' "$dir/one")
        [ -n "$base" ] || { base=$med; cbase=$cmed; }
        printf '%-6s %-28s median %7.2f s to solution (%d of %d solved), speed-up %.2f; median CPU %.1f s (x%.2f)\n' \
            "$kind" "$label:" "$med" "$solved" "$(wc -l <"$dir/one")" \
            "$(awk -v a="$base" -v b="$med" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
            "$cmed" "$(awk -v a="$cbase" -v b="$cmed" 'BEGIN { print (a > 0 ? b / a : 0) }')"
    done <"$dir/labels"
done
