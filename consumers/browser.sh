#!/bin/bash
# consumers/browser.sh — Firefox (Debian 12: firefox-esr, headless) authenticates to an HTTPS
# server with a client certificate whose key is on the emulated token: the README's "A web
# browser" commands, run as written inside `ukey-sandbox --pinpad --auto-pinpad`.
#
# Firefox loads the module through its profile's NSS database (modutil writes pkcs11.txt),
# picks the token's certificate by itself (security.default_personal_cert "Select
# Automatically") and signs the TLS CertificateVerify on the key. The key has a pinpad
# (CKF_PROTECTED_AUTHENTICATION_PATH): NSS's PK11_DoPassword then takes the application's
# answer as "already authenticated", and Firefox's answer (PK11PasswordPrompt ->
# ShowProtectedAuthPrompt) is a dialog without an input field, chrome://pippki/content/
# protectedAuth.xhtml, shown while another thread calls C_Login(CKU_USER, NULL, 0) and closed
# when it returns; the PIN is typed on the key (ukey-emu's --auto-pinpad types it). Headless,
# that dialog needs nobody, so the run is non-interactive. A key without a pinpad would make
# Firefox ask for the PIN in a modal prompt (headless it waits forever: a 20 s timeout, no
# request reaches the server).
#
# Proof that the token's key made the handshake: the server requires a client certificate
# from the test CA and writes the certificate it got, which must be byte for byte the one on
# the token (read back with pkcs11-tool); and during the Firefox run pcscd's APDU log shows
# the pinpad VERIFY (84 20 00 81) and a PSO: COMPUTE DIGITAL SIGNATURE (04 2A 9E 9A).
#
# The same file runs twice: without arguments it starts the sandbox (with --apdu-log);
# `inner` is the part inside it. Everything it starts (server, Firefox) is stopped at exit.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly PINPAD_VERIFY='APDU: 84 20 00 81' # docs/apdu.md VERIFY with the pinpad
readonly FIREFOX_SECONDS=25                # done in ~1-2 s here; see browse()

server_pid=

# count PATTERN: lines of pcscd's APDU log so far that contain PATTERN
count() { grep -c "$1" "$BROWSER_APDU_LOG"; }

cleanup_inner() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf -- "$tmp"
}

# --- setup noise (described in one README sentence) --------------------------------------------

# write_server: a small HTTPS server (Python's ssl) that requires a client certificate issued
# by ca.pem, writes the DER of the one it got to peer.der, and its free port to port
write_server() {
	cat >server.py <<-'EOF'
		import http.server, ssl, sys
		cert, key, ca = sys.argv[1:4]
		class Handler(http.server.BaseHTTPRequestHandler):
		    def do_GET(self):
		        with open("peer.der", "wb") as f:
		            f.write(self.connection.getpeercert(binary_form=True))
		        body = b"<html><body><h1>hello, ukey holder</h1></body></html>"
		        self.send_response(200)
		        self.send_header("Content-Type", "text/html")
		        self.send_header("Content-Length", str(len(body)))
		        self.end_headers()
		        self.wfile.write(body)
		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.load_cert_chain(cert, key)
		ctx.load_verify_locations(ca)
		ctx.verify_mode = ssl.CERT_REQUIRED
		httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
		with open("port.tmp", "w") as f:
		    f.write(str(httpd.server_address[1]))
		import os; os.rename("port.tmp", "port")
		httpd.serve_forever()
	EOF
}

# start_server: the server's certificate (for 127.0.0.1, from the test CA), then the server
start_server() {
	local _
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null || fail "server key"
	printf 'subjectAltName = IP:127.0.0.1\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -days 30 -extfile server.ext \
		-out server.pem 2>/dev/null || fail "server certificate"
	write_server
	/usr/bin/python3 server.py server.pem server.key ca.pem 2>server.log &
	server_pid=$!
	for _ in $(seq 1 100); do
		[ -s port ] && break
		kill -0 "$server_pid" 2>/dev/null || { cat server.log >&2; fail "the server died"; }
		sleep 0.05
	done
	PORT=$(cat port) || fail "the server did not start"
}

# quiet_prefs: keep the test run off the network and first-run pages (not needed to work)
quiet_prefs() {
	cat >>profile/user.js <<-'EOF'
		user_pref("browser.shell.checkDefaultBrowser", false);
		user_pref("browser.startup.homepage_override.mstone", "ignore");
		user_pref("datareporting.policy.dataSubmissionEnabled", false);
		user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
		user_pref("app.update.enabled", false);
		user_pref("app.normandy.enabled", false);
		user_pref("browser.safebrowsing.update.enabled", false);
		user_pref("network.captive-portal-service.enabled", false);
		user_pref("network.connectivity-service.enabled", false);
		user_pref("extensions.update.enabled", false);
		user_pref("network.proxy.type", 0);
	EOF
}

# --- inner: the README's commands, inside the sandbox ------------------------------------------

