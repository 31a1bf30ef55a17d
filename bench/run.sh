#!/bin/sh
# make bench: tpp against its peers on generated traces, every group of commands run alternately
# (bench/alternate.lua: medians and ratios), with peak resident memory; the results go to stdout and to
# docs/benchmarks.md.  Traces are generated once into build/bench/ (about 4 GB with the long ones).
set -e
cd "$(dirname "$0")/.."
scripts/install-deps.sh bench
OUT=build/bench
mkdir -p "$OUT"
RUNS=${RUNS:-7}
T5=$OUT/bench5m.pcap        # 5,000,000 packets over 300 s: 30 intervals of 10 s
T25=$OUT/bench25m.pcap      # 5x the packets over the same 300 s: the same 30 intervals
T1=$OUT/bench1m.pcap        # 1,000,000 packets, for tshark
TX5=$OUT/bench5m-x5.pcap    # every packet of T5 five times: 5x the packets, the same addresses and ports
[ -s "$T5" ] || ./tpp scripts/synth.lua -q --packets 5000000 --duration 300 --seed 7 "$T5"
[ -s "$T5.gz" ] || gzip -6 -c "$T5" > "$T5.gz"
[ -s "$T1" ] || ./tpp scripts/synth.lua -q --packets 1000000 --duration 300 --seed 7 "$T1"
[ -s "$T25" ] || ./tpp scripts/synth.lua -q --packets 25000000 --duration 300 --seed 7 "$T25"
[ -s "$TX5" ] || ./tpp bench/repeat.lua "$T5" 5 "$TX5"

# A parse with the default options, or with the given Lua option fields ($2, e.g. "features = [[none]]").
tpp_parse() { echo "./tpp -e 'local r = assert(require[[tpp]].parse([[$1]], { ${2:-} })) assert(r.complete, r.error)'"; }
NOFLOWS='features = [[ports,prefixes,novelty,headers,hh]]'
NONE='features = [[none]]'
TSHARK_Z='io,stat,10,COUNT(ip.src)ip.src,COUNT(tcp.flags.syn)tcp.flags.syn==1,COUNT(tcp.flags.fin)tcp.flags.fin==1,AVG(ip.len)ip.len'

# Peak resident memory (KB) of a shell command and all it runs.
peak_kb() { /usr/bin/time -f "%M" sh -c "$1" 2>&1 >/dev/null | tail -n 1; }

GZ=$(./tpp bench/alternate.lua "$RUNS" \
    "zcat FILE > /dev/null (gzip's inflate)=zcat $T5.gz" \
    "igzip -dc FILE > /dev/null (ISA-L)=igzip -dc $T5.gz" \
    "tracertstats -i 10 (libtrace: counts and bytes only)=tracertstats -i 10 pcapfile:$T5.gz" \
    "tpp: all columns and histograms, dt 10 s, aligned=$(tpp_parse "$T5.gz")" \
    "tpp: every feature group but flows=$(tpp_parse "$T5.gz" "$NOFLOWS")" \
    "tpp: no research feature (features none)=$(tpp_parse "$T5.gz" "$NONE")")
PCAP=$(./tpp bench/alternate.lua "$RUNS" \
    "pcap_next_ex loop (libpcap, bench/pcap_loop.c)=build/pcap_loop $T5" \
    "the loop + distinct 5-tuples per 10 s, nothing else (bench/flow_floor.c)=build/flow_floor $T5" \
    "tpp: all columns and histograms, dt 10 s, aligned=$(tpp_parse "$T5")" \
    "tpp: every feature group but flows=$(tpp_parse "$T5" "$NOFLOWS")" \
    "tpp: no research feature (features none)=$(tpp_parse "$T5" "$NONE")")
# What each research feature group costs: a parse with none, each group alone, and all (bench/features.lua).
FEATURES=$(./tpp bench/features.lua "$T5" "$RUNS")
# Drawing all 22 figures at 30,000 and 90 intervals and of a one-interval capture (bench/figures.lua).
FIGURES=$(./tpp bench/figures.lua "$T5" 3)
# Ground truth (issue 17): the parse with 2,000 MAWILab-like anomalies (bench/labels.lua, admd XML) against none.
L2000=$OUT/labels2000.xml
[ -s "$L2000" ] || ./tpp bench/labels.lua "$T5" 2000 "$L2000"
LABELS=$(./tpp bench/alternate.lua "$RUNS" \
    "tpp: no labels=$(tpp_parse "$T5")" \
    "tpp: 2,000 anomalies (--labels, admd XML read included)=$(tpp_parse "$T5" "labels = { [[$L2000]] }")")
