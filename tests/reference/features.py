#!/usr/bin/env python3
"""features.py — an independent computation of tpp's research feature columns and heavy hitters (issue 16).

It shares no code with tpp: the packets are decoded by tshark (fields, reassembly off) and aggregated here with
exact integer and rational arithmetic, following the definitions in docs/lua-api.md (issue 16's contract), so
that tests/features_parity_spec.lua can compare tpp's output with it.

    features.py CAPTURE --delta-t SEC [--ip any|v4|v6] [--compat] [--flow-timeout SEC] [--hh-k K] [--hhh-phi F]
                --critical OUT.tsv --hh OUT.tsv

Intervals sit on the epoch grid: interval k covers [t0 + k*D, t0 + (k+1)*D) with t0 = floor(first packet / D)*D,
from the first packet's interval to the last packet's, empty ones included; with --compat they are the original
tool's (packet boundary, IPv4, 0 for an undefined value).  OUT critical TSV: interval, start
(seconds, 9 decimals), six of tpp's older columns (ip_packets .. udp_port_packets: the decoding agrees), then the
21 feature columns; OUT hh TSV: interval, dim, key, packets, bytes,
share.  A NaN is written "nan".  Only the standard library is used.

Not handled (the reference refuses the capture rather than guess): timestamps that step back, IPv6 extension
headers other than hop-by-hop, routing, destination options, fragment and AH, and TCP headers that tshark does not
show flags for although tpp reads them (cut after the flags byte, or a header length under 20).
"""

import argparse
import ipaddress
import math
import subprocess
import sys
from fractions import Fraction

FIELDS = [
    "frame.time_epoch", "frame.len", "frame.cap_len", "frame.protocols",
    "ip.version", "ip.hdr_len", "ip.len", "ip.ttl", "ip.proto", "ip.flags.mf", "ip.frag_offset", "ip.src", "ip.dst",
    "ipv6.version", "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.src", "ipv6.dst", "ipv6.opt.jumbo",
    "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.dstopts.nxt", "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset",
    "ah.next_header", "ah.length", "ipv6.hopopts.len_oct", "ipv6.routing.len_oct", "ipv6.dstopts.len_oct",
    "sll.ifindex",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport",
]

# Reassembly off everywhere, so that every fragment and segment shows as the frame it is.
TSHARK_PREFS = ["ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE",
                "tcp.analyze_sequence_numbers:FALSE", "tcp.check_checksum:FALSE", "udp.check_checksum:FALSE"]

# Layers that may come before the outermost IP header in a frame tpp decodes, and their bytes.
LINK_BYTES = {"eth": 14, "ethertype": 0, "vlan": 4, "ieee8021ad": 4, "null": 4, "loop": 4, "raw": 0, "sll": 16}

COLUMNS = ["entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst",
           "src_p24", "dst_p24", "src_p16", "dst_p16", "entropy_src_p24", "entropy_dst_p24",
           "flows", "flows_new", "fanout_max", "new_src", "new_dst",
           "synack", "rst", "frag", "ttl_mean", "len_p50", "len_p95"]

# tpp's older columns that show whether tshark and tpp decoded the same packets.
DECODED = ["ip_packets", "ip_bytes", "src_ips", "dst_ips", "tcp_port_packets", "udp_port_packets"]

HH_DIMS = ["src", "dst", "src_p24", "dst_p24", "tcp_dport", "udp_dport", "src_hhh", "dst_hhh"]
HHH_LEVELS = {4: [32, 24, 16, 8], 6: [128, 64, 48, 32]}
NAN = float("nan")


class RefError(Exception):
    pass


def to_ns(text):
    """'1674709210.001074000' -> integer nanoseconds, exactly."""
    sec, _, frac = text.partition(".")
    return int(sec) * 1000000000 + int((frac + "000000000")[:9])


