#!/bin/bash
# ukey-tool's tests against its contract, docs/ukey-tool.md: one CTest test per group,
#   bash ukey-tool.sh GROUP        (GROUP: list_info pin keys enveloped data emu errors json
#                                   man readme)
# with UKS (the build-tree ukey-sandbox), UKS_SRC, UKS_BUILD and UKT_ENVELOPE (the
# ukey_tool_envelope helper) in the environment. Each group starts its own sandbox and runs
# `bash ukey-tool.sh inner GROUP` inside it. Messages and exit codes are those of the docs'
# "Messages a user can act on" table; a message may carry the "ukey-tool: " prefix.
# Every signature, request, certificate and ciphertext is checked with openssl (or PyKCS11
# for the token's decryption), never with ukey's own code.
# Exit 0 pass, 1 fail, 77 skip (no sandbox can run here).
set -uo pipefail

: "${UKS:?}" "${UKS_SRC:?}" "${UKS_BUILD:?}"
PY=/usr/bin/python3
ID=distid:1234567812345678
# shellcheck disable=SC2016 # the message names the variable, not its value
NO_PIN_MSG='no user PIN: use --pin-file, $UKEY_USER_PIN or run on a terminal'
POLICY_MSG='the new PIN must be 8-12 letters and digits, with at least one of each'
LOCKED_MSG='PIN locked — unlock with the SO PIN: ukey-tool unlock'
NOT_SET_MSG='no user PIN set — set one with the SO PIN: ukey-tool unlock'
NOTE_MSG='note: the PIN must be changed: ukey-tool change-pin'

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# ---- helpers used inside the sandbox -------------------------------------------------------

show() {
	{ echo "--- stdout:"; cat "$tmp/out"; echo "--- stderr:"; cat "$tmp/err"; } >&2
}

# run WANT ARGS...: ukey-tool ARGS, without a controlling terminal (setsid) so no prompt can
# block; stdout in $tmp/out, stderr in $tmp/err; its exit status must be WANT.
run() {
	local want=$1 rc
	shift
	setsid -w "$UKEY_TOOL" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	[ "$rc" = "$want" ] || { show; fail "ukey-tool $*: exit $rc, want $want"; }
}

# run_any "W1 W2" ARGS...: as run, for cases the docs' table leaves open between W1 and W2.
run_any() {
	local want=$1 rc
	shift
	setsid -w "$UKEY_TOOL" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	[[ " $want " == *" $rc "* ]] || { show; fail "ukey-tool $*: exit $rc, want one of $want"; }
}

# msg TEXT: stderr has the line TEXT (the docs' message), with or without "ukey-tool: ".
msg() {
	grep -qxF -e "$1" -e "ukey-tool: $1" "$tmp/err" || { show; fail "no message '$1'"; }
}
# said TEXT: stdout or stderr has the line TEXT (with or without "ukey-tool: ").
said() {
	# grep reads both files itself: `cat | grep -q` fails under pipefail when grep stops
	# early and cat gets SIGPIPE
	grep -qxF -e "$1" -e "ukey-tool: $1" "$tmp/out" "$tmp/err" ||
		{ show; fail "no line '$1'"; }
}
not_said() {
	grep -qF -- "$1" "$tmp/out" "$tmp/err" && { show; fail "'$1' was printed"; }
	return 0
}
out_has() { grep -qF -- "$1" "$tmp/out" || { show; fail "stdout lacks '$1'"; }; }
out_lacks() { grep -qF -- "$1" "$tmp/out" && { show; fail "stdout has '$1'"; }; return 0; }

# json EXPR: stdout is exactly one JSON object j (json.loads refuses trailing garbage) and
# the Python expression EXPR on it is true.
json() {
	"$PY" - "$1" "$tmp/out" <<'EOF' || { show; fail "JSON: $1"; }
import json, sys
expr, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    j = json.loads(f.read())
def has(d, want):   # d has every key of want with its value (more keys are allowed)
    return isinstance(d, dict) and all(k in d and d[k] == v for k, v in want.items())
if not isinstance(j, dict) or not eval(expr, {"j": j, "has": has}):
    print("JSON was:", json.dumps(j)[:3000], file=sys.stderr)
    sys.exit(1)
EOF
}

# json_error EXIT CODE: the --json failure object of the docs.
json_error() {
	json "set(j) == {'error'} and j['error']['exit'] == $1 and j['error']['code'] == '$2' and isinstance(j['error']['message'], str) and j['error']['message'] != ''"
}

pinfile() { printf '%s\n' "$2" >"$tmp/$1"; chmod 600 "$tmp/$1"; }

# emu_field N FIELD: a field (2 serial, 3 label, 5 state) of key N in `ukey-emu ctl list`
# ("ok COUNT" then one space-separated word index,serial,label,zone,state,flags per key).
emu_field() {
	"$UKEY_EMU" ctl list | tr ' ' '\n' | awk -F, -v n="$1" -v f="$2" 'NF >= 5 && $1 == n { print $f }'
}

