#!/bin/sh
# Install the Debian packages tpp needs to build, test and run; only those missing, with sudo when not root.
# lua-expat reads the MAWILab label files (--labels).
# tshark and python3 run the independent reference of the feature parity spec (tests/reference/features.py);
# python3-scapy writes the encapsulation specs' captures and their reference layer view (tests/reference/encap.py).
# libjs-dygraphs draws the charts of the interactive page (inlined into it); chromium checks that page in the specs.
# `install-deps.sh bench` adds the peers that `make bench` measures tpp against.
set -e
PACKAGES="gcc make pkg-config liblua5.4-dev lua5.4 libpcap-dev zlib1g-dev libreadline-dev libisal-dev libzstd-dev liblzma-dev
          zstd xz-utils lua-busted lua-filesystem lua-argparse lua-expat gnuplot-nox clang libclang-rt-14-dev tcpdump tmux
          slurm-wlm munge parallel
          python3-pandas r-base-core
          python3 tshark python3-scapy
          libjs-dygraphs chromium"
[ "${1:-}" = bench ] && PACKAGES="$PACKAGES isal libtrace-tools"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
