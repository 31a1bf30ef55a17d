#!/usr/bin/python3
"""Captures of encapsulated traffic for tests/encap_spec.lua, with their known answers.

usage: encap.py OUTDIR DELTA_T

Writes OUTDIR/NAME.pcap and OUTDIR/NAME.tsv for each capture below.  A .tsv row per packet gives:
  - the layer view of scapy's default dissection (this scapy, Debian's python3-scapy 2.5, no contrib layers), the
    original tool's classification: `IP in p`, p[IP]'s addresses, length and protocol, `TCP in p` / `UDP in p`
    with p[TCP] / p[UDP]'s ports and TCP flags, and whether an IP header lies inside another (scapy_encap);
  - the answers the generator knows because it built the packet: the outermost IP header's addresses, protocol
    and ports (outer_*), the innermost's (inner_*), and whether a tunnel carries it (tunnel).
OUTDIR/NAME.rows.tsv: the original tool's per-interval counts of the capture computed from that layer view
("packet" boundary of DELTA_T seconds, IPv4 only), and OUTDIR/NAME.ports.tsv its port histograms.
The captures are written here, from the script's own text: nothing outside reaches them.
"""
import sys
from scapy.all import (Ether, Dot3, Dot1Q, Dot1AD, PPPoE, PPP, IP, IPv6, TCP, UDP, ICMP, ICMPv6DestUnreach, GRE,
                       GRE_PPTP, VXLAN, L2TP, LLC, SNAP, IPv6ExtHdrFragment, Raw, IPerror, IPerror6, wrpcap)

OUT, DELTA = sys.argv[1], float(sys.argv[2])
T0 = 1700000000.0

# ---- the shapes ----

def flow(src, dst, proto, sport=None, dport=None):
    return (src, dst, proto, sport, dport)

def tcp_session(n, cli, srv, cport, sport):
    """n segments of a TCP session: SYN, SYN-ACK, ACK, data both ways, FIN at the end."""
    out = []
    for k in range(n):
        up = k % 2 == 0
        flags = "S" if k == 0 else "SA" if k == 1 else "FA" if k >= n - 2 else "PA" if k % 3 == 0 else "A"
        s, d, sp, dp = (cli, srv, cport, sport) if up else (srv, cli, sport, cport)
        out.append((s, d, sp, dp, flags, b"x" * (k % 5 * 10)))
    return out

def pppoe_over_qinq():
    """Zeek's pppoe-over-qinq.pcap as its provenance describes it: 86 frames, 802.1Q tags 3704 and 2474, a PPPoE
    session 0x0f07 carrying PPP IPv4, one TCP session 1.1.1.1:1019 <-> 2.2.2.2:443."""
    pkts = []
    for s, d, sp, dp, fl, data in tcp_session(86, "1.1.1.1", "2.2.2.2", 1019, 443):
        ip = IP(src=s, dst=d, ttl=63) / TCP(sport=sp, dport=dp, flags=fl) / Raw(data)
        p = Ether(src="00:00:00:00:00:00", dst="00:00:00:00:00:01") / Dot1Q(vlan=3704) / Dot1Q(vlan=2474) / \
            PPPoE(sessionid=0x0f07) / Raw(b"\x00\x21") / ip  # scapy's PPP would compress the protocol to 0x21
        pkts.append((p, flow(s, d, 6, sp, dp), flow(s, d, 6, sp, dp), 0))
    return pkts

def gre_within_gre():
    """Zeek's tunnels/gre-within-gre.pcap as its logs describe it: GRE between 72.205.54.70 and 86.106.164.150
    carrying GRE between 10.10.11.2 and 10.10.13.2, carrying RIP (3.3.3.1 and 3.3.3.2 to 224.0.0.9, UDP 520, two
    each) and ICMP echo between 10.10.25.1 and 192.168.1.2 (312 each way): 628 packets."""
    inner = []
    for k in range(2):
        inner.append(IP(src="3.3.3.1", dst="224.0.0.9") / UDP(sport=520, dport=520) / Raw(b"\x02\x02" + b"\0" * 82))
        inner.append(IP(src="3.3.3.2", dst="224.0.0.9") / UDP(sport=520, dport=520) / Raw(b"\x02\x02" + b"\0" * 22))
    for k in range(312):
        inner.append(IP(src="10.10.25.1", dst="192.168.1.2") / ICMP(type=8, id=7, seq=k) / Raw(b"p" * 72))
        inner.append(IP(src="192.168.1.2", dst="10.10.25.1") / ICMP(type=0, id=7, seq=k) / Raw(b"p" * 72))
    order = inner[4:160] + inner[0:2] + inner[160:400] + inner[2:4] + inner[400:]
    pkts = []
    for k, ip in enumerate(order):
        up = k % 2 == 0
        outer = IP(src="72.205.54.70", dst="86.106.164.150") if up else IP(src="86.106.164.150", dst="72.205.54.70")
        mid = IP(src="10.10.11.2", dst="10.10.13.2") if up else IP(src="10.10.13.2", dst="10.10.11.2")
        p = Ether() / outer / GRE() / mid / GRE() / ip
        l4 = ip[UDP] if UDP in ip else None
        pkts.append((p, flow(outer.src, outer.dst, 47), flow(ip.src, ip.dst, ip.proto, l4 and l4.sport,
                                                                l4 and l4.dport), 1))
    return pkts

