#!/bin/sh
# make bench: tpp against a bare libpcap pcap_next_ex loop over the same uncompressed trace, run alternately
# (bench/alternate.lua: medians and ratios), plus peak resident memory.  Traces are generated once into build/bench/.
set -e
cd "$(dirname "$0")/.."
OUT=build/bench
mkdir -p "$OUT"
TRACE=$OUT/bench5m.pcap
[ -s "$TRACE" ] || ./tpp scripts/synth.lua -q --packets 5000000 --duration 300 --seed 7 "$TRACE"


./tpp bench/alternate.lua "${RUNS:-9}" \
    "pcap_next_ex loop=build/pcap_loop $TRACE" \
    "tpp parse (all columns, dt 10 s, aligned)=./tpp -e 'assert(require[[tpp]].parse([[$TRACE]]))'"

echo
echo "peak resident memory:"
/usr/bin/time -f "  pcap_next_ex loop  %M KB" build/pcap_loop "$TRACE" >/dev/null
/usr/bin/time -f "  tpp parse          %M KB" ./tpp -e "assert(require[[tpp]].parse([[$TRACE]]))"