# ptyrun ANSWERS -- CMD...: CMD on a new pseudo-terminal (its controlling terminal); each
# ANSWER "Prompt:=text" is typed once "Prompt:" was printed and echo is off (if echo stays on
# the text is typed anyway, so an echo shows up in the output). The terminal's output goes
# to stdout, the exit status is CMD's.
ptyrun() {
	"$PY" - "$@" <<'EOF'
import os, pty, select, sys, termios, time
args = sys.argv[1:]
cut = args.index("--")
answers = [a.split("=", 1) for a in args[:cut]]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(args[cut + 1], args[cut + 1:])
out, seen, step, deadline = b"", 0, 0, time.time() + 25
def echo_on():
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if step < len(answers):
        at = out.find(answers[step][0].encode(), seen)
        if at >= 0:
            wait = time.time() + 2
            while echo_on() and time.time() < wait:
                time.sleep(0.05)
            time.sleep(0.1)
            os.write(fd, answers[step][1].encode() + b"\n")
            seen, step = at + len(answers[step][0]), step + 1
sys.stdout.write(out.decode("utf-8", "replace"))
try:
    _, status = os.waitpid(pid, 0)
except ChildProcessError:
    sys.exit(99)
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 98)
EOF
}

# A test SM2 CA (openssl) and a certificate for a request: issue CSR OUT.
make_ca() {
	[ -f "$tmp/ca.key" ] && return 0
	openssl genpkey -algorithm SM2 -out "$tmp/ca.key" 2>/dev/null || fail "test CA key"
	openssl req -new -x509 -key "$tmp/ca.key" -sm3 -sigopt "$ID" -subj "/CN=Test SM2 CA" \
		-days 2 -out "$tmp/ca.pem" || fail "test CA"
}
# The request's own signature is checked with the SM2 user ID only for an SM2 request.
vfy_opts() {
	openssl req -in "$1" -noout -pubkey | openssl pkey -pubin -noout -text |
		grep -q "ASN1 OID: SM2" && printf '%s\n' -vfyopt "$ID"
}
issue() {
	local vfy
	make_ca
	mapfile -t vfy < <(vfy_opts "$1")
	openssl x509 -req -in "$1" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
		-days 2 -sm3 -sigopt "$ID" "${vfy[@]}" -out "$2" 2>"$tmp/ca.err" ||
		{ cat "$tmp/ca.err" >&2; fail "the test CA refused $1"; }
}

# DER of a PEM public key / PEM certificate, for comparisons.
pub_der() { openssl pkey -pubin -in "$1" -outform DER; }
cert_der() { openssl x509 -in "$1" -outform DER; }

# ---- groups ----------------------------------------------------------------------------------

