#!/bin/bash
# consumers/pkcs11-tool.sh — OpenSC's pkcs11-tool (Debian 12: 0.23) uses the emulated key:
# the README's "pkcs11-tool" commands, run as written inside ukey-sandbox.
#
# Covered: -L (the 16-digit serial), --login, --keypairgen of P-256 and RSA-2048, signatures
# with ECDSA-SHA256, SHA256-RSA-PKCS, RSA-PKCS-PSS and the vendor CKM_UKEY_SM2_SM3
# (0xD54B0202) on a pair ukey-tool generated, --verify, --write-object / --read-object of a
# certificate and a data object, --delete-object.
#
# SM2 key generation is not done with pkcs11-tool: 0.23 cannot ask for the SM2 curve.
# gen_keypair() in src/tools/pkcs11-tool.c looks the name after "EC:" up (by name or dotted
# OID) in its static table ec_curve_infos[] and builds CKA_EC_PARAMS only from that table's
# entry; the table has no SM2 (1.2.156.10197.1.301) entry, and no option passes raw
# CKA_EC_PARAMS (-m only changes the mechanism). The script asserts that refusal, so it
# notices the day pkcs11-tool learns the curve.
#
# Proof that the token signed: every signature verifies with openssl (an independent
# verifier) against the public key read from the token, a tampered message fails, and
# pcscd's APDU log shows one PSO: COMPUTE DIGITAL SIGNATURE (04 2A 9E 9A) per signature with
# the card mechanism of each algorithm (docs/apdu.md: 01 SM2, 02 ECDSA, 03 RSA PKCS#1 v1.5,
# 04 RSA PSS).
#
# The same file runs twice: without arguments it starts the sandbox (with --apdu-log) and
# checks the log afterwards; `inner` is the part inside it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly SM2_OID=1.2.156.10197.1.301

# --- inner: the README's commands, inside the sandbox ------------------------------------------

# expect_fail DESCRIPTION COMMAND...: COMMAND must fail
expect_fail() {
	local what=$1
	shift
	"$@" >"$tmp/neg.out" 2>&1 && { cat "$tmp/neg.out" >&2; fail "$what succeeded"; }
	return 0
}

# p11_invalid ARGS...: pkcs11-tool --verify ARGS must report an invalid signature
p11_invalid() {
	pkcs11-tool --module "$UKEY_MODULE" --verify "$@" >"$tmp/neg.out" 2>&1
	grep -qx "Invalid signature" "$tmp/neg.out" ||
		{ cat "$tmp/neg.out" >&2; fail "pkcs11-tool --verify $* did not say Invalid signature"; }
}

