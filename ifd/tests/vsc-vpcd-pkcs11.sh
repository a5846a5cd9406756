#!/bin/bash
# vsc_vpcd_pkcs11: an emulated ukey behind Debian's vsmartcard vpcd driver (not ours).
#
#   vsc-vpcd-pkcs11.sh UKEY_SANDBOX
#
# `ukey-sandbox --vpcd`: the private pcscd loads libifdvpcd.so (vpcd listens on a free TCP
# port) and ukey-emu connects to it with --link tcp:127.0.0.1:PORT. Through that foreign
# reader: pkcs11-tool -L lists the key; login, an SM2 key pair generated on the key, an
# SM2/SM3 signature verified by the openssl command (user ID 1234567812345678, GM/T 0009)
# and refused for a changed message; and pcscd's APDU log (-a) shows APDUs but no PIN.
# Exit 77 only when this machine cannot host a sandbox.
set -uo pipefail
uks=${1:?usage: vsc-vpcd-pkcs11.sh UKEY_SANDBOX}

fail() { echo "FAIL: $*" >&2; exit 1; }

"$uks" --check
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "ukey-sandbox --check: parts of ukey are missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ukey-vsc-vpcd.XXXXXX") || exit 1
trap 'rm -rf -- "$tmp"' EXIT
log=$tmp/apdu.log

# shellcheck disable=SC2016  # expanded by the inner bash, inside the sandbox
"$uks" --vpcd --apdu-log "$log" -- bash -c '
	set -euo pipefail
	w=$1
	echo "link: $UKEY_LINK"
	pkcs11-tool --module "$UKEY_MODULE" -L | tee "$w/list"
	"$UKEY_TOOL" keygen --label vsc
	printf "signed through vsmartcard vpcd\n" >"$w/msg"
	"$UKEY_TOOL" sign --label vsc --in "$w/msg" --out "$w/sig"
	"$UKEY_TOOL" pubkey --label vsc --out "$w/pub.pem"' sh "$tmp" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out" >&2; tail -n 40 "$log" >&2; fail "the stack through vpcd failed"; }
cat "$tmp/out"

grep -q "^link: tcp:127.0.0.1:" "$tmp/out" || fail "ukey-emu did not use a TCP link"
grep -Eq "^Slot [0-9]+ .*: ukey [0-9]{20} \(Virtual PCD 00 00\)" "$tmp/list" ||
	fail "pkcs11-tool does not list the key in vpcd's reader"
grep -q "token label *: ukey" "$tmp/list" || fail "no ukey token listed"
grep -q "Virtual PCD" "$log" || fail "pcscd's log does not show vpcd's reader"

openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -rawin -digest sm3 \
	-pkeyopt distid:1234567812345678 -in "$tmp/msg" -sigfile "$tmp/sig" ||
	fail "openssl does not verify the signature made through vpcd"
printf 'changed\n' >"$tmp/msg2"
openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -rawin -digest sm3 \
	-pkeyopt distid:1234567812345678 -in "$tmp/msg2" -sigfile "$tmp/sig" >/dev/null 2>&1 &&
	fail "a changed message verified"

n=$(grep -c "APDU: " "$log")
[ "$n" -gt 0 ] || fail "no APDU in pcscd's log: the PIN check would prove nothing"
pin_hex=$(printf '%s' user1234 | od -An -tx1 | tr -d ' \n')
if grep -qiE "user1234|$pin_hex|$(echo "$pin_hex" | sed 's/../& /g; s/ $//')" "$log"; then
	fail "the user PIN appears in pcscd's APDU log"
fi
echo "PASS: key listed in vpcd's reader, SM2 signature verified by openssl, no PIN among $n APDUs"