inner_list_info() {
	local s20 s16 label fp
	s20=$(emu_field 0 2) label=$(emu_field 0 3)
	s16=${s20: -16}
	run 0 list
	out_has "$s16"
	out_has "$label"
	out_has 10
	# a key with a pair, a certificate and a data file
	run 0 keygen --label alice
	run 0 csr --label alice --subject "/CN=Alice/O=Example" --out "$tmp/alice.csr"
	issue "$tmp/alice.csr" "$tmp/alice.pem"
	run 0 import-cert --label alice --in "$tmp/alice.pem"
	head -c 1234 /dev/urandom >"$tmp/blob"
	run 0 data put notes --in "$tmp/blob"
	run 0 info
	out_has "$s16"
	out_has "$label"
	out_has alice
	out_has Alice
	out_has "Test SM2 CA"
	out_has notes
	out_has 1234
	fp=$(openssl x509 -in "$tmp/alice.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g')
	tr -d ':' <"$tmp/out" | grep -qiF "$fp" || { show; fail "no SHA-256 fingerprint $fp"; }
	# tries left follow the key
	pinfile wrong wrong9999
	run 4 verify-pin --pin-file "$tmp/wrong"
	run 0 list
	grep -qw 9 "$tmp/out" || { show; fail "list does not show 9 tries left"; }
	pass "list and info show the key ($s20), its pair, certificate (fingerprint), data file and tries"
}

inner_pin() {
	local p
	pinfile wrong wrong9999
	pinfile new Secret2024
	pinfile user "$UKEY_USER_PIN"
	run 0 verify-pin
	said "PIN correct (3 of 3 tries left)"
	said "$NOTE_MSG"
	run 0 verify-pin --so
	said "SO PIN correct (3 of 3 tries left)"
	run 4 verify-pin --pin-file "$tmp/wrong"
	msg "wrong PIN, 2 tries left"
	run 0 verify-pin --pin-file "$tmp/user"
	said "PIN correct (3 of 3 tries left)"
	# policy: refused before the key sees anything (tries stay at 3)
	for p in short12 abcdefgh 12345678 abcd12345678x abcd-1234 'abcd 1234'; do
		pinfile bad "$p"
		run 6 change-pin --new-pin-file "$tmp/bad"
		msg "$POLICY_MSG"
	done
	run 0 verify-pin
	said "PIN correct (3 of 3 tries left)"
	# a wrong old PIN
	run 4 change-pin --pin-file "$tmp/wrong" --new-pin-file "$tmp/new"
	msg "wrong PIN, 2 tries left"
	# change: old from the environment, new from the file
	run 0 change-pin --new-pin-file "$tmp/new"
	run 0 verify-pin --pin-file "$tmp/new"
	said "PIN correct (3 of 3 tries left)"
	not_said "$NOTE_MSG"
	run 4 verify-pin
	msg "wrong PIN, 2 tries left"
	# UKEY_NEW_PIN is the second source
	UKEY_USER_PIN=Secret2024 UKEY_NEW_PIN=Other5678 run 0 change-pin
	pinfile other Other5678
	run 0 verify-pin --pin-file "$tmp/other"
	said "PIN correct (3 of 3 tries left)"
	# three wrong PINs lock (--max-tries 3); the right one then does not open it
	run 4 verify-pin --pin-file "$tmp/wrong"
	msg "wrong PIN, 2 tries left"
	run 4 verify-pin --pin-file "$tmp/wrong"
	msg "wrong PIN, 1 try left — one more wrong PIN locks the key"
	run 5 verify-pin --pin-file "$tmp/wrong"
	msg "$LOCKED_MSG"
	run 5 verify-pin --pin-file "$tmp/other"
	msg "$LOCKED_MSG"
	# unlock with the SO PIN (wrong SO PIN first); a policy-breaking new PIN is refused
	run 4 unlock --so-pin-file "$tmp/wrong" --new-pin-file "$tmp/user"
	msg "wrong SO PIN, 2 tries left"
	pinfile bad abcdefgh
	run 6 unlock --new-pin-file "$tmp/bad"
	msg "$POLICY_MSG"
	run 0 unlock --new-pin-file "$tmp/user"
	run 0 verify-pin --pin-file "$tmp/user"
	said "PIN correct (3 of 3 tries left)"
	said "$NOTE_MSG"
	# init: everything goes, no user PIN until unlock sets one
	run 0 keygen --label gone
	run 0 init --label fresh --yes
	run 5 verify-pin
	msg "$NOT_SET_MSG"
	run 0 unlock --new-pin-file "$tmp/user"
	run 0 verify-pin
	said "PIN correct (3 of 3 tries left)"
	run 0 info
	out_has fresh
	out_lacks gone
	# no PIN source and no terminal: usage exit, nothing asked
	(unset UKEY_USER_PIN; run 2 verify-pin; msg "$NO_PIN_MSG") || exit 1
	(unset UKEY_SO_PIN; run 2 verify-pin --so) || exit 1
	# the SO PIN locks too, for good
	run 4 verify-pin --so --so-pin-file "$tmp/wrong"
	msg "wrong SO PIN, 2 tries left"
	run 4 verify-pin --so --so-pin-file "$tmp/wrong"
	run 5 verify-pin --so --so-pin-file "$tmp/wrong"
	msg "SO PIN locked — the key must be re-issued by your CA"
	run 5 verify-pin --so
	msg "SO PIN locked — the key must be re-issued by your CA"
	pass "verify/change/unlock/init, wrong and locked PIN (user and SO) messages, policy, no PIN source"
}

# PINs typed at the terminal prompt: accepted, never echoed; a mismatch changes nothing.
inner_pin_prompt() {
	local rc
	unset UKEY_USER_PIN UKEY_SO_PIN UKEY_NEW_PIN
	: >"$tmp/err"
	ptyrun "User PIN:=user1234" -- "$UKEY_TOOL" verify-pin >"$tmp/out" 2>&1
	rc=$?
	[ $rc = 0 ] || { show; fail "verify-pin on a terminal: exit $rc"; }
	out_has "User PIN:"
	out_has "PIN correct (3 of 3 tries left)"
	out_lacks user1234
	ptyrun "User PIN:=user1234" "New PIN:=Abcd12345" "Repeat new PIN:=Abcd12346" -- \
		"$UKEY_TOOL" change-pin >"$tmp/out" 2>&1
	rc=$?
	[ $rc = 6 ] || { show; fail "mismatched new PINs: exit $rc, want 6"; }
	out_has "New PIN:"
	out_has "Repeat new PIN:"
	out_has "the new PINs do not match"
	out_lacks user1234
	out_lacks Abcd1234
	ptyrun "SO PIN:=admin1234" -- "$UKEY_TOOL" verify-pin --so >"$tmp/out" 2>&1 ||
		{ show; fail "verify-pin --so on a terminal"; }
	out_lacks admin1234
	ptyrun "User PIN:=user1234" "New PIN:=Abcd12345" "Repeat new PIN:=Abcd12345" -- \
		"$UKEY_TOOL" change-pin >"$tmp/out" 2>&1 || { show; fail "change-pin on a terminal"; }
	out_lacks Abcd12345
	pinfile new Abcd12345
	run 0 verify-pin --pin-file "$tmp/new"
	said "PIN correct (3 of 3 tries left)"
	pass "PINs typed at the no-echo prompt (User/SO/New/Repeat); a mismatch exits 6"
}

# pub_is FILE TEXT: the PEM public key's openssl text has TEXT
pub_is() {
	openssl pkey -pubin -in "$1" -noout -text 2>&1 | grep -qF -- "$2" ||
		fail "$1 is not a $2 public key"
}

inner_keys() {
	local l vfy
	cd "$tmp" || exit 1
	run 0 containers list
	run 0 containers create c1
	run 0 containers list
	out_has c1
	run 0 keygen --label c1 --usage enc
	run 0 keygen --label p1 --alg p256
	run 0 keygen --label r1 --alg rsa2048
	run 0 keygen --label s1 --alg sm2 --usage sign
	run 0 containers list
	for l in c1 p1 r1 s1; do out_has $l; done
	for l in c1 p1 r1 s1; do run 0 pubkey --label $l --out $l.pem; done
	run 0 pubkey --label c1 --usage enc --out c1enc.pem
	pub_is c1.pem SM2
	pub_is c1enc.pem SM2
	pub_is p1.pem prime256v1
	pub_is r1.pem "2048 bit"
	cmp -s <(pub_der c1.pem) <(pub_der c1enc.pem) && fail "the sign and enc pairs share a key"
	printf 'pay 100 to Alice\n' >msg
	printf 'pay 900 to Alice\n' >bad
	for l in c1 p1 r1; do run 0 sign --label $l --in msg --out $l.sig; done
	openssl pkeyutl -verify -pubin -inkey c1.pem -rawin -digest sm3 -pkeyopt "$ID" \
		-in msg -sigfile c1.sig >/dev/null || fail "openssl: SM2 signature"
	openssl pkeyutl -verify -pubin -inkey c1.pem -rawin -digest sm3 -pkeyopt "$ID" \
		-in bad -sigfile c1.sig >/dev/null 2>&1 && fail "SM2 signature verifies a changed message"
	for l in p1 r1; do
		openssl dgst -sha256 -verify $l.pem -signature $l.sig msg >/dev/null ||
			fail "openssl: $l signature"
		openssl dgst -sha256 -verify $l.pem -signature $l.sig bad >/dev/null 2>&1 &&
			fail "$l signature verifies a changed message"
	done
	# requests signed on the key, checked by openssl (SM2 with the standard user ID)
	for l in c1 p1 r1; do
		run 0 csr --label $l --subject "/CN=Zhang San/O=Example" --out $l.csr
		mapfile -t vfy < <(vfy_opts $l.csr)
		openssl req -verify -noout -in $l.csr "${vfy[@]}" >v.out 2>&1
		grep -q "verify OK" v.out || fail "openssl req -verify $l.csr: $(cat v.out)"
		cmp -s <(openssl req -in $l.csr -noout -pubkey | openssl pkey -pubin -outform DER) \
			<(pub_der $l.pem) || fail "$l.csr holds another public key"
		openssl req -in $l.csr -noout -subject | grep -q "CN *= *Zhang San" ||
			fail "$l.csr subject"
	done
	# certificates: PEM in, PEM and DER out byte-identical; DER in
	issue c1.csr c1.crt
	run 0 import-cert --label c1 --in c1.crt
	run 0 export-cert --label c1 --out c1.out.pem
	cmp -s <(cert_der c1.crt) <(cert_der c1.out.pem) || fail "exported PEM differs"
	run 0 export-cert --label c1 --der --out c1.out.der
	cmp -s <(cert_der c1.crt) c1.out.der || fail "exported DER differs"
	run 0 export-cert --label c1 --out -
	cmp -s "$tmp/out" c1.out.pem || fail "export-cert --out - differs from --out FILE"
	issue p1.csr p1.crt
	cert_der p1.crt >p1.der
	run 0 import-cert --label p1 --in p1.der
	run 0 export-cert --label p1 --der --out p1.out.der
	cmp -s p1.der p1.out.der || fail "P-256 certificate (DER import) differs"
	# the encryption pair cannot sign its own request: the request carries its public key,
	# and the CA issues the certificate for that key (openssl x509 -new -force_pubkey)
	run 0 csr --label c1 --usage enc --subject "/CN=Zhang San enc" --out c1enc.csr
	cmp -s <(openssl req -in c1enc.csr -noout -pubkey | openssl pkey -pubin -outform DER) \
		<(pub_der c1enc.pem) || fail "c1enc.csr holds another public key"
	make_ca
	openssl x509 -new -subj "/CN=Zhang San enc" -force_pubkey c1enc.pem -CA "$tmp/ca.pem" \
		-CAkey "$tmp/ca.key" -days 2 -sm3 -sigopt "$ID" -out c1enc.crt || fail "enc certificate"
	run 0 import-cert --label c1 --usage enc --in c1enc.crt
	run 0 export-cert --label c1 --usage enc --der --out c1enc.der
	cmp -s <(cert_der c1enc.crt) c1enc.der || fail "encryption certificate differs"
	run 0 export-cert --label c1 --der --out c1.again.der
	cmp -s c1.out.der c1.again.der || fail "the signing certificate changed"
	# delete: the certificate only, then pairs and containers
	run 0 delete --label p1 --cert-only --yes
	run 7 export-cert --label p1 --out x.pem
	run 0 pubkey --label p1 --out p1.again.pem
	cmp -s <(pub_der p1.pem) <(pub_der p1.again.pem) || fail "--cert-only touched the pair"
	run 0 delete --label p1 --yes
	run 7 pubkey --label p1 --out x.pem
	msg 'no container "p1" on the key'
	run 0 delete --label r1 --usage sign --yes
	# the card deletes a container only whole, with its last pair (docs/pkcs11-profile.md
	# C_DestroyObject, GM/T 0016): one with two pairs stays, untouched
	run 1 containers delete c1 --yes
	grep -qF "CKR_ACTION_PROHIBITED" "$tmp/err" || { show; fail "no CKR_ACTION_PROHIBITED"; }
	run 0 export-cert --label c1 --der --out c1.still.der
	cmp -s c1.out.der c1.still.der || fail "a refused containers delete changed c1"
	# a container with one pair and its certificate goes whole
	run 0 csr --label s1 --subject "/CN=S1" --out s1.csr
	issue s1.csr s1.crt
	run 0 import-cert --label s1 --in s1.crt
	run 0 containers delete s1 --yes
	run 7 export-cert --label s1 --out x.pem
	run 7 pubkey --label s1 --out x.pem
	msg 'no container "s1" on the key'
	run 0 containers list
	out_has c1
	out_lacks p1
	out_lacks r1
	out_lacks s1
	run 7 containers delete nosuch --yes
	msg 'no container "nosuch" on the key'
	pass "containers, keygen sm2/p256/rsa2048 sign/enc, pubkey, sign and csr (openssl-verified), certificates PEM/DER, delete"
}

# the token's decryption of an openssl SM2 ciphertext, through PyKCS11 (C_Decrypt with
# CKM_UKEY_SM2_ENCRYPT, DER ciphertext: docs/pkcs11-profile.md)
p11_decrypt() {
	"$PY" - "$UKEY_MODULE" "$UKEY_USER_PIN" "$1" "$2" "$3" <<'EOF'
import sys, PyKCS11
mod, pin, label, ct, pt = sys.argv[1:]
lib = PyKCS11.PyKCS11Lib(); lib.load(mod)
s = lib.openSession(lib.getSlotList(tokenPresent=True)[0])
s.login(pin)
keys = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                      (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_DECRYPT, True)])
assert len(keys) == 1, "%d decryption keys labelled %s" % (len(keys), label)
out = s.decrypt(keys[0], open(ct, "rb").read(), PyKCS11.Mechanism(0xD54B0210, None))
open(pt, "wb").write(bytes(out))
s.logout()
EOF
}

