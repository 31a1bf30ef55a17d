-- tpp.help: one-line documentation of every tpp object's methods and fields, and the REPL's help().
--
--   local help = require "tpp.help"
--   help()                 -- what is loaded (globals holding tpp objects) and the tpp module's functions
--   help(r)                -- a result's methods and fields, one line each (also columns, intervals, writers...)
--   help("top_ports")      -- every entry of that name; help(tpp.parse) the entry of a function
--   help.docs              -- the tables behind it: docs.result, docs.fields, docs.column, docs.columns, ...
--
-- help prints on io.stdout and returns nothing; help.text(x) returns the same text instead.

local tpp = require "tpp"

local docs = {}

-- Each list holds { name, "signature — what it does" } in the order help shows them.
docs.tpp = {
  { "open", "tpp.open(path [, opts [, progress]]) -> result | nil, msg — load a dump or parse a capture" },
  { "parse", "tpp.parse(path [, opts [, progress]]) -> result | nil, msg — cut a capture into intervals" },
  { "load", "tpp.load(path [, { state = false }]) -> result | nil, msg — a result saved by r:dump (state = false: without the merge state, to read or draw)" },
  { "merge", "tpp.merge{r1, r2, ...} -> result | nil, msg — pieces of one series (any order) as one result; "
              .. "nil and why when they cannot be merged (different delta_t, ip, filter, max_gap; an overlap "
              .. "without keep_tables = \"all\")" },
  { "merger", "tpp.merger() -> m — merge many pieces one at a time: m:add(r) in order of r.first_ns, then "
               .. "m:result()" },
  { "split_plan", "tpp.split_plan(path, {delta_t=, chunks=K [, index=]}) -> chunks {from, to, prev_ns} of one "
                  .. "capture, cut at interval boundaries (parse each with range, prev_ns; tpp.merge them)" },
  { "gzindex", "tpp.gzindex(capture.pcap.gz, index.tpx) -> true | nil, msg — checkpoints to read its chunks from" },
  { "dump_path", "tpp.dump_path(capture [, outdir]) -> path — where a capture's dump goes (mem_dump/<stem>.tpd)" },
  { "packets", "tpp.packets(path [, opts]) -> iterator — for p in tpp.packets(path) do ... p.src, p.dport ... end; "
                .. "opts.from, opts.to: only [from, to) (epoch s); decoded as tpp.parse with the same options "
                .. "decodes (encap, --compat)" },
  { "utc", "tpp.utc(t [, fmt]) -> \"2023-01-01 00:00:10.250\" — epoch seconds as UTC (fmt: digits or %Y-%m-%d %3f)" },
  { "pcap_writer", "tpp.pcap_writer(path, linktype [, opts]) -> writer | nil, msg — write a capture" },
  { "column", "tpp.column(t) -> column — a sequence of numbers given the column methods" },
  { "type", "tpp.type(x) -> \"result\" | \"column\" | \"interval\" | \"ports\" | \"heavy_hitters\" | \"writer\" "
            .. "| nil" },
  { "now", "tpp.now() -> seconds on a monotonic clock" },
  { "fingerprint", "tpp.fingerprint(path) -> r.source_fingerprint of a capture file, or nil, message" },
  { "check_filter", "tpp.check_filter(expr) -> true, or nil and why the BPF expression does not compile" },
  { "write_atomic", "tpp.write_atomic(path, text) -> true, or nil, message: written as every output is (atomically)" },
  { "format_real", "tpp.format_real(x) -> text — a number as the tables spell it: the shortest that reads back "
                   .. "exactly (\"nan\", \"inf\")" },
  { "version", "tpp.version — the version string" },
  { "gzip_backend", "tpp.gzip_backend — the library that decompresses gzip captures" },
  { "kind", "tpp.kind(path) -> \"pcap\" | \"pcapng\" | \"gzip\" | \"zstd\" | \"xz\" | \"dump\", or nil, msg — a file by its first bytes" },
  { "series", "tpp.series — the port series' names: tcp_src, tcp_dst, udp_src, udp_dst" },
  { "feature_groups", "tpp.feature_groups — the feature groups of the option features: ports, prefixes, flows, "
                      .. "novelty, headers, hh" },
  { "hh_dims", "tpp.hh_dims — the heavy-hitter dimensions of r:heavy_hitters: src, dst, src_p24, dst_p24, "
               .. "tcp_dport, udp_dport, src_hhh, dst_hhh" },
  { "column_names", "tpp.column_names() -> the critical table's column names, in order (without a result)" },
  { "labels_fingerprint", "tpp.labels_fingerprint(anomalies) -> 16 hex digits: r.labels_fingerprint of a parse with "
                          .. "them (require \"tpp.labels\" reads label files: help(\"labels\"))" },
  { "label_address", "tpp.label_address(text) -> true | nil — whether text is an IPv4 or IPv6 address (labels' filters)" },
  { "spawn", "tpp.spawn(argv) -> proc | nil, msg — run a program (proc:read, :wait, :kill)" },
  { "poll", "tpp.poll(procs, timeout) -> how many procs have output to read" },
  { "isatty", "tpp.isatty(file) -> whether a file handle is a terminal [, its width]" },
  { "cpus", "tpp.cpus() -> number of processors this process may use" },
  { "pid", "tpp.pid() -> this process's id" },
  { "load_data", "tpp.load_data(path) -> table | nil, msg — a Lua file's table, run as data (sandboxed, limited)" },
  { "interrupted", "tpp.interrupted(err) -> whether err is tpp.INTERRUPTED, the error Ctrl-C raises" },
  { "INTERRUPTED", "tpp.INTERRUPTED — the error value Ctrl-C raises (pass it on from pcall)" },
}