def seconds_to_ns(text):
    ns = Fraction(text) * 1000000000
    if ns.denominator != 1 or ns <= 0:
        raise RefError("--delta-t/--flow-timeout must be a positive whole number of nanoseconds: " + text)
    return int(ns)


def first(value):
    """The first occurrence of a field (tshark repeats a field for inner headers: tunnels, ICMP errors)."""
    return value.split(",")[0] if value != "" else None


def occurrences(value):
    return value.split(",") if value != "" else []


class Packet:
    """What one frame contributes: the outermost IP header's fields, as tpp analyses them."""
    __slots__ = ("ns", "ipv", "src", "dst", "proto", "ttl", "ip_len", "frag", "ports", "sport", "dport", "flags")


def ip_offset(layers, sll2):
    """Bytes before the outermost IP header, and which one it is ('ip' or 'ipv6'); None when tpp sees no IP."""
    off = 0
    for layer in layers:
        if layer in ("ip", "ipv6"):
            return off, layer
        if layer not in LINK_BYTES:
            return None  # MPLS, PPPoE, LLC/SNAP...: tpp does not look inside
        off += 20 if layer == "sll" and sll2 else LINK_BYTES[layer]
    return None


def decode(row):
    """One tshark line -> (Packet, whether tpp counts the frame as IP)."""
    f = dict(zip(FIELDS, row))
    p = Packet()
    p.ns = to_ns(f["frame.time_epoch"])
    framelen = max(int(f["frame.len"]), int(f["frame.cap_len"]))
    where = ip_offset(f["frame.protocols"].split(":"), f["sll.ifindex"] != "")  # tshark names SLL2 "sll" too
    if where is None:
        return p, False
    off, layer = where
    p.frag = False
    p.ports = False
    p.sport = p.dport = 0
    p.flags = None
    if layer == "ip":
        if first(f["ip.version"]) != "4" or first(f["ip.src"]) is None:
            return p, False
        ihl, total = int(first(f["ip.hdr_len"])), int(first(f["ip.len"]))
        if total == 0:
            total = max(framelen - off, 0)  # a segmentation offload's packet: the frame's length
        if ihl < 20 or total < ihl:
            return p, False
        p.ipv = 4
        p.src = ipaddress.IPv4Address(first(f["ip.src"])).packed
        p.dst = ipaddress.IPv4Address(first(f["ip.dst"])).packed
        p.proto = int(first(f["ip.proto"]))
        p.ttl = int(first(f["ip.ttl"]))
        mf = first(f["ip.flags.mf"]) in ("1", "True")
        offset = int(first(f["ip.frag_offset"]))
        p.frag = mf or offset > 0
        later_fragment = offset > 0
        transport = off + ihl
    else:
        if first(f["ipv6.version"]) != "6" or first(f["ipv6.src"]) is None:
            return p, False
        p.ipv = 6
        p.src = ipaddress.IPv6Address(first(f["ipv6.src"])).packed
        p.dst = ipaddress.IPv6Address(first(f["ipv6.dst"])).packed
        p.ttl = int(first(f["ipv6.hlim"]))
        nxt = int(first(f["ipv6.nxt"]))
        total = 40 + int(first(f["ipv6.plen"]))
        if total == 40 and nxt != 59:
            jumbo = first(f["ipv6.opt.jumbo"])
            room = max(framelen - off - 40, 0)
            total = 40 + (min(int(jumbo), room) if jumbo is not None else room)
        # Walk the extension headers of the outermost IPv6 header: each kind's occurrences come outer first.
        queues = {name: occurrences(f[name]) for name in FIELDS if name.startswith(("ipv6.", "ah."))}
        # next header field and length field (None: in bytes; "ah": AH's 4-byte units minus 2) of each kind
        by_type = {0: ("ipv6.hopopts.nxt", "ipv6.hopopts.len_oct"), 43: ("ipv6.routing.nxt", "ipv6.routing.len_oct"),
                   60: ("ipv6.dstopts.nxt", "ipv6.dstopts.len_oct"), 51: ("ah.next_header", "ah.length")}
        later_fragment = False
        transport = off + 40
        for _ in range(16):
            if nxt in by_type:
                q, lengths = queues[by_type[nxt][0]], queues[by_type[nxt][1]]
                if not q or not lengths:
                    break  # the header was not captured: tpp stops at it too
                length = int(lengths.pop(0))
                transport += (length + 2) * 4 if nxt == 51 else length
                nxt = int(q.pop(0))
                continue
            if nxt == 44:
                q = queues["ipv6.fraghdr.nxt"]
                if not q:
                    break
                p.frag = True
                nxt = int(q.pop(0))
                transport += 8
                if int(queues["ipv6.fraghdr.offset"].pop(0)) != 0:
                    later_fragment = True
                    break
                continue
            if nxt in (135, 139, 140):
                raise RefError("IPv6 extension header %d is not supported by the reference" % nxt)
            break
        p.proto = nxt
    p.ip_len = min(total, max(framelen - off, 0))
    if not later_fragment and p.proto in (6, 17):
        name = "tcp" if p.proto == 6 else "udp"
        sport = first(f[name + ".srcport"])
        if sport is not None:
            p.ports = True
            p.sport = int(sport)
            p.dport = int(first(f[name + ".dstport"]))
            if p.proto == 6 and first(f["tcp.flags"]) is not None:
                p.flags = int(first(f["tcp.flags"]), 16)
            elif p.proto == 6 and min(int(f["frame.cap_len"]), off + total) - transport >= 14:
                # tshark gives the flags only with a whole, sane TCP header; tpp reads the flags byte when the
                # first 14 bytes are there.  Refuse rather than guess.
                raise RefError("frame at %d ns: a TCP header cut or bogus after its flags byte (tshark shows no "
                               "flags): not handled by the reference" % p.ns)
    return p, True