inner_enveloped() {
	cd "$tmp" || exit 1
	run 0 containers create e1
	run 0 pubkey --label e1 --out sign.pem
	"$UKT_ENVELOPE" sign.pem blob escrow.pem || fail "building the ENVELOPEDKEYBLOB"
	[ "$(stat -c %s blob)" = 388 ] || fail "blob is not 388 bytes"
	run 0 import-enveloped --label e1 --in blob
	run 0 pubkey --label e1 --usage enc --out enc.pem
	cmp -s <(pub_der enc.pem) <(pub_der escrow.pem) ||
		fail "the imported encryption pair is not the escrowed key"
	run 0 pubkey --label e1 --out sign.again.pem
	cmp -s <(pub_der sign.pem) <(pub_der sign.again.pem) || fail "the signing pair changed"
	head -c 48 /dev/urandom >pt
	openssl pkeyutl -encrypt -pubin -inkey escrow.pem -in pt -out ct || fail "openssl SM2 encrypt"
	p11_decrypt e1 ct dec || fail "the token did not decrypt"
	cmp -s pt dec || fail "the token decrypted something else"
	# base64 form; a second escrow replaces the pair
	"$UKT_ENVELOPE" sign.pem blob2 escrow2.pem || fail "second blob"
	base64 blob2 >blob2.b64
	run 0 --json import-enveloped --label e1 --in blob2.b64
	json "True"
	run 0 pubkey --label e1 --usage enc --out enc2.pem
	cmp -s <(pub_der enc2.pem) <(pub_der escrow2.pem) || fail "base64 blob not imported"
	# a blob for another key, a truncated blob, a missing container
	openssl genpkey -algorithm SM2 2>/dev/null | openssl pkey -pubout -out other.pem
	"$UKT_ENVELOPE" other.pem blob3 escrow3.pem || fail "third blob"
	run 1 import-enveloped --label e1 --in blob3
	head -c 300 blob >short
	run_any "1 2" import-enveloped --label e1 --in short
	run 7 import-enveloped --label nosuch --in blob
	msg 'no container "nosuch" on the key'
	run 0 pubkey --label e1 --usage enc --out enc3.pem
	cmp -s <(pub_der enc3.pem) <(pub_der escrow2.pem) || fail "a refused blob changed the pair"
	pass "import-enveloped (binary and base64): escrowed public key on the key, openssl SM2 ciphertext decrypted by the token"
}

