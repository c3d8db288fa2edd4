# checkpoint.sh: `kepler fit` and `kepler search` --checkpoint/--resume: a
# resumed run equals the uninterrupted one, a SIGKILLed run resumes without
# losing its best, and corrupt or mismatched checkpoints are refused with
# one line and exit 2.
. "$KP_SRCDIR/tests/e2e/lib.sh"

# A noisy law: never proved exact, so runs end at their budget.
awk 'BEGIN { print "a,b,out"; for (i = 1; i <= 60; i++) {
    a = i / 10; b = (i * 7 % 13) / 5
    printf "%.2f,%.2f,%.6f\n", a, b, a * b + sin(a) + 0.001 * ((i * 37) % 11) } }' >"$T/d.csv"
small="--islands 2 --population 48 --seed 5 --quiet"
strip() { grep -v -E '"seconds"|_per_second"' "$1"; }
# Smallest MSE on the Pareto front of a fit JSON.
min_mse() { grep -o '"mse": [-0-9.eE+]*' "$1" | awk '{print $2}' | sort -g | head -n 1; }
rounds_of() { sed -n 's/.*"rounds": \([0-9]*\).*/\1/p' "$1" | head -n 1; }

# 1. Resume is bit-identical to an uninterrupted run with the same --rounds.
expect_status 0 "uninterrupted" "$KEPLER" fit "$T/d.csv" $small --rounds 6 \
    --threads 2 --json "$T/a.json"
expect_status 0 "first half" "$KEPLER" fit "$T/d.csv" $small --rounds 3 \
    --checkpoint "$T/half.ckpt" --json "$T/h.json"
[ -s "$T/half.ckpt" ] && ok || bad "checkpoint written"
expect_status 0 "second half" "$KEPLER" fit "$T/d.csv" $small --rounds 6 \
    --threads 1 --resume "$T/half.ckpt" --json "$T/b.json"
strip "$T/a.json" >"$T/a.cmp"
strip "$T/b.json" >"$T/b.cmp"
cmp -s "$T/a.cmp" "$T/b.cmp" && ok || bad "resumed run differs: $(diff "$T/a.cmp" "$T/b.cmp" | head -5)"

# 2. SIGKILL in the middle of a long run, then resume.
"$KEPLER" fit "$T/d.csv" $small --time 120 --checkpoint "$T/run.ckpt" \
    --checkpoint-every 0.5 --json "$T/never.json" >/dev/null 2>&1 &
pid=$!
wait_for_file "$T/run.ckpt"
sleep 2
kill -KILL $pid
wait $pid 2>/dev/null
[ ! -e "$T/never.json" ] && ok || bad "killed run wrote its JSON"
[ -s "$T/run.ckpt" ] && ok || bad "no checkpoint before SIGKILL"
# A write cut by the kill may leave run.ckpt.tmp behind, never a torn
# run.ckpt; the next write replaces the stray file.
[ "$(ls "$T" | grep -c '\.tmp')" -le 1 ] && ok || bad "temporary files: $(ls "$T")"
# The state at the last checkpoint: resuming with a spent budget runs no
# round and writes what the checkpoint holds.
expect_status 0 "read back the checkpoint" "$KEPLER" fit "$T/d.csv" $small \
    --rounds 1 --resume "$T/run.ckpt" --json "$T/snap.json"
r0=$(rounds_of "$T/snap.json")
[ -n "$r0" ] && [ "$r0" -ge 1 ] && ok || bad "rounds in checkpoint: '$r0'"
expect_status 0 "resume the killed run" "$KEPLER" fit "$T/d.csv" $small \
    --rounds $((r0 + 2)) --resume "$T/run.ckpt" --checkpoint "$T/run.ckpt" \
    --json "$T/final.json"
[ ! -e "$T/run.ckpt.tmp" ] && ok || bad "stray temporary checkpoint kept"
[ "$(rounds_of "$T/final.json")" = $((r0 + 2)) ] && ok ||
    bad "resumed run did $(rounds_of "$T/final.json") rounds, wanted $((r0 + 2))"
m0=$(min_mse "$T/snap.json")
m1=$(min_mse "$T/final.json")
awk -v a="$m1" -v b="$m0" 'BEGIN { exit !(a <= b) }' && ok ||
    bad "best MSE got worse after resume: $m0 -> $m1"

# 3. Refusals: one line naming the file, exit 2.
head -c 2000 "$T/half.ckpt" >"$T/short.ckpt"
expect_status 2 "truncated checkpoint" "$KEPLER" fit "$T/d.csv" $small \
    --rounds 6 --resume "$T/short.ckpt"
expect_err_line 'short.ckpt: truncated' "truncation reported"
cp "$T/half.ckpt" "$T/flip.ckpt"
printf 'Z' | dd of="$T/flip.ckpt" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_status 2 "corrupt checkpoint" "$KEPLER" fit "$T/d.csv" $small \
    --rounds 6 --resume "$T/flip.ckpt"
expect_err_line 'flip.ckpt: corrupt checkpoint' "corruption reported"
expect_status 2 "not a checkpoint" "$KEPLER" fit "$T/d.csv" $small \
    --rounds 6 --resume "$T/d.csv"