def read_packets(path):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    for name in FIELDS:
        cmd += ["-e", name]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError:
        raise RefError("tshark is not installed (apt-get install tshark)")
    if proc.returncode != 0:
        raise RefError("tshark failed on %s: %s" % (path, proc.stderr.decode(errors="replace").strip()))
    for line in proc.stdout.decode().split("\n"):
        if line == "":
            continue
        row = line.split("\t")
        if len(row) != len(FIELDS):
            raise RefError("%s: tshark gave %d fields, wanted %d" % (path, len(row), len(FIELDS)))
        yield decode(row)


def norm_entropy(counts):
    """H/log2(d) of a histogram given as a list of counts; 0 for d = 1, NaN for d = 0."""
    counts = [c for c in counts if c > 0]
    d = len(counts)
    if d == 0:
        return NAN
    if d == 1:
        return 0.0
    n = sum(counts)
    h = -math.fsum(c / n * math.log2(c / n) for c in counts)
    return h / math.log2(d)


def prefix(ipv, addr, bits):
    """(ipv, network bytes with the host bits zero, bits)."""
    width = 32 if ipv == 4 else 128
    value = int.from_bytes(addr, "big") >> (width - bits) << (width - bits)
    return ipv, value.to_bytes(width // 8, "big"), bits


def nearest_rank(lens, num, den):
    """The smallest L with #(len <= L) >= ceil(num/den * n)."""
    lens = sorted(lens)
    n = len(lens)
    rank = -(-num * n // den)
    return float(lens[max(rank, 1) - 1])


def addr_text(ipv, addr):
    """Dotted quad; RFC 5952 for IPv6, with the mixed notation of its section 5 for IPv4-mapped addresses."""
    if ipv == 4:
        return str(ipaddress.IPv4Address(addr))
    v6 = ipaddress.IPv6Address(addr)
    if v6.ipv4_mapped is not None:
        return "::ffff:" + str(v6.ipv4_mapped)
    return str(v6)


def key_text(dim, key):
    if dim in ("tcp_dport", "udp_dport"):
        return str(key)
    ipv, addr, bits = key
    if bits == (32 if ipv == 4 else 128):
        return addr_text(ipv, addr)  # an address, also as a hierarchical heavy hitter (docs/lua-api.md)
    return "%s/%d" % (addr_text(ipv, addr), bits)


class Interval:
    def __init__(self):
        self.ip_packets = 0
        self.tcp_port_packets = 0
        self.udp_port_packets = 0
        self.ports = {s: {} for s in ("tcp_src", "tcp_dst", "udp_src", "udp_dst")}
        self.addr = {"src": {}, "dst": {}}          # (ipv, addr) -> [packets, bytes]
        self.dport = {"tcp_dport": {}, "udp_dport": {}}  # port -> [packets, bytes]
        self.flows = set()
        self.flows_new = 0
        self.fanout = {}
        self.synack = self.rst = self.frag = 0
        self.ttl_sum = 0
        self.lens = []
        self.new = {"src": 0, "dst": 0}


def bump(table, key, size):
    entry = table.setdefault(key, [0, 0])
    entry[0] += 1
    entry[1] += size


class EpochGrid:
    """Interval k covers [t0 + k*D, t0 + (k+1)*D), t0 = floor(first packet / D)*D; empty ones included."""

    def __init__(self, delta):
        self.delta, self.t0 = delta, None

    def place(self, ns):
        if self.t0 is None:
            self.t0 = ns // self.delta * self.delta
        return (ns - self.t0) // self.delta

    def starts(self, n):
        return [self.t0 + k * self.delta for k in range(n)]

    def closed(self, n):
        return n


class PacketBoundary:
    """The original tool's intervals (--compat): one starts at a packet's time and ends with the first packet at
    least D after that; the packet that ends it belongs to it, and the next interval starts at its time.  The
    trailing interval, never ended, is not written."""

    def __init__(self, delta):
        self.delta, self.start, self.k, self.begins = delta, None, 0, []

    def place(self, ns):
        if self.start is None:
            self.start = ns
            self.begins.append(ns)
        k = self.k
        if ns - self.start >= self.delta:
            self.k += 1
            self.start = ns
            self.begins.append(ns)
        return k

    def starts(self, n):
        return self.begins[:n]

    def closed(self, n):
        return self.k  # intervals 0 .. k-1 were ended by a packet


def aggregate(packets, grid, family, timeout):
    intervals = {}
    flow_last = {}   # flow -> ns of its latest packet so far
    first_interval = {"src": {}, "dst": {}}  # address -> the interval it was first seen in
    prev_ns = None
    for p, is_ip in packets:
        if prev_ns is not None and p.ns < prev_ns:
            raise RefError("timestamps step back (%d after %d): not handled by the reference" % (p.ns, prev_ns))
        prev_ns = p.ns
        k = grid.place(p.ns)
        iv = intervals.setdefault(k, Interval())
        if not is_ip or (family == "v4" and p.ipv != 4) or (family == "v6" and p.ipv != 6):
            continue
        iv.ip_packets += 1
        src, dst = (p.ipv, p.src), (p.ipv, p.dst)
        if p.ports:
            proto = "tcp" if p.proto == 6 else "udp"
            for side, port in (("src", p.sport), ("dst", p.dport)):
                hist = iv.ports[proto + "_" + side]
                hist[port] = hist.get(port, 0) + 1
            if p.proto == 6:
                iv.tcp_port_packets += 1
            else:
                iv.udp_port_packets += 1
            bump(iv.dport[proto + "_dport"], p.dport, p.ip_len)
        bump(iv.addr["src"], src, p.ip_len)
        bump(iv.addr["dst"], dst, p.ip_len)
        flow = (p.ipv, p.proto, p.src, p.dst, p.sport, p.dport)
        if flow not in iv.flows:
            iv.flows.add(flow)
            last = flow_last.get(flow)
            if last is None or p.ns - last > timeout:
                iv.flows_new += 1
        flow_last[flow] = p.ns
        iv.fanout.setdefault(src, set()).add(dst)
        for side, a in (("src", src), ("dst", dst)):
            first_interval[side].setdefault(a, k)
        if p.flags is not None:
            if p.flags & 0x12 == 0x12:
                iv.synack += 1
            if p.flags & 0x04:
                iv.rst += 1
        if p.frag:
            iv.frag += 1
        iv.ttl_sum += p.ttl
        iv.lens.append(p.ip_len)
    if not intervals:
        return []
    n = grid.closed(max(intervals) + 1)
    rows = [intervals.get(k, Interval()) for k in range(n)]
    for side in ("src", "dst"):
        for k in first_interval[side].values():
            if k < n:
                rows[k].new[side] += 1
    return list(zip(grid.starts(n), rows))


def columns(iv):
    n = iv.ip_packets
    c = {}
    for series in ("tcp_src", "tcp_dst", "udp_src", "udp_dst"):
        c["entropy_" + series] = norm_entropy(list(iv.ports[series].values()))
    for side in ("src", "dst"):
        per24, per16 = {}, {}
        for (ipv, addr), (packets, _) in iv.addr[side].items():
            p24 = prefix(ipv, addr, 24 if ipv == 4 else 48)
            p16 = prefix(ipv, addr, 16 if ipv == 4 else 32)
            per24[p24] = per24.get(p24, 0) + packets
            per16[p16] = per16.get(p16, 0) + packets
        c[side + "_p24"] = len(per24)
        c[side + "_p16"] = len(per16)
        c["entropy_%s_p24" % side] = norm_entropy(list(per24.values()))
    c["flows"] = len(iv.flows)
    c["flows_new"] = iv.flows_new
    c["fanout_max"] = max((len(d) for d in iv.fanout.values()), default=NAN)
    c["new_src"] = iv.new["src"]
    c["new_dst"] = iv.new["dst"]
    c["synack"], c["rst"], c["frag"] = iv.synack, iv.rst, iv.frag
    c["ttl_mean"] = iv.ttl_sum / n if n else NAN
    c["len_p50"] = nearest_rank(iv.lens, 50, 100) if n else NAN
    c["len_p95"] = nearest_rank(iv.lens, 95, 100) if n else NAN
    return c


def decoded(iv):
    return [iv.ip_packets, sum(e[1] for e in iv.addr["src"].values()), len(iv.addr["src"]), len(iv.addr["dst"]),
            iv.tcp_port_packets, iv.udp_port_packets]


def sort_key(entry):
    """Rank order: packets descending, bytes descending, key ascending (ipv, then address bytes; or port)."""
    key, packets, nbytes = entry
    return (-packets, -nbytes, key)


def heavy_hitters(iv, k, phi):
    """[(dim, key, packets, bytes, share)] in the canonical order."""
    out = []
    n = iv.ip_packets
    tables = {"src": iv.addr["src"], "dst": iv.addr["dst"]}
    for side in ("src", "dst"):
        per24 = {}
        for (ipv, addr), (packets, nbytes) in iv.addr[side].items():
            e = per24.setdefault(prefix(ipv, addr, 24 if ipv == 4 else 48), [0, 0])
            e[0] += packets
            e[1] += nbytes
        tables[side + "_p24"] = per24
    for dim in ("src", "dst", "src_p24", "dst_p24", "tcp_dport", "udp_dport"):
        table = tables[dim] if dim in tables else iv.dport[dim]
        total = {"tcp_dport": iv.tcp_port_packets, "udp_dport": iv.udp_port_packets}.get(dim, n)
        ranked = sorted(((key, e[0], e[1]) for key, e in table.items()), key=sort_key)[:k]
        for key, packets, nbytes in ranked:
            if dim in ("src", "dst"):
                key = (key[0], key[1], 32 if key[0] == 4 else 128)
            out.append((dim, key, packets, nbytes, packets / total))
    for side in ("src", "dst"):
        out.extend(("%s_hhh" % side, key, packets, nbytes, packets / n)
                   for key, packets, nbytes in hhh(iv.addr[side], n, phi))
    return out


def hhh(table, n, phi):
    """1-D hierarchical heavy hitters, bottom up; phi compared exactly as the decimal the user wrote."""
    reported = []
    # The addresses not yet under a reported prefix: (ipv, addr) -> [packets, bytes].
    left = {a: list(e) for a, e in table.items()}
    for level in range(4):
        found = []
        groups = {}
        for (ipv, addr), (packets, nbytes) in left.items():
            key = prefix(ipv, addr, HHH_LEVELS[ipv][level])
            g = groups.setdefault(key, [0, 0, []])
            g[0] += packets
            g[1] += nbytes
            g[2].append((ipv, addr))
        for key, (packets, nbytes, members) in groups.items():
            if packets > 0 and packets >= phi * n:
                found.append((key, packets, nbytes))
                for a in members:
                    del left[a]
        reported.extend(found)
    # Longest prefix first (in the family's bits), then packets, bytes descending, key ascending.
    reported.sort(key=lambda e: (-e[0][2], -e[1], -e[2], e[0]))
    return reported


def fmt(v, compat=False):
    if isinstance(v, float):
        if math.isnan(v):
            return "0" if compat else "nan"  # the original tool's convention
        if v == int(v) and abs(v) < 2 ** 53:
            return str(int(v))
        return repr(v)
    return str(v)


def main(argv):
    ap = argparse.ArgumentParser(description="Independent reference for tpp's issue-16 feature columns.")
    ap.add_argument("capture")
    ap.add_argument("--delta-t", required=True)
    ap.add_argument("--ip", choices=["any", "v4", "v6"], default="any")
    ap.add_argument("--compat", action="store_true",
                    help="the original tool's intervals (packet boundary), IPv4 only, 0 for undefined values")
    ap.add_argument("--flow-timeout", default="60")
    ap.add_argument("--hh-k", type=int, default=10)
    ap.add_argument("--hhh-phi", default="0.05")
    ap.add_argument("--critical", required=True)
    ap.add_argument("--hh", required=True)
    a = ap.parse_args(argv)
    try:
        delta = seconds_to_ns(a.delta_t)
        timeout = seconds_to_ns(a.flow_timeout)
        phi = Fraction(a.hhh_phi)
        grid = PacketBoundary(delta) if a.compat else EpochGrid(delta)
        rows = aggregate(read_packets(a.capture), grid, "v4" if a.compat else a.ip, timeout)
    except RefError as e:
        print("features.py: %s: %s" % (a.capture, e), file=sys.stderr)
        return 1
    with open(a.critical, "w") as out:
        out.write("\t".join(["interval", "start"] + DECODED + COLUMNS) + "\n")
        for k, (start, iv) in enumerate(rows):
            c = columns(iv)
            cells = [str(k), "%d.%09d" % divmod(start, 1000000000)] + [str(v) for v in decoded(iv)]
            out.write("\t".join(cells + [fmt(c[name], a.compat) for name in COLUMNS]) + "\n")
    with open(a.hh, "w") as out:
        out.write("interval\tdim\tkey\tpackets\tbytes\tshare\n")
        for k, (_, iv) in enumerate(rows):
            if iv.ip_packets == 0:
                continue
            for dim, key, packets, nbytes, share in heavy_hitters(iv, a.hh_k, phi):
                out.write("%d\t%s\t%s\t%d\t%d\t%s\n" % (k, dim, key_text(dim, key), packets, nbytes,
                                                          fmt(share, a.compat)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