inner_data() {
	cd "$tmp" || exit 1
	head -c 65536 /dev/urandom >big
	head -c 65537 /dev/urandom >toobig
	printf '\000\001\377binary\n\000' >small
	run 0 data list
	run 0 data put big --in big
	run 0 data put small --in small
	run 0 data list
	out_has big
	out_has small
	out_has 65536
	run 0 data get big --out big.out
	cmp -s big big.out || fail "64 KiB data file differs"
	run 0 data get small --out -
	cmp -s small "$tmp/out" || fail "binary data file on stdout differs"
	run_any "1 2" data put toobig --in toobig
	run 0 data list
	out_lacks toobig
	run 0 data put small --in big --yes
	run 0 data get small --out small.out
	cmp -s big small.out || fail "data put --yes did not replace"
	run 0 data delete small --yes
	run 7 data get small --out x
	run 7 data delete small --yes
	run 0 data list
	out_lacks small
	out_has big
	pass "data put/get/list/delete, 64 KiB limit, binary round trip, replace"
}

inner_emu() {
	local serial=88560000000000000042
	pinfile user Emu12345
	pinfile so Admin9876
	# the sandbox's reader has a slot per key: pull key 1 out to make room
	run 0 emu remove 1
	[ "$(emu_field 1 5)" = removed ] || fail "emu remove: key 1 is $(emu_field 1 5)"
	run 0 emu create --serial $serial --label "emu key" --zone yellow --max-tries 5 \
		--pin-file "$tmp/user" --so-pin-file "$tmp/so"
	run 0 emu list
	out_has $serial
	run 0 list
	out_has "${serial: -16}"
	out_has "emu key"
	run 0 verify-pin --serial $serial --pin-file "$tmp/user"
	said "PIN correct (5 of 5 tries left)"
	run 4 verify-pin --serial $serial --pin-file "$tmp/so"
	msg "wrong PIN, 4 tries left"
	run 0 verify-pin --so --serial $serial --so-pin-file "$tmp/so"
	run 0 --json list
	json "any(k['serial'] == '$serial' and k['zone'] == 'yellow' and k['label'] == 'emu key' and k['user_pin']['max_tries'] == 5 for k in j['keys'])"
	[ "$(emu_field 2 2)" = $serial ] && [ "$(emu_field 2 5)" = inserted ] ||
		fail "ukey-emu does not list key 2 as $serial, inserted"
	run 0 --json emu remove 2
	json "True"
	[ "$(emu_field 2 5)" = removed ] || fail "emu remove: key 2 is $(emu_field 2 5)"
	run 0 list
	out_lacks "${serial: -16}"
	run 0 emu insert 2 --json
	json "True"
	[ "$(emu_field 2 5)" = inserted ] || fail "emu insert: key 2 is $(emu_field 2 5)"
	run 0 verify-pin --serial $serial --pin-file "$tmp/user"
	said "PIN correct (5 of 5 tries left)"
	pass "emu create (serial, label, zone, tries, PINs), list, remove, insert"
}