docs.result = {
  { "column", "r:column(name) -> column — one column over all intervals (c[i] is interval i-1)" },
  { "columns", "r:columns() -> list of the column names, in TSV order" },
  { "interval", "r:interval(i) -> record of every column of interval i (1-based), and its original index" },
  { "index", "r:index([i]) -> index of interval i in the result a selection came from (no i: a column of all)" },
  { "top_ports", "r:top_ports(series [, i [, k]]) -> the k (10) busiest ports of interval i (nil: whole trace)" },
  { "port_entropy", "r:port_entropy(series) -> column — normalised entropy of the port distribution per interval" },
  { "ports", "r:ports(series) -> iterator — for i, port, count in r:ports(\"tcp_dst\") do ... end" },
  { "distinct_ports", "r:distinct_ports(series) -> number of distinct ports over the whole trace" },
  { "port_series", "r:port_series(series, port) -> column — one port's packets per interval" },
  { "score", "r:score{columns=, methods=, window=30, lambda=0.1, variance=0.9, alpha=0.001, z=3} -> s: s.names, "
             .. "s[name] (a column), s.alarm[name] (0/1), s.threshold[name], s.detail — anomaly scores robust_z, "
             .. "ewma_z, pca_spe, kl_tcp_dst, kl_udp_dst (help(\"robust_z\") etc.)" },
  { "slice", "r:slice(t1, t2) -> result of the intervals starting in [t1, t2) (epoch s or \"YYYY-MM-DD HH:MM:SS\")" },
  { "where", "r:where(function(iv, i) ... end) -> result of the intervals for which the function is true" },
  { "select", "r:select({i1, i2, ...}) -> result of the intervals at these indices (ascending)" },
  { "to_csv", "r:to_csv(path) -> true | nil, msg — CSV for pandas/R (NaN as an empty field)" },
  { "to_json", "r:to_json(path) -> true | nil, msg — JSON: summary fields and \"records\" (NaN as null)" },
  { "critical_text", "r:critical_text() -> string — the critical TSV (every column, header included) as text" },
  { "write_critical", "r:write_critical(path [, format [, columns]]) -> true | nil, msg — the critical table as "
                      .. "\"tsv\" (default), \"csv\" or \"ndjson\", of the listed columns in that order (default all)" },
  { "write_port_count", "r:write_port_count(path [, format]) -> true | nil, msg — distinct ports per series and "
                        .. "their total, as tsv, csv or ndjson" },
  { "dump", "r:dump(path) -> true | nil, msg — a binary dump that tpp.load reads back" },
  { "dump_start", "r:dump_start(path) -> job — the same dump written on another thread; job:wait() -> true | nil, "
                  .. "msg" },
  { "fields", "r:fields() -> list of the summary fields' names (r.packets, r.source, ...)" },
  { "segment", "r:segment(k) -> { first, last (intervals, 1-based), first_packet, last_packet (s), first_ns, "
                .. "last_ns } of segment k (1-based)" },
  { "heavy_hitters", "r:heavy_hitters(dim, i [, k]) -> list of { key, packets, bytes, share }: the top keys of "
                     .. "dimension dim (src, dst, src_p24, ..., src_hhh) in interval i (1-based), at most k" },
  { "write_labels", "r:write_labels(path) -> true | nil, msg — one row per anomaly of r.labels (id, type, taxonomy, "
                    .. "from, to, packets, first_interval, last_interval)" },
  { "write_heavy_hitters", "r:write_heavy_hitters(path [, format]) -> true | nil, msg — the heavy-hitter table "
                           .. "(interval, dim, key, packets, bytes, share) as tsv, csv or ndjson" },
}

