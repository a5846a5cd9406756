#!/bin/bash
# End-to-end tests of USB CCID keys through a real private pcscd (docs/ccid.md):
#   pcscd (LD_PRELOAD libukey-fakeusb.so) -> libifd-ukey.so (uki_usb.c, uki_ccid.c)
#   -> usbsock -> ukey-emu --link usb:
# under `ukey-sandbox --usb`. One case per CTest test:
#   bash ifd-usb-e2e.sh pcsc|pkcs11
# with UKS (build-tree ukey-sandbox), UKEY_SANDBOX_FAKEUSB, UKS_USB_CLIENT (ifd_usb_client)
# and UKS_SRC in the environment. Exit 0 pass, 1 fail, 77 skip (no pcscd/namespaces here).
set -uo pipefail

: "${UKS:?}" "${UKS_USB_CLIENT:?}" "${UKS_SRC:?}" "${UKEY_SANDBOX_FAKEUSB:?}"

readonly ATR=3B888001756B65792D656D755B     # docs/apdu.md "Transport"
readonly SELECT=00A4040006F0756B657901
readonly GET_INFO=00CA010000
readonly MAXLEN=64      # dwMaxCCIDMessageLength: answers over 54 bytes are chained

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# ---- inside the sandbox ----------------------------------------------------------------

ctl() { "$UKEY_EMU" ctl --control "$UKEY_EMU_CONTROL" "$@"; }
cli() { "$UKS_USB_CLIENT" "$@"; }

# get_info R: SELECT + GET DATA 00 on reader R; prints the GET DATA answer (hex, SW last)
get_info() {
	local out sel gd
	out=$(cli apdu "$1" "$SELECT" "$GET_INFO") || return 1
	sel=$(sed -n 1p <<<"$out")
	gd=$(sed -n 2p <<<"$out")
	[[ $sel == *9000 && $gd == *9000 ]] || return 1
	printf '%s\n' "$gd"
}

pcscd_alive() { kill -0 "$(cat "$UKEY_SANDBOX_DIR/pcscd.pid")" 2>/dev/null; }

# A fault the driver must survive, armed inside one card connection (so it hits an
# XfrBlock): the key is not removed (pcsc-lite's event counter of the reader does not move)
# and answers correctly afterwards. persistent=1: the fault stays armed until `clear`, and
# APDUs must work while it is; else the APDU it hits may fail.
survive_fault() {
	local persistent=$1 want=$2 ev out ctl_cmd
	shift 2
	ev=$(cli events 0)
	ctl_cmd="'$UKEY_EMU' ctl --control '$UKEY_EMU_CONTROL'"
	if [ "$persistent" = 1 ]; then
		out=$(cli apdu 0 "$SELECT" "!$ctl_cmd ccid 0 $* >/dev/null" "$SELECT" "$GET_INFO" \
			"$GET_INFO" "!$ctl_cmd clear 0 >/dev/null" "$GET_INFO") ||
			fail "APDUs under fault '$*'"
		[ "$(sed -n 3p <<<"$out")" = "$want" ] || fail "GET DATA under fault '$*'"
		[ "$(sed -n 4p <<<"$out")" = "$want" ] || fail "second GET DATA under fault '$*'"
	else
		out=$(cli apdu 0 "$SELECT" "!$ctl_cmd ccid 0 $* >/dev/null" "?$SELECT" "$SELECT" \
			"$GET_INFO") || fail "APDUs after fault '$*'"
		[ "$(sed -n 2p <<<"$out")" = ERR ] && echo "  (the APDU hit by '$*' failed, as it may)"
		ctl clear 0 >/dev/null || fail "ctl clear 0"
	fi
	[ "$(tail -1 <<<"$out")" = "$want" ] || fail "the key does not answer after fault '$*'"
	[ "$(get_info 0)" = "$want" ] || fail "the key does not answer in a new connection after '$*'"
	[ "$(cli events 0)" = "$ev" ] || fail "fault '$*' removed the key"
	pcscd_alive || fail "pcscd died under fault '$*'"
	echo "  survived: $*"
}

