#!/bin/sh
# make bench: tpp against a bare libpcap pcap_next_ex loop over the same uncompressed trace, side by side in
# one hyperfine run (medians), plus peak resident memory.  Traces are generated once into build/bench/.
set -e
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
OUT=build/bench
mkdir -p "$OUT"
TRACE=$OUT/bench5m.pcap
[ -s "$TRACE" ] || ./tpp scripts/synth.lua -q --packets 5000000 --duration 300 --seed 7 "$TRACE"

hyperfine -N -w 1 -r "${RUNS:-7}" --export-json "$OUT/parse.json" \
    -n "pcap_next_ex loop" "build/pcap_loop $TRACE" \
    -n "tpp parse (all columns, dt=10, aligned)" "./tpp -e 'assert(require[[tpp]].parse([[$TRACE]]))'"

echo
echo "peak resident memory:"
/usr/bin/time -f "  pcap_next_ex loop  %M KB" build/pcap_loop "$TRACE" >/dev/null
/usr/bin/time -f "  tpp parse          %M KB" ./tpp -e "assert(require[[tpp]].parse([[$TRACE]]))"

./tpp -e '
local f = assert(io.open(arg[1])); local s = f:read("a"); f:close()
local med = {}
for name, median in s:gmatch([["command":%s*"([^"]+)".-"median":%s*([%d.e-]+)]]) do med[#med + 1] = { name, tonumber(median) } end
print(); for _, m in ipairs(med) do print(("  %-45s median %.3f s"):format(m[1], m[2])) end
if #med == 2 then print(("  ratio tpp / pcap_next_ex: %.2f"):format(med[2][2] / med[1][2])) end' "$OUT/parse.json"
