#!/bin/bash
# consumers/p11-kit-remote.sh — the token used through p11-kit's RPC (Debian 12: p11-kit
# 0.24.1): `p11-kit server --provider $UKEY_MODULE pkcs11:token=ukey` exports the token on a
# unix socket, and pkcs11-tool signs through p11-kit-client.so (P11_KIT_SERVER_ADDRESS).
# The README's "p11-kit remote" commands, run as written inside ukey-sandbox.
#
# Proof that the token signed: openssl verifies the ECDSA P-256 and RSA signatures made through
# the client against the public keys read through it, and pcscd's APDU log shows one PSO:
# COMPUTE DIGITAL SIGNATURE (04 2A 9E 9A) for each, with the card mechanisms 02 and 03
# (docs/apdu.md).
#
# What the RPC loses, asserted as observed (so the test notices when p11-kit changes): the
# client drops from C_GetMechanismList every mechanism p11-kit's rpc-message.c does not know
# (p11_rpc_mechanism_is_supported(): mechanism_has_no_parameters() || 
# mechanism_has_sane_parameters(), two hand-written allow-lists), and answers C_SignInit
# with one CKR_MECHANISM_INVALID without calling the server. Here that is every ukey vendor
# mechanism (0xD54B....), CKM_ECDSA_SHA256/384 and the hashed PSS mechanisms; so SM2 with
# 0xD54B0202 fails through the RPC and no SM2 PSO (mechanism 01) reaches the card.
#
# The server daemonises; its pid is killed in the EXIT trap (and it is given its own
# XDG_RUNTIME_DIR under $tmp for the socket).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so

# --- inner: the README's commands, inside the sandbox ------------------------------------------

cleanup_inner() {
	if [ -n "${P11_KIT_SERVER_PID:-}" ]; then
		kill "$P11_KIT_SERVER_PID" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$P11_KIT_SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -rf -- "$tmp"
}

