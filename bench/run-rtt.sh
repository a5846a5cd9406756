#!/bin/bash
# run-rtt.sh — the per-APDU round-trip benchmark (docs/performance.md "Per-APDU round trip"):
# one private pcscd with, side by side in the same run,
#   floor   ukey-link-peer (the minimal C card, echo mode) on a libifd-ukey AF_UNIX link reader
#   emu     ukey-emu on a libifd-ukey AF_UNIX link reader
#   vpcd    ukey-emu through Debian's vsmartcard vpcd driver (TCP), when it is installed
#   usb     ukey-emu through the driver's USB CCID transport with the fake libusb preloaded
#           into pcscd (ukey-emu --link usb:PATH), when both are built
# then ukey-bench-rtt over the four readers. Paths that cannot run here are skipped with a
# printed line (and a "skipped" row). A benchmark, not a test: no timing is asserted; the
# bench_rtt_smoke CTest runs it with a handful of APDUs and checks only that a table prints.
#
#   run-rtt.sh --build DIR [-n N] [-w W] [-t SECONDS] [--keep]
# DIR is a ukey build directory; the parts may be overridden with UKEY_RTT_BENCH, _IFD, _PEER,
# _EMU, _FAKEUSB, _VPCD (the vpcd driver, default Debian's). Exit: the bench's status;
# 77 when no private pcscd can run here (no pcscd, no mount namespace); 125 setup failure.
set -u

build=
bench_args=()
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	-n|-w|-t) bench_args+=("$1" "${2:?}"); shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: run-rtt.sh --build DIR [-n N] [-w W] [-t SECONDS] [--keep]" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "run-rtt: --build DIR is required" >&2; exit 2; }
build=$(readlink -f "$build")   # pcscd runs in another directory: absolute paths only

BENCH=${UKEY_RTT_BENCH:-$build/bench/ukey-bench-rtt}
IFD=${UKEY_RTT_IFD:-$build/ifd/libifd-ukey.so}
PEER=${UKEY_RTT_PEER:-$build/ifd/tests/ukey-link-peer}
EMU=${UKEY_RTT_EMU:-$build/token/ukey-emu}
FAKEUSB=${UKEY_RTT_FAKEUSB:-$(find "$build/ifd" -name 'libukey-fakeusb.so' -print -quit 2>/dev/null)}
VPCD=${UKEY_RTT_VPCD:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}

skip() { echo "run-rtt: skipped: $*"; exit 77; }
die() { echo "run-rtt: $*" >&2; exit 125; }

for part in "$BENCH" "$IFD" "$PEER" "$EMU"; do
	[ -e "$part" ] || die "$part not found (build the targets ukey-bench-rtt ifd-ukey ukey-link-peer ukey-emu)"
done
PCSCD=$(PATH=$PATH:/usr/sbin:/sbin command -v pcscd) || skip "no pcscd"
command -v unshare >/dev/null 2>&1 || skip "no unshare"
if [ "$(id -u)" = 0 ]; then ns=(unshare -m --propagation private); else ns=(unshare -r -m --propagation private); fi
"${ns[@]}" true 2>/dev/null || skip "cannot create a mount namespace"
[ -d /run/pcscd ] || mkdir -p /run/pcscd 2>/dev/null || skip "no /run/pcscd mount point"
usbdir=$(pkg-config --variable=usbdropdir libpcsclite 2>/dev/null || echo /usr/lib/pcsc/drivers)

