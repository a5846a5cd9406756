#!/bin/bash
# consumers/p11-kit-gnutls.sh — p11-kit and GnuTLS (Debian 12: p11-kit 0.24.1, GnuTLS 3.7.9)
# use keys on the emulated token: the README's "p11-kit and GnuTLS" commands, run as written
# inside ukey-sandbox, then a TLS client-certificate login against a private gnutls-serv this
# script starts on a free port.
#
# What GnuTLS needs from the module: p11-kit loads it from a `ukey.module` file (here the
# user's ~/.config/pkcs11/modules, HOME being a directory of this test); p11tool finds
# objects by CKA_LABEL (URI `object=`) and class (`type=`), reads CKA_PUBLIC_KEY_INFO /
# CKA_EC_POINT / CKA_MODULUS, writes a certificate with the key pair's CKA_ID; TLS 1.3 signs
# CertificateVerify with CKM_ECDSA over the hash (P-256) or CKM_RSA_PKCS_PSS (RSA-2048).
#
# Proof that the token signed: p11tool --test-sign verifies each signature with GnuTLS (not
# the module) and adds one PSO: COMPUTE DIGITAL SIGNATURE to pcscd's APDU log; in each TLS
# session gnutls-serv verified the client certificate against the test CA and logs its
# SHA-256 fingerprint, which is that of the certificate read back from the token, the line
# sent comes back (echo server), and exactly one PSO with the key's mechanism (card mech 02
# ECDSA, 04 RSA-PSS; docs/apdu.md) answered 9000 was sent during the handshake. Negative
# cases: without a client key the server sends no echo; with a wrong PIN the card refuses
# the VERIFY (63Cx), gnutls-cli gives up, no PSO is sent and nothing is echoed.
#
# p11-kit reads no user configuration in a process whose uid is 0. When the test runs as
# root, the inner part runs in a user namespace that maps the caller to uid 65534
# (`unshare --user --map-user`): the process keeps root's file access outside, but getuid()
# is not 0, so the README's per-user registration is what is tested.
#
# The same file runs twice: without arguments it starts the sandbox (with --apdu-log);
# `inner` is the part inside it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly PSO_SIGN='04 2A 9E 9A'         # docs/apdu.md "PSO: COMPUTE DIGITAL SIGNATURE"
readonly VERIFY_USER='04 20 00 81'      # docs/apdu.md "VERIFY" (secured, user PIN)
readonly MSG='hello from ukey'

serv_pid=

# --- helpers of the inner part -------------------------------------------------------------

cleanup_inner() {
	if [ -n "$serv_pid" ]; then
		kill "$serv_pid" 2>/dev/null
		wait "$serv_pid" 2>/dev/null
	fi
	rm -rf -- "$tmp"
}

lines() { wc -l <"$1"; }

# since FILE N: the lines of FILE after its first N
since() { tail -n "+$(($2 + 1))" "$1"; }

# sign_apdus: "KR MECH SW" for each PSO: COMPUTE DIGITAL SIGNATURE of a pcscd -a log on stdin.
# The data field is SID(1) CTR(4) KR MECH ... (docs/apdu.md "Secure session"); an extended
# Lc (00 xx xx) shifts it by two bytes.
sign_apdus() {
	awk -v pso="$PSO_SIGN" '
		want && / SW: / { printf "%s %s %s%s\n", kr, mech, $(NF - 1), $NF; want = 0 }
		/ APDU: / {
			sub(/.* APDU: /, "")
			if (index($0, pso) != 1) next
			n = split($0, f, " ")
			o = f[5] == "00" ? 2 : 0
			kr = f[11 + o]; mech = f[12 + o]; want = 1
		}'
}

# verify_sws: the SWs that answered a secured user-PIN VERIFY, from a pcscd -a log on stdin.
verify_sws() {
	awk -v v="$VERIFY_USER" '
		want && / SW: / { print $(NF - 1) $NF; want = 0 }
		/ APDU: / { sub(/.* APDU: /, ""); want = index($0, v) == 1 }'
}

sha256_of_cert() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# The SHA-256 fingerprint of the client certificate gnutls-serv printed, from its log on stdin.
served_fingerprint() {
	awk '/Fingerprint:/ { f = 1; next } f && /sha256:/ { sub(/.*sha256:/, ""); print; exit }'
}