inner_keys() {
	p11() { pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" "$@"; }
	p11 --keypairgen --key-type EC:prime256v1 --label p256 || fail "P-256 keypairgen"
	p11 --keypairgen --key-type rsa:2048 --usage-sign --label rsa || fail "RSA keypairgen"
	"$UKEY_TOOL" keygen --label sm2 || fail "ukey-tool keygen"
}

inner_server() {
	eval "$(p11-kit server --provider "$UKEY_MODULE" --sh "pkcs11:token=ukey")"
	until [ -S "${P11_KIT_SERVER_ADDRESS#unix:path=}" ]; do sleep 0.1; done   # the server may still be starting
	if [ -z "${P11_KIT_SERVER_PID:-}" ] || [ -z "${P11_KIT_SERVER_ADDRESS:-}" ]; then
		fail "p11-kit server printed no address"
	fi
	echo "$P11_KIT_SERVER_ADDRESS"
	case $P11_KIT_SERVER_ADDRESS in
	unix:path="$XDG_RUNTIME_DIR"/*) ;;
	*) fail "the server's socket is not under this test's directory" ;;
	esac
	remote() { pkcs11-tool --module /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so "$@"; }
	remote -L | tee "$tmp/list.txt" || fail "remote -L"
	grep -q "token manufacturer : ukey project" "$tmp/list.txt" || fail "no ukey token through p11-kit"
	remote -M | tee "$tmp/mechs.txt" || fail "remote -M"
	# not in the README's commands: the mechanisms lost on the way, against the module's own list
	pkcs11-tool --module "$UKEY_MODULE" -M >"$tmp/direct-mechs.txt" || fail "direct -M"
	grep -q "mechtype-0xD54B0202" "$tmp/direct-mechs.txt" || fail "the module lists no 0xD54B0202"
	grep -qi "0xD54B" "$tmp/mechs.txt" && fail "a vendor mechanism crossed p11-kit's RPC: update the README"
	grep -q "^  ECDSA-SHA256" "$tmp/mechs.txt" && fail "ECDSA-SHA256 crossed p11-kit's RPC: update the README"
	grep -q "^  ECDSA," "$tmp/mechs.txt" || fail "CKM_ECDSA is missing through p11-kit"
}

inner_sign() {
	id_of() { remote -O --type pubkey | awk -v l="$1" '$1 == "label:" { hit = $2 == l } hit && $1 == "ID:" { print $2; exit }'; }
	p256=$(id_of p256) rsa=$(id_of rsa) sm2=$(id_of sm2)
	if [ -z "$p256" ] || [ -z "$rsa" ] || [ -z "$sm2" ]; then
		fail "IDs: '$p256' '$rsa' '$sm2'"
	fi
	remote --read-object --type pubkey --id "$p256" -o p256.der || fail "read P-256 public key"
	remote --read-object --type pubkey --id "$rsa" -o rsa.der || fail "read RSA public key"
	echo 'pay 100 to Alice' > msg.txt
	openssl dgst -sha256 -binary msg.txt > msg.sha256
	remote --login --pin "$UKEY_USER_PIN" --sign --id "$p256" -m ECDSA -f openssl -i msg.sha256 -o p256.sig || fail "ECDSA sign through p11-kit"
	openssl dgst -sha256 -verify p256.der -signature p256.sig msg.txt || fail "openssl: ECDSA"
	remote --login --pin "$UKEY_USER_PIN" --sign --id "$rsa" -m SHA256-RSA-PKCS -i msg.txt -o rsa.sig || fail "RSA sign through p11-kit"
	openssl dgst -sha256 -verify rsa.der -signature rsa.sig msg.txt || fail "openssl: RSA"
	remote --login --pin "$UKEY_USER_PIN" --sign --id "$sm2" -m 0xD54B0202 -i msg.txt -o sm2.sig 2>&1 | tee "$tmp/sm2.out"
	grep -q "CKR_MECHANISM_INVALID" "$tmp/sm2.out" || fail "SM2 through p11-kit: want CKR_MECHANISM_INVALID"
	[ -s sm2.sig ] && fail "an SM2 signature came through p11-kit: update the README"
	# not in the README: a tampered message fails both
	echo 'pay 900 to Mallory' >bad.txt
	openssl dgst -sha256 -verify p256.der -signature p256.sig bad.txt && fail "ECDSA: tampered message accepted"
	openssl dgst -sha256 -verify rsa.der -signature rsa.sig bad.txt && fail "RSA: tampered message accepted"
	eval "$(p11-kit server --kill --sh)"
	[ -z "${P11_KIT_SERVER_PID:-}" ] || fail "p11-kit server --kill --sh did not unset the pid"
}

inner() {
	trap cleanup_inner EXIT
	export XDG_RUNTIME_DIR=$tmp/run
	mkdir -m 0700 "$XDG_RUNTIME_DIR" || fail "mkdir $XDG_RUNTIME_DIR"
	cd "$tmp" || fail "cd $tmp"
	inner_keys
	inner_server
	inner_sign
}

# --- outer: the sandbox, and pcscd's APDU log ------------------------------------------------

outer() {
	local log=$tmp/apdu.log mechs
	need pkcs11-tool opensc
	need openssl openssl
	need p11-kit p11-kit
	[ -f "$CLIENT" ] || fail "$CLIENT is missing: install Debian's p11-kit-modules"
	require_sandbox
	sandbox --apdu-log "$log" -- bash "$0" inner || fail "the README's p11-kit remote commands failed"
	mechs=$(pso_mechs "$log" | sort | tr '\n' ' ')
	echo "PSO: COMPUTE DIGITAL SIGNATURE mechanisms in pcscd's log: $mechs"
	[ "$mechs" = "02 03 " ] ||
		fail "want one card signature each of ECDSA and RSA and none of SM2 (02 03), got '$mechs'"
	pass "p11-kit remote: ECDSA and RSA signed on the card through p11-kit-client.so, verified by openssl; SM2 (0xD54B0202) refused by p11-kit's RPC"
}

case ${1:-} in
inner) inner ;;
'') outer ;;
*) fail "usage: $0 [inner]" ;;
esac