def mixed():
    """Every encapsulation tpp knows, and those scapy dissects by default, a few of each, with plain traffic."""
    c = []
    def add(p, outer, inner, tunnel, times=1):
        for _ in range(times):
            c.append((p, outer, inner, tunnel))
    t = lambda sp, dp, fl="S": TCP(sport=sp, dport=dp, flags=fl)
    a, b, x, y = "10.0.0.1", "10.0.0.2", "192.168.7.1", "192.168.7.2"
    a6, b6, x6, y6 = "2001:db8::1", "2001:db8::2", "2001:db8:7::1", "2001:db8:7::2"
    # plain
    add(Ether() / IP(src=a, dst=b) / t(1000, 80), flow(a, b, 6, 1000, 80), flow(a, b, 6, 1000, 80), 0, 3)
    add(Ether() / IP(src=b, dst=a) / UDP(sport=5000, dport=9999), flow(b, a, 17, 5000, 9999),
        flow(b, a, 17, 5000, 9999), 0, 2)
    # VLAN, QinQ (802.1ad outside 802.1Q), and 0x9100 tags (which scapy does not know)
    add(Ether() / Dot1Q(vlan=5) / IP(src=a, dst=b) / t(1001, 81, "F"), flow(a, b, 6, 1001, 81),
        flow(a, b, 6, 1001, 81), 0)
    add(Ether() / Dot1AD(vlan=6) / Dot1Q(vlan=7) / IP(src=a, dst=b) / UDP(sport=1002, dport=82),
        flow(a, b, 17, 1002, 82), flow(a, b, 17, 1002, 82), 0, 2)
    add(Ether(type=0x9100) / Dot1Q(vlan=8) / IP(src=a, dst=b) / t(1003, 83), flow(a, b, 6, 1003, 83),
        flow(a, b, 6, 1003, 83), 0)
    # PPPoE sessions: IPv4 and IPv6
    add(Ether() / PPPoE(sessionid=9) / PPP(proto=0x0021) / IP(src=x, dst=y) / t(1004, 84),
        flow(x, y, 6, 1004, 84), flow(x, y, 6, 1004, 84), 0, 2)
    add(Ether() / PPPoE(sessionid=9) / PPP(proto=0x0057) / IPv6(src=x6, dst=y6) / UDP(sport=1005, dport=85),
        flow(x6, y6, 17, 1005, 85), flow(x6, y6, 17, 1005, 85), 0)
    # MPLS, two labels (framing for tpp, opaque to scapy)
    mpls = bytes.fromhex("000640ff" "000651ff")
    add(Ether(type=0x8847) / Raw(mpls + bytes(IP(src=x, dst=y) / t(1006, 86))), flow(x, y, 6, 1006, 86),
        flow(x, y, 6, 1006, 86), 0, 2)
    # LLC/SNAP carrying IP: in an 802.3 frame and after the jumbo LLC ethertype (0x8870); scapy only
    add(Dot3(dst="00:00:00:00:00:01") / LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / SNAP(OUI=0, code=0x0800) /
        IP(src=a, dst=y) / t(1007, 87), None, None, 0)
    add(Ether(dst="00:00:00:00:00:01") / LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / SNAP(OUI=0, code=0x0800) /
        IP(src=a, dst=y) / t(1008, 88), None, None, 0)
    # GRE: plain, with checksum, key and sequence number, transparent Ethernet bridging, PPTP
    add(Ether() / IP(src=a, dst=b) / GRE() / IP(src=x, dst=y) / t(2000, 443), flow(a, b, 47),
        flow(x, y, 6, 2000, 443), 1, 3)
    add(Ether() / IP(src=a, dst=b) / GRE(chksum_present=1, key_present=1, key=77, seqnum_present=1, seqence_number=5) /
        IP(src=x, dst=y) / UDP(sport=2001, dport=53), flow(a, b, 47), flow(x, y, 17, 2001, 53), 1, 2)
    add(Ether() / IP(src=a, dst=b) / GRE(proto=0x6558) / Ether() / Dot1Q(vlan=3) / IP(src=y, dst=x) / t(2002, 22),
        flow(a, b, 47), flow(y, x, 6, 2002, 22), 1, 2)
    add(Ether() / IP(src=a, dst=b) / GRE_PPTP(seqnum_present=1, call_id=4) / PPP(proto=0x0021) /
        IP(src=x, dst=b) / UDP(sport=2003, dport=123), flow(a, b, 47), flow(x, b, 17, 2003, 123), 1)
    add(Ether() / IPv6(src=a6, dst=b6) / GRE() / IP(src=x, dst=y) / t(2004, 25), flow(a6, b6, 47),
        flow(x, y, 6, 2004, 25), 1)
    # IP in IP, all four
    add(Ether() / IP(src=a, dst=b) / IP(src=x, dst=y) / t(3000, 8080), flow(a, b, 4), flow(x, y, 6, 3000, 8080), 1, 2)
    add(Ether() / IP(src=a, dst=b) / IPv6(src=x6, dst=y6) / t(3001, 8081), flow(a, b, 41),
        flow(x6, y6, 6, 3001, 8081), 1, 2)
    add(Ether() / IPv6(src=a6, dst=b6) / IP(src=x, dst=y) / UDP(sport=3002, dport=8082), flow(a6, b6, 4),
        flow(x, y, 17, 3002, 8082), 1, 2)
    add(Ether() / IPv6(src=a6, dst=b6) / IPv6(src=x6, dst=y6) / t(3003, 8083), flow(a6, b6, 41),
        flow(x6, y6, 6, 3003, 8083), 1)
    # VXLAN carrying TCP (scapy: TCP and UDP both), and on a DNS source port (scapy: DNS, opaque)
    add(Ether() / IP(src=a, dst=b) / UDP(sport=49152, dport=4789) / VXLAN(vni=42) / Ether() / IP(src=x, dst=y) /
        t(4000, 80), flow(a, b, 17, 49152, 4789), flow(x, y, 6, 4000, 80), 1, 3)
    add(Ether() / IP(src=a, dst=b) / UDP(sport=53, dport=4789) / VXLAN(vni=42) / Ether() / IP(src=x, dst=y) /
        t(4001, 80), flow(a, b, 17, 53, 4789), flow(x, y, 6, 4001, 80), 1)
    # Geneve (with 4 bytes of options), GTP-U (with an extension header), Teredo (with an origin indication):
    # opaque to scapy by default
    geneve = bytes.fromhex("0200" "6558" "00002a00" "0102" "0301" "deadbeef")
    add(Ether() / IP(src=a, dst=b) / UDP(sport=50000, dport=6081) / Raw(geneve + bytes(Ether() /
        IP(src=x, dst=y) / t(4002, 8443))), flow(a, b, 17, 50000, 6081), flow(x, y, 6, 4002, 8443), 1, 2)
    inner = bytes(IP(src=y, dst=x) / UDP(sport=4003, dport=5060))
    gtp = bytes([0x34, 0xff]) + (len(inner) + 8).to_bytes(2, "big") + bytes.fromhex("00000001" "0000" "00" "85") + \
        bytes.fromhex("01" "10" "00" "00")
    add(Ether() / IP(src=a, dst=b) / UDP(sport=2152, dport=2152) / Raw(gtp + inner), flow(a, b, 17, 2152, 2152),
        flow(y, x, 17, 4003, 5060), 1, 2)
    teredo = bytes.fromhex("0000" "f227" "3ef5cafe")
    add(Ether() / IP(src=a, dst=b) / UDP(sport=3544, dport=51000) / Raw(teredo + bytes(IPv6(src=x6, dst=y6) /
        t(4004, 993))), flow(a, b, 17, 3544, 51000), flow(x6, y6, 6, 4004, 993), 1, 2)
    # L2TP carrying PPP IPv4 (scapy dissects it; tpp leaves it)
    add(Ether() / IP(src=a, dst=b) / UDP(sport=1701, dport=1701) / L2TP(tunnel_id=1, session_id=2) /
        PPP(proto=0x0021) / IP(src=x, dst=y) / t(4005, 110), flow(a, b, 17, 1701, 1701), flow(a, b, 17, 1701, 1701), 0)
    # ICMP errors: quoted headers are never tunnels (scapy: IPerror, TCPerror; but a quoted GRE is a GRE)
    add(Ether() / IP(src=b, dst=a) / ICMP(type=3, code=3) / IP(src=a, dst=x) / UDP(sport=5001, dport=33434),
        flow(b, a, 1), flow(b, a, 1), 0, 2)
    add(Ether() / IP(src=b, dst=a) / ICMP(type=11) / IP(src=a, dst=b) / IP(src=x, dst=y) / t(5002, 80),
        flow(b, a, 1), flow(b, a, 1), 0)
    add(Ether() / IP(src=b, dst=a) / ICMP(type=3, code=1) / IP(src=a, dst=b) / GRE() / IP(src=x, dst=y) / t(5003, 80),
        flow(b, a, 1), flow(b, a, 1), 0)
    add(Ether() / IPv6(src=b6, dst=a6) / ICMPv6DestUnreach() / IPv6(src=a6, dst=x6) / t(5004, 80),
        flow(b6, a6, 58), flow(b6, a6, 58), 0)
    # a first fragment of IPv4 carrying IPv6 (scapy binds protocol 41 whatever the offset); a later GRE fragment
    add(Ether() / IP(src=a, dst=b, flags="MF") / IPv6(src=x6, dst=y6) / t(5005, 80), flow(a, b, 41),
        flow(x6, y6, 6, 5005, 80), 1)
    add(Ether() / IP(src=a, dst=b, frag=100, proto=47) / Raw(bytes(GRE() / IP(src=x, dst=y) / t(5006, 80))),
        flow(a, b, 47), flow(a, b, 47), 0)
    # a depth bomb: ten GRE tunnels, the innermost TCP beyond tpp's bound of 8 (tpp stops at the 8th header)
    p = IP(src="10.9.9.9", dst="10.9.9.10") / t(6000, 80)
    for k in range(10):
        p = IP(src="10.8.%d.1" % k, dst="10.8.%d.2" % k) / GRE() / p
    add(Ether() / p, flow("10.8.9.1", "10.8.9.2", 47), flow("10.8.1.1", "10.8.1.2", 47), 1)
    # IPv6 in IPv4 with a UDP inside a GRE inside it (both tunnels)
    add(Ether() / IP(src=a, dst=b) / IPv6(src=a6, dst=b6) / GRE() / IP(src=x, dst=y) / UDP(sport=6001, dport=161),
        flow(a, b, 41), flow(x, y, 17, 6001, 161), 1)
    return c

