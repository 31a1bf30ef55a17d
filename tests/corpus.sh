#!/bin/sh
# tests/corpus.sh [CORPUS_DIR] — `make test-corpus`: every capture in the corpus through the sanitizer build.
#
# Each file gets its own build/tpp-asan process (tests/corpus.lua check FILE: both boundary modes, the outputs,
# tpp.packets), at most 2 at a time, each under `timeout 20`, so that a crash, a hang or a sanitizer report is
# pinned to its file.  Then tests/corpus.lua summary prints the counts and any failure, and build/capture_readers
# compares tpp's own pcap reader with libpcap on every file.  Without the corpus
# (../shared absent) it says so and succeeds.  TPP selects another binary, TPP_CORPUS another directory.
set -u
cd "$(dirname "$0")/.."
corpus=${1:-${TPP_CORPUS:-../shared/corpus/tcpdump}}
TPP=${TPP:-build/tpp-asan}
if [ ! -d "$corpus" ]; then
    echo "test-corpus: SKIPPED — no corpus at $corpus (../shared is not present)"
    exit 0
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/tpp-corpus.XXXXXX") || exit 1
export TPP OUT
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
start=$(date +%s)
find "$corpus" -maxdepth 1 -type f -print0 | sort -z | xargs -0 -n 1 -P 2 sh -c '
    name=$(basename "$1")
    timeout 20 "$TPP" tests/corpus.lua check "$1" >"$OUT/$name.out" 2>"$OUT/$name.err"
    echo $? >"$OUT/$name.rc"' sh
echo "test-corpus: $corpus through $TPP (ASan+UBSan, leak check) in $(( $(date +%s) - start )) s"
"$TPP" tests/corpus.lua summary "$OUT" "$corpus"
rc=$?
rm -rf "$OUT"
# tpp's own pcap reader and libpcap must give the same frames on every file, malformed ones included.
find "$corpus" -maxdepth 1 -type f -print0 | sort -z | xargs -0 build/capture_readers || rc=1
exit $rc