inside_pcsc() {
	local info0 info1 ms ev i
	[ "$(cli readers)" = 2 ] || fail "want 2 readers (slots=2), got $(cli readers)"
	for i in 0 1; do
		[ "$(cli atr $i)" = "$ATR" ] || fail "reader $i: ATR '$(cli atr $i)', want $ATR"
	done
	info0=$(get_info 0) || fail "APDUs on reader 0"
	info1=$(get_info 1) || fail "APDUs on reader 1"
	[ "$info0" != "$info1" ] || fail "the two keys answer the same GET DATA (same serial?)"
	# an answer longer than dwMaxCCIDMessageLength - 10 came through CCID chaining
	[ $(( ${#info0} / 2 )) -gt $(( MAXLEN - 10 )) ] ||
		fail "GET DATA answer (${#info0} hex) too short to need chaining"
	echo "  two keys, ATR $ATR, $(( ${#info0} / 2 ))-byte answers over a $MAXLEN-byte CCID message"

	# unplug: the slot empties at once (event-driven, not polled); plug in: back and working
	ctl remove 0 >/dev/null || fail "ctl remove 0"
	ms=$(cli wait-absent 0 1000) || fail "reader 0 still shows the key 1 s after the unplug"
	cli atr 1 >/dev/null || fail "unplugging key 0 disturbed key 1"
	ctl insert 0 >/dev/null || fail "ctl insert 0"
	"$UKEY_PCSC_WAIT" --cards 2 --timeout 10 --quiet || fail "the key did not come back"
	[ "$(get_info 0)" = "$info0" ] || fail "the key does not work after plugging it in again"
	echo "  unplug seen in ${ms} ms; plugged in again and working"

	survive_fault 1 "$info0" timeext 3
	survive_fault 1 "$info0" split 16
	survive_fault 0 "$info0" stall
	survive_fault 0 "$info0" badseq

	# a stall on IccPowerOn: pcscd powers an idle card down about 0.5 s after its last
	# disconnect, so the next connection's power-up meets the stall (uki_usb.c retries it)
	sleep 2
	ctl ccid 0 stall >/dev/null || fail "ctl ccid 0 stall"
	[ "$(get_info 0)" = "$info0" ] || fail "a stall on IccPowerOn left the key unusable"
	ctl clear 0 >/dev/null || fail "ctl clear 0"
	[ "$(get_info 0)" = "$info0" ] || fail "the key does not answer after a stalled power-on"
	echo "  stall on IccPowerOn: survived"

	# drop: the device leaves mid-command; the driver removes the key, pcscd lives on
	ev=$(cli events 0)
	ctl ccid 0 drop >/dev/null || fail "ctl ccid 0 drop"
	cli apdu 0 "$SELECT" >/dev/null 2>&1 && echo "  (the APDU answered before the drop)"
	for i in $(seq 50); do
		[ "$(cli events 0)" != "$ev" ] && break
		sleep 0.1
	done
	[ "$(cli events 0)" != "$ev" ] || fail "the dropped key was not removed"
	pcscd_alive || fail "pcscd died when the device dropped"
	ctl insert 0 >/dev/null 2>&1 || true   # --retry may have plugged it in already
	"$UKEY_PCSC_WAIT" --cards 2 --timeout 10 --quiet || fail "the key did not come back after the drop"
	[ "$(get_info 0)" = "$info0" ] || fail "the key does not work after the drop"
	[ "$(get_info 1)" = "$info1" ] || fail "key 1 does not work after key 0's drop"
	echo "  drop: key removed, pcscd alive, key back and working"
}

inside_pkcs11() {
	local work=$UKEY_SANDBOX_DIR/p11 label=usbkey hex
	mkdir -p "$work"
	pkcs11-tool --module "$UKEY_MODULE" -L >"$work/list" 2>&1 || { cat "$work/list"; fail "pkcs11-tool -L"; }
	grep -q "token label *: *ukey" "$work/list" || { cat "$work/list"; fail "no ukey token listed"; }
	"$UKEY_TOOL" keygen --label "$label" >/dev/null || fail "ukey-tool keygen"
	"$UKEY_TOOL" pubkey --label "$label" --out "$work/pub.pem" || fail "ukey-tool pubkey"
	printf 'signed on a USB key\n' >"$work/msg"
	# CKM_UKEY_SM2_SM3 (0xD54B0202): SM3 with Z for ID 1234567812345678, r||s out
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" --sign \
		-m 0xD54B0202 --label "$label" -i "$work/msg" -o "$work/sig.raw" \
		>"$work/sign.log" 2>&1 || { cat "$work/sign.log"; fail "pkcs11-tool --sign"; }
	[ "$(stat -c %s "$work/sig.raw")" = 64 ] || fail "signature is not 64 bytes (r||s)"
	hex=$(od -An -tx1 -v "$work/sig.raw" | tr -d ' \n')
	printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' \
		"${hex:0:64}" "${hex:64:64}" >"$work/sig.cnf"
	openssl asn1parse -genconf "$work/sig.cnf" -out "$work/sig.der" -noout ||
		fail "cannot DER-encode the signature"
	openssl pkeyutl -verify -pubin -inkey "$work/pub.pem" -rawin -digest sm3 \
		-pkeyopt distid:1234567812345678 -in "$work/msg" -sigfile "$work/sig.der" ||
		fail "openssl does not verify the key's signature"
	printf 'changed\n' >>"$work/msg"
	openssl pkeyutl -verify -pubin -inkey "$work/pub.pem" -rawin -digest sm3 \
		-pkeyopt distid:1234567812345678 -in "$work/msg" -sigfile "$work/sig.der" \
		>/dev/null 2>&1 && fail "a changed message verified"
	echo "  pkcs11-tool lists the key and signs; openssl verifies (and rejects a change)"
}

# ---- outside: start the sandbox --------------------------------------------------------

require_sandbox() {
	local rc
	"$UKS" --usb --check
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || fail "ukey-sandbox --usb --check: parts of ukey are missing"
}

case ${1:?usage: ifd-usb-e2e.sh pcsc|pkcs11} in
inside-pcsc) inside_pcsc; exit ;;
inside-pkcs11) inside_pkcs11; exit ;;
pcsc)
	require_sandbox
	"$UKS" --usb --tokens 2 --emu-arg --ccid-maxlen --emu-arg "$MAXLEN" -- \
		bash "$0" inside-pcsc || fail "USB keys through pcscd"
	pass "two USB keys through pcscd: ATR, chained answers, unplug/plug, CCID faults, drop"
	;;
pkcs11)
	require_sandbox
	"$UKS" --usb -- bash "$0" inside-pkcs11 || fail "PKCS#11 over a USB key"
	pass "pkcs11-tool over a USB key: listed, SM2 signature verified by openssl"
	;;
*) fail "unknown case $1" ;;
esac
