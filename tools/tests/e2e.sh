#!/bin/bash
# End-to-end tests through the whole stack under ukey-sandbox. One case per CTest test:
#   bash e2e.sh CASE   with UKS (the build-tree ukey-sandbox), UKS_CLIENT (sandbox_p11_client),
#                      UKS_SRC (source tree) and UKS_BUILD (build tree) in the environment.
# Exit 0 pass, 1 fail, 77 skip (pcscd or mount namespaces unavailable here).
set -uo pipefail

: "${UKS:?}" "${UKS_CLIENT:?}" "${UKS_SRC:?}" "${UKS_BUILD:?}"
# shellcheck source=../../scripts/lib/ukey-card.sh
. "$UKS_SRC/scripts/lib/ukey-card.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ukey-e2e.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# Skip when this machine cannot host a sandbox; a missing part of ukey is a failure.
require_sandbox() {
	local rc
	"$UKS" --check
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || fail "ukey-sandbox --check: parts of ukey are missing"
}

# pids still alive among the arguments
alive() {
	local p out=
	for p in "$@"; do
		[ -n "$p" ] && kill -0 "$p" 2>/dev/null && out+=" $p"
	done
	printf '%s' "$out"
}

case_sandbox_exit_status() {
	local rc pids dir
	"$UKS" --keep -- sh -c 'echo "$UKEY_SANDBOX_DIR $UKEY_EMU_PID $(cat "$UKEY_SANDBOX_DIR/pcscd.pid")" >"$1"; exit 42' \
		sh "$tmp/info" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 42 ] || { cat "$tmp/err" >&2; fail "status $rc, want 42"; }
	read -r dir pids <"$tmp/info"
	[ -n "$(alive $pids)" ] && fail "processes left running:$(alive $pids)"
	pgrep -f "$dir" >/dev/null && fail "a process still names $dir"
	[ -S "$dir/run/pcscd.comm" ] && fail "pcscd left its socket behind"
	rm -rf -- "$dir"
	"$UKS" -- true || fail "'true' gave a non-zero status"
	"$UKS" -- false && fail "'false' gave status zero"
	pass "the sandbox returns the command's status (42, 0, 1) and leaves pids $pids stopped"
}

case_sandbox_setup_failure() {
	local rc dir pid
	UKEY_SANDBOX_MODULE=/nonexistent/libukey-pkcs11.so "$UKS" -- true 2>"$tmp/err"
	rc=$?
	[ $rc -eq 125 ] || fail "missing module: status $rc, want 125"
	grep -q "PKCS#11 module not found" "$tmp/err" || fail "no clear message: $(cat "$tmp/err")"
	UKEY_SANDBOX_EMU=/bin/false "$UKS" --keep -- true 2>"$tmp/err"
	rc=$?
	[ $rc -eq 125 ] || fail "emulator that exits: status $rc, want 125"
	grep -q "ukey-emu exited early" "$tmp/err" || fail "no clear message: $(cat "$tmp/err")"
	dir=$(sed -n 's/.*sandbox kept in //p' "$tmp/err")
	[ -d "$dir" ] || fail "no sandbox directory reported"
	pid=$(cat "$dir/pcscd.pid")
	rm -rf -- "$dir"
	[ -z "$(alive "$pid")" ] || fail "pcscd $pid still runs after a setup failure"
	pass "setup failures exit 125 with a message and stop their pcscd"
}

case_sandbox_unprivileged() {
	local user=nobody
	[ "$(id -u)" = 0 ] || { echo "not root: cannot switch to an unprivileged user"; exit 77; }
	command -v setpriv >/dev/null || exit 77
	setpriv --reuid="$user" --regid=nogroup --clear-groups unshare -r -m true 2>/dev/null ||
		{ echo "unprivileged user namespaces unavailable"; exit 77; }
	chmod 1777 "$tmp"
	setpriv --reuid="$user" --regid=nogroup --clear-groups env HOME="$tmp" TMPDIR="$tmp" \
		"$UKS" -- sh -c 'id -u; pkcs11-tool --module "$UKEY_MODULE" -L' >"$tmp/out" 2>&1 ||
		{ cat "$tmp/out" >&2; fail "the sandbox failed as $user"; }
	cat "$tmp/out"
	[ "$(head -1 "$tmp/out")" != 0 ] || fail "the command ran as root"
	grep -q "token label" "$tmp/out" || fail "no token listed as $user"
	pass "the sandbox runs unprivileged (unshare -r -m) and shows the key"
}

