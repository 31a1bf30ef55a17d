#!/bin/sh
# make bench: tpp against a bare libpcap pcap_next_ex loop over the same uncompressed trace, run alternately
# (bench/alternate.lua: medians and ratios), plus peak resident memory.  The trace is generated once into
# build/bench/; the results go to stdout and to docs/benchmarks.md.
set -e
cd "$(dirname "$0")/.."
OUT=build/bench
mkdir -p "$OUT"
TRACE=$OUT/bench5m.pcap
[ -s "$TRACE" ] || ./tpp scripts/synth.lua -q --packets 5000000 --duration 300 --seed 7 "$TRACE"
[ -s "$TRACE.gz" ] || gzip -6 -c "$TRACE" > "$TRACE.gz"
RUNS=${RUNS:-9}

peak_kb() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1; }

TABLE=$(./tpp bench/alternate.lua "$RUNS" \
    "pcap_next_ex loop (libpcap, bench/pcap_loop.c)=build/pcap_loop $TRACE" \
    "tpp: all columns and histograms, dt 10 s, aligned=./tpp -e 'assert(require[[tpp]].parse([[$TRACE]]))'")
LOOP_KB=$(peak_kb build/pcap_loop "$TRACE")
TPP_KB=$(peak_kb ./tpp -e "assert(require[[tpp]].parse([[$TRACE]]))")
DUMP=$(./tpp bench/dump.lua "$TRACE.gz" 5)

{
    echo "# Benchmarks"
    echo
    echo "Written by \`make bench\` ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))."
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores,"\
         "$(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM; a virtual machine, so timings are noisy:"
    echo "commands are run alternately, $RUNS times each after a warm-up, and compared by their medians."
    echo
    echo "## Parse: 5,000,000 packets, 300 s, uncompressed pcap ($(du -m "$TRACE" | cut -f1) MB, \`scripts/synth.lua --seed 7\`)"
    echo
    echo "$TABLE"
    echo
    echo "Peak resident memory: pcap_next_ex loop $LOOP_KB KB, tpp $TPP_KB KB."
    echo
    echo "## Dump and load (the same trace, dt 10 s; medians of 5)"
    echo
    echo "| result | size | write | load |"
    echo "| --- | --- | ---: | ---: |"
    echo "$DUMP"
} > docs/benchmarks.md
cat docs/benchmarks.md