docs.fields = {
  { "source", "the capture's path" },
  { "intervals", "number of intervals (also #r)" },
  { "segments", "number of segments: runs of intervals split by gaps longer than max_gap (r:segment(k))" },
  { "max_gap", "seconds of silence that end a segment instead of empty intervals (default 3600)" },
  { "keep_tables", "\"edges\" or \"all\": which intervals keep their address tables, for exact merges" },
  { "features", "the feature groups computed: \"all\", \"none\" or a list such as \"ports,flows\" (option features)" },
  { "flow_timeout", "seconds of silence after which a flow's packet starts a new flow (flows_new; default 60)" },
  { "hh_k", "heavy hitters kept per interval and dimension (option heavy_hitters; default 10)" },
  { "hhh_phi", "hierarchical heavy hitters: the residual share a prefix needs (default 0.05)" },
  { "pieces", "parses merged into this result (1 for a parse)" },
  { "mergeable", "whether tpp.merge can take this result (false for an older dump or a selection)" },
  { "range_from", "first byte of the records parsed: a chunk of a split capture (0 with range_to 0: all)" },
  { "range_to", "byte after the last record parsed (a chunk's end; 0: the whole file)" },
  { "packets", "packets read (after the filter)" },
  { "ip_packets", "packets of the analysed IP family" },
  { "non_ip_packets", "packets not counted as IP: not IPv4/IPv6, or a malformed IP header" },
  { "malformed_packets", "IPv4 headers that cannot be (IHL < 5, total length < header): counted as non-IP" },
  { "truncated_packets", "packets cut short before their headers ended" },
  { "backwards_packets", "packets stamped earlier than the one before" },
  { "encapsulated_packets", "packets with a tunnel (GRE, IP in IP, VXLAN, ...) that had an IP packet inside" },
  { "first_ts", "first packet's time, epoch seconds (first_ns: integer nanoseconds)" },
  { "last_ts", "last packet's time, epoch seconds (last_ns: integer nanoseconds)" },
  { "first_ns", "first packet's time, integer nanoseconds" },
  { "last_ns", "last packet's time, integer nanoseconds" },
  { "delta_t", "interval length, seconds (delta_ns: nanoseconds)" },
  { "delta_ns", "interval length, integer nanoseconds" },
  { "boundary", "\"aligned\" or \"packet\"" },
  { "ip", "\"any\", \"v4\" or \"v6\": the IP family analysed" },
  { "encap", "\"outer\" or \"inner\": which IP header of a tunnelled packet was analysed (option encap)" },
  { "anchor", "\"epoch\" (aligned intervals at multiples of delta_t since the epoch) or \"first\" (at the first packet)" },
  { "filter", "the BPF filter, or nil" },
  { "max_packets", "packet limit of the parse (0: none)" },
  { "max_intervals", "interval limit of the parse (0: none)" },
  { "linktype", "the capture's link type number" },
  { "source_size", "the capture's size in bytes (0: unknown)" },
  { "source_mtime", "the capture's modification time, epoch seconds" },
  { "source_fingerprint", "16 hex digits of the capture's content (first and last 64 KiB, size, mtime), nil for stdin" },
  { "complete", "false when reading stopped at a fault (see error)" },
  { "stopped_by_limit", "true when max_packets or max_intervals ended the parse" },
  { "error", "why reading stopped early, or nil" },
  { "warning", "a warning such as an unsupported link type, or nil" },
  { "labels", "the anomalies of tpp.parse(path, {labels = {\"day.xml\"}}): { id, type, taxonomy, value, from_ns, to_ns, "
              .. "filters, packets, first_interval, last_interval (0-based; nil: no packet) }, or nil" },
  { "labels_fingerprint", "16 hex digits of the anomalies the result was parsed with (nil: no labels)" },
}