case_sandbox_installed() {
	local dest=$tmp/dest sb
	DESTDIR=$dest cmake --install "$UKS_BUILD" >"$tmp/install.log" 2>&1 ||
		{ cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
	sb=$(find "$dest" -path '*/bin/ukey-sandbox' | head -1)
	[ -x "$sb" ] || fail "no installed ukey-sandbox under $dest"
	"$sb" --check || exit $?
	"$sb" -- sh -c 'case $UKEY_MODULE in "$1"/*) ;; *) echo "module $UKEY_MODULE"; exit 3;; esac
		pkcs11-tool --module "$UKEY_MODULE" -L' sh "$dest" >"$tmp/out" 2>&1 ||
		{ cat "$tmp/out" >&2; fail "the installed sandbox failed"; }
	grep -q "token label" "$tmp/out" || { cat "$tmp/out" >&2; fail "no token listed"; }
	pass "the installed copy ($sb) uses the installed parts and shows the key"
}

case_e2e_pkcs11_tool_list() {
	"$UKS" --tokens 2 -- bash -c '
		set -e
		. "$1/scripts/lib/ukey-card.sh"
		pkcs11-tool --module "$UKEY_MODULE" -L
		for r in $(seq 0 1); do
			reader=$(pkcs11-tool --module "$UKEY_MODULE" -L | sed -n "s/^Slot $r (0x[0-9a-f]*): //p")
			echo "reader: $reader"
		done
		info=$(ukey_card_get_data 00)
		ukey_hex_to_text "$(ukey_tlv_value "$info" 80)"' sh "$UKS_SRC" >"$tmp/out" 2>&1 ||
		{ cat "$tmp/out" >&2; fail "pkcs11-tool -L or GET DATA failed"; }
	cat "$tmp/out"
	local serial16 serial20 n
	serial20=$(tail -1 "$tmp/out")
	[[ $serial20 =~ ^[0-9]{20}$ ]] || fail "GET DATA serial '$serial20' is not 20 digits"
	n=$(grep -c "token label" "$tmp/out")
	[ "$n" -ge 2 ] || fail "$n tokens listed, want 2"
	serial16=$(sed -n 's/^ *serial num *: *//p' "$tmp/out" | head -1)
	[[ $serial16 =~ ^[0-9]{16}$ ]] || fail "token serial '$serial16' is not 16 digits"
	[[ $serial20 == *"$serial16"* ]] || fail "token serial $serial16 is not part of $serial20"
	[ "$(sed -n 's/^ *serial num *: *//p' "$tmp/out" | sort -u | wc -l)" -ge 2 ] ||
		fail "two keys share one serial number"
	pass "pkcs11-tool lists 2 keys; serial $serial16 is part of the key's $serial20"
}

case_e2e_demo() {
	"$UKS" -- "$UKS_SRC/scripts/demo.sh" >"$tmp/out" 2>&1
	local rc=$?
	cat "$tmp/out"
	[ $rc -eq 0 ] || fail "demo.sh exited $rc"
	grep -q "Signature Verified Successfully" "$tmp/out" || fail "openssl did not verify"
	grep -q "user PIN: 9 of 10 tries left" "$tmp/out" || fail "wrong PIN not counted"
	pass "the demo runs end to end"
}

case_e2e_pin_lock() {
	local state=$tmp/state
	"$UKS" --state "$state" -- "$UKS_CLIENT" lock-out || fail "ten wrong PINs did not lock"
	"$UKS" --state "$state" -- "$UKS_CLIENT" login-expect CKR_PIN_LOCKED ||
		fail "the lock did not survive restarting ukey-emu"
	# Within one sandbox too: stop the emulator, start it again on the same state.
	"$UKS" -- bash -c '
		set -e
		"$1" lock-out >/dev/null
		kill "$UKEY_EMU_PID"
		"$UKEY_PCSC_WAIT" --absent --cards 0 --timeout 10
		"$UKEY_EMU" --link "$UKEY_LINK" --state "$UKEY_STATE" --keys 1 >/dev/null 2>&1 &
		echo $! >"$UKEY_SANDBOX_DIR/emu.pid"
		"$UKEY_PCSC_WAIT" --cards 1 --timeout 10
		"$1" login-expect CKR_PIN_LOCKED' sh "$UKS_CLIENT" ||
		fail "the lock did not survive an emulator restart inside one sandbox"
	pass "ten wrong PINs lock the key, and the lock survives restarting ukey-emu"
}

case_e2e_sign_one_apdu() {
	local log=$tmp/apdu.log pin_hex
	"$UKS" --apdu-log "$log" -- "$UKS_CLIENT" sign-apdus 5 "$log" ||
		fail "C_Sign did not take exactly one APDU each"
	grep -q "APDU: " "$log" || fail "no APDU in the pcscd log: the count proved nothing"
	pin_hex=$(printf '%s' user1234 | od -An -tx1 | tr -d ' \n')
	if grep -qiE "user1234|$pin_hex|$(echo "$pin_hex" | sed 's/../& /g; s/ $//')" "$log"; then
		fail "the user PIN appears in pcscd's APDU log"
	fi
	pass "one APDU per C_Sign, and no PIN in the pcscd -a log ($(grep -c 'APDU: ' "$log") APDUs)"
}

case=${1:?usage: e2e.sh CASE}
declare -F "case_$case" >/dev/null || fail "unknown case $case"
require_sandbox
"case_$case"