expect_err_line 'd.csv: not a Kepler search checkpoint' "foreign file reported"
expect_status 2 "other seed" "$KEPLER" fit "$T/d.csv" --islands 2 \
    --population 48 --seed 6 --quiet --rounds 6 --resume "$T/half.ckpt"
expect_err_line 'half.ckpt: .*seed' "seed mismatch reported"
expect_status 2 "other population" "$KEPLER" fit "$T/d.csv" --islands 2 \
    --population 40 --seed 5 --quiet --rounds 6 --resume "$T/half.ckpt"
expect_err_line 'half.ckpt: .*population 48, this run has 40' "option mismatch named"
sed '5s/,[0-9.]*$/,9.5/' "$T/d.csv" >"$T/other.csv"
expect_status 2 "other data" "$KEPLER" fit "$T/other.csv" $small --rounds 6 \
    --resume "$T/half.ckpt"
expect_err_line 'half.ckpt: .*other data' "data mismatch reported"
expect_status 2 "other grammar" "$KEPLER" fit "$T/d.csv" $small --rounds 6 \
    --grammar polynomial --resume "$T/half.ckpt"
expect_err_line 'half.ckpt: .*grammar' "grammar mismatch reported"
expect_status 2 "absent checkpoint" "$KEPLER" fit "$T/d.csv" $small \
    --rounds 6 --resume "$T/absent.ckpt"
expect_err_line 'absent.ckpt: cannot read' "absent checkpoint reported"
expect_status 2 "bad interval" "$KEPLER" fit "$T/d.csv" --checkpoint-every 0

# ---- kepler search: the same guarantees for construction search. ----
best_of() { sed -n 's/^[a-z0-9]* n=[0-9]*: best \([-0-9.e+]*\).*/\1/p' "$1" | head -n 1; }
rounds_line() { sed -n 's/.* \([0-9]*\) rounds,.*/\1/p' "$1" | head -n 1; }
objects_of() { sed -n 's/.* rounds, \([0-9]*\) objects.*/\1/p' "$1" | head -n 1; }
for method in program local; do
    cs="capset --n 6 --seed 4 --islands 3 --method $method"
    expect_status 0 "search $method uninterrupted" "$KEPLER" search $cs \
        --rounds 8 --threads 2 --out "$T/su-$method.json"
    cp "$T/out" "$T/su.out"
    expect_status 0 "search $method first part" "$KEPLER" search $cs \
        --rounds 3 --threads 1 --checkpoint "$T/s-$method.ckpt" \
        --checkpoint-every 0.001 --quiet
    expect_status 0 "search $method second part" "$KEPLER" search $cs \
        --rounds 8 --threads 2 --resume "$T/s-$method.ckpt" \
        --out "$T/sr-$method.json"
    cmp -s "$T/su-$method.json" "$T/sr-$method.json" && ok ||
        bad "resumed search ($method) gives another certificate"
    # Objects built and the best program agree too.
    [ "$(objects_of "$T/su.out")" = "$(objects_of "$T/out")" ] && ok ||
        bad "objects built: $(objects_of "$T/su.out") vs $(objects_of "$T/out")"
    [ "$(grep "best program" "$T/su.out")" = "$(grep "best program" "$T/out")" ] && ok ||
        bad "best program differs after resume"
done
# Symmetric search (n = 7, where its best still grows after round 2): the
# tabu state, its group and the island's turn survive a checkpoint.
cs="capset --n 7 --seed 4 --islands 3 --method symmetric"
expect_status 1 "search symmetric uninterrupted" "$KEPLER" search $cs \
    --rounds 6 --threads 2 --target 1000 --out "$T/su-sym.json"
cp "$T/out" "$T/su.out"
expect_status 1 "search symmetric first part" "$KEPLER" search $cs \
    --rounds 2 --threads 1 --target 1000 --checkpoint "$T/s-sym.ckpt" \
    --checkpoint-every 0.001 --quiet
expect_status 1 "search symmetric second part" "$KEPLER" search $cs \
    --rounds 6 --threads 2 --target 1000 --resume "$T/s-sym.ckpt" \
    --out "$T/sr-sym.json"
cmp -s "$T/su-sym.json" "$T/sr-sym.json" && ok ||
    bad "resumed search (symmetric) gives another certificate"
[ "$(best_of "$T/su.out")" = "$(best_of "$T/out")" ] && ok ||
    bad "symmetric resume: best $(best_of "$T/su.out") vs $(best_of "$T/out")"
# A --max-evals budget resumes exactly as well.
cs="capset --n 6 --seed 9 --islands 2"
expect_status 0 "search max-evals uninterrupted" "$KEPLER" search $cs \
    --max-evals 9000 --out "$T/eu.json"
cp "$T/out" "$T/eu.out"
expect_status 0 "search max-evals first part" "$KEPLER" search $cs \
    --max-evals 3000 --checkpoint "$T/e.ckpt" --quiet