docs.column = {
  { "min", "c:min() -> smallest value" },
  { "max", "c:max() -> largest value" },
  { "mean", "c:mean() -> arithmetic mean" },
  { "std", "c:std([ddof]) -> standard deviation (ddof 0: population, the default; 1: sample)" },
  { "quantile", "c:quantile(q) -> q-quantile, 0 <= q <= 1, linear interpolation (median: q = 0.5)" },
  { "median", "c:median() -> c:quantile(0.5)" },
  { "sum", "c:sum() -> sum of the values" },
  { "count", "c:count() -> number of values that are not NaN" },
  { "argmax", "c:argmax() -> index, value of the (first) largest value" },
  { "argmin", "c:argmin() -> index, value of the (first) smallest value" },
  { "totable", "c:totable() -> a plain Lua table of the values" },
  { "map", "c:map(function(v, i) ... end) -> column of the results" },
  { "sparkline", "c:sparkline([width]) -> text bars ▁▂▃▄▅▆▇█ of the values (at most width, 40)" },
  { "diff", "c:diff([lag]) -> column of c[i] - c[i-lag] (NaN for the first lag values)" },
  { "zscore", "c:zscore([ddof]) -> column of (c[i] - mean) / std (NaN when std is 0 or undefined)" },
  { "rolling", "c:rolling(k, fn) -> column of fn over the k values ending at i (fn \"mean\", \"max\", \"std\"... "
                .. "or a function)" },
  { "+ - * /", "c + d, c - 1, 2 * c, c / d, -c -> column, element by element (columns of the same length)" },
}