LABELLED=$(./tpp -e "local r = assert(require[[tpp]].parse([[$T5]], { labels = { [[$L2000]] } }))
  local a = r:column([[anomalous_pkts]]):sum() local n = 0 for _, x in ipairs(r.labels) do n = n + x.packets end
  io.write(([[%.0f %% of the IP packets match an anomalous anomaly; %.1f anomaly matches per IP packet]]):format(
    100 * a / r.ip_packets, n / r.ip_packets))")
SHARK=$(./tpp bench/alternate.lua 3 \
    "tshark -q -z io,stat,10 (5 columns)=tshark -q -z '$TSHARK_Z' -r $T1" \
    "tpp: all columns and histograms, dt 10 s, aligned=$(tpp_parse "$T1")")

MEM="| command | peak RSS (MB) |
| --- | ---: |"
for row in "zcat, 5M .pcap.gz|zcat $T5.gz" "igzip -dc, 5M .pcap.gz|igzip -dc $T5.gz" \
           "tracertstats -i 10, 5M .pcap.gz|tracertstats -i 10 pcapfile:$T5.gz" \
           "pcap_next_ex loop, 5M .pcap|build/pcap_loop $T5" "tpp, 5M .pcap.gz|$(tpp_parse "$T5.gz")" \
           "tpp, 5M .pcap|$(tpp_parse "$T5")" "tpp, 5M .pcap, every group but flows|$(tpp_parse "$T5" "$NOFLOWS")" \
           "tpp, 5M .pcap, features none|$(tpp_parse "$T5" "$NONE")" "tpp, 25M .pcap (5x the packets, the same 30 intervals)|$(tpp_parse "$T25")" \
           "tpp, 25M .pcap (the 5M trace's packets 5 times each: the same addresses and ports)|$(tpp_parse "$TX5")" \
           "tshark -q -z io,stat,10, 1M .pcap|tshark -q -z '$TSHARK_Z' -r $T1"; do
    kb=$(peak_kb "${row#*|} > /dev/null")
    MEM="$MEM
| ${row%%|*} | $((kb / 1024)) |"
done
DUMP=$(./tpp bench/dump.lua "$T5.gz" 5)
DUMPF=$(./tpp bench/dump_features.lua "$T5.gz")
mkdir -p "$OUT/year"
./tpp bench/merge.lua generate "$OUT/year"   # once: 365 dumps of generated daily traces
MERGE_KB=$(peak_kb "./tpp bench/merge.lua merge $OUT/year")
MERGE=$(./tpp bench/merge.lua merge "$OUT/year")
# Splitting one capture: the main job whole on one core against --split 2 on two (fresh outputs each run), and
# the gzip index pass against a whole parse of the same .pcap.gz.
SPLIT=$(./tpp bench/alternate.lua "$RUNS" \
    "exec.lua -j 1 (whole)=rm -rf $OUT/split1 && ./tpp scripts/exec.lua -q -f none -j 1 -o $OUT/split1 $T5" \
    "exec.lua -j 2 --split 2=rm -rf $OUT/split2 && ./tpp scripts/exec.lua -q -f none -j 2 --split 2 -o $OUT/split2 $T5")
# Output at the speed of parsing (issue 19): parse, critical table, dump, port counts and heavy hitters timed apart
# as the intervals get shorter, and the whole main job at -t 0.001 against -t 1.
FLAT=$(./tpp bench/flat_cost.lua "$T5" 3 "$OUT")
# The dump on two threads: one r:dump of a loaded result per process, on one processor (taskset) and on two.
for f in none all; do
    ./tpp -e "assert(assert(require[[tpp]].parse([[$T5]], {delta_t = 0.001, features = [[$f]]})):dump([[$OUT/dt0001-$f.tpd]]))"
done
DUMPT_NONE=$(./tpp bench/dump_threads.lua 5 "$OUT/dt0001-none.tpd" "one processor=taskset -c 0 ./tpp" "two=./tpp")
DUMPT_ALL=$(./tpp bench/dump_threads.lua 3 "$OUT/dt0001-all.tpd" "one processor=taskset -c 0 ./tpp" "two=./tpp")
GZINDEX=$(./tpp bench/alternate.lua "$RUNS" \
    "tpp: parse of the .pcap.gz=$(tpp_parse "$T5.gz")" \
    "tpp.gzindex: the index pass=./tpp -e 'assert(require[[tpp]].gzindex([[$T5.gz]], [[$OUT/bench5m.tpx]]))'")

{
    echo "# Benchmarks"
    echo
    echo "Written by \`make bench\` ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))."
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores,"\
         "$(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM; a virtual machine, so timings are noisy:"
    echo "the commands of each table are run alternately, $RUNS times each (tshark 3) after a warm-up, and compared"
    echo "by their medians. tpp inflates with $(./tpp -e 'io.write(require[[tpp]].gzip_backend)')."
    echo
    echo "Traces (\`scripts/synth.lua --seed 7\`, 300 s, snap length 96): 5,000,000 packets"\
         "($(du -m "$T5" | cut -f1) MB, $(du -m "$T5.gz" | cut -f1) MB gzipped); 25,000,000 packets"\
         "($(du -m "$T25" | cut -f1) MB); 1,000,000 packets ($(du -m "$T1" | cut -f1) MB). For memory only,"\
         "\`bench/repeat.lua\` writes the 5M trace with every packet 5 times ($(du -m "$TX5" | cut -f1) MB)."
    echo
    echo "## Compressed: the 5M-packet .pcap.gz"
    echo
    echo "$GZ"
    echo
    echo "## Uncompressed: the 5M-packet .pcap"
    echo
    echo "bench/flow_floor.c is a floor for the flows group: the bare loop plus one insert of each packet's 5-tuple"
    echo "into a prefetched hash table emptied every 10 s (the \`flows\` column alone: no flows_new, no merge state,"
    echo "no other feature). On this trace its per-interval flows add up to tpp's (4,935,415)."
    echo
    echo "$PCAP"
    echo
    echo "## The research features: the cost of each group (the 5M-packet .pcap)"
    echo
    echo "tpp.parse at dt 10 s with \`features\` = \"none\", each group alone and \"all\" (the default), each parse in a"
    echo "process of its own (peak memory is its own), the eight run alternately, $RUNS times each after a warm-up; the"
    echo "cost is a median's excess over \"none\" (bench/features.lua)."
    echo
    echo "$FEATURES"
    echo
    echo "## Figures (the 5M-packet trace's dumps; docs/figures.md)"
    echo
    echo "All 22 figures with tpp.plot.draw from a dump (the parse is not timed), each drawing in a fresh process,"
    echo "the three run alternately 3 times after a warm-up; peak memory of tpp and its gnuplot processes summed,"
    echo "sampled every 20 ms (bench/figures.lua)."
    echo
    echo "$FIGURES"
    echo
    echo "## Ground truth: 2,000 anomalies (the 5M-packet .pcap)"
    echo
    echo "tpp.parse with \`labels\` = an admd file of 2,000 anomalies made up from the trace by bench/labels.lua (windows"
    echo "of 1 s to 5 min, filters naming hosts, with or without a port, as MAWILab's rules do), against the same parse"
    echo "without labels; $LABELLED."
    echo
    echo "$LABELS"
    echo
    echo "## tshark: the 1M-packet .pcap"
    echo
    echo "$SHARK"
    echo
    echo "## Peak resident memory"
    echo
    echo "$MEM"
    echo
    echo "## Dump and load (the 5M-packet trace, dt 10 s; medians of 5)"
    echo
    echo "| result | size | write | load |"
    echo "| --- | --- | ---: | ---: |"
    echo "$DUMP"
    echo
    echo "What each feature group adds to the dump (bench/dump_features.lua; sections in docs/dump-format.md):"
    echo
    echo "$DUMPF"
    echo
    echo "## Merge: a year of daily traces (bench/merge.lua)"
    echo
    echo "365 dumps of generated 15-minute traces (20,000 packets each, one a day) at dt 10 s, merged streaming"
    echo "(tpp.merger, one dump loaded at a time): the days are 365 segments of one series. Peak memory ${MERGE_KB} KB."
    echo
    echo "| pieces | result | time |"
    echo "| --- | --- | ---: |"
    echo "$MERGE"
    echo
    echo "## Flat cost in the number of intervals (the 5M-packet .pcap)"
    echo
    echo "What the work after the parse costs as delta_t shrinks (bench/flat_cost.lua; medians of 3, without and"
    echo "with the feature groups; each step writes its file as the main job does, atomically, fsync included; CPU"
    echo "time of all threads in parentheses). Then the whole main job, \`-f none -j 1\`, at -t 0.001 against -t 1"
    echo "(alternately, medians of 3): wall time, and CPU time (user + system), which the disk's speed does not hide."
    echo
    echo "$FLAT"
    echo
    echo "## Splitting one capture (the 5M-packet trace)"
    echo
    echo "The main job on the .pcap whole, and cut into 2 chunks parsed at once (a parse already keeps about 1.6"
    echo "of this machine's 2 cores busy: a reader and an aggregator thread):"
    echo
    echo "$SPLIT"
    echo
    echo "The one pass that indexes a .pcap.gz for splitting (zlib's inflate, with checkpoints and record marks),"
    echo "against a whole parse (ISA-L's inflate):"
    echo
    echo "$GZINDEX"
    echo
    echo "## The dump on two threads (the 5M-packet .pcap at -t 0.001)"
    echo
    echo "A section of 4 MiB or more is deflated in 1 MiB pieces by the writing thread and one helper"
    echo "(docs/dump-format.md; src/zpieces.c), the same bytes on one processor; COLS's rows are transposed half on"
    echo "each thread (bench/dump_threads.lua: one r:dump of a loaded result per fresh process, alternately; wall and"
    echo "CPU time). --features none (47 MB dump), medians of 5:"
    echo
    echo "$DUMPT_NONE"
    echo
    echo "Every feature group (192 MB dump), medians of 3:"
    echo
    echo "$DUMPT_ALL"
} > docs/benchmarks.md
cat docs/benchmarks.md
