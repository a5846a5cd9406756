#!/bin/bash
# consumers/openssh.sh — OpenSSH (Debian 12: 9.2p1) logs in with keys on the emulated token:
# the README's "OpenSSH" commands, run as written inside ukey-sandbox, against a private sshd
# this script starts on a free loopback port.
#
# What OpenSSH's ssh-pkcs11.c needs from the module: ssh-keygen -D, ssh -I and ssh-add -s list
# the CKO_PUBLIC_KEY objects (and X.509 certificates, none here) of every slot without login —
# CKA_ID, CKA_EC_PARAMS + CKA_EC_POINT or CKA_MODULUS + CKA_PUBLIC_EXPONENT — and sign by
# finding the CKO_PRIVATE_KEY with the same CKA_ID after C_Login (CKM_ECDSA over the hash,
# CKM_RSA_PKCS over a DigestInfo).
#
# Proof that the token signed: sshd verified the signature (it logs the accepted key's
# fingerprint, compared with the token key's), each login added exactly one PSO: COMPUTE
# DIGITAL SIGNATURE (04 2A 9E 9A) to pcscd's APDU log, and with only an unrelated key
# authorized the login fails and no PSO is sent.
#
# The same file runs twice: without arguments it starts the sandbox (with --apdu-log) and
# checks afterwards that nothing it started still runs; `inner` is the part inside it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly SSHD=/usr/sbin/sshd           # sshd re-executes itself: an absolute path is required

sshd_pid=

# --- inner: the README's commands, inside the sandbox ------------------------------------------

cleanup_inner() {
	[ -n "${SSH_AGENT_PID:-}" ] && kill "$SSH_AGENT_PID" 2>/dev/null
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
	[ -n "$sshd_pid" ] && wait "$sshd_pid" 2>/dev/null
	rm -rf -- "$tmp"
}

# psos: PSO COMPUTE DIGITAL SIGNATURE APDUs in pcscd's log so far
psos() { grep -c "$PSO_SIGN_APDU" "$UKS_APDU_LOG"; }

# The test's ssh_config names the private sshd `server`, as the README's commands do; every
# `ssh` below is the README's command line with this file added.
ssh() { command ssh -F "$tmp/ssh_config" "$@"; }

# start_sshd: a private sshd on a free loopback port (tries random ports until one binds)
start_sshd() {
	local port
	ssh-keygen -q -t ed25519 -N '' -C host -f "$tmp/hostkey" || fail "host key"
	# privilege separation directory (root only; Debian creates it at sshd's boot start)
	[ "$(id -u)" = 0 ] && [ ! -d /run/sshd ] && mkdir -m 0755 /run/sshd
	for _ in $(seq 1 20); do
		port=$((20000 + RANDOM % 12000))
		cat >"$tmp/sshd_config" <<-EOF
			ListenAddress 127.0.0.1
			Port $port
			HostKey $tmp/hostkey
			AuthorizedKeysFile $tmp/authorized_keys
			StrictModes no
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			UsePAM no
			PidFile $tmp/sshd.pid
		EOF
		: >"$tmp/sshd.log"
		"$SSHD" -D -e -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
		sshd_pid=$!
		echo "$sshd_pid" >>"$UKS_PIDS"
		while kill -0 "$sshd_pid" 2>/dev/null; do
			grep -q "Server listening" "$tmp/sshd.log" && break 2
			sleep 0.05
		done
		wait "$sshd_pid" 2>/dev/null
		sshd_pid=
	done
	[ -n "$sshd_pid" ] || { cat "$tmp/sshd.log" >&2; fail "sshd did not start"; }
	echo "[127.0.0.1]:$port $(cat "$tmp/hostkey.pub")" >"$tmp/known_hosts"
	cat >"$tmp/ssh_config" <<-EOF
		Host server
		  HostName 127.0.0.1
		  Port $port
		  User $(id -un)
		  UserKnownHostsFile $tmp/known_hosts
		  StrictHostKeyChecking yes
		  IdentityFile none
	EOF
}

# authorize LINES...: the server accepts exactly these public key lines
authorize() { printf '%s\n' "$@" >"$tmp/authorized_keys"; }

# fingerprint LINE: SHA256 fingerprint of one public key line
fingerprint() { ssh-keygen -lf - <<<"$1" | awk '{ print $2 }'; }