-- What each column is, by name; the columns themselves, and their order, are C's (tpp.column_names()).  The
-- formulas are in docs/lua-api.md.
local COLUMN_DOCS = {
  interval = "interval number, 0-based (r:interval(i) is interval i-1)",
  start = "interval start, epoch seconds",
  ["end"] = "interval end, epoch seconds",
  packets = "packets in the interval (every packet read)",
  ip_packets = "packets of the analysed IP family",
  ip_bytes = "sum of the IP total lengths",
  src_ips = "distinct source addresses",
  dst_ips = "distinct destination addresses",
  f2_src = "Σc²/n² of the source-address counts",
  f2_dst = "Σc²/n² of the destination-address counts",
  iat_mean = "mean inter-arrival time (since the packet before, of any kind), seconds; NaN when undefined",
  iat_std = "inter-arrival time standard deviation (sample), seconds; NaN when undefined",
  iat_skew = "inter-arrival time skewness (NaN when undefined)",
  iat_kurt = "inter-arrival time excess kurtosis (NaN when undefined)",
  entropy_src = "source-address entropy, normalised to 0..1",
  entropy_dst = "destination-address entropy, normalised to 0..1",
  avg_len = "mean IP total length, bytes",
  icmp_frac = "share of ICMP/ICMPv6 packets",
  tcp_frac = "share of TCP packets",
  udp_frac = "share of UDP packets",
  syn = "TCP segments with SYN set",
  fin = "TCP segments with FIN set",
  tcp_port_packets = "TCP packets whose ports were decoded",
  udp_port_packets = "UDP packets whose ports were decoded",
  segment = "the interval's segment, 0-based: a gap longer than max_gap starts the next one",
  covered = "seconds of the interval between the first and the last packet of its segment",
  entropy_tcp_src = "TCP source-port entropy (packets per port), normalised to 0..1; NaN without such a packet",
  entropy_tcp_dst = "TCP destination-port entropy, normalised to 0..1; NaN without such a packet",
  entropy_udp_src = "UDP source-port entropy, normalised to 0..1; NaN without such a packet",
  entropy_udp_dst = "UDP destination-port entropy, normalised to 0..1; NaN without such a packet",
  src_p24 = "distinct source /24 prefixes (IPv6: /48)",
  dst_p24 = "distinct destination /24 prefixes (IPv6: /48)",
  src_p16 = "distinct source /16 prefixes (IPv6: /32)",
  dst_p16 = "distinct destination /16 prefixes (IPv6: /32)",
  entropy_src_p24 = "entropy of the packets per source /24 (/48) prefix, normalised to 0..1",
  entropy_dst_p24 = "entropy of the packets per destination /24 (/48) prefix, normalised to 0..1",
  flows = "distinct 5-tuples (protocol, addresses, ports) with a packet in the interval",
  flows_new = "flows whose first packet here came more than flow_timeout after their previous one, or first ever",
  fanout_max = "the largest number of distinct destinations one source sent to",
  new_src = "source addresses never seen as a source in an earlier interval",
  new_dst = "destination addresses never seen as a destination in an earlier interval",
  synack = "TCP packets with SYN and ACK set",
  rst = "TCP packets with RST set",
  frag = "IP fragments (first and later ones)",
  ttl_mean = "mean IPv4 TTL / IPv6 hop limit",
  len_p50 = "median IP length (nearest rank), bytes",
  len_p95 = "95th percentile of the IP length (nearest rank), bytes",
  anomalous_pkts = "IP packets matching an anomalous anomaly of the labels (NaN without labels)",
  suspicious_pkts = "IP packets matching a suspicious anomaly of the labels (NaN without labels)",
  notice_pkts = "IP packets matching a notice anomaly of the labels (NaN without labels)",
  anomalous_events = "anomalous anomalies whose window [from, to] overlaps the interval (NaN without labels)",
  suspicious_events = "suspicious anomalies whose window overlaps the interval (NaN without labels)",
  notice_events = "notice anomalies whose window overlaps the interval (NaN without labels)",
}

-- One { name, text } per entry of a list C gives (names), described by `texts`.
local function from_c(names, texts)
  local out = {}
  for i, name in ipairs(names) do out[i] = { name, texts[name] or "(not described yet)" } end
  return out
end

docs.columns = from_c(tpp.column_names(), COLUMN_DOCS)

-- The heavy-hitter dimensions of r:heavy_hitters and hh/<name>_hh.tsv, in C's order (tpp.hh_dims).
docs.hh_dims = from_c(tpp.hh_dims, {
  src = "source addresses (key \"192.0.2.1\"), by packets",
  dst = "destination addresses, by packets",
  src_p24 = "source /24 prefixes (IPv6: /48; key \"192.0.2.0/24\"), by packets",
  dst_p24 = "destination /24 prefixes (IPv6: /48), by packets",
  tcp_dport = "TCP destination ports (key 443), share of the TCP packets with ports",
  udp_dport = "UDP destination ports (key 53), share of the UDP packets with ports",
  src_hhh = "hierarchical heavy hitters: source prefixes /32 /24 /16 /8 (IPv6 /128 /64 /48 /32) with a residual "
            .. "share >= hhh_phi (packets not under a longer one reported)",
  dst_hhh = "hierarchical heavy hitters of the destination prefixes, as src_hhh",
})

