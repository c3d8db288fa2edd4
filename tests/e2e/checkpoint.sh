# checkpoint.sh: `kepler fit --checkpoint/--resume`: a resumed run equals the
# uninterrupted one, a SIGKILLed run resumes without losing its best, and
# corrupt or mismatched checkpoints are refused with one line and exit 2.
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
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    sleep 0.25
    [ -s "$T/run.ckpt" ] && break
done
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

finish
