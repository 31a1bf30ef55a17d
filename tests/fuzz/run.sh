#!/bin/sh
# tests/fuzz/run.sh SECONDS TARGET... — run each libFuzzer target (build/fuzz/fuzz_TARGET) for SECONDS.
#
# The working corpus of each target is build/fuzz/corpus/TARGET (kept between runs), started from the seeds in
# tests/fuzz/seeds/TARGET; a crash, leak, sanitizer report or timeout is saved under build/fuzz/crashes/.  Prints
# the executions per target and exits 1 when anything was found.  Logs: build/fuzz/TARGET.log.
set -u
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift
status=0
mkdir -p build/fuzz/crashes
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=tests/fuzz/ubsan.supp
for t in "$@"; do
    mkdir -p "build/fuzz/corpus/$t"
    before=$(ls build/fuzz/crashes | wc -l)
    start=$(date +%s)
    build/fuzz/fuzz_$t -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="build/fuzz/crashes/$t-" \
        "build/fuzz/corpus/$t" "tests/fuzz/seeds/$t" >"build/fuzz/$t.log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$t.log" | tail -1)
    corpus=$(ls "build/fuzz/corpus/$t" | wc -l)
    found=$(( $(ls build/fuzz/crashes | wc -l) - before ))
    printf 'fuzz_%-8s %9s executions in %ss, corpus %s inputs, %s new finding(s), exit %s\n' \
        "$t" "${execs:-?}" "$elapsed" "$corpus" "$found" "$rc"
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        status=1
        grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error|^SUMMARY' "build/fuzz/$t.log"
    fi
done
[ "$status" -eq 0 ] || echo "fuzz: findings in build/fuzz/crashes/ (reproduce: build/fuzz/fuzz_TARGET FILE)"
exit $status