-- The scores of r:score and the functions of the module tpp.score (score = require "tpp.score").
docs.score = {
  { "robust_z", "robust_z — per column (x - median) / (1.4826 MAD) of the `window` intervals before; the score is the "
                .. "largest |z| over the columns, alarm above z (3); NaN for the first window and where MAD is 0" },
  { "ewma_z", "ewma_z — per column (x - m) / sqrt(v), m and v the EWMA mean and variance (lambda) before the "
              .. "interval, started from the first `window` values; the largest |z| over the columns, alarm above z" },
  { "pca_spe", "pca_spe — Lakhina's subspace method: squared prediction error of the z-scored columns off the k "
               .. "principal components covering `variance` (0.9); alarm above the Jackson-Mudholkar Q at alpha" },
  { "kl_tcp_dst", "kl_tcp_dst — KL divergence (nats) of the interval's TCP destination-port histogram from the one "
                  .. "before, +1 smoothing on their union; alarm when its robust z exceeds z (also kl_udp_dst, ...)" },
  { "evaluate", "score.evaluate(score, truth [, alarm]) -> { precision, recall, fpr, roc_auc, pr_auc, positives, "
                .. "negatives } against a 0/1 truth column (alarm: 0/1 column or a threshold)" },
  { "truth", "score.truth(r [, share]) -> 0/1 column: anomalous_events > 0 (or anomalous_pkts / ip_packets > "
             .. "share); nil without labels" },
}

docs.merger = {
  { "add", "m:add(r) -> true | nil, msg — the next piece, in order of r.first_ns (ties in any order)" },
  { "result", "m:result() -> the merged result (the merger is spent after it)" },
  { "pieces", "m.pieces — how many pieces were added so far" },
}

docs.series = {
  { "tcp_src", "TCP source ports" }, { "tcp_dst", "TCP destination ports" },
  { "udp_src", "UDP source ports" }, { "udp_dst", "UDP destination ports" },
}

docs.ports = {
  { "[k]", "list[k].port, list[k].count — the k-th busiest port and its packets" },
  { "#", "#list — how many ports (at most the k asked for)" },
}

docs.heavy_hitters = {
  { "[k]", "list[k].key, .packets, .bytes, .share — the k-th heavy hitter: an address, \"10.0.0.0/24\" or a port; "
           .. "its packets, bytes (Σ IP length) and share of the interval's packets" },
  { "#", "#list — how many (at most the k asked for)" },
}

docs.writer = {
  { "write", "w:write(ts, bytes [, wirelen]) — a record at ts seconds" },
  { "write_ns", "w:write_ns(ns, bytes [, wirelen]) — a record at integer nanoseconds" },
  { "close", "w:close() -> true | nil, msg — flush and put the capture in place" },
  { "discard", "w:discard() — give the capture up (an unclosed writer is committed at exit, like a file)" },
}

local help = { docs = docs }