# pulled_out N: once a signature waits for key N's button, pull the key out.
pulled_out() {
	local _
	for _ in $(seq 100); do
		"$UKEY_EMU" ctl list | tr ' ' '\n' | grep -q "^$1,.*waiting" && break
		sleep 0.1
	done
	"$UKEY_EMU" ctl remove "$1" >/dev/null
}

inner_errors() {
	local s0 s1 cmd
	s0=$(emu_field 0 2) s1=$(emu_field 1 2)
	# several keys, none chosen
	run 2 verify-pin
	msg "2 keys inserted: choose one with --serial ($s0, $s1)"
	run 0 verify-pin --serial "$s1"
	run 0 verify-pin --serial "${s1: -16}"
	run 0 verify-pin --serial "${s1: -6}"
	run 0 --serial "$s0" info
	out_has "${s0: -16}"
	out_lacks "${s1: -16}"
	run 0 info --slot 1
	# no key: the readers are named
	"$UKEY_EMU" ctl remove 0 >/dev/null && "$UKEY_EMU" ctl remove 1 >/dev/null ||
		fail "ukey-emu ctl remove"
	"$UKEY_PCSC_WAIT" --absent --cards 0 --timeout 10 >/dev/null 2>&1
	run 3 info
	msg "no ukey inserted (pcscd running? readers seen: ukey 00 00, ukey 00 01)"
	run 3 verify-pin
	msg "no ukey inserted (pcscd running? readers seen: ukey 00 00, ukey 00 01)"
	"$UKEY_EMU" ctl insert 0 >/dev/null || fail "ukey-emu ctl insert"
	"$UKEY_PCSC_WAIT" --cards 1 --timeout 10 >/dev/null 2>&1
	# the key pulled out during a command: a signature waits for the key's button (the
	# sandbox's keys have one), and the key is removed meanwhile
	run 0 --serial "$s0" keygen --label k
	printf 'data\n' >"$tmp/m"
	(sleep 0.2; pulled_out 0) &
	run 3 --serial "$s0" sign --label k --in "$tmp/m" --out "$tmp/sig"
	msg "the key was removed during the operation — insert it and try again"
	wait
	"$UKEY_EMU" ctl insert 0 >/dev/null
	"$UKEY_PCSC_WAIT" --cards 1 --timeout 10 >/dev/null 2>&1
	# not found
	run 7 --serial "$s0" pubkey --label nosuch --out "$tmp/x"
	msg 'no container "nosuch" on the key'
	run 7 --serial "$s0" data get nosuch --out "$tmp/x"
	run_any "3 7" --serial 99999999 info
	# bad usage
	run 2 nosuchcommand
	run 2 list --nosuchoption
	run 2 --serial "$s0" sign --label k
	run 2 --serial "$s0" keygen --label k --alg dsa
	# every command's help
	run 0 --help
	for cmd in list info verify-pin change-pin unlock init containers keygen pubkey sign csr \
		import-cert export-cert import-enveloped delete data emu; do
		out_has "$cmd"
	done
	for cmd in list info verify-pin change-pin unlock init "containers list" \
		"containers create" "containers delete" keygen pubkey sign csr import-cert \
		export-cert import-enveloped delete "data list" "data put" "data get" \
		"data delete" "emu create" "emu list" "emu remove" "emu insert"; do
		# shellcheck disable=SC2086
		run 0 $cmd --help
		grep -qi "usage" "$tmp/out" "$tmp/err" || { show; fail "$cmd --help: no usage"; }
		grep -qF -- "$cmd" "$tmp/out" "$tmp/err" || { show; fail "$cmd --help: no $cmd"; }
		# shellcheck disable=SC2086
		run 0 $cmd -h
	done
	pass "several keys, --serial/--slot, no key (readers named), key pulled out, not found, usage, --help"
}

