#!/bin/bash
# consumers/pykcs11.sh — PyKCS11 (Debian 12: python3-pykcs11 1.5.12, run by Debian's
# /usr/bin/python3, not a pyenv/venv python first on PATH) signs with keys on the emulated
# token: the README's "PyKCS11" commands, run as written inside ukey-sandbox.
#
# consumers/pykcs11_smoke.py loads $UKEY_MODULE, lists slots and tokens, logs in, signs with
# CKM_ECDSA over a SHA-256 digest (P-256 key, verified in Python by python3-cryptography) and
# with the vendor CKM_UKEY_SM2_SM3 = 0xD54B0202 passed as PyKCS11.Mechanism(0xD54B0202, None)
# (SM2 key). Proof that the token signed: openssl verifies both signatures against the public
# keys read from the token (CKA_PUBLIC_KEY_INFO) and rejects a tampered message, and pcscd's
# APDU log holds exactly two PSO: COMPUTE DIGITAL SIGNATURE (04 2A 9E 9A), card mechanisms
# 02 (ECDSA) and 01 (SM2) (docs/apdu.md).
#
# The same file runs twice: without arguments it starts the sandbox (with --apdu-log) and
# checks the log afterwards; `inner` is the part inside it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly PYTHON=/usr/bin/python3

# --- inner: the README's commands, inside the sandbox ------------------------------------------

inner() {
	cd "$UKS_SRC" || fail "cd $UKS_SRC"
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" --keypairgen --key-type EC:prime256v1 --label p256 || fail "P-256 keypairgen"
	"$UKEY_TOOL" keygen --label sm2 || fail "ukey-tool keygen"
	out=$(mktemp -d)
	/usr/bin/python3 consumers/pykcs11_smoke.py --out "$out" || fail "pykcs11_smoke.py"
	openssl dgst -sha256 -verify "$out/p256.pub.der" -signature "$out/p256.sig" "$out/msg.txt" || fail "openssl: ECDSA"
	openssl pkeyutl -verify -pubin -inkey "$out/sm2.pub.der" -rawin -digest sm3 -pkeyopt distid:1234567812345678 -in "$out/msg.txt" -sigfile "$out/sm2.sig" || fail "openssl: SM2"
	# not in the README: a tampered message fails both, and the files really are the token's
	echo tampered >>"$out/msg.txt"
	openssl dgst -sha256 -verify "$out/p256.pub.der" -signature "$out/p256.sig" \
		"$out/msg.txt" && fail "openssl accepted ECDSA on a tampered message"
	openssl pkeyutl -verify -pubin -inkey "$out/sm2.pub.der" -rawin -digest sm3 \
		-pkeyopt distid:1234567812345678 -in "$out/msg.txt" -sigfile "$out/sm2.sig" &&
		fail "openssl accepted SM2 on a tampered message"
	"$UKEY_TOOL" pubkey --label sm2 --out "$tmp/sm2.pem" || fail "ukey-tool pubkey"
	openssl pkey -pubin -in "$tmp/sm2.pem" -outform DER | cmp - "$out/sm2.pub.der" ||
		fail "PyKCS11's SM2 public key is not the one ukey-tool reads"
	rm -rf -- "$out"
}

# --- outer: the sandbox, and pcscd's APDU log ------------------------------------------------

outer() {
	local log=$tmp/apdu.log mechs
	need pkcs11-tool opensc
	need openssl openssl
	[ -x "$PYTHON" ] || fail "$PYTHON is missing: install Debian's python3"
	"$PYTHON" -c 'import PyKCS11' 2>/dev/null ||
		fail "PyKCS11 is missing for $PYTHON: install Debian's python3-pykcs11 (scripts/deps.sh)"
	"$PYTHON" -c 'import cryptography' 2>/dev/null ||
		fail "cryptography is missing for $PYTHON: install Debian's python3-cryptography"
	require_sandbox
	# the README's `mktemp -d` lands in this test's scratch directory
	TMPDIR=$tmp sandbox --apdu-log "$log" -- bash "$0" inner ||
		fail "the README's PyKCS11 commands failed"
	mechs=$(pso_mechs "$log" | sort | tr '\n' ' ')
	echo "PSO: COMPUTE DIGITAL SIGNATURE mechanisms in pcscd's log: $mechs"
	[ "$mechs" = "01 02 " ] || fail "want one card signature each of SM2 and ECDSA (01 02), got '$mechs'"
	pass "PyKCS11: ECDSA P-256 and SM2 (0xD54B0202) signed on the card, verified by cryptography and openssl"
}

case ${1:-} in
inner) inner ;;
'') outer ;;
*) fail "usage: $0 [inner]" ;;
esac
