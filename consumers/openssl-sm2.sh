#!/bin/bash
# consumer_openssl-sm2: an SM2 certificate for a key on the token, with OpenSSL as the CA.
# `ukey-tool csr` builds a PKCS#10 request whose signature the token makes (SM2 with SM3,
# user ID 1234567812345678); openssl checks it, a test SM2 CA issues the certificate,
# `ukey-tool import-cert` stores it with the key pair, and the certificate read back from
# the token verifies against the CA. The commands are the README's "OpenSSL: an SM2
# certificate for the key".
#
# Passes only if the token signed: the request verifies with the token's public key (the
# private key never leaves the token) and pcscd's APDU log shows the PSO: COMPUTE DIGITAL
# SIGNATURE; a tampered request fails `openssl req -verify`.
# OpenSSL 3.0 facts pinned here: SM2 signatures are checked with an empty user ID unless
# told (-vfyopt distid:1234567812345678 for req -verify, x509 -req and verify alike), and
# `openssl req -verify` exits 0 even when the signature is wrong, so its message is checked.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

if [ "${1:-}" != inner ]; then
	need openssl openssl
	need pkcs11-tool opensc
	require_sandbox
	OPENSSL_APDU_LOG=$tmp/apdu.log sandbox --apdu-log "$tmp/apdu.log" -- bash "$0" inner
	exit $?
fi

cd "$tmp" || fail "no scratch directory"
[ -n "${UKEY_MODULE:-}" ] && [ -n "${UKEY_TOOL:-}" ] || fail "run inside ukey-sandbox"
sign_apdus() { pso_count "$OPENSSL_APDU_LOG"; }
ID=distid:1234567812345678

# ---- README: OpenSSL: an SM2 certificate for the key ----
"$UKEY_TOOL" keygen --label alice || fail "keygen"
before=$(sign_apdus)
"$UKEY_TOOL" csr --label alice --subject "/CN=Alice/O=Example" --out alice.csr || fail "csr"
after=$(sign_apdus)
openssl req -verify -noout -in alice.csr -vfyopt distid:1234567812345678 >verify.out 2>&1
openssl genpkey -algorithm SM2 -out ca.key
openssl req -new -x509 -key ca.key -sm3 -sigopt distid:1234567812345678 \
	-subj "/CN=Test SM2 CA" -days 2 -out ca.pem || fail "CA certificate"
openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-sm3 -sigopt distid:1234567812345678 -vfyopt distid:1234567812345678 -out alice.pem ||
	fail "the CA refused the request"
"$UKEY_TOOL" import-cert --label alice --in alice.pem || fail "import-cert"
pkcs11-tool --module "$UKEY_MODULE" --read-object --type cert --label alice -o alice.der ||
	fail "no certificate on the token"
openssl verify -CAfile ca.pem -vfyopt distid:1234567812345678 alice.der >chain.out 2>&1
# ---- end of the README commands ----

grep -q "verify OK" verify.out || fail "openssl req -verify: $(cat verify.out)"
openssl req -in alice.csr -noout -text >csr.txt
grep -q "Signature Algorithm: SM2-with-SM3" csr.txt || fail "not SM2-with-SM3: $(cat csr.txt)"
grep -q "Subject: CN = Alice, O = Example" csr.txt || fail "subject: $(cat csr.txt)"
[ "$after" -eq $((before + 1)) ] || fail "$((after - before)) signature APDUs for the request"
# the request carries the token's public key, so only the token could have signed it
"$UKEY_TOOL" pubkey --label alice --out token.pub >/dev/null || fail "pubkey"
cmp -s <(openssl pkey -pubin -in token.pub -outform DER) \
	<(openssl req -in alice.csr -noout -pubkey | openssl pkey -pubin -outform DER) ||
	fail "the request's key is not the token's"
pass "ukey-tool csr: SM2-with-SM3 request signed by the token, openssl req -verify OK"

grep -q "^alice.der: OK" chain.out || fail "openssl verify: $(cat chain.out)"
cmp -s alice.der <(openssl x509 -in alice.pem -outform DER) || fail "certificate read back differs"
pkcs11-tool --module "$UKEY_MODULE" --list-objects --type cert >certs.txt 2>/dev/null
pub_id=$(pkcs11-tool --module "$UKEY_MODULE" --list-objects --type pubkey 2>/dev/null |
	awk '/label: *alice$/ { l = 1 } l && /ID:/ { print $2; exit }')
grep -q "ID: *$pub_id\$" certs.txt || fail "certificate not bound to the key pair's CKA_ID $pub_id"
# without the distinguishing ID, OpenSSL 3.0 uses an empty one: the chain must not verify
if openssl verify -CAfile ca.pem alice.der >/dev/null 2>&1; then
	fail "verify without -vfyopt distid succeeded: the ID is not the one signed with"
fi
pass "import-cert: the CA's certificate is on the token with the key's CKA_ID; the chain read back verifies"

# a second import of a certificate for the same pair, and one for another key, are refused
"$UKEY_TOOL" import-cert --label alice --in alice.pem 2>/dev/null &&
	fail "a second certificate for the pair was accepted"
"$UKEY_TOOL" keygen --label bob >/dev/null || fail "keygen bob"
"$UKEY_TOOL" import-cert --label bob --in alice.pem 2>/dev/null &&
	fail "alice's certificate was stored with bob's key"
# a tampered request (one byte of the subject changed) fails openssl req -verify
openssl req -in alice.csr -outform DER -out alice.csr.der
off=$(grep -obUa "Alice" alice.csr.der | head -n 1 | cut -d: -f1)
[ -n "$off" ] || fail "subject not found in the request"
cp alice.csr.der bad.der
printf 'B' | dd of=bad.der bs=1 seek="$off" conv=notrunc status=none
openssl req -verify -noout -inform DER -in bad.der -vfyopt "$ID" >bad.out 2>&1
grep -q "verify OK" bad.out && fail "a tampered request verified"
grep -q "verify failure" bad.out || fail "tampered request: $(cat bad.out)"
# usage errors exit 2, a bad subject 1
"$UKEY_TOOL" csr --label alice --out x.csr 2>/dev/null
[ $? -eq 2 ] || fail "csr without --subject: want exit 2"
"$UKEY_TOOL" csr --label alice --subject "CN=no-slash" --out x.csr 2>/dev/null
[ $? -eq 1 ] || fail "csr with a malformed subject: want exit 1"
pass "refused: a second certificate, a certificate for another key, a tampered request"