inner_keys() {
	pkcs11-tool --module "$UKEY_MODULE" -L | tee "$tmp/list.txt" || fail "pkcs11-tool -L"
	[[ $(sed -n 's/^ *serial num *: *//p' "$tmp/list.txt") =~ ^[0-9]{16}$ ]] ||
		fail "no 16-digit serial in -L"
	p11() { pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" "$@"; }
	p11 --keypairgen --key-type EC:prime256v1 --label p256 || fail "P-256 keypairgen"
	p11 --keypairgen --key-type rsa:2048 --usage-sign --label rsa || fail "RSA-2048 keypairgen"
	# The README's claim: pkcs11-tool 0.23 refuses the SM2 curve, by name and by OID.
	expect_fail "keypairgen EC:$SM2_OID" p11 --keypairgen --key-type "EC:$SM2_OID" --label x
	grep -q "Unknown EC key params" "$tmp/neg.out" || fail "unexpected: $(cat "$tmp/neg.out")"
	expect_fail "keypairgen -m 0x1040 EC:sm2" \
		p11 --keypairgen -m 0x1040 --key-type EC:sm2 --label x
	"$UKEY_TOOL" keygen --label sm2 || fail "ukey-tool keygen"
	id_of() { pkcs11-tool --module "$UKEY_MODULE" -O --type pubkey | awk -v l="$1" '$1 == "label:" { hit = $2 == l } hit && $1 == "ID:" { print $2; exit }'; }
	p256=$(id_of p256) rsa=$(id_of rsa) sm2=$(id_of sm2)
	if [ -z "$p256" ] || [ -z "$rsa" ] || [ -z "$sm2" ]; then
		fail "IDs: '$p256' '$rsa' '$sm2'"
	fi
	pkcs11-tool --module "$UKEY_MODULE" -O --type pubkey | grep -qi "EC_PARAMS: *06082a811ccf5501822d" ||
		fail "the SM2 public key does not carry the SM2 curve OID"
}

inner_sign() {
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type pubkey --id "$p256" -o p256.der || fail "read P-256 public key"
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type pubkey --id "$rsa" -o rsa.der || fail "read RSA public key"
	"$UKEY_TOOL" pubkey --label sm2 --out sm2.pem || fail "ukey-tool pubkey"
	echo 'pay 100 to Alice' > msg.txt
	p11 --sign --id "$p256" -m ECDSA-SHA256 -f openssl -i msg.txt -o p256.sig || fail "ECDSA sign"
	openssl dgst -sha256 -verify p256.der -signature p256.sig msg.txt || fail "openssl: ECDSA"
	pkcs11-tool --module "$UKEY_MODULE" --verify --id "$p256" -m ECDSA-SHA256 -f openssl -i msg.txt --signature-file p256.sig | grep -x 'Signature is valid' || fail "pkcs11-tool --verify: ECDSA"
	p11 --sign --id "$rsa" -m SHA256-RSA-PKCS -i msg.txt -o rsa.sig || fail "RSA sign"
	openssl dgst -sha256 -verify rsa.der -signature rsa.sig msg.txt || fail "openssl: RSA"
	openssl dgst -sha256 -binary msg.txt > msg.sha256
	p11 --sign --id "$rsa" -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 -i msg.sha256 -o pss.sig || fail "PSS sign"
	openssl dgst -sha256 -verify rsa.der -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -signature pss.sig msg.txt || fail "openssl: PSS"
	p11 --sign --id "$sm2" -m 0xD54B0202 -i msg.txt -o sm2.sig || fail "SM2 sign"
	pkcs11-tool --module "$UKEY_MODULE" --verify --id "$sm2" -m 0xD54B0202 -i msg.txt --signature-file sm2.sig | grep -x 'Signature is valid' || fail "pkcs11-tool --verify: SM2"
	rs2der() { local h; h=$(od -An -v -tx1 "$1" | tr -d ' \n'); printf 'asn1=SEQUENCE:rs\n[rs]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${h:0:64}" "${h:64}" | openssl asn1parse -genconf /dev/stdin -noout -out "$2"; }
	rs2der sm2.sig sm2.der || fail "r||s to DER"
	openssl pkeyutl -verify -pubin -inkey sm2.pem -rawin -digest sm3 -pkeyopt distid:1234567812345678 -in msg.txt -sigfile sm2.der || fail "openssl: SM2"
	echo 'pay 900 to Mallory' > bad.txt
	openssl dgst -sha256 -verify p256.der -signature p256.sig bad.txt && fail "openssl accepted a tampered message (ECDSA)"
	inner_tampered
}

# Not in the README beyond its one example: every signature fails on the tampered message.
inner_tampered() {
	expect_fail "openssl RSA on bad.txt" \
		openssl dgst -sha256 -verify rsa.der -signature rsa.sig bad.txt
	expect_fail "openssl PSS on bad.txt" openssl dgst -sha256 -verify rsa.der \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -signature pss.sig bad.txt
	expect_fail "openssl SM2 on bad.txt" openssl pkeyutl -verify -pubin -inkey sm2.pem \
		-rawin -digest sm3 -pkeyopt distid:1234567812345678 -in bad.txt -sigfile sm2.der
	# pkcs11-tool 0.23 --verify exits 0 on CKR_SIGNATURE_INVALID: its message is the verdict
	p11_invalid --id "$p256" -m ECDSA-SHA256 -f openssl -i bad.txt --signature-file p256.sig
	p11_invalid --id "$sm2" -m 0xD54B0202 -i bad.txt --signature-file sm2.sig
	p11_invalid --id "$rsa" -m SHA256-RSA-PKCS -i bad.txt --signature-file rsa.sig
}

inner_objects() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -subj /CN=test-CA -days 1 -out ca.pem || fail "test CA"
	openssl req -new -key ca.key -subj /CN=p256 -out p256.csr || fail "request"
	openssl x509 -req -in p256.csr -CA ca.pem -CAkey ca.key -force_pubkey p256.der -days 1 -outform DER -out p256.crt || fail "certificate"
	p11 --write-object p256.crt --type cert --id "$p256" --label p256 || fail "write certificate"
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type cert --id "$p256" -o back.crt || fail "read certificate"
	cmp p256.crt back.crt || fail "the certificate read back differs"
	echo 'ukey notes' > notes.txt
	p11 --write-object notes.txt --type data --label notes || fail "write data object"
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type data --label notes -o notes.back || fail "read data object"
	cmp notes.txt notes.back || fail "the data object read back differs"
	p11 --delete-object --type data --label notes || fail "delete data object"
	expect_fail "reading the deleted data object" pkcs11-tool --module "$UKEY_MODULE" \
		--read-object --type data --label notes -o gone.bin
	# the certificate really belongs to the token's key: same public key, issued by the CA
	openssl x509 -inform DER -in back.crt -noout -pubkey | openssl pkey -pubin -outform DER |
		cmp - p256.der || fail "the certificate's key is not the token's"
}

inner() {
	cd "$tmp" || fail "cd $tmp"
	inner_keys
	inner_sign
	inner_objects
}

# --- outer: the sandbox, and pcscd's APDU log ------------------------------------------------

outer() {
	local log=$tmp/apdu.log mechs
	need pkcs11-tool opensc
	need openssl openssl
	require_sandbox
	sandbox --apdu-log "$log" -- bash "$0" inner || fail "the README's pkcs11-tool commands failed"
	mechs=$(pso_mechs "$log" | sort | tr '\n' ' ')
	echo "PSO: COMPUTE DIGITAL SIGNATURE mechanisms in pcscd's log: $mechs"
	[ "$mechs" = "01 02 03 04 " ] ||
		fail "want one card signature each of SM2, ECDSA, RSA, PSS (01 02 03 04), got '$mechs'"
	pass "pkcs11-tool: keys, 4 signatures made on the card and verified by openssl, certificate and data object round trips"
}

case ${1:-} in
inner) inner ;;
'') outer ;;
*) fail "usage: $0 [inner]" ;;
esac