# make_key_and_cert: README steps 1-3 (key pair on the key, the profile's NSS database with the
# module, a certificate from a test CA written to the key)
make_key_and_cert() {
	pkcs11-tool --module "$UKEY_MODULE" --login --keypairgen --key-type EC:prime256v1 \
		--label web || fail "key pair generation"
	mkdir profile && certutil -N -d sql:profile --empty-password || fail "certutil -N"
	modutil -dbdir sql:profile -add ukey -libfile "$UKEY_MODULE" -mechanisms FRIENDLY -force ||
		fail "modutil -add"
	id=$(certutil -K -d sql:profile -h ukey | awk '$NF == "web" { print $4 }')
	[[ $id =~ ^[0-9a-f]{40}$ ]] || fail "no key id for 'web' in certutil -K: '$id'"
	certutil -R -d sql:profile -h ukey -k "$id" -s CN=web -a -o web.csr ||
		fail "certutil -R"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj /CN=test-ca -keyout ca.key -out ca.pem || fail "test CA"
	openssl x509 -req -in web.csr -CA ca.pem -CAkey ca.key -days 30 -outform DER -out web.der ||
		fail "the test CA did not sign the request"
	pkcs11-tool --module "$UKEY_MODULE" --login --write-object web.der --type cert \
		--id "$id" --label web || fail "certificate write"
}

# browse: README steps 4-5 (trust the test CA, choose the certificate automatically, load the
# page), the Firefox run bounded and its APDUs counted
browse() {
	local pso0 pin0 rc
	certutil -A -d sql:profile -n test-ca -t C,, -a -i ca.pem || fail "certutil -A test-ca"
	echo 'user_pref("security.default_personal_cert", "Select Automatically");' >profile/user.js
	quiet_prefs
	pso0=$(count "$PSO_SIGN_APDU")
	pin0=$(count "$PINPAD_VERIFY")
	timeout -k 5 "$FIREFOX_SECONDS" \
		firefox-esr --headless --profile profile --screenshot "$PWD/shot.png" https://127.0.0.1:$PORT/ \
		>firefox.log 2>&1
	rc=$?
	cat firefox.log
	# 124: Firefox waited. --screenshot never finishes on an error page (no client
	# certificate, untrusted server), nor while a PIN prompt waits for someone.
	[ $rc -eq 0 ] || fail "firefox-esr exited $rc (124: it waited: a PIN prompt or an error page)"
	psos=$(($(count "$PSO_SIGN_APDU") - pso0))
	pinpads=$(($(count "$PINPAD_VERIFY") - pin0))
}

# check: the server got the token's certificate, the key signed, and the page was rendered
check() {
	[ -s peer.der ] || { cat server.log >&2; fail "no request with a client certificate reached the server"; }
	pkcs11-tool --module "$UKEY_MODULE" --read-object --type cert --id "$id" -o token-cert.der ||
		fail "pkcs11-tool cannot read the token's certificate"
	cmp -s peer.der token-cert.der || fail "the server got a certificate that is not the token's"
	[ "$psos" -ge 1 ] || fail "no PSO: COMPUTE DIGITAL SIGNATURE while Firefox ran"
	[ "$pinpads" -ge 1 ] || fail "no pinpad VERIFY while Firefox ran"
	[ -s shot.png ] || fail "Firefox wrote no screenshot"
	echo "server saw $(openssl x509 -inform DER -in peer.der -noout -subject -fingerprint -sha256)"
}

inner() {
	trap cleanup_inner EXIT
	cd "$BROWSER_WORK" || fail "no work directory"
	# Firefox writes to HOME and TMPDIR too: both are this test's
	export HOME=$BROWSER_WORK/home TMPDIR=$BROWSER_WORK/tmp MOZ_CRASHREPORTER_DISABLE=1
	mkdir -p "$HOME" "$TMPDIR"
	make_key_and_cert
	start_server
	browse
	check
	pass "Firefox: TLS client authentication with the token's certificate (server saw it), $psos PSO signature(s) and $pinpads pinpad VERIFY during the run"
}

if [ "${1:-}" = inner ]; then
	inner
	exit
fi

need firefox-esr firefox-esr
need modutil libnss3-tools
need certutil libnss3-tools
need pkcs11-tool opensc
need openssl openssl
need /usr/bin/python3 python3
require_sandbox
mkdir "$tmp/work"
sandbox --pinpad --auto-pinpad --apdu-log "$tmp/apdu.log" -- \
	env BROWSER_WORK="$tmp/work" BROWSER_APDU_LOG="$tmp/apdu.log" bash "$0" inner
rc=$?
# nothing started here may outlive the test: every process it started works in $tmp/work
left=
for p in /proc/[0-9]*; do
	case $(readlink "$p/cwd" 2>/dev/null) in
	"$tmp/work"*) left+=" ${p#/proc/}" ;;
	esac
done
[ -z "$left" ] || { ps -o pid,args -p "${left# }" >&2; fail "processes left running:$left"; }
exit $rc
