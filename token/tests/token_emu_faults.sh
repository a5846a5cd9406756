#!/bin/bash
# token_emu_faults: ukey-emu's control interface and fault injection through the real stack
# (ukey-sandbox: private pcscd + the ukey driver + ukey-emu), docs/ukey-emu.md.
#   bash token_emu_faults.sh SANDBOX CLIENT        (CTest; 77 = no sandbox possible here)
# remove/insert, latency (fixed and the s0 profile), refuse (the driver's timeout removes
# the key), power loss before and after the state write, runtime create, the button.
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
	export EMU_TEST_CLIENT=$CLIENT
	# a short APDU timeout so `refuse` is seen quickly; still well above the waits below
	UKEY_SANDBOX_APDU_TIMEOUT_MS=3000 exec "$UKS" --tokens 2 -- bash "$0" --inside
fi

# ---- inside the sandbox ----
: "${UKEY_EMU:?}" "${UKEY_EMU_CONTROL:?}" "${UKEY_PCSC_WAIT:?}" "${EMU_TEST_CLIENT:?}"
C=$EMU_TEST_CLIENT
trap 'echo "--- ukey-emu log:"; tail -n 30 "$UKEY_SANDBOX_DIR/emu.log"' EXIT

ctl() {
	local out
	out=$("$UKEY_EMU" ctl "$@") || fail "ukey-emu ctl $*: $out"
	printf '%s\n' "$out"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# field N (1-based, comma-separated) of key INDEX's record in `list`
key_field() {
	ctl list | tr ' ' '\n' | awk -F, -v i="$1" -v f="$2" '$1 == i { print $f }'
}
cards() { "$UKEY_PCSC_WAIT" --cards "$1" --timeout 10 --quiet || fail "pcscd does not show $1 card(s)"; }
client_rc() { "$C" "$@" >/dev/null 2>&1; echo $?; }
# a number from the client's output, e.g. value gen_ms "setup c 0"
value() {
	local key=$1 out
	shift
	out=$("$C" "$@") || fail "client $*: $out"
	printf '%s\n' "$out" | tr ' ' '\n' | sed -n "s/^$key=//p" | cut -d. -f1
}

serial0=$(key_field 0 2)
[ ${#serial0} = 20 ] || fail "list gives no serial for key 0: $(ctl list)"
export UKEY_CARD_SERIAL=$serial0
ctl list | grep -q "^ok 2 0,$serial0,ukey,green,inserted,- 1," || fail "list: $(ctl list)"
[ "$(stat -c %a "$UKEY_EMU_CONTROL")" = 600 ] || fail "control socket is not mode 0600"

# remove -> pcscd shows no card for key 0; insert -> back and usable
ctl remove 0 >/dev/null
"$UKEY_PCSC_WAIT" --cards 1 --absent --timeout 10 --quiet || fail "key 0 still present"
[ "$(client_rc has x)" = 3 ] || fail "key 0 answers while removed"
[ "$(key_field 0 5)" = removed ] || fail "list does not show key 0 removed"
ctl insert 0 | grep -q "ok inserted" || fail "insert"
cards 2
"$C" setup c0 0 >/dev/null || fail "key 0 not usable after insert"
pass "remove takes the key out of pcscd, insert brings it back usable"

# latency: a generous lower bound only
base=$(value rtt_ms rtt 5)
ctl latency 0 150 >/dev/null
slow=$(value rtt_ms rtt 5)
[ "$slow" -ge 150 ] || fail "latency 150 ms: round trip $slow ms"
ctl clear 0 >/dev/null
pass "latency: round trip $base ms, $slow ms with 150 ms added"

# the s0 profile: GENERATE >= 90 ms, PSO >= 1/79.49 s
ctl latency 0 s0 >/dev/null
gen=$(value gen_ms setup c0 0)
sig=$(value sign_ms sign 0)
[ "$gen" -ge 90 ] || fail "s0: key generation took $gen ms"
[ "$sig" -ge 12 ] || fail "s0: signature took $sig ms"
ctl clear 0 >/dev/null
pass "s0 profile: generation $gen ms, signature $sig ms"

# refuse: the APDU fails, the driver's timeout (3 s here) removes the key
ctl refuse 0 on >/dev/null
t0=$(now_ms)
[ "$(client_rc rtt 1)" = 3 ] || fail "refuse: the APDU did not fail"
"$UKEY_PCSC_WAIT" --cards 1 --absent --timeout 15 --quiet || fail "refuse: key not removed"
took=$(($(now_ms) - t0))
[ "$took" -ge 2500 ] || fail "refuse: removed after $took ms, before the driver's timeout"
[ "$(key_field 0 5)" = removed ] || fail "refuse: list does not show key 0 removed"
ctl clear 0 >/dev/null
ctl insert 0 >/dev/null
cards 2
"$C" has c0 || fail "refuse: key 0 lost its container"
pass "refuse: the APDU failed and the driver removed the key after $took ms"

# power loss before the write: no answer, link dropped, old state loads
export EMU_ARM="\"\$UKEY_EMU\" ctl powerloss 0 >/dev/null"
[ "$(client_rc create p1)" = 3 ] || fail "powerloss: the command was answered"
"$UKEY_PCSC_WAIT" --cards 1 --absent --timeout 10 --quiet || fail "powerloss: key still there"
ctl insert 0 >/dev/null
cards 2
[ "$(client_rc has p1)" = 1 ] || fail "powerloss before: p1 is there (or the key does not answer)"
"$C" has c0 || fail "powerloss before: the old state lost c0"
# power loss after the write: no answer either, the new state loads
EMU_ARM="\"\$UKEY_EMU\" ctl powerloss 0 after >/dev/null"
[ "$(client_rc create p2)" = 3 ] || fail "powerloss after: the command was answered"
"$UKEY_PCSC_WAIT" --cards 1 --absent --timeout 10 --quiet || fail "powerloss after: key still there"
ctl insert 0 >/dev/null
cards 2
"$C" has p2 || fail "powerloss after: p2 missing"
unset EMU_ARM
pass "power loss: unanswered, key dropped, old (before) / new (after) state loads"

# runtime create with a button: the signature waits for confirm
ctl remove 1 >/dev/null
"$UKEY_PCSC_WAIT" --cards 1 --absent --timeout 10 --quiet || fail "key 1 still present"
out=$(UKEY_EMU_USER_PIN=btn12345 ctl create --button --label "button key")
echo "$out" | grep -Eq '^ok 2 [0-9]{20} inserted$' || fail "create: $out"
export UKEY_CARD_SERIAL=${out:5:20} UKEY_USER_PIN=btn12345
cards 2
[ "$(key_field 2 3)" = "button%20key" ] || fail "list: label of the new key"
"$C" setup b 0 >/dev/null || fail "button key: setup"
"$C" sign 0 >"$UKEY_SANDBOX_DIR/sign.out" 2>&1 &
signer=$!
sleep 1
kill -0 $signer 2>/dev/null || fail "the signature did not wait for the button"
for ((i = 0; i < 100; i++)); do
	"$UKEY_EMU" ctl confirm 2 >/dev/null && break
	sleep 0.1
done
[ $i -lt 100 ] || fail "confirm never found a waiting signature"
wait $signer || fail "signature after confirm: $(cat "$UKEY_SANDBOX_DIR/sign.out")"
"$UKEY_EMU" ctl confirm 2 >/dev/null && fail "confirm with nothing waiting said ok"
pass "button: the signature waited for confirm, then succeeded"

# unconfirmed: 6985 after the key's bounded wait, and the key stays
ctl remove 2 >/dev/null
out=$(UKEY_EMU_USER_PIN=btn12345 ctl create --button --confirm-timeout 800)
export UKEY_CARD_SERIAL=${out:5:20}
cards 2
"$C" setup b 0 >/dev/null || fail "button key 3: setup"
out=$("$C" sign 0)
[ $? = 1 ] && echo "$out" | grep -q "sw=6985" || fail "unconfirmed signature: $out"
"$C" has b || fail "key 3 gone after an unconfirmed signature"
pass "button: unconfirmed signature answers 6985 and the key stays"
trap - EXIT