def truncated():
    """Tunnels whose inner header the capture cut (snaplen: the wire length is the whole packet's): the cut falls
    inside the inner IPv4 source address, where scapy also gives up on the header; and a GRE cut inside its key."""
    c = []
    a, b, x, y = "10.1.0.1", "10.1.0.2", "172.16.0.1", "172.16.0.2"
    def cut(p, n):
        whole = bytes(p)
        q = Ether(whole[:n])
        q.wirelen = len(whole)
        return q
    for n in (14 + 20 + 4 + 14, 14 + 20 + 4 + 15):
        c.append((cut(Ether() / IP(src=a, dst=b) / GRE() / IP(src=x, dst=y) / TCP(sport=7000, dport=80), n),
                  flow(a, b, 47), flow(a, b, 47), 0))
    c.append((cut(Ether() / IP(src=a, dst=b) / GRE(key_present=1, key=9) / IP(src=x, dst=y) / TCP(sport=7000, dport=80),
                  14 + 20 + 6), flow(a, b, 47), flow(a, b, 47), 0))
    c.append((cut(Ether() / IP(src=a, dst=b) / IP(src=x, dst=y) / UDP(sport=7001, dport=53), 14 + 20 + 13),
              flow(a, b, 4), flow(a, b, 4), 0))
    c.append((cut(Ether() / IP(src=a, dst=b) / UDP(sport=1, dport=4789) / VXLAN() / Ether() / IP(src=x, dst=y) /
                  TCP(sport=7002, dport=80), 14 + 20 + 8 + 8 + 14 + 15), flow(a, b, 17, 1, 4789),
              flow(a, b, 17, 1, 4789), 0))
    c.append((Ether() / IP(src=a, dst=b) / TCP(sport=7003, dport=443), flow(a, b, 6, 7003, 443),
              flow(a, b, 6, 7003, 443), 0))
    return c

