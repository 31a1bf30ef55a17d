-- tpp.figures: the original tool's 18 figures and tpp's own 19-22 (the research features: port entropy, prefix
-- cardinality, flows, the top source's heavy-hitter share), each described as data (no drawing here; tpp.gnuplot
-- draws).
--
--   local figures = require "tpp.figures"
--   local f = figures.get(12)         -- { number = 12, name = "12", kind = "ports", title = ..., series = ... }
--
-- A description has:
--   number    1..18, as the original tool numbered them; 19..22 tpp's own, numbered on
--   name      the file-name suffix: a capture's figure n is <stem>_<name>.<format>, as the original named them
--   kind      "lines" (2D, columns over wall-clock time), "band" (2D, a mean with a ± std band) or
--             "ports" (3D bars: x interval, y port 0..65535, z count / packets of that interval)
--   title     the original's title; the drawing appends " (interval: N)", N the number of intervals drawn
--   xlabel, ylabel, zlabel
--   series    "lines":  { column = result column, title = legend, scale = factor (default 1) }, ...; instead
--                       of column, hh = dimension and rank = k: per interval, the share of the k-th heavy
--                       hitter of that dimension (r:heavy_hitters; NaN where there is none)
--             "band":   { { mean = column, std = column, title = legend of the mean, band = legend of the band } }
--             "ports":  { ports = "tcp_src" | "tcp_dst" | "udp_src" | "udp_dst", title = legend }, ...
--   overlay   "ports" only: which x-offset column of the series data the figure uses (1: none, 2: a pair,
--             3: four series), so that overlaid bars do not hide one another
-- Descriptions are shared tables: treat them as read-only.

local figures = {}

local TIME = "Time (UTC)"

-- Colours of the port series, the same in every figure (matplotlib's first four, as the original used).
figures.colors = { tcp_src = "#1f77b4", tcp_dst = "#ff7f0e", udp_src = "#2ca02c", udp_dst = "#d62728" }
-- Colours of the 2D series, in order.
figures.palette = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd" }

figures.port_series = require("tpp.core").series   -- C's list, in its order
figures.port_series_names = { tcp_src = "TCP source", tcp_dst = "TCP destination", udp_src = "UDP source",
                              udp_dst = "UDP destination" }

local function lines(number, title, ylabel, series)
  return { number = number, name = tostring(number), kind = "lines", title = title, xlabel = TIME,
           ylabel = ylabel, series = series }
end

local function ports(number, title, series, overlay)
  return { number = number, name = tostring(number), kind = "ports", title = title, xlabel = "Interval",
           ylabel = "Port", zlabel = "Count / Total Count (packets of the interval)", series = series, overlay = overlay }
end

local LIST = {
  lines(1, "Packet Count over Time", "Packets per interval", {
    { column = "packets", title = "Packet Count" },
    { column = "ip_packets", title = "IP Packet Count" } }),
  lines(2, "Distinct Source & Dest IP Count over Time", "Distinct addresses per interval", {
    { column = "dst_ips", title = "Distinct Destination IP Count" },
    { column = "src_ips", title = "Distinct Source IP Count" } }),
  lines(3, "F2 of Src & Dest IP Count over Time", "F2 (sum over addresses of squared packet shares)", {
    { column = "f2_dst", title = "F2 Destination IP Count" },
    { column = "f2_src", title = "F2 Source IP Count" } }),
  lines(4, "Average IAT over Time", "Seconds", {
    { column = "iat_mean", title = "Average IAT" } }),
  lines(5, "Average PKT Length over Time", "Bytes (IP length)", {
    { column = "avg_len", title = "Average PKT Length" } }),
  lines(6, "Protocol Percentage over Time", "% of IP packets", {
    { column = "icmp_frac", title = "ICMP", scale = 100 },
    { column = "tcp_frac", title = "TCP", scale = 100 },
    { column = "udp_frac", title = "UDP", scale = 100 },
    { rest_of = { "icmp_frac", "tcp_frac", "udp_frac" }, title = "Other", scale = 100 } }),
  lines(7, "SYN & FIN over Time", "Packets per interval", {
    { column = "syn", title = "SYN" },
    { column = "fin", title = "FIN" } }),
  { number = 8, name = "8", kind = "band", title = "IAT Mean ± Std over Time", xlabel = TIME,
    ylabel = "Seconds", series = { { mean = "iat_mean", std = "iat_std", title = "Mean IAT",
                                 band = "Mean ± Std" } } },
  lines(9, "IAT Skew over Time", "IAT skewness (no unit)", {
    { column = "iat_skew", title = "Skew" } }),
  lines(10, "IAT Kurts over Time", "IAT excess kurtosis (no unit)", {
    { column = "iat_kurt", title = "Kurts" } }),
  lines(11, "Normalized Entropy over Time", "Normalized entropy (0 to 1)", {
    { column = "entropy_src", title = "Source IP" },
    { column = "entropy_dst", title = "Destination IP" } }),
  ports(12, "3D TCP Source Port Distribution", { { ports = "tcp_src", title = "TCP Source" } }, 1),
  ports(13, "3D TCP Destination Port Distribution", { { ports = "tcp_dst", title = "TCP Destination" } }, 1),
  ports(14, "3D UDP Source Port Distribution", { { ports = "udp_src", title = "UDP Source" } }, 1),
  ports(15, "3D UDP Destination Port Distribution", { { ports = "udp_dst", title = "UDP Destination" } }, 1),
  ports(16, "3D TCP Total Port Distribution", {
    { ports = "tcp_src", title = "Source" }, { ports = "tcp_dst", title = "Destination" } }, 2),
  ports(17, "3D UDP Total Port Distribution", {
    { ports = "udp_src", title = "Source" }, { ports = "udp_dst", title = "Destination" } }, 2),
  ports(18, "3D Total Port Distribution (TCP vs. UDP)", {
    { ports = "tcp_src", title = "TCP Source" }, { ports = "tcp_dst", title = "TCP Destination" },
    { ports = "udp_src", title = "UDP Source" }, { ports = "udp_dst", title = "UDP Destination" } }, 3),
  -- tpp's own: the research features (docs/lua-api.md defines the columns)
  lines(19, "Port Entropy over Time", "Normalized entropy (0 to 1)", {
    { column = "entropy_tcp_src", title = "TCP Source Port" },
    { column = "entropy_tcp_dst", title = "TCP Destination Port" },
    { column = "entropy_udp_src", title = "UDP Source Port" },
    { column = "entropy_udp_dst", title = "UDP Destination Port" } }),
  lines(20, "Prefix Cardinality over Time", "Distinct prefixes per interval", {
    { column = "src_p24", title = "Source /24 (IPv6 /48)" },
    { column = "dst_p24", title = "Destination /24 (IPv6 /48)" },
    { column = "src_p16", title = "Source /16 (IPv6 /32)" },
    { column = "dst_p16", title = "Destination /16 (IPv6 /32)" } }),
  lines(21, "Flows & New Flows over Time", "Flows per interval", {
    { column = "flows", title = "Flows (distinct 5-tuples)" },
    { column = "flows_new", title = "New Flows" } }),
  lines(22, "Heavy-Hitter Share of the Top Source over Time", "% of IP Packets", {
    { hh = "src", rank = 1, title = "Top Source Address", scale = 100 } }),
}

figures.count = #LIST

-- The description of figure n (1..figures.count), or nil.
function figures.get(n)
  return LIST[n]
end

-- All descriptions, in order (a fresh list of the shared descriptions).
function figures.all()
  local out = {}
  for i, f in ipairs(LIST) do out[i] = f end
  return out
end

return figures