# login_ok WHAT FP COMMAND...: COMMAND logs in, runs `id -un` (prints this user), sshd accepted
# the key with fingerprint FP, and exactly one signature was made by the token.
login_ok() {
	local what=$1 fp=$2 before after out
	shift 2
	before=$(psos)
	: >"$tmp/sshd.log"
	out=$("$@" 2>"$tmp/ssh.err") || { cat "$tmp/ssh.err" "$tmp/sshd.log" >&2; fail "$what: login failed"; }
	after=$(psos)
	[ "$out" = "$(id -un)" ] || fail "$what: the remote command printed '$out'"
	grep -q "Accepted publickey for $(id -un) .*$fp" "$tmp/sshd.log" ||
		{ cat "$tmp/sshd.log" >&2; fail "$what: sshd did not accept the token key $fp"; }
	[ $((after - before)) -eq 1 ] ||
		fail "$what: $((after - before)) PSO signature APDUs during the login, want 1"
	pass "$what: logged in with $fp, signed on the token (1 PSO APDU)"
}

run_inner() {
	local pub ec rsa other before out
	unset SSH_AUTH_SOCK SSH_AGENT_PID
	trap cleanup_inner EXIT
	cd "$tmp" || fail "cd $tmp"
	start_sshd

	# README: keys on the token, their public keys, the PIN without a terminal
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" \
		--keypairgen --key-type EC:prime256v1 --label ssh-ec >/dev/null || fail "P-256 keygen"
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" \
		--keypairgen --key-type rsa:2048 --usage-sign --label ssh-rsa >/dev/null || fail "RSA keygen"
	ssh-keygen -D "$UKEY_MODULE" >token.pub || fail "ssh-keygen -D failed"
	# shellcheck disable=SC2016  # askpass reads the PIN from its environment when ssh runs it
	printf '#!/bin/sh\necho "$UKEY_USER_PIN"\n' >askpass && chmod +x askpass
	export SSH_ASKPASS=$PWD/askpass SSH_ASKPASS_REQUIRE=force

	cat token.pub
	ec=$(grep '^ecdsa-sha2-nistp256 .* ssh-ec$' token.pub) || fail "ssh-keygen -D: no P-256 key"
	rsa=$(grep '^ssh-rsa .* ssh-rsa$' token.pub) || fail "ssh-keygen -D: no RSA key"
	[ "$(wc -l <token.pub)" -eq 2 ] || fail "ssh-keygen -D: $(wc -l <token.pub) keys, want 2"
	pub=$(pkcs11-tool --module "$UKEY_MODULE" --read-object --type pubkey --label ssh-ec |
		openssl pkey -pubin -inform DER -outform PEM) || fail "pkcs11-tool --read-object"
	[ "$(ssh-keygen -i -m PKCS8 -f /dev/stdin <<<"$pub" | cut -d' ' -f2)" = "$(echo "$ec" | cut -d' ' -f2)" ] ||
		fail "ssh-keygen -D's P-256 key is not the token's public key"
	pass "ssh-keygen -D lists the token's P-256 and RSA-2048 keys"

	# each key alone: only its line is authorized
	authorize "$ec"
	login_ok "ssh -I, P-256" "$(fingerprint "$ec")" ssh -I "$UKEY_MODULE" server id -un
	authorize "$rsa"
	login_ok "ssh -o PKCS11Provider, RSA-2048" "$(fingerprint "$rsa")" \
		ssh -o PKCS11Provider="$UKEY_MODULE" server id -un

	# negative: an unrelated key only; the token must not be asked to sign
	ssh-keygen -q -t ed25519 -N '' -C other -f "$tmp/other" || fail "other key"
	other=$(cat "$tmp/other.pub")
	authorize "$other"
	before=$(psos)
	ssh -I "$UKEY_MODULE" server id -un 2>"$tmp/ssh.err" && fail "logged in with no token key authorized"
	grep -q "Permission denied (publickey)" "$tmp/ssh.err" || { cat "$tmp/ssh.err" >&2; fail "unexpected error"; }
	[ "$(psos)" -eq "$before" ] || fail "the token signed although its keys are not authorized"
	pass "with only an unrelated key authorized the login is refused and the token signs nothing"

	authorize "$ec" "$rsa"
	agent_steps "$ec" "$rsa"
}