# start_server: gnutls-serv on a free port (random ports until one binds on IPv4); the
# command line is the README's, line-buffered so its log can be read while it runs, and
# killed if this shell dies (pdeathsig).
start_server() {
	local try i
	for try in $(seq 1 20); do
		PORT=$((20000 + RANDOM % 30000))
		: >server.log
		setpriv --pdeathsig TERM stdbuf -oL \
		gnutls-serv --echo --require-client-cert --verify-client-cert --x509cafile ca.pem --x509certfile server.pem --x509keyfile server.key -p "$PORT" >server.log 2>&1 &
		serv_pid=$!
		for ((i = 0; i < 100; i++)); do
			grep -q "IPv4 .* port $PORT\.\.\.done" server.log && return 0
			grep -q 'Address already in use' server.log && break
			kill -0 "$serv_pid" 2>/dev/null || break
			sleep 0.05
		done
		kill "$serv_pid" 2>/dev/null
		wait "$serv_pid" 2>/dev/null
		serv_pid=
		echo "port $PORT (try $try) is taken"
	done
	cat server.log >&2
	fail "gnutls-serv could not listen on a free port"
}

# --- inner: the README's commands, with checks between them --------------------------------

readme_register() {
	mkdir -p ~/.config/pkcs11/modules
	echo "module: $UKEY_MODULE" > ~/.config/pkcs11/modules/ukey.module
	p11-kit list-modules >list-modules.out 2>&1 || { cat list-modules.out >&2; fail "p11-kit list-modules"; }
	sed -n '/^ukey:/,/^[^ ]/p' list-modules.out
	grep -qx "ukey: $UKEY_MODULE" list-modules.out ||
		fail "p11-kit list-modules does not show ukey: $UKEY_MODULE"
	sed -n '/^ukey:/,/^[^ ]/p' list-modules.out | grep -qx '    token: ukey' ||
		fail "p11-kit list-modules shows no token 'ukey' under the ukey module"
	pass "p11-kit loads the module registered in ~/.config/pkcs11/modules and shows its token"
}

readme_keys() {
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" --keypairgen --key-type EC:prime256v1 --usage-sign --label tls-p256 ||
		fail "P-256 key generation"
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" --keypairgen --key-type rsa:2048 --usage-sign --label tls-rsa ||
		fail "RSA-2048 key generation"
}

check_list_all() {
	local l t
	for l in tls-p256 tls-rsa; do
		for t in private public; do
			grep -q "^	URL: pkcs11:.*;token=ukey;.*;object=$l;type=$t\$" list-all.out ||
				fail "p11tool --login --list-all shows no $t key '$l' with its pkcs11: URI"
		done
	done
	grep -q '^	Type: Private key (EC/ECDSA-SECP256R1)$' list-all.out ||
		fail "p11tool does not see a P-256 private key"
	grep -q '^	Type: Private key (RSA-2048)$' list-all.out ||
		fail "p11tool does not see an RSA-2048 private key"
}

