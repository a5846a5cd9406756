#!/bin/bash
# token_pinpad_e2e: the pinpad of second-generation keys through the real stack (ukey-sandbox:
# private pcscd, the ukey driver, ukey-emu), docs/apdu.md "VERIFY with the pinpad" and
# docs/ukey-emu.md.
#   bash token_pinpad_e2e.sh SANDBOX CLIENT        (CTest; 77 = no sandbox possible here)
# The sandbox runs with --pinpad --auto-pinpad --button --auto-confirm: a PC/SC client logs in
# with the empty secured pinpad VERIFY and signs; pcscd's APDU log never shows the PIN. Then a
# key created at run time with `create --pinpad` gets its PIN from `ukey-emu ctl pinpad N`:
# typed ahead of the request, typed while it waits (a wrong one: 63C9), and cancelled (6985).
set -uo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# ---- outside: start the sandbox ----
if [ "${1:-}" != --inside ]; then
	UKS=${1:?sandbox}
	CLIENT=${2:?client}
	"$UKS" --check
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || fail "ukey-sandbox --check"
	tmp=$(mktemp -d) || fail "mktemp"
	trap 'rm -rf "$tmp"' EXIT
	export PAD_TEST_CLIENT=$CLIENT PAD_APDU_LOG=$tmp/apdu.log
	"$UKS" --tokens 2 --pinpad --auto-pinpad --button --auto-confirm --apdu-log "$tmp/apdu.log" \
		-- bash "$0" --inside
	exit $?
fi

# ---- inside the sandbox ----
: "${UKEY_EMU:?}" "${UKEY_EMU_CONTROL:?}" "${UKEY_PCSC_WAIT:?}" "${PAD_TEST_CLIENT:?}"
: "${UKEY_USER_PIN:?}" "${PAD_APDU_LOG:?}"
C=$PAD_TEST_CLIENT
trap 'echo "--- ukey-emu log:"; tail -n 30 "$UKEY_SANDBOX_DIR/emu.log"' EXIT

ctl() {
	local out
	out=$("$UKEY_EMU" ctl "$@") || fail "ukey-emu ctl $*: $out"
	printf '%s\n' "$out"
}
key_field() {
	ctl list | tr ' ' '\n' | awk -F, -v i="$1" -v f="$2" '$1 == i { print $f }'
}
cards() { "$UKEY_PCSC_WAIT" --cards "$1" --timeout 10 --quiet || fail "pcscd does not show $1 card(s)"; }
# wait (bounded) until key N's flags in `list` show FLAG
wait_flag() {
	local i
	for ((i = 0; i < 100; i++)); do
		key_field "$1" 6 | tr '+' '\n' | grep -qx "$2" && return 0
		sleep 0.1
	done
	fail "key $1 never showed $2: $(ctl list)"
}

# the sandbox's keys: button and pinpad, both answered at once
export UKEY_CARD_SERIAL=$(key_field 0 2)
[ "$(key_field 0 6)" = button+pinpad ] || fail "list: $(ctl list)"
[ "$(stat -c %a "$UKEY_SANDBOX_DIR/pinpad.pin")" = 600 ] || fail "the pinpad PIN file is not 0600"
out=$("$C" features) && [ "$out" = features=03 ] || fail "GET DATA 00 tag 89: $out"
out=$("$C" pinpad-sign p 0) && [ "$out" = "verify_sw=9000 sw=9000" ] || fail "pinpad-sign: $out"
pass "--pinpad --auto-pinpad: the empty secured VERIFY logged in, the PSO signed"

# the APDU log has the pinpad VERIFY, and no PIN in any form the log could show
pin_hex=$(printf '%s' "$UKEY_USER_PIN" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
grep -q "APDU: 84 20 00 81 15 " "$PAD_APDU_LOG" || fail "no pinpad VERIFY in pcscd's APDU log"
tr -d ' \n' <"$PAD_APDU_LOG" | tr a-f A-F | grep -q "$pin_hex" && fail "the PIN is in pcscd's log"
grep -q "$UKEY_USER_PIN" "$PAD_APDU_LOG" && fail "the PIN (text) is in pcscd's log"
"$UKEY_EMU" ctl pinpad 0 cancel >/dev/null && fail "pinpad on an auto-pinpad key said ok"
pass "pcscd's APDU log shows 84 20 00 81 and no PIN"

# a key created at run time with a pinpad and no auto answer
ctl remove 1 >/dev/null
"$UKEY_PCSC_WAIT" --cards 1 --absent --timeout 10 --quiet || fail "key 1 still present"
out=$(ctl create --pinpad)
echo "$out" | grep -Eq '^ok 2 [0-9]{20} inserted$' || fail "create --pinpad: $out"
export UKEY_CARD_SERIAL=${out:5:20}
cards 2
[ "$(key_field 2 6)" = pinpad ] || fail "list: $(ctl list)"
out=$("$C" features) && [ "$out" = features=02 ] || fail "GET DATA 00 tag 89 of key 2: $out"
# typed ahead of the request
UKEY_EMU_PINPAD_PIN=$UKEY_USER_PIN ctl pinpad 2 >/dev/null
out=$("$C" pinpad-sign q 0) && [ "$out" = "verify_sw=9000 sw=9000" ] || fail "queued PIN: $out"
pass "ctl pinpad N (typed before the request): logged in, signed"

# typed while the VERIFY waits: a wrong PIN uses a try
(umask 077 && printf 'wrong1234\n' >"$UKEY_SANDBOX_DIR/wrong.pin")
"$C" pinpad >"$UKEY_SANDBOX_DIR/pad.out" 2>&1 &
pad_pid=$!
wait_flag 2 pin-waiting
ctl pinpad 2 --pin-file "$UKEY_SANDBOX_DIR/wrong.pin" >/dev/null
wait $pad_pid
[ "$(cat "$UKEY_SANDBOX_DIR/pad.out")" = sw=63C9 ] || fail "wrong PIN: $(cat "$UKEY_SANDBOX_DIR/pad.out")"
pass "ctl pinpad N (typed while waiting), wrong PIN: 63C9"

# cancelled at the pinpad: 6985; the right PIN then resets the counter
"$C" pinpad >"$UKEY_SANDBOX_DIR/pad.out" 2>&1 &
pad_pid=$!
wait_flag 2 pin-waiting
ctl pinpad 2 cancel >/dev/null
wait $pad_pid
[ "$(cat "$UKEY_SANDBOX_DIR/pad.out")" = sw=6985 ] || fail "cancel: $(cat "$UKEY_SANDBOX_DIR/pad.out")"
UKEY_EMU_PINPAD_PIN=$UKEY_USER_PIN ctl pinpad 2 >/dev/null
out=$("$C" pinpad) && [ "$out" = sw=9000 ] || fail "right PIN after cancel: $out"
grep -q "$UKEY_USER_PIN\|wrong1234" "$UKEY_SANDBOX_DIR/emu.log" && fail "a PIN is in ukey-emu's log"
pass "ctl pinpad N cancel: 6985; no PIN in ukey-emu's log"
trap - EXIT
