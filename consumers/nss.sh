#!/bin/bash
# consumers/nss.sh — NSS (Debian 12: libnss3-tools 3.87) uses a P-256 key on the emulated
# token: the README's "NSS" commands, run as written inside ukey-sandbox. modutil adds the
# module to a fresh NSS database, certutil lists the token's key, signs a certificate request
# with it (certutil -R -k KEY-ID), and, once a test CA's certificate for that request is on
# the token, lists it under the nickname "ukey:web" (token label ':' CKA_LABEL).
#
# What NSS needs from the module: C_GetSlotList/C_GetTokenInfo (modutil -list), C_Login with
# the PIN from certutil -f, the private key's CKA_ID (certutil -K prints it as the key id),
# CKA_EC_PARAMS/CKA_EC_POINT of the public key and CKM_ECDSA over a SHA-256 hash (-R), and the
# certificate's CKA_VALUE/CKA_ID/CKA_LABEL (-L).
#
# Proof that the token signed: the request verifies with OpenSSL (openssl req -verify), its
# public key is the token's (read with pkcs11-tool, compared as DER), and certutil -R added
# a PSO: COMPUTE DIGITAL SIGNATURE (04 2A 9E 9A) to pcscd's APDU log.
#
# The same file runs twice: without arguments it starts the sandbox (with --apdu-log);
# `inner` is the part inside it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"


# psos: PSO COMPUTE DIGITAL SIGNATURE APDUs in pcscd's log so far
psos() { grep -c "$PSO_SIGN_APDU" "$NSS_APDU_LOG"; }

# --- inner: the README's commands, inside the sandbox ------------------------------------------

# make_key_and_csr: README steps 1-3 (key pair, NSS database, certificate request on the key)
make_key_and_csr() {
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" \
		--keypairgen --key-type EC:prime256v1 --label web || fail "key pair generation"
	mkdir nssdb && modutil -dbdir sql:nssdb -create -force || fail "modutil -create"
	modutil -dbdir sql:nssdb -add ukey -libfile "$UKEY_MODULE" -mechanisms FRIENDLY -force ||
		fail "modutil -add"
	modutil -dbdir sql:nssdb -list ukey | tee modutil.txt || fail "modutil -list"
	grep -q "Token Name: ukey" modutil.txt || fail "modutil -list shows no ukey token"
	printf '%s\n' "$UKEY_USER_PIN" >pin.txt
	certutil -K -d sql:nssdb -h ukey -f pin.txt | tee keys.txt || fail "certutil -K"
	id=$(certutil -K -d sql:nssdb -h ukey -f pin.txt | awk '$NF == "web" { print $4 }')
	[[ $id =~ ^[0-9a-f]{40}$ ]] || fail "no key id for 'web' in certutil -K: '$id'"
	before=$(psos)
	certutil -R -d sql:nssdb -h ukey -f pin.txt -k "$id" -s CN=web -a -o web.csr ||
		fail "certutil -R (request signed with the token's key)"
	openssl req -verify -noout -in web.csr || fail "OpenSSL rejects the request's signature"
}

# check_csr_key: the request carries the token's public key, and a PSO went to the card
check_csr_key() {
	local after
	after=$(psos)
	[ "$after" -gt "$before" ] || fail "no PSO: COMPUTE DIGITAL SIGNATURE during certutil -R"
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type pubkey --id "$id" -o token-pub.der ||
		fail "pkcs11-tool cannot read the token's public key $id"
	openssl req -in web.csr -noout -pubkey | openssl pkey -pubin -outform DER -out csr-pub.der ||
		fail "no public key in the request"
	cmp -s token-pub.der csr-pub.der || fail "the request's public key is not the token's"
	echo "certutil -R: $((after - before)) PSO signature APDU(s), request key = token key $id"
}

# certify: README steps 4-5 (a test CA certifies the request; the certificate goes on the key)
certify() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj /CN=test-ca -keyout ca.key -out ca.pem || fail "test CA"
	openssl x509 -req -in web.csr -CA ca.pem -CAkey ca.key -days 30 -outform DER -out web.der ||
		fail "the test CA did not sign the request"
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" \
		--write-object web.der --type cert --id "$id" --label web || fail "certificate write"
}

# list: README step 6 (NSS lists the token's certificate and key), checked. The certificates
# need no PIN: modutil's FRIENDLY flag ("publicly readable certificates") tells NSS so.
list() {
	certutil -L -d sql:nssdb -h all | tee certs.txt || fail "certutil -L"
	certutil -K -d sql:nssdb -h all -f pin.txt | tee keys.txt || fail "certutil -K -h all"
	grep -q "^ukey:web " certs.txt || fail "certutil -L does not list ukey:web"
	grep -q "$id" keys.txt || fail "certutil -K -h all does not list the token's key $id"
	certutil -L -d sql:nssdb -n ukey:web -r >listed.der || fail "certutil -L -n ukey:web"
	cmp -s listed.der web.der || fail "NSS's ukey:web is not the certificate written to the token"
}

inner() {
	cd "$NSS_WORK" || fail "no work directory"
	make_key_and_csr
	check_csr_key
	certify
	list
	pass "NSS: modutil added the module, certutil -R signed on the token (verified by OpenSSL), certutil lists ukey:web and its key"
}

if [ "${1:-}" = inner ]; then
	inner
	exit
fi

need modutil libnss3-tools
need certutil libnss3-tools
need pkcs11-tool opensc
need openssl openssl
require_sandbox
mkdir "$tmp/work"
sandbox --apdu-log "$tmp/apdu.log" -- \
	env NSS_WORK="$tmp/work" NSS_APDU_LOG="$tmp/apdu.log" bash "$0" inner