# ---- scapy's own view, and the original tool's counts from it ----

def real_ips(p):
    n, l = 0, p
    while l:
        if type(l) in (IP, IPv6):
            n += 1
        l = l.payload if l.payload else None
    return n

def view(p):
    p = Ether(bytes(p))  # dissect the bytes as written, as the original read them
    v = {"scapy_ip": int(IP in p), "scapy_encap": int(real_ips(p) >= 2)}
    if IP in p:
        ip = p[IP]
        v.update(scapy_src=ip.src, scapy_dst=ip.dst, scapy_len=ip.len, scapy_proto=ip.proto)
        if TCP in p:
            v.update(scapy_tcp=1, tcp_sport=p[TCP].sport, tcp_dport=p[TCP].dport, tcp_flags=int(p[TCP].flags))
        if UDP in p:
            v.update(scapy_udp=1, udp_sport=p[UDP].sport, udp_dport=p[UDP].dport)
    return v

COLS = ["i", "scapy_ip", "scapy_encap", "scapy_src", "scapy_dst", "scapy_len", "scapy_proto", "scapy_tcp",
        "tcp_sport", "tcp_dport", "tcp_flags", "scapy_udp", "udp_sport", "udp_dport",
        "outer_src", "outer_dst", "outer_proto", "outer_sport", "outer_dport",
        "inner_src", "inner_dst", "inner_proto", "inner_sport", "inner_dport", "tunnel"]