expect_status 0 "search max-evals resumed" "$KEPLER" search $cs \
    --max-evals 9000 --resume "$T/e.ckpt" --out "$T/er.json"
cmp -s "$T/eu.json" "$T/er.json" && ok || bad "max-evals resume differs"
[ "$(rounds_line "$T/eu.out")" = "$(rounds_line "$T/out")" ] && ok ||
    bad "max-evals resume: $(rounds_line "$T/eu.out") vs $(rounds_line "$T/out") rounds"

# SIGKILL in the middle of a long search, then resume: nothing lost.
"$KEPLER" search capset --n 7 --seed 2 --islands 2 --time 120 \
    --checkpoint "$T/srun.ckpt" --checkpoint-every 0.5 --out "$T/never.json" \
    >/dev/null 2>&1 &
pid=$!
wait_for_file "$T/srun.ckpt"
sleep 2
kill -KILL $pid
wait $pid 2>/dev/null
[ ! -e "$T/never.json" ] && ok || bad "killed search wrote its certificate"
[ -s "$T/srun.ckpt" ] && ok || bad "no search checkpoint before SIGKILL"
expect_status 0 "read back the search checkpoint" "$KEPLER" search capset \
    --n 7 --seed 2 --islands 2 --rounds 1 --resume "$T/srun.ckpt" \
    --out "$T/ssnap.json"
b0=$(best_of "$T/out"); r0=$(rounds_line "$T/out")
[ -n "$r0" ] && [ "$r0" -ge 1 ] && ok || bad "rounds in search checkpoint: '$r0'"
expect_status 0 "the checkpoint's best verifies" "$KEPLER" verify "$T/ssnap.json"
expect_status 0 "resume the killed search" "$KEPLER" search capset --n 7 \
    --seed 2 --islands 2 --rounds $((r0 + 2)) --resume "$T/srun.ckpt" \
    --checkpoint "$T/srun.ckpt" --out "$T/sfinal.json"
b1=$(best_of "$T/out")
[ "$(rounds_line "$T/out")" = $((r0 + 2)) ] && ok ||
    bad "resumed search did $(rounds_line "$T/out") rounds, wanted $((r0 + 2))"
awk -v a="$b1" -v b="$b0" 'BEGIN { exit !(a >= b) }' && ok ||
    bad "best got worse after resume: $b0 -> $b1"
[ ! -e "$T/srun.ckpt.tmp" ] && ok || bad "stray temporary search checkpoint"

# Refusals: one line naming the file, exit 2.
ck="$T/s-program.ckpt"
cs="capset --n 6 --seed 4 --islands 3 --rounds 8"
head -c 3000 "$ck" >"$T/sshort.ckpt"
expect_status 2 "truncated search checkpoint" "$KEPLER" search $cs --resume "$T/sshort.ckpt"
expect_err_line 'sshort.ckpt: truncated' "search truncation reported"
cp "$ck" "$T/sflip.ckpt"
printf 'Z' | dd of="$T/sflip.ckpt" bs=1 seek=4000 conv=notrunc 2>/dev/null
expect_status 2 "corrupt search checkpoint" "$KEPLER" search $cs --resume "$T/sflip.ckpt"
expect_err_line 'sflip.ckpt: corrupt checkpoint' "search corruption reported"
expect_status 2 "fit checkpoint given to search" "$KEPLER" search $cs --resume "$T/half.ckpt"
expect_err_line 'half.ckpt: a checkpoint of kepler fit' "foreign checkpoint named"
expect_status 2 "search checkpoint given to fit" "$KEPLER" fit "$T/d.csv" $small \
    --rounds 6 --resume "$ck"
expect_err_line 's-program.ckpt: a checkpoint of kepler search' "other way round"
expect_status 2 "other size" "$KEPLER" search capset --n 5 --seed 4 --islands 3 \
    --rounds 8 --resume "$ck"
expect_err_line 's-program.ckpt: .*--n 6, this run has --n 5' "size mismatch named"
expect_status 2 "other seed" "$KEPLER" search capset --n 6 --seed 5 --islands 3 \
    --rounds 8 --resume "$ck"
expect_err_line 's-program.ckpt: .*seed' "search seed mismatch"
expect_status 2 "other method" "$KEPLER" search $cs --method local --resume "$ck"
expect_err_line 's-program.ckpt: .*method program, this run has local' "method mismatch named"
expect_status 2 "other topology" "$KEPLER" search $cs --topology random --resume "$ck"
expect_err_line 's-program.ckpt: .*topology ring, this run has random' "topology mismatch named"
expect_status 2 "other grammar" "$KEPLER" search $cs --grammar polynomial --resume "$ck"
expect_err_line 's-program.ckpt: .*grammar' "search grammar mismatch"
expect_status 2 "absent search checkpoint" "$KEPLER" search $cs --resume "$T/none.ckpt"
expect_err_line 'none.ckpt: cannot read' "absent search checkpoint"
expect_status 2 "bad search interval" "$KEPLER" search $cs --checkpoint-every -1
expect_status 2 "bad topology" "$KEPLER" search $cs --topology star
expect_err_line 'ring or random' "bad topology named"

finish
