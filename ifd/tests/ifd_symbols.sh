#!/bin/sh
# ifd_symbols: libifd-ukey.so exports exactly the IFD handler API (docs/design.md: IFDH* only).
set -eu
so=$1
command -v nm >/dev/null 2>&1 || { echo "skipped: no nm"; exit 77; }
want="IFDHCloseChannel IFDHControl IFDHCreateChannel IFDHCreateChannelByName
IFDHGetCapabilities IFDHICCPresence IFDHPowerICC IFDHSetCapabilities
IFDHSetProtocolParameters IFDHTransmitToICC"
got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
exp=$(echo $want | tr ' ' '\n' | sort | tr '\n' ' ')
if [ "$got" != "$exp" ]; then
	echo "exported: $got"
	echo "expected: $exp"
	exit 1
fi
# the driver lives inside pcscd: it must not drag in the PC/SC client library
if nm -D "$so" | grep -q ' U SCard'; then
	echo "libifd-ukey.so uses SCard* client calls"; exit 1
fi
echo "ifd_symbols: ok ($got)"