work=$(mktemp -d "${TMPDIR:-/tmp}/ukey-rtt.XXXXXX") || die "no temporary directory"
pids=()
cleanup() {
	local p i
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$keep" = 1 ]; then echo "run-rtt: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$work/conf" "$work/run" "$work/state-emu" "$work/state-vpcd" "$work/state-usb"

# DEVICENAME quoted for ukey (pcscd's lexer refuses ';' and '=' unquoted, and passes the quotes
# on; the ukey driver strips them); vpcd wants it bare (it does not strip them).
reader_conf() {         # file friendlyname devicename libpath [quote]
	local q=${5-\"}
	printf 'FRIENDLYNAME "%s"\nDEVICENAME   %s%s%s\nLIBPATH      %s\n' "$2" "$q" "$3" "$q" "$4" \
		>"$work/conf/$1"
}

# A TCP port P with P and P+1 free, for vpcd (it listens on both, one a slot; ukey-emu
# connects to P).
free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		ss -Htln "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null | grep -q . ||
			{ echo "$p"; return 0; }
	done
	return 1
}

# ukey-emu speaks usb:PATH once the CCID front end is in (docs/ccid.md).
emu_has_usb() {
	"$EMU" --help 2>&1 | grep -q 'usb:'
}

rows=(floor=ukey-floor emu=ukey-emu)
skips=()
reader_conf 1-floor ukey-floor "unix:$work/floor.sock" "$IFD"
reader_conf 2-emu ukey-emu "unix:$work/emu.sock" "$IFD"
port=
if [ -e "$VPCD" ] && port=$(free_port); then
	# vpcd's DEVICENAME is /dev/null:PORT (Debian's /etc/reader.conf.d/vpcd); it listens on
	# PORT. A copy: the tmpfs over the USB drivers directory hides its serial/ subdirectory.
	cp "$(readlink -f "$VPCD")" "$work/libifdvpcd.so" || die "cannot copy $VPCD"
	reader_conf 3-vpcd vpcd "/dev/null:$port" "$work/libifdvpcd.so" ''

	rows+=(vpcd=vpcd)
else
	echo "run-rtt: vpcd path skipped: no vsmartcard vpcd driver at $VPCD (apt-get install vsmartcard-vpcd)"
	skips+=(--skip "vpcd=no vsmartcard vpcd driver")
fi
preload=
if [ -n "$FAKEUSB" ] && [ -e "$FAKEUSB" ] && emu_has_usb; then
	reader_conf 4-usb ukey-usb "usb:1209/0001" "$IFD"
	preload=$FAKEUSB
	rows+=(usb=ukey-usb)
else
	echo "run-rtt: USB CCID path skipped: libukey-fakeusb.so or ukey-emu --link usb: not built yet"
	skips+=(--skip "usb=USB CCID transport not built")
fi

# pcscd in its own mount namespace: a private /run/pcscd, a tmpfs over the USB drivers
# directory (no real reader loads); the fake libusb, if any, preloaded into pcscd only.
"${ns[@]}" sh -c 'mount --bind "$1" /run/pcscd && { [ ! -d "$2" ] || mount -t tmpfs tmpfs "$2"; } &&
	if [ -n "$5" ]; then export LD_PRELOAD="$5" UKEY_FAKEUSB_SOCKET="$6"; fi
	exec "$3" -f -c "$4"' sh "$work/run" "$usbdir" "$PCSCD" "$work/conf" "$preload" \
	"$work/usb.sock" </dev/null >"$work/pcscd.log" 2>&1 &
pcscd_pid=$!
pids+=("$pcscd_pid")

wait_path() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$1" ] && return 0
		kill -0 "$pcscd_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 30 "$work/pcscd.log" >&2
	die "pcscd did not make $1"
}
wait_path "$work/run/pcscd.comm"
wait_path "$work/floor.sock"
wait_path "$work/emu.sock"

"$PEER" --mode echo "$work/floor.sock" >"$work/peer.log" 2>&1 &
pids+=($!)
"$EMU" --link "unix:$work/emu.sock" --state "$work/state-emu" --keys 1 >"$work/emu.log" 2>&1 &
pids+=($!)
if [ -n "$port" ]; then
	"$EMU" --link "tcp:127.0.0.1:$port" --retry --state "$work/state-vpcd" --keys 1 \
		>"$work/emu-vpcd.log" 2>&1 &
	pids+=($!)
fi
if [ -n "$preload" ]; then
	wait_path "$work/usb.sock"
	"$EMU" --link "usb:$work/usb.sock" --state "$work/state-usb" --keys 1 >"$work/emu-usb.log" 2>&1 &
	pids+=($!)
fi

PCSCLITE_CSOCK_NAME=$work/run/pcscd.comm "$BENCH" --wait 20 "${bench_args[@]}" --target emu \
	"${rows[@]}" "${skips[@]}" | tee "$work/bench.out"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ] && ! { grep -q '^| floor | ukey-floor' "$work/bench.out" &&
                       grep -q '^round trip emu / floor' "$work/bench.out"; }; then
	echo "run-rtt: no table printed"; rc=1
fi
if [ "$rc" -ne 0 ]; then
	for f in pcscd peer emu emu-vpcd emu-usb; do
		[ -s "$work/$f.log" ] && { echo "---- $f.log (tail) ----"; tail -n 20 "$work/$f.log"; }
	done
fi
exit "$rc"