def cell(v):
    return "-" if v is None else str(v)

def write(name, pkts, gap):
    frames = []
    rows = []
    for k, (p, outer, inner, tunnel) in enumerate(pkts):
        p.time = T0 + k * gap
        frames.append(p)
        v = view(p)
        v["i"] = k + 1
        for side, f in (("outer", outer), ("inner", inner)):
            if f:
                for key, val in zip(("src", "dst", "proto", "sport", "dport"), f):
                    v[side + "_" + key] = val
        v["tunnel"] = tunnel
        rows.append(v)
    wrpcap("%s/%s.pcap" % (OUT, name), frames)
    with open("%s/%s.tsv" % (OUT, name), "w") as f:
        f.write("\t".join(COLS) + "\n")
        for v in rows:
            f.write("\t".join(cell(v.get(c)) for c in COLS) + "\n")
    original_counts(name, [float(p.time) for p in frames], rows)

def original_counts(name, times, rows):
    """The original tool's loop: an interval closes at the first packet at least DELTA after its start (that packet
    is its last); the trailing partial interval is not written.  Counts of IPv4 packets (IP in p)."""
    out, ports, start, cur = [], [], times[0], None
    def fresh():
        return {"ip": 0, "src": set(), "dst": set(), "icmp": 0, "tcp": 0, "udp": 0, "syn": 0, "fin": 0, "tcpp": 0,
                "udpp": 0, "hist": {}}
    cur = fresh()
    for t, v in zip(times, rows):
        if v["scapy_ip"]:
            cur["ip"] += 1
            cur["src"].add(v["scapy_src"]); cur["dst"].add(v["scapy_dst"])
            cur["icmp"] += v["scapy_proto"] == 1; cur["tcp"] += v["scapy_proto"] == 6; cur["udp"] += v["scapy_proto"] == 17
            if v.get("scapy_tcp"):
                cur["tcpp"] += 1
                cur["syn"] += bool(v["tcp_flags"] & 2); cur["fin"] += bool(v["tcp_flags"] & 1)
                for s, port in (("tcp_src", v["tcp_sport"]), ("tcp_dst", v["tcp_dport"])):
                    cur["hist"][(s, port)] = cur["hist"].get((s, port), 0) + 1
            if v.get("scapy_udp"):
                cur["udpp"] += 1
                for s, port in (("udp_src", v["udp_sport"]), ("udp_dst", v["udp_dport"])):
                    cur["hist"][(s, port)] = cur["hist"].get((s, port), 0) + 1
        if t - start >= DELTA:
            out.append(cur)
            cur, start = fresh(), t
    with open("%s/%s.rows.tsv" % (OUT, name), "w") as f:
        f.write("ip_packets\tsrc_ips\tdst_ips\ticmp\ttcp\tudp\tsyn\tfin\ttcp_port_packets\tudp_port_packets\n")
        for r in out:
            f.write("\t".join(str(x) for x in (r["ip"], len(r["src"]), len(r["dst"]), r["icmp"], r["tcp"], r["udp"],
                                               r["syn"], r["fin"], r["tcpp"], r["udpp"])) + "\n")
    with open("%s/%s.ports.tsv" % (OUT, name), "w") as f:
        f.write("interval\tseries\tport\tcount\n")
        for i, r in enumerate(out):
            for (s, port), n in sorted(r["hist"].items()):
                f.write("%d\t%s\t%d\t%d\n" % (i + 1, s, port, n))

write("pppoe-over-qinq", pppoe_over_qinq(), 0.05)
write("gre-within-gre", gre_within_gre(), 0.07)
write("mixed", mixed(), 0.25)
write("truncated", truncated(), 0.5)