inner_json() {
	local s0 cmd
	s0=$(emu_field 0 2)
	run 0 --json list
	json "j['keys'][0]['serial'] == '$s0' and j['keys'][0]['slot'] == 0 and j['keys'][0]['label'] == 'ukey' and j['keys'][0]['zone'] == 'green' and isinstance(j['readers_without_key'], list)"
	json "has(j['keys'][0]['user_pin'], {'tries_left': 10, 'max_tries': 10, 'state': 'must-change'}) and j['keys'][0]['so_pin']['max_tries'] == 10"
	run 0 --json verify-pin
	json "has(j, {'verified': True, 'who': 'user', 'tries_left': 10, 'max_tries': 10})"
	run 0 verify-pin --so --json
	json "j['verified'] is True and j['who'] == 'so'"
	pinfile wrong wrong9999
	run 4 --json verify-pin --pin-file "$tmp/wrong"
	json "set(j) == {'error'} and has(j['error'], {'exit': 4, 'code': 'wrong-pin', 'message': 'wrong PIN, 9 tries left', 'tries_left': 9})"
	run 0 --json list
	json "j['keys'][0]['user_pin']['tries_left'] == 9"
	pinfile bad abcdefgh
	run 6 --json change-pin --new-pin-file "$tmp/bad"
	json_error 6 pin-policy
	json "j['error']['message'] == '$POLICY_MSG'"
	run 7 --json pubkey --label nosuch --out "$tmp/x"
	json_error 7 not-found
	run 2 --json nosuchcommand
	json_error 2 usage
	(unset UKEY_USER_PIN; run 2 --json verify-pin; json_error 2 usage) || exit 1
	# every other command's --json success parses
	cd "$tmp" || exit 1
	for cmd in "info" "containers list" "keygen --label j1" "containers create j2" \
		"pubkey --label j1 --out j1.pem" "csr --label j1 --subject /CN=J --out j1.csr" \
		"data put d1 --in j1.pem" "data list" "data get d1 --out d1.out" "emu list" \
		"export-cert --label j1 --out x.pem"; do
		if [ "$cmd" = "export-cert --label j1 --out x.pem" ]; then
			issue j1.csr j1.crt
			run 0 --json import-cert --label j1 --in j1.crt
			json "True"
		fi
		# shellcheck disable=SC2086
		run 0 --json $cmd
		json "True"
	done
	printf 'hello\n' >m
	run 0 --json sign --label j1 --in m --out m.sig
	json "True"
	run 0 --json data delete d1 --yes
	json "True"
	run 0 --json delete --label j1 --cert-only --yes
	json "True"
	run 0 --json containers delete j2 --yes
	json "True"
	run 0 --json info
	json "'j2' not in str(j) and 'j1' in str(j)"
	# locked and not set
	for _ in 1 2 3 4 5 6 7 8; do run 4 verify-pin --pin-file "$tmp/wrong"; done
	run 4 --json verify-pin --pin-file "$tmp/wrong"
	json "j['error']['message'] == 'wrong PIN, 1 try left — one more wrong PIN locks the key' and j['error']['tries_left'] == 1"
	run 5 --json verify-pin --pin-file "$tmp/wrong"
	json_error 5 pin-locked
	run 0 --json list
	json "j['keys'][0]['user_pin']['state'] == 'locked' and j['keys'][0]['user_pin']['tries_left'] == 0"
	run 0 --json init --label fresh --yes
	run 5 --json verify-pin
	json_error 5 pin-not-set
	run 0 --json list
	json "j['keys'][0]['user_pin']['state'] == 'not-set' and j['keys'][0]['label'] == 'fresh'"
	pinfile user "$UKEY_USER_PIN"
	pinfile new Secret2024
	run 0 --json unlock --new-pin-file "$tmp/user"
	json "True"
	run 0 --json change-pin --new-pin-file "$tmp/new"
	json "True"
	run 0 --json list
	json "j['keys'][0]['user_pin']['state'] == 'ok'"
	"$UKEY_EMU" ctl remove 0 >/dev/null
	"$UKEY_PCSC_WAIT" --absent --cards 0 --timeout 10 >/dev/null 2>&1
	run 3 --json info
	json_error 3 no-key
	pass "--json: list, verify-pin and error objects as documented; every command's output is one JSON object"
}

