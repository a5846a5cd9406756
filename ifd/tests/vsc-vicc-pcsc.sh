#!/bin/sh
# vsc_vicc_pcsc: vsmartcard's vicc (a Python ISO 7816 card) as a card of libifd-ukey.so.
#
#   vsc-vicc-pcsc.sh LIBIFD PCSC_WAIT
#
# A private pcscd (ifd-pcscd.sh) loads the ukey driver with DEVICENAME
# tcp:127.0.0.1:PORT (PORT free, chosen here); vicc -t iso7816 connects to it as it would to
# Debian's vpcd. Checked with stock PC/SC tools (opensc-tool): the reader shows vicc's ATR
# (as vicc's own code computes it), SELECT MF (ISO 7816-4 §11.1.1, 00 A4 00 0C 02 3F 00; P2 0C
# asks for no FCI: vicc 0.8 crashes building an FCI under Python 3) answers 9000 and SELECT
# of an absent file 6A82, and when vicc is killed the card is removed while pcscd lives on.
# Exit 77 only when vicc or a private pcscd cannot run here (the reason is printed).
set -u
here=$(cd "$(dirname "$0")" && pwd)

# A TCP port nobody listens on (IPv4 or IPv6), from /proc/net/tcp*: state 0A = LISTEN.
free_port() {
	used=" $(awk '$4 == "0A" { n = split($2, a, ":"); printf "%s ", a[n] }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null)"
	i=0
	while [ $i -lt 100 ]; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 30000 + 20000 ))
		h=$(printf '%04X' "$p")
		case $used in *" $h "*) ;; *) echo "$p"; return 0 ;; esac
		i=$((i + 1))
	done
	return 1
}

fail() { echo "FAIL: $*"; exit 1; }

inner() {
	port=$1 wait=$2
	vicc_pid=""
	log=$(mktemp "${TMPDIR:-/tmp}/ukey-vicc.XXXXXX") || exit 1
	trap '[ -n "$vicc_pid" ] && kill "$vicc_pid" 2>/dev/null; rm -f "$log"' EXIT
	# the driver listens once pcscd has created the reader: vicc gives up on a refused
	# connection, so start it only then
	i=0
	until grep -q ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp; do
		[ $i -lt 100 ] || fail "the driver does not listen on 127.0.0.1:$port"
		sleep 0.1; i=$((i + 1))
	done
	sh "$here/vicc-run.sh" -t iso7816 -v -H 127.0.0.1 -P "$port" >"$log" 2>&1 &
	vicc_pid=$!
	"$wait" --cards 1 --timeout 15 || { cat "$log"; fail "vicc's card does not appear"; }

	want=$(sh "$here/vicc-run.sh" --atr) || fail "cannot compute vicc's ATR"
	got=$(opensc-tool -r 0 -a 2>&1) || { echo "$got"; fail "opensc-tool -a failed"; }
	echo "ATR via pcscd: $got (vicc's own: $want)"
	[ "$(echo "$got" | tr -d ': \n' | tr 'A-F' 'a-f')" = "$want" ] || fail "ATR differs"

	out=$(opensc-tool -r 0 -s 00:A4:00:0C:02:3F:00 2>&1) ||
		{ echo "$out"; tail -n 30 "$log"; fail "opensc-tool -s"; }
	echo "$out"
	# ISO 7816-4 §5.1.3: 9000 for the MF, 6A82 (file not found) for a file the card does not
	# have: two different answers show the card itself handled both APDUs
	echo "$out" | grep -q 'SW1=0x90, SW2=0x00' || fail "SELECT MF: no 9000"
	out=$(opensc-tool -r 0 -s 00:A4:00:0C:02:12:34 2>&1) ||
		{ echo "$out"; tail -n 30 "$log"; fail "opensc-tool -s"; }
	echo "$out"
	echo "$out" | grep -q 'SW1=0x6A, SW2=0x82' || fail "SELECT 1234: no 6A82"

	kill -TERM "$vicc_pid"
	wait "$vicc_pid" 2>/dev/null
	vicc_pid=""
	"$wait" --absent --cards 0 --timeout 10 || fail "the card stays after vicc ended"
	out=$(opensc-tool -r 0 -a 2>&1) && { echo "$out"; fail "an ATR is still read"; }
	echo "after vicc ended: $(echo "$out" | tail -n 1)"
	echo "PASS: vicc's card seen with ATR $want, SELECT MF answered, removal seen"
}

case ${1:-} in
--inner) shift; inner "$@"; exit $? ;;
esac

lib=${1:?usage: vsc-vicc-pcsc.sh LIBIFD PCSC_WAIT}
wait=${2:?usage: vsc-vicc-pcsc.sh LIBIFD PCSC_WAIT}
sh "$here/vicc-run.sh" --check || exit 77
command -v opensc-tool >/dev/null || fail "no opensc-tool (Debian: opensc)"
port=$(free_port) || fail "no free TCP port found"
IFD_PCSCD_LINK="tcp:127.0.0.1:$port" exec sh "$here/ifd-pcscd.sh" "$lib" ";timeout=5000" -- \
	sh "$0" --inner "$port" "$wait"