-- Append to `out` the title (unless nil) and one line per { name, text } of list, the texts aligned.
local function section(out, title, list)
  if title then out[#out + 1] = title end
  local width = 0
  for _, e in ipairs(list) do width = math.max(width, #e[1]) end
  for _, e in ipairs(list) do out[#out + 1] = ("  %-" .. width .. "s  %s"):format(e[1], e[2]) end
end

-- Names of the tpp module's functions that have no entry (added by a newer library): listed by name only.
local function undocumented(list, module)
  local known, extra = {}, {}
  for _, e in ipairs(list) do known[e[1]] = true end
  for name in pairs(module) do
    if not known[name] then extra[#extra + 1] = name end
  end
  table.sort(extra)
  return extra
end

-- Globals holding tpp objects, as { name, description }, sorted by name.
local function loaded()
  local out = {}
  for name, value in pairs(_G) do
    local kind = type(name) == "string" and tpp.type(value)
    if kind then
      local text = kind == "result" and tostring(value) or kind == "column" and tostring(value)
                   or kind == "writer" and "a capture being written" or kind
      out[#out + 1] = { name, (text:gsub("\n.*", " ...")) }
    end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- A long list of words wrapped to lines of at most 100 characters, indented.
local function wrap(words, indent)
  local lines, line = {}, indent
  for word in words:gmatch("%S+") do
    if #line + #word + 1 > 100 and line ~= indent then lines[#lines + 1] = line; line = indent end
    line = line .. (line == indent and "" or " ") .. word
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

local function overview()
  local out = { "tpp — traffic-trace analyser.  help(x) describes x: a result, a column, an interval, tpp, or a name.",
                "" }
  local objects = loaded()
  if #objects > 0 then
    section(out, "Loaded:", objects)
  else
    out[#out + 1] = "Nothing loaded: r = tpp.open(\"trace.pcap.gz\") parses a capture (or loads a dump)."
  end
  local names = {}
  for _, e in ipairs(docs.tpp) do if tpp[e[1]] ~= nil then names[#names + 1] = e[1] end end
  for _, name in ipairs(undocumented(docs.tpp, tpp)) do names[#names + 1] = name end
  out[#out + 1] = ""
  out[#out + 1] = "The tpp module (help(tpp) says more):"
  out[#out + 1] = wrap("tpp." .. table.concat(names, " tpp."), "  ")
  out[#out + 1] = ""
  local r = #objects > 0 and objects[1][1] or "r"
  for _, e in ipairs(objects) do
    if tpp.type(_G[e[1]]) == "result" then r = e[1]; break end
  end
  out[#out + 1] = "Which interval had the highest source-address entropy, and what were its top destination ports?"
  out[#out + 1] = ("  i = %s:column(\"entropy_src\"):argmax()"):format(r)
  out[#out + 1] = ("  %s:interval(i), %s:top_ports(\"tcp_dst\", i)"):format(r, r)
  out[#out + 1] = ("Who sent most of it?  %s:heavy_hitters(\"src\", i, 3)  (help(\"heavy_hitters\"))"):format(r)
  out[#out + 1] = ("Anything unusual?  s = %s:score{}; s.alarm.robust_z  (help(\"score\"))"):format(r)
  out[#out + 1] = ("Tab completes names: %s:<Tab> lists the methods, help(%s) describes them."):format(r, r)
  local results = {}
  for _, e in ipairs(objects) do
    if tpp.type(_G[e[1]]) == "result" then results[#results + 1] = e[1] end
  end
  if #results >= 2 then
    out[#out + 1] = ("Pieces of one series (a trace cut into files, days of a link): tpp.merge{%s, %s} merges them "
      .. "(help(\"merge\"))."):format(results[1], results[2])
  end
  return table.concat(out, "\n")
end

local function names_of(list)
  local out = {}
  for _, e in ipairs(list) do out[#out + 1] = e[1] end
  return table.concat(out, " ")
end

local function about_result(r)
  local out = { tostring(r), "" }
  section(out, "Methods (r:name(...)):", docs.result)
  out[#out + 1] = ""
  out[#out + 1] = "Fields (r.name):"
  out[#out + 1] = wrap(names_of(docs.fields), "  ")
  out[#out + 1] = "Columns (r:column(name), r:interval(i).name):"
  out[#out + 1] = wrap(names_of(docs.columns), "  ")
  out[#out + 1] = "Port series: tcp_src tcp_dst udp_src udp_dst.  help(\"entropy_src\") etc. describes one name."
  out[#out + 1] = "Heavy-hitter dimensions (r:heavy_hitters(dim, i [, k])):"
  out[#out + 1] = wrap(names_of(docs.hh_dims), "  ")
  return table.concat(out, "\n")
end

local function about_column(c)
  local out = { tostring(c), "A column: c[i] is interval i-1, #c, ipairs(c); statistics skip NaN values.", "" }
  section(out, "Methods (c:name(...)):", docs.column)
  return table.concat(out, "\n")
end

local function about_interval(iv)
  local out = { tostring(iv), "", "An interval record: iv.name for every column (iv[\"end\"] for end), and "
                .. "iv.index, its index in the original result (a selection's intervals keep it):" }
  section(out, nil, docs.columns)
  return table.concat(out, "\n")
end

local function about_module()
  local out = {}
  local list = {}
  for _, e in ipairs(docs.tpp) do if tpp[e[1]] ~= nil then list[#list + 1] = e end end
  section(out, "tpp module:", list)
  local extra = undocumented(docs.tpp, tpp)
  if #extra > 0 then out[#out + 1] = "  also: tpp." .. table.concat(extra, ", tpp.") end
  out[#out + 1] = "Series of r:top_ports, r:port_entropy, r:ports: tcp_src tcp_dst udp_src udp_dst."
  return table.concat(out, "\n")
end

local KINDS = {
  { "tpp", "tpp." }, { "result", "r:" }, { "fields", "r." }, { "column", "c:" }, { "columns", "column " },
  { "series", "series " }, { "hh_dims", "heavy-hitter dimension " }, { "writer", "w:" }, { "merger", "m:" },
  { "score", "score." },
}

-- Every entry named `name`, as lines.
local function lookup(name)
  name = name:gsub("^.*[.:]", "")
  local out = {}
  for _, kind in ipairs(KINDS) do
    for _, e in ipairs(docs[kind[1]]) do
      if e[1] == name then
        local doc = e[2]
        if not doc:find(name .. "(", 1, true) and not doc:find(name .. "{", 1, true)
           and not doc:find(name .. " ", 1, true) then
          doc = kind[2] .. name .. " — " .. doc
        end
        out[#out + 1] = doc
      end
    end
  end
  return out
end

-- The entry of a function value: a tpp function or a method of a result or a column.
local function function_doc(fn)
  local meta = require("tpp.core")._meta
  for _, e in ipairs(docs.tpp) do if tpp[e[1]] == fn then return e[2] end end
  for name, f in pairs(meta.result_methods) do if f == fn then return lookup(name)[1] end end
  for name, f in pairs(meta.column.__index) do if f == fn then return lookup(name)[1] end end
end

-- The help text of x (see the top of this file).
function help.text(x)
  if x == nil then return overview() end
  if x == tpp then return about_module() end
  local kind = tpp.type(x)
  if kind == "result" then return about_result(x) end
  if kind == "column" then return about_column(x) end
  if kind == "interval" then return about_interval(x) end
  if kind == "ports" then
    local out = { tostring(x), "A list of the busiest ports, most packets first:" }
    section(out, nil, docs.ports)
    return table.concat(out, "\n")
  end
  if kind == "heavy_hitters" then
    local out = { tostring(x), "A list of heavy hitters (r:heavy_hitters), first rank first:" }
    section(out, nil, docs.heavy_hitters)
    return table.concat(out, "\n")
  end
  if kind == "writer" then
    local out = {}
    section(out, "A capture writer (tpp.pcap_writer):", docs.writer)
    return table.concat(out, "\n")
  end
  local mt = type(x) == "userdata" and getmetatable(x)
  if type(mt) == "table" and mt.__name == "tpp.merger" then
    local out = {}
    section(out, "A merger (tpp.merger): pieces of one series added one at a time, in order of r.first_ns:",
            docs.merger)
    return table.concat(out, "\n")
  end
  if type(x) == "function" then
    return function_doc(x) or "a function tpp has no entry for"
  end
  if type(x) == "string" then
    local found = lookup(x)
    if #found > 0 then return table.concat(found, "\n") end
    return ("nothing named '%s'; help() lists what there is"):format(x)
  end
  return ("no help for a %s value; help() lists what there is"):format(type(x))
end

-- Print the help text of x on io.stdout (the REPL's global help is this function).
function help.print(x)
  io.stdout:write(help.text(x), "\n")
  io.stdout:flush()
end

setmetatable(help, { __call = function(_, x) help.print(x) end })

return help
