/* linktype_names.c — names of the common link types, for messages ("802.11 radiotap (127)").
 *
 * The numbers are LINKTYPE_ values as pcap and pcapng files store them (tcpdump.org's link-layer header types);
 * the names are short descriptions a user recognises, not the C identifiers.
 */
#include "tpp/linktype_names.h"

#include <pcap/pcap.h>
#include <stdio.h>

static const struct { int linktype; const char *name; } names[] = {
    { 0, "BSD loopback" },
    { 1, "Ethernet" },
    { 3, "AX.25" },
    { 6, "token ring" },
    { 7, "ARCNET" },
    { 8, "SLIP" },
    { 9, "PPP" },
    { 10, "FDDI" },
    { 50, "PPP in HDLC framing" },
    { 51, "PPPoE" },
    { 100, "ATM RFC 1483" },
    { 101, "raw IP" },
    { 104, "Cisco HDLC" },
    { 105, "802.11" },
    { 107, "Frame Relay" },
    { 108, "OpenBSD loopback" },
    { 113, "Linux cooked (SLL)" },
    { 117, "OpenBSD pflog" },
    { 119, "802.11 Prism" },
    { 122, "IP over Fibre Channel" },
    { 127, "802.11 radiotap" },
    { 138, "Apple IP over IEEE 1394" },
    { 143, "DOCSIS" },
    { 163, "802.11 AVS" },
    { 187, "Bluetooth HCI H4" },
    { 189, "Linux USB" },
    { 195, "802.15.4" },
    { 201, "Bluetooth HCI H4 with direction" },
    { 220, "Linux USB (memory-mapped)" },
    { 227, "SocketCAN" },
    { 228, "raw IPv4" },
    { 229, "raw IPv6" },
    { 231, "D-Bus" },
    { 239, "Linux netfilter log (NFLOG)" },
    { 249, "USBPcap" },
    { 251, "Bluetooth LE link layer" },
    { 252, "Wireshark upper PDU" },
    { 253, "OpenFlow" },
    { 256, "Bluetooth LE link layer (RF info)" },
    { 276, "Linux cooked v2 (SLL2)" },
    { 279, "EBHSCR" },
    { 281, "Ethernet with TAP metadata" },
};

static const char *common_name(int linktype)
{
    if (linktype >= 147 && linktype <= 162) return "user-defined";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].linktype == linktype) return names[i].name;
    /* The rarer ones (Juniper, Apple PKTAP, DSA tags...) by libpcap's description.  From 104 on a LINKTYPE_ is its
     * DLT_ number, which is what libpcap looks up. */
    return linktype >= 104 ? pcap_datalink_val_to_description(linktype) : NULL;
}

void tpp_linktype_describe(int linktype, char *buf, size_t len)
{
    const char *name = common_name(linktype);
    if (linktype >= 147 && linktype <= 162) snprintf(buf, len, "user %d (%d)", linktype - 147, linktype);
    else if (name) snprintf(buf, len, "%s (%d)", name, linktype);
    else snprintf(buf, len, "%d", linktype);
}
