#!/bin/sh
# ifd-pcscd.sh: run COMMAND against a private pcscd that loads only libifd-ukey.so.
#   ifd-pcscd.sh LIBIFD OPTIONS -- COMMAND [ARGS...]
# OPTIONS is appended to the DEVICENAME (e.g. ";slots=4;timeout=1500"). COMMAND runs with
# PCSCLITE_CSOCK_NAME (the private pcscd's socket), UKEY_LINK_SOCK (the driver's link
# socket) and IFD_PCSCD_LOG (pcscd's -a -d log so far) exported; its status is returned.
# pcscd always binds /run/pcscd/pcscd.comm, so it runs in its own mount namespace with a
# private directory bound over /run/pcscd and a tmpfs over the USB drivers directory (no
# real reader is loaded). Exit 77 = skipped.
# IFD_PCSCD_LINK, if set, replaces "unix:<work>/link.sock" (e.g. tcp:127.0.0.1:PORT); the
# script then does not wait for the link socket.
set -u
lib=$1; opts=$2; shift 2
[ "${1:-}" = "--" ] && shift

skip() { echo "skipped: $*"; exit 77; }
pcscd=$(command -v pcscd || ls /usr/sbin/pcscd 2>/dev/null) || skip "no pcscd"
command -v unshare >/dev/null 2>&1 || skip "no unshare"
usbdir=$(pkg-config --variable=usbdropdir libpcsclite 2>/dev/null || echo /usr/lib/pcsc/drivers)
if [ "$(id -u)" = 0 ]; then ns="unshare -m --propagation private"; else ns="unshare -r -m --propagation private"; fi
$ns true 2>/dev/null || skip "cannot create a mount namespace"
[ -d /run/pcscd ] || mkdir -p /run/pcscd 2>/dev/null || skip "no /run/pcscd mount point"

work=$(mktemp -d /tmp/ukey-ifd-pcscd.XXXXXX) || exit 1
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
		kill -KILL "$pid" 2>/dev/null
	fi
	[ -n "$pid" ] && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$work/conf" "$work/run"
cat > "$work/conf/ukey" <<CONF
FRIENDLYNAME "ukey"
DEVICENAME   "${IFD_PCSCD_LINK:-unix:$work/link.sock}$opts"
LIBPATH      $lib
CONF
# exec chain keeps one pid: unshare execs sh, sh execs pcscd
$ns sh -c 'mount --bind "$1" /run/pcscd && mount -t tmpfs tmpfs "$2" && exec "$3" -f -a -d -c "$4"' \
	sh "$work/run" "$usbdir" "$pcscd" "$work/conf" > "$work/pcscd.log" 2>&1 &
pid=$!
i=0
while ! { [ -S "$work/run/pcscd.comm" ] && { [ -n "${IFD_PCSCD_LINK:-}" ] || [ -S "$work/link.sock" ]; }; }; do
	if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 100 ]; then
		echo "pcscd did not start:"; cat "$work/pcscd.log"; exit 1
	fi
	sleep 0.1; i=$((i+1))
done
PCSCLITE_CSOCK_NAME="$work/run/pcscd.comm" UKEY_LINK_SOCK="$work/link.sock" \
	IFD_PCSCD_LOG="$work/pcscd.log" "$@"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
	echo "pcscd died during the test"; rc=1
fi
if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
	echo "---- pcscd log (tail) ----"; tail -n 80 "$work/pcscd.log"
fi
exit $rc
