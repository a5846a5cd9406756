#!/bin/bash
# consumer_openssl-tls: OpenSSL with a key on the token through libp11's engine (Debian's
# libengine-pkcs11-openssl, engine id "pkcs11", module from PKCS11_MODULE_PATH): mutual TLS
# (openssl s_client <-> s_server -Verify 1), openssl dgst -sign and pkeyutl -sign, for a
# P-256 and an RSA-2048 key generated on the token. The commands are the README's
# "OpenSSL: TLS client keys and signatures" (run once per key type).
#
# Passes only if the token signed: the server saw the client certificate issued for the
# token's public key and verified the handshake (Verify return code 0, its CertificateVerify
# signature), pcscd's APDU log shows one more PSO: COMPUTE DIGITAL SIGNATURE for the
# handshake, the signatures verify with plain openssl against the token's public key, and a
# client certificate for another key is refused.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

if [ "${1:-}" != inner ]; then
	need openssl openssl
	need pkcs11-tool opensc
	[ -f /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so ] ||
		[ -n "$(find /usr/lib -path '*engines-3/pkcs11.so' -print -quit 2>/dev/null)" ] ||
		fail "libp11's OpenSSL engine is missing: install libengine-pkcs11-openssl"
	require_sandbox
	OPENSSL_APDU_LOG=$tmp/apdu.log sandbox --apdu-log "$tmp/apdu.log" -- bash "$0" inner
	exit $?
fi

cd "$tmp" || fail "no scratch directory"
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	exec 3>&-
	rm -rf -- "$tmp"
}
trap cleanup EXIT

# PSO: COMPUTE DIGITAL SIGNATURE (docs/apdu.md: CLA 04, INS 2A, P1P2 9E9A) seen by pcscd
sign_apdus() { pso_count "$OPENSSL_APDU_LOG"; }

# The README's test CA and server certificate (software keys: the server is not the point).
ca_and_server() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -subj "/CN=Test CA" -days 2 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout server.key -out server.pem -subj "/CN=localhost" -days 2 \
		-CA ca.pem -CAkey ca.key 2>/dev/null
}

# Start `openssl s_server ... -Verify 1` on a free loopback port (setup noise kept out of the
# README: port 0, the chosen port read back, stdin a fifo held open so it waits for us).
# Sets port and server_pid; the server's output goes to $1.
start_server() {
	local log=$1 i
	rm -f fifo && mkfifo fifo || fail "mkfifo"
	openssl s_server -accept 127.0.0.1:0 -naccept 1 -cert server.pem -key server.key \
		-CAfile ca.pem -Verify 1 -verify_return_error <fifo >"$log" 2>&1 &
	server_pid=$!
	exec 3>fifo
	for i in $(seq 100); do
		port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$log")
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	fail "s_server did not start: $(cat "$log")"
}

stop_server() {
	exec 3>&-
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# One key type: the README commands, then the checks.
# $1 pkcs11-tool key type, $2 label, $3 the signature type s_server must report
use_key() {
	local keytype=$1 label=$2 sigtype=$3 before after
	# ---- README: OpenSSL: TLS client keys and signatures ----
	export PKCS11_MODULE_PATH=$UKEY_MODULE
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" \
		--keypairgen --key-type "$keytype" --usage-sign --label "$label" >/dev/null ||
		fail "$keytype: keypairgen"
	KEY="pkcs11:object=$label;type=private;pin-value=$UKEY_USER_PIN"
	[ -f ca.pem ] || ca_and_server
	openssl req -new -engine pkcs11 -keyform engine -key "$KEY" -subj "/CN=$label" \
		-out client.csr || fail "$label: openssl req -new with the token key"
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-out client.pem || fail "$label: the CA refused the request"
	start_server "server.$label.log"
	before=$(sign_apdus)
	echo Q | openssl s_client -connect "127.0.0.1:$port" -engine pkcs11 -keyform engine \
		-key "$KEY" -cert client.pem -CAfile ca.pem >"client.$label.log" 2>&1 ||
		fail "$label: s_client: $(tail -5 "client.$label.log")"
	after=$(sign_apdus)
	stop_server
	echo "msg for $label" >msg.txt
	openssl dgst -sha256 -engine pkcs11 -keyform engine -sign "$KEY" -out msg.sig msg.txt ||
		fail "$label: dgst -sign"
	openssl x509 -in client.pem -pubkey -noout >client.pub
	openssl dgst -sha256 -verify client.pub -signature msg.sig msg.txt ||
		fail "$label: dgst signature does not verify"
	openssl dgst -sha256 -binary -out msg.sha256 msg.txt
	openssl pkeyutl -sign -engine pkcs11 -keyform engine -inkey "$KEY" -in msg.sha256 \
		-out msg.pkeyutl.sig || fail "$label: pkeyutl -sign"
	openssl pkeyutl -verify -pubin -inkey client.pub -in msg.sha256 -sigfile msg.pkeyutl.sig ||
		fail "$label: pkeyutl signature does not verify"
	# ---- end of the README commands ----

	# the certificate is for the token's key (so only the token could sign for it)
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type pubkey --label "$label" \
		-o token.pub.der >/dev/null 2>&1 || fail "$label: no public key on the token"
	cmp -s <(openssl pkey -pubin -inform DER -in token.pub.der -outform DER) \
		<(openssl pkey -pubin -in client.pub -outform DER) ||
		fail "$label: the certificate's key is not the token's"
	grep -q "^subject=CN = $label\$" "server.$label.log" ||
		fail "$label: s_server did not get the client certificate: $(cat "server.$label.log")"
	grep -q "^Peer signature type: $sigtype\$" "server.$label.log" ||
		fail "$label: no $sigtype CertificateVerify at the server"
	grep -q "Verify return code: 0 (ok)" "client.$label.log" ||
		fail "$label: the handshake did not complete"
	[ "$after" -eq $((before + 1)) ] ||
		fail "$label: $((after - before)) signature APDUs during the handshake, want 1"
	pass "$label: mutual TLS ($(sed -n 's/^New, \([^,]*\),.*/\1/p' "client.$label.log"), $sigtype by the token), dgst -sign, pkeyutl -sign"
}

# A client certificate for a software key presented with the token's key: s_client must
# not complete a handshake (the key does not match), and the server accepts no client.
negative() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
		-subj "/CN=other" -out other.csr 2>/dev/null
	openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-out other.pem 2>/dev/null
	start_server server.neg.log
	if echo Q | openssl s_client -connect "127.0.0.1:$port" -engine pkcs11 -keyform engine \
		-key "$KEY" -cert other.pem -CAfile ca.pem >client.neg.log 2>&1 &&
		grep -q "Verify return code: 0" client.neg.log; then
		kill "$server_pid" 2>/dev/null
		stop_server
		fail "a certificate for another key was accepted with the token's key"
	fi
	kill "$server_pid" 2>/dev/null
	stop_server
	grep -q "^subject=CN = other" server.neg.log &&
		fail "the server accepted a client whose certificate is not the token key's"
	pass "a client certificate for another key is refused"
}

[ -n "${UKEY_MODULE:-}" ] || fail "run inside ukey-sandbox"
use_key EC:prime256v1 tls-ec ECDSA
use_key RSA:2048 tls-rsa RSA-PSS
negative