# README: ssh-agent; then the key pulled out and plugged back
agent_steps() {
	local ec=$1 rsa=$2 n
	eval "$(ssh-agent -s -P "$UKEY_MODULE")" >/dev/null || fail "ssh-agent"
	echo "$SSH_AGENT_PID" >>"$UKS_PIDS"
	ssh-add -s "$UKEY_MODULE" || fail "ssh-add -s"
	pgrep -P "$SSH_AGENT_PID" >>"$UKS_PIDS"   # ssh-pkcs11-helper
	ssh-add -l | tee "$tmp/agent.list"
	n=$(grep -c -e "$(fingerprint "$ec")" -e "$(fingerprint "$rsa")" "$tmp/agent.list")
	[ "$n" -eq 2 ] || fail "ssh-add -l lists $n of the token's 2 keys"
	login_ok "ssh through ssh-agent" "$(fingerprint "$ec")" ssh server id -un

	{ "$UKEY_EMU" ctl remove 0 && "$UKEY_EMU" ctl insert 0; } || fail "remove/insert"
	# OpenSSH 9.2's ssh-pkcs11-helper keeps the session it opened at ssh-add -s; the module
	# closed it when the key went (C_Sign: CKR_DEVICE_REMOVED, then
	# CKR_SESSION_HANDLE_INVALID) and the helper never opens a new one.
	if ssh server id -un 2>"$tmp/ssh.err"; then
		pass "ssh-agent recovered by itself after the key was re-inserted"
	else
		grep -q "agent refused operation" "$tmp/ssh.err" ||
			{ cat "$tmp/ssh.err" >&2; fail "stale agent: unexpected error"; }
		n=$(ssh-add -l | grep -c -e "$(fingerprint "$ec")" -e "$(fingerprint "$rsa")")
		[ "$n" -eq 2 ] || fail "the stale agent lists $n of the 2 keys"
		ssh-add -s "$UKEY_MODULE" 2>/dev/null && fail "ssh-add -s of a loaded provider was accepted"
		pass "after re-insertion the agent still lists both keys but refuses to sign, and refuses ssh-add -s alone (OpenSSH 9.2)"
	fi
	login_ok "ssh -I after re-insertion (no agent)" "$(fingerprint "$ec")" \
		ssh -o IdentityAgent=none -I "$UKEY_MODULE" server id -un
	{ ssh-add -e "$UKEY_MODULE" && ssh-add -s "$UKEY_MODULE"; } || fail "ssh-add -e / -s"
	pgrep -P "$SSH_AGENT_PID" >>"$UKS_PIDS"
	login_ok "ssh through ssh-agent after ssh-add -e / -s" "$(fingerprint "$ec")" ssh server id -un
	ssh-agent -k >/dev/null || fail "ssh-agent -k"
	unset SSH_AGENT_PID
}

# --- outer: the sandbox, and nothing left running ---------------------------------------------

run_outer() {
	local pids p left=
	export UKS_APDU_LOG=$tmp/apdu.log UKS_PIDS=$tmp/pids
	: >"$UKS_PIDS"
	sandbox --apdu-log "$UKS_APDU_LOG" -- bash "$0" inner </dev/null || fail "the OpenSSH steps failed"
	pids=$(sort -u "$UKS_PIDS")
	[ -n "$pids" ] || fail "no sshd or ssh-agent pid recorded"
	sleep 0.2
	for p in $pids; do
		# a zombie (its parent gone, not reaped yet by init here) runs no more
		case $(ps -o stat= -p "$p") in
		'' | Z*) ;;
		*) left+=" $p" ;;
		esac
	done
	[ -z "$left" ] || { ps -o pid,ppid,stat,args -p "${left# }" >&2; fail "still running:$left"; }
	pass "sshd, ssh-agent and ssh-pkcs11-helper (pids $(tr '\n' ' ' <<<"$pids"| sed 's/ $//')) are stopped"
}

need ssh openssh-client
need ssh-keygen openssh-client
need ssh-agent openssh-client
need ssh-add openssh-client
need pkcs11-tool opensc
need openssl openssl
[ -x "$SSHD" ] || fail "$SSHD is missing: install Debian's openssh-server (scripts/deps.sh)"

if [ "${1:-}" = inner ]; then
	run_inner
else
	require_sandbox
	run_outer
fi
