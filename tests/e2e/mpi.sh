# mpi.sh: `mpirun -np 2 kepler fit` when kepler was configured --with-mpi:
# two ranks run, rank 0 writes one result, runs are reproducible, and a
# checkpointed two-rank run resumes bit-identically. Skipped (exit 77) in a
# build without MPI.
. "$KP_SRCDIR/tests/e2e/lib.sh"

if ! grep -q '^#define KP_HAVE_MPI 1' "$KP_BUILDDIR/config.h" 2>/dev/null; then
    echo "SKIP: kepler was not configured with --with-mpi (./configure --with-mpi)"
    exit 77
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: built with MPI but mpirun is not installed (apt-get install openmpi-bin)"
    exit 77
fi
# CI runs this as root on a fresh container: allow root, more ranks than
# cores, no process binding, shared memory between the ranks without the
# ptrace-based single-copy path that containers often forbid, and no
# network besides the loopback the runtime itself uses.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none \
    OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
    OMPI_MCA_oob_tcp_if_include=lo
# Open MPI's own allocations are not leaks of ours.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi2() { mpirun -np 2 "$KEPLER" "$@"; }

awk 'BEGIN { print "a,b,out"; for (i = 1; i <= 60; i++) {
    a = i / 10; b = (i * 7 % 13) / 5
    printf "%.2f,%.2f,%.6f\n", a, b, a * b + sin(a) + 0.001 * ((i * 37) % 11) } }' >"$T/d.csv"
small="--islands 2 --population 48 --seed 5 --threads 1 --quiet"
strip() { grep -v -E '"seconds"|_per_second"' "$1"; }
evals() { sed -n 's/.*"evaluations": \([0-9]*\).*/\1/p' "$1" | head -n 1; }

expect_status 0 "one process" "$KEPLER" fit "$T/d.csv" $small --rounds 4 \
    --json "$T/one.json"
expect_status 0 "two ranks" mpi2 fit "$T/d.csv" $small --rounds 4 \
    --json "$T/two.json"
grep -q '"rounds": 4' "$T/two.json" && ok || bad "two-rank JSON written"
e1=$(evals "$T/one.json"); e2=$(evals "$T/two.json")
# Evaluations are summed over ranks: two ranks do about twice the work.
[ "$e2" -gt $((e1 * 3 / 2)) ] && ok || bad "evaluations: 1 rank $e1, 2 ranks $e2"
expect_status 0 "two ranks again" mpi2 fit "$T/d.csv" $small --rounds 4 \
    --threads 2 --json "$T/two-again.json"
strip "$T/two.json" >"$T/a.cmp"
strip "$T/two-again.json" >"$T/b.cmp"
cmp -s "$T/a.cmp" "$T/b.cmp" && ok || bad "two-rank runs differ"

# Checkpoints are per rank; a resumed two-rank run equals the uninterrupted.
expect_status 0 "two ranks, first half" mpi2 fit "$T/d.csv" $small \
    --rounds 2 --checkpoint "$T/ck"
[ -s "$T/ck.rank0" ] && [ -s "$T/ck.rank1" ] && ok || bad "rank checkpoints: $(ls "$T")"
expect_status 0 "two ranks, resumed" mpi2 fit "$T/d.csv" $small \
    --rounds 4 --resume "$T/ck" --json "$T/resumed.json"
strip "$T/resumed.json" >"$T/c.cmp"
cmp -s "$T/a.cmp" "$T/c.cmp" && ok || bad "resumed two-rank run differs"
# A rank checkpoint cannot be resumed by a run with another rank count.
expect_status 2 "one process, rank checkpoint" "$KEPLER" fit "$T/d.csv" \
    $small --rounds 4 --resume "$T/ck.rank1"
expect_err_line 'rank 1 of 2' "rank mismatch reported"

finish