# the man page renders without warnings and names every command of the docs' table
case_man() {
	local page=$UKS_SRC/tools/ukey-tool.1 cmd
	[ -f "$page" ] || fail "no $page"
	command -v groff >/dev/null || { echo "groff missing"; exit 77; }
	groff -man -ww -z "$page" 2>"$tmp/warn" || fail "groff failed"
	[ -s "$tmp/warn" ] && fail "groff warnings: $(cat "$tmp/warn")"
	MANWIDTH=80 man -l "$page" 2>"$tmp/warn" | col -b >"$tmp/man.txt"
	[ -s "$tmp/warn" ] && fail "man -l warnings: $(cat "$tmp/warn")"
	sed -n '/^## Commands/,/^## Messages/p' "$UKS_SRC/docs/ukey-tool.md" |
		grep -o '^| `[a-z][a-z -]*' | sed 's/^| `//; s/ *$//; s/ --.*//; s/ [A-Z].*//' |
		sort -u >"$tmp/cmds"
	[ "$(wc -l <"$tmp/cmds")" -ge 20 ] || fail "read only $(wc -l <"$tmp/cmds") commands from the docs"
	while read -r cmd; do
		grep -qF -- "$cmd" "$tmp/man.txt" || fail "the man page does not mention '$cmd'"
	done <"$tmp/cmds"
	for cmd in "wrong PIN" "PIN locked" "no ukey inserted" "EXIT STATUS" "--json"; do
		grep -qF -- "$cmd" "$tmp/man.txt" || fail "the man page does not mention '$cmd'"
	done
	pass "ukey-tool.1 renders without warnings and names the $(wc -l <"$tmp/cmds") commands"
}

# The README's "Managing your key: ukey-tool" section, run as written: its ```sh blocks in
# order with bash -e -o pipefail inside a sandbox (as consumers/readme.sh runs "Use it with …");
# every line of its ```text blocks (what the commands
# print) must be among the lines they printed.
inner_readme() {
	local section=$tmp/section.md line rc
	awk '/^## Managing your key: ukey-tool/ { on = 1; next } on && /^## / { exit } on' \
		"$UKS_SRC/README.md" >"$section"
	[ -s "$section" ] || fail "README has no '## Managing your key: ukey-tool' section"
	awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$section" >"$tmp/walk.sh"
	awk '/^```text$/ { on = 1; next } /^```/ { on = 0 } on' "$section" >"$tmp/expect.txt"
	[ "$(wc -l <"$tmp/walk.sh")" -ge 20 ] || fail "the walkthrough has only $(wc -l <"$tmp/walk.sh") lines"
	mkdir -p "$tmp/walk" && cd "$tmp/walk" || exit 1
	TMPDIR=$tmp/walk setsid -w bash -e -o pipefail "$tmp/walk.sh" >"$tmp/walk.out" 2>&1 </dev/null
	rc=$?
	[ $rc = 0 ] || { cat "$tmp/walk.out" >&2; fail "the README walkthrough failed (exit $rc)"; }
	cat "$tmp/walk.out"
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		grep -qxF -e "$line" "$tmp/walk.out" ||
			fail "the README shows '$line' but the commands did not print it"
	done <"$tmp/expect.txt"
	pass "the README walkthrough ($(wc -l <"$tmp/walk.sh") lines) runs and prints what it shows"
}

# ---- dispatch -------------------------------------------------------------------------------

# sandbox options per group
declare -A SANDBOX_OPTS=(
	[list_info]="" [pin]="--max-tries 3" [pin_prompt]="--max-tries 3" [keys]=""
	[enveloped]="" [data]="" [emu]="--tokens 2" [errors]="--tokens 2 --button" [json]="" [readme]=""
)

require_sandbox() {
	local rc
	"$UKS" --check >/dev/null
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || fail "ukey-sandbox --check: parts of ukey are missing"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ukey-tool-test.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf -- "$tmp"' EXIT

if [ "${1:-}" = inner ]; then
	[ -n "${UKEY_TOOL:-}" ] && [ -n "${UKEY_MODULE:-}" ] || fail "run inside ukey-sandbox"
	declare -F "inner_$2" >/dev/null || fail "unknown group $2"
	"inner_$2"
	exit $?
fi
group=${1:?usage: ukey-tool.sh GROUP}
if declare -F "case_$group" >/dev/null; then
	"case_$group"
	exit $?
fi
declare -F "inner_$group" >/dev/null || fail "unknown group $group"
require_sandbox
# shellcheck disable=SC2086
"$UKS" ${SANDBOX_OPTS[$group]} -- bash "$0" inner "$group"