# check_test_sign OUT ALGO LOG_LINES MECHS: GnuTLS verified the signature, and the token
# made it: one PSO (card mechanism one of MECHS) answered 9000 since LOG_LINES.
check_test_sign() {
	local out=$1 algo=$2 from=$3 mechs=$4 psos
	grep -q "^Signing using $algo\.\.\. ok\$" "$out" || fail "p11tool --test-sign: no $algo signature"
	grep -q '^Verifying against private key parameters\.\.\. ok$' "$out" ||
		fail "p11tool --test-sign: the $algo signature does not verify"
	psos=$(since "$UKS_APDU_LOG" "$from" | sign_apdus)
	[ "$(printf '%s\n' "$psos" | grep -c .)" -eq 1 ] ||
		fail "p11tool --test-sign $algo: want one PSO sign APDU, got: $psos"
	[[ ${psos#* } =~ ^($mechs)\ 9000$ ]] ||
		fail "p11tool --test-sign $algo: PSO '$psos', want mechanism $mechs answered 9000"
}

readme_list_and_test() {
	local n
	export GNUTLS_PIN=$UKEY_USER_PIN
	p11tool --login --list-all "pkcs11:token=ukey" >list-all.out 2>&1 ||
		{ cat list-all.out >&2; fail "p11tool --login --list-all"; }
	cat list-all.out
	check_list_all
	n=$(lines "$UKS_APDU_LOG")
	p11tool --login --test-sign "pkcs11:token=ukey;object=tls-p256" >sign-p256.out 2>&1
	cat sign-p256.out
	check_test_sign sign-p256.out ECDSA-SHA256 "$n" 02
	n=$(lines "$UKS_APDU_LOG")
	p11tool --login --test-sign "pkcs11:token=ukey;object=tls-rsa" >sign-rsa.out 2>&1
	cat sign-rsa.out
	check_test_sign sign-rsa.out RSA-SHA256 "$n" '03|04|05'
	pass "p11tool lists both keys with pkcs11: URIs and --test-sign signs on the token"
}

readme_certs() {
	printf 'cn = "ukey test CA"\nca\ncert_signing_key\n' > ca.tmpl
	printf 'cn = "localhost"\ndns_name = "localhost"\ntls_www_server\n' > server.tmpl
	printf 'cn = "ukey client"\ntls_www_client\nsigning_key\n' > client.tmpl
	certtool --generate-privkey --key-type ecdsa --outfile ca.key
	certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
	certtool --generate-privkey --key-type ecdsa --outfile server.key
	certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem --load-ca-privkey ca.key --template server.tmpl --outfile server.pem
	certtool --generate-certificate --load-pubkey "pkcs11:token=ukey;object=tls-p256;type=public" --load-ca-certificate ca.pem --load-ca-privkey ca.key --template client.tmpl --outfile tls-p256.pem
	certtool --generate-certificate --load-pubkey "pkcs11:token=ukey;object=tls-rsa;type=public" --load-ca-certificate ca.pem --load-ca-privkey ca.key --template client.tmpl --outfile tls-rsa.pem
	p11tool --login --write --load-certificate tls-p256.pem --label tls-p256 "pkcs11:token=ukey"
	p11tool --login --write --load-certificate tls-rsa.pem --label tls-rsa "pkcs11:token=ukey"
}

# The certificates on the token are the ones the CA issued (read back through p11tool,
# compared and chain-checked with OpenSSL) and certify the token's own public keys.
check_certs() {
	local l
	for l in tls-p256 tls-rsa; do
		p11tool --export "pkcs11:token=ukey;object=$l;type=cert" --outfile "token-$l.pem" ||
			fail "no certificate '$l' on the token"
		[ "$(sha256_of_cert "token-$l.pem")" = "$(sha256_of_cert "$l.pem")" ] ||
			fail "the certificate '$l' on the token is not the one the CA issued"
		openssl verify -CAfile ca.pem "token-$l.pem" >/dev/null || fail "'$l' does not chain to the CA"
		p11tool --export-pubkey "pkcs11:token=ukey;object=$l;type=public" --outfile "pub-$l.pem" ||
			fail "cannot read the public key '$l'"
		cmp -s <(openssl x509 -in "token-$l.pem" -noout -pubkey) <(openssl pkey -pubin -in "pub-$l.pem") ||
			fail "the certificate '$l' does not certify the token's key '$l'"
	done
	pass "the CA's client certificates are on the token beside their keys"
}

# check_session OUT LABEL LOG_FROM SERV_FROM MECH: the TLS session with the key LABEL worked
# and used the token (see the header).
check_session() {
	local out=$1 l=$2 from=$3 sfrom=$4 mech=$5 psos fp
	grep -qx "$MSG" "$out" || fail "gnutls-cli with '$l': '$MSG' was not echoed"
	grep -q '^- Handshake was completed' "$out" || fail "gnutls-cli with '$l': no handshake"
	since server.log "$sfrom" >"server-$l.log"
	grep -q '^- Status: The certificate is trusted' "server-$l.log" ||
		fail "gnutls-serv did not verify the client certificate of '$l'"
	grep -q 'Subject: CN=ukey client' "server-$l.log" || fail "gnutls-serv saw no client certificate"
	fp=$(served_fingerprint <"server-$l.log")
	[ "$fp" = "$(sha256_of_cert "token-$l.pem")" ] ||
		fail "gnutls-serv saw client certificate sha256:$fp, not the token's '$l'"
	psos=$(since "$UKS_APDU_LOG" "$from" | sign_apdus)
	[ "$(printf '%s\n' "$psos" | grep -c .)" -eq 1 ] ||
		fail "TLS with '$l': want one PSO sign APDU, got: $psos"
	[ "${psos#* }" = "$mech 9000" ] ||
		fail "TLS with '$l': PSO '$psos', want card mechanism $mech answered 9000"
	pass "TLS client login with '$l' on the token: server saw sha256:$fp, PSO mech $mech"
}

readme_tls() {
	local n s
	start_server
	n=$(lines "$UKS_APDU_LOG"); s=$(lines server.log)
	echo "hello from ukey" | gnutls-cli --x509cafile ca.pem --x509keyfile "pkcs11:token=ukey;object=tls-p256;type=private" --x509certfile "pkcs11:token=ukey;object=tls-p256;type=cert" -p "$PORT" localhost >tls-p256.out 2>&1
	cat tls-p256.out
	check_session tls-p256.out tls-p256 "$n" "$s" 02
	n=$(lines "$UKS_APDU_LOG"); s=$(lines server.log)
	echo "hello from ukey" | gnutls-cli --x509cafile ca.pem --x509keyfile "pkcs11:token=ukey;object=tls-rsa;type=private" --x509certfile "pkcs11:token=ukey;object=tls-rsa;type=cert" -p "$PORT" localhost >tls-rsa.out 2>&1
	cat tls-rsa.out
	check_session tls-rsa.out tls-rsa "$n" "$s" 04
}

# Without a client key the server refuses the session: the echo above needed the token.
negative_no_key() {
	echo "$MSG" | gnutls-cli --x509cafile ca.pem -p "$PORT" localhost >nokey.out 2>&1
	cat nokey.out
	grep -qx "$MSG" nokey.out && fail "the server echoed without a client certificate"
	pass "without a client certificate the server does not talk"
}

# With a wrong PIN the card refuses the VERIFY and the client cannot use the key.
negative_wrong_pin() {
	local n rc
	n=$(lines "$UKS_APDU_LOG")
	echo "$MSG" | GNUTLS_PIN=wrong9999 gnutls-cli --x509cafile ca.pem --x509keyfile "pkcs11:token=ukey;object=tls-p256;type=private" --x509certfile "pkcs11:token=ukey;object=tls-p256;type=cert" -p "$PORT" localhost >wrongpin.out 2>&1
	rc=$?
	cat wrongpin.out
	[ $rc -ne 0 ] || fail "gnutls-cli with a wrong PIN succeeded"
	grep -qx "$MSG" wrongpin.out && fail "the server echoed for a client with a wrong PIN"
	since "$UKS_APDU_LOG" "$n" | verify_sws | grep -q '^63C' ||
		fail "no user VERIFY refused with 63Cx in the APDU log"
	[ -z "$(since "$UKS_APDU_LOG" "$n" | sign_apdus)" ] || fail "a PSO sign was sent with a wrong PIN"
	pass "with a wrong PIN the card refuses the login, nothing is signed, nothing echoed"
}

inner() {
	trap cleanup_inner EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	export HOME=$UKS_WORK/home
	mkdir -p "$HOME" || fail "cannot create $HOME"
	cd "$UKS_WORK" || fail "cannot enter $UKS_WORK"
	[ "$(id -u)" != 0 ] || fail "running as uid 0: p11-kit would ignore ~/.config"
	readme_register
	readme_keys
	readme_list_and_test
	readme_certs
	check_certs
	readme_tls
	negative_no_key
	negative_wrong_pin
}

# --- outside ---------------------------------------------------------------------------------

main() {
	local as_user=() rc
	need p11-kit p11-kit
	need p11tool gnutls-bin
	need certtool gnutls-bin
	need gnutls-cli gnutls-bin
	need gnutls-serv gnutls-bin
	need pkcs11-tool opensc
	need openssl openssl
	need stdbuf coreutils
	need setpriv util-linux
	require_sandbox
	if [ "$(id -u)" = 0 ]; then
		as_user=(unshare --user --map-user=65534 --map-group=65534)
		"${as_user[@]}" true || fail "cannot map root to an unprivileged uid (unshare --user)"
	fi
	mkdir -p "$tmp/work" || fail "mkdir"
	UKS_WORK=$tmp/work UKS_APDU_LOG=$tmp/apdu.log \
		sandbox --apdu-log "$tmp/apdu.log" -- "${as_user[@]}" bash "$0" inner
	rc=$?
	[ $rc -eq 0 ] || fail "the p11-kit/GnuTLS run failed ($rc)"
	pass "p11-kit, p11tool, certtool and gnutls-cli use the keys on the token"
}

if [ "${1:-}" = inner ]; then
	export UKS_WORK UKS_APDU_LOG
	inner
	exit 0
fi
main
