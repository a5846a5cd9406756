#!/bin/bash
# consumers/readme.sh — the README's "## Use it with …" section, followed verbatim as a new
# user would: for each ### subsection, its ```sh blocks, in order, run as ONE script
# (`bash -e -o pipefail`: any failing command, also inside a pipeline, fails the subsection)
# inside a fresh ukey-sandbox, in a fresh empty working directory, with a fresh HOME,
# XDG_RUNTIME_DIR and TMPDIR under $tmp (what a login session gives a new user: nothing in
# ~/.config, ~/.ssh, ~/.mozilla). Every subsection must pass. The per-consumer scripts
# (consumers/NAME.sh) run the same commands with assertions; this one proves that the README,
# copied as it stands, works.
#
#   readme.sh [--readme FILE] [--only TITLE]    run the section (default: the tree's README)
#   readme.sh --self-check                      break README commands in a copy, one at a
#                                               time, and check that each break fails the run
#
# The table below knows every subsection: the sandbox options its prose asks for, and what
# the test must provide that a user has already (a subsection the table does not know, or a
# table entry the README lost, fails the test: update both together). Flags:
#   nonroot  run as an unprivileged user (when the test runs as root: a user namespace that
#            maps root to uid 65534). p11-kit reads no user configuration as root, and the
#            README registers the module per user; root would have to write
#            /etc/pkcs11/modules, which a test must not touch.
#   srcdir   the prose says "from the source tree": run there (its files go to mktemp -d).
#   sshd     "server is your SSH server": a private sshd on a free loopback port that
#            authorizes the README's token.pub, and an `ssh` function that adds -F with a
#            `Host server` entry (ssh reads ~/.ssh/config from the passwd entry, not $HOME).
#
# The README's servers listen on fixed ports (5556, 4433, 8443: each program's usual one), so
# the subsections run one after another and CTest runs this test alone (RUN_SERIAL in
# consumers/CMakeLists.txt): no other test can hold those ports meanwhile.
#
# Nothing a subsection starts may outlive it: its processes carry UKEY_README_RUN=<id> in
# their environment; any found after the run are killed and fail the subsection.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

readonly SECTION_HEADING='## Use it with …'
readonly SUBSECTION_SECONDS=150

# title | ukey-sandbox options | flags
readonly TABLE='
pkcs11-tool||
p11-kit and GnuTLS||nonroot
OpenSSL: TLS client keys and signatures||
OpenSSL: an SM2 certificate for the key||
OpenSSH||sshd
NSS||
A web browser (Firefox)|--pinpad --auto-pinpad|
PyKCS11||srcdir
p11-kit remote||
'

readme=$UKS_SRC/README.md
only=

# table_row TITLE: prints "options|flags" of TITLE, fails if the table does not know it
table_row() {
	local t o f
	while IFS='|' read -r t o f; do
		[ "$t" = "$1" ] && { printf '%s|%s\n' "$o" "$f"; return 0; }
	done <<<"$TABLE"
	return 1
}

# extract README DIR: DIR/N.title and DIR/N.sh for each ### subsection of the section (its
# ```sh blocks joined in order); prints the number of subsections
extract() {
	awk -v head="$SECTION_HEADING" -v dir="$2" '
		$0 == head { in_sec = 1; next }
		in_sec && /^## / { in_sec = 0 }
		!in_sec { next }
		/^### / { n++; sub(/^### /, ""); print > (dir "/" n ".title"); printf "" > (dir "/" n ".sh"); next }
		n && /^```sh$/ { code = 1; next }
		code && /^```$/ { code = 0; next }
		code { print >> (dir "/" n ".sh") }
		END { print n + 0 }' "$1"
}

# --- the setup a user has already (flags of the table) -----------------------------------------

# sshd_prelude SETUP WORK: shell text that starts a private sshd (authorized keys: WORK's
# token.pub, written by the README's ssh-keygen -D) and defines ssh() with its client config
sshd_prelude() {
	local setup=$1 work=$2
	cat <<-EOF
		# --- readme.sh: a private sshd named "server" (not part of the README) ---
		ssh-keygen -q -t ed25519 -N '' -C host -f '$setup/hostkey'
		[ "\$(id -u)" != 0 ] || [ -d /run/sshd ] || mkdir -m 0755 /run/sshd
		for _try in \$(seq 1 20); do
			_port=\$((20000 + RANDOM % 12000))
			printf '%s\n' 'ListenAddress 127.0.0.1' "Port \$_port" 'HostKey $setup/hostkey' \\
				'AuthorizedKeysFile $work/token.pub' 'StrictModes no' 'UsePAM no' \\
				'PasswordAuthentication no' 'KbdInteractiveAuthentication no' \\
				'PidFile $setup/sshd.pid' >'$setup/sshd_config'
			: >'$setup/sshd.log'
			/usr/sbin/sshd -D -e -f '$setup/sshd_config' -E '$setup/sshd.log' &
			_sshd=\$!
			while kill -0 \$_sshd 2>/dev/null && ! grep -q 'Server listening' '$setup/sshd.log'; do sleep 0.05; done
			kill -0 \$_sshd 2>/dev/null && break
			_sshd=
		done
		[ -n "\$_sshd" ] || { cat '$setup/sshd.log' >&2; echo 'readme.sh: sshd did not start' >&2; exit 1; }
		trap '_rc=\$?; kill \$_sshd 2>/dev/null; [ \$_rc = 0 ] || sed "s/^/sshd: /" "$setup/sshd.log" >&2' EXIT
		echo "[127.0.0.1]:\$_port \$(cat '$setup/hostkey.pub')" >'$setup/known_hosts'
		printf '%s\n' 'Host server' '  HostName 127.0.0.1' "  Port \$_port" "  User \$(id -un)" \\
			'  UserKnownHostsFile $setup/known_hosts' '  StrictHostKeyChecking yes' \\
			'  IdentityFile none' >'$setup/ssh_config'
		ssh() { command ssh -F '$setup/ssh_config' "\$@"; }
		# --- readme.sh: end of the setup; the README's commands follow ---
	EOF
}

# --- one subsection ----------------------------------------------------------------------------

# leftovers TAG: pids of processes whose environment holds UKEY_README_RUN=TAG
leftovers() {
	local p
	for p in /proc/[0-9]*; do
		tr "\\0" "\\n" 2>/dev/null <"$p/environ" | grep -qx "UKEY_README_RUN=$1" && echo "${p#/proc/}"
	done
}

# kill_leftovers TAG: stop them (TERM, then KILL); prints what was left
kill_leftovers() {
	local pids
	pids=$(leftovers "$1" | tr '\n' ' ')
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	ps -o pid=,args= -p "${pids// /,}" 2>/dev/null | sed 's/,$//'
	# shellcheck disable=SC2086
	kill $pids 2>/dev/null
	sleep 0.5
	pids=$(leftovers "$1" | tr '\n' ' ')
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
}

# run_one N TITLE SCRIPT: the subsection's commands in a fresh sandbox; returns their status
run_one() {
	local n=$1 title=$2 code=$3 row opts flags base work script tag rc left
	local as_user=() sandbox_opts=()
	row=$(table_row "$title") || { echo "FAIL: the README has a subsection '### $title' that readme.sh does not know: add it to TABLE" >&2; return 1; }
	opts=${row%%|*} flags=${row#*|}
	read -r -a sandbox_opts <<<"$opts"
	base=$tmp/$n
	mkdir -p "$base/work" "$base/home" "$base/tmp" "$base/setup" && mkdir -m 0700 "$base/run" || return 1
	work=$base/work
	script=$base/readme-$n.sh
	{
		[[ " $flags " == *" sshd "* ]] && sshd_prelude "$base/setup" "$work"
		cat "$code"
	} >"$script"
	[[ " $flags " == *" srcdir "* ]] && work=$UKS_SRC
	if [[ " $flags " == *" nonroot "* ]] && [ "$(id -u)" = 0 ]; then
		as_user=(unshare --user --map-user=65534 --map-group=65534)
	fi
	tag=$$-$n-$RANDOM
	echo "=== [$n] $title: ukey-sandbox ${opts:-(no options)} -- bash -e -o pipefail ($(grep -c . "$code") README lines${flags:+; $flags})"
	(
		cd "$work" || exit 1
		timeout -k 10 "$SUBSECTION_SECONDS" \
			"$UKS" "${sandbox_opts[@]}" -- \
			env -u SSH_AUTH_SOCK -u SSH_AGENT_PID -u GNUTLS_PIN -u PKCS11_MODULE_PATH \
			-u P11_KIT_SERVER_ADDRESS -u P11_KIT_SERVER_PID -u XDG_CONFIG_HOME -u DISPLAY \
			-u UKS -u UKS_SRC -u UKS_BUILD -u UKEY_TOOL_BIN -u UKEY_EMU_BIN \
			HOME="$base/home" XDG_RUNTIME_DIR="$base/run" TMPDIR="$base/tmp" \
			UKEY_README_RUN="$tag" \
			"${as_user[@]}" bash -e -o pipefail "$script" </dev/null
	)
	rc=$?
	left=$(kill_leftovers "$tag")
	[ $rc -eq 124 ] && echo "FAIL: [$n] $title: still running after ${SUBSECTION_SECONDS}s" >&2
	if [ -n "$left" ]; then
		printf 'FAIL: [%s] %s: the README left these running:\n%s\n' "$n" "$title" "$left" >&2
		[ $rc -ne 0 ] || rc=1
	fi
	return $rc
}

# run_readme FILE [ONLY]: every subsection of FILE's section (or only the one titled ONLY);
# returns 0 when all passed
run_readme() {
	local file=$1 want=${2:-} dir count n t failed=() ran=0
	dir=$(mktemp -d "$tmp/extract.XXXXXX") || return 1
	count=$(extract "$file" "$dir")
	[ "$count" -gt 0 ] || { echo "FAIL: no '### ' subsection under '$SECTION_HEADING' in $file" >&2; return 1; }
	# every table entry still has its subsection (a renamed one is not silently dropped)
	while IFS='|' read -r t _; do
		[ -n "$t" ] || continue
		grep -qxF -- "$t" "$dir"/*.title || { echo "FAIL: readme.sh's TABLE names '$t', which the README no longer has" >&2; return 1; }
	done <<<"$TABLE"
	for ((n = 1; n <= count; n++)); do
		t=$(cat "$dir/$n.title")
		[ -z "$want" ] || [ "$t" = "$want" ] || continue
		[ -s "$dir/$n.sh" ] || { failed+=("$t (no \`\`\`sh block)"); continue; }
		ran=$((ran + 1))
		if run_one "$n" "$t" "$dir/$n.sh"; then
			pass "[$n] $t"
		else
			echo "FAIL: [$n] $t" >&2
			failed+=("$t")
		fi
	done
	[ $ran -gt 0 ] || { echo "FAIL: no subsection ran${want:+ (no '### $want')}" >&2; return 1; }
	[ ${#failed[@]} -eq 0 ] || { printf 'FAIL: subsection failed: %s\n' "${failed[@]}" >&2; return 1; }
	return 0
}

# --- self-check: a broken README command must fail the run ------------------------------------

# Each break: subsection ^ text in it ^ replacement (first occurrence). They cover: a command
# failing in the first block, one in a later block (all blocks are one script), the left side
# of a pipeline failing while its right side succeeds (only pipefail sees it), and a TLS client
# presenting a certificate that is not its key's (the server's log has no such peer).
readonly BREAKS='
pkcs11-tool^p11 --keypairgen --key-type EC:prime256v1 --label p256^p11 --keypairgen --key-type EC:prime256v1 --label p256 --no-such-option
pkcs11-tool^cmp notes.txt notes.back^cmp notes.txt msg.txt
pkcs11-tool^pkcs11-tool --module "$UKEY_MODULE" -L^false | pkcs11-tool --module "$UKEY_MODULE" -L
OpenSSL: TLS client keys and signatures^-key "$KEY" -cert client.pem -CAfile ca.pem^-key "$KEY" -cert server.pem -CAfile ca.pem
'

self_check() {
	local sub from to copy bad=0 i=0
	while IFS='^' read -r sub from to; do
		[ -n "$sub" ] || continue
		i=$((i + 1))
		copy=$tmp/README.break$i.md
		FROM=$from TO=$to SUB="### $sub" python3 - "$readme" "$copy" <<-'EOF' || { echo "FAIL: break $i: '$from' is not in '### $sub'" >&2; return 1; }
			import os, sys
			s = open(sys.argv[1]).read()
			start = s.index(os.environ["SUB"] + "\n")
			end = s.find("\n### ", start + 1)
			end = len(s) if end < 0 else end
			part = s[start:end]
			if part.count(os.environ["FROM"]) < 1:
			    sys.exit(1)
			part = part.replace(os.environ["FROM"], os.environ["TO"], 1)
			open(sys.argv[2], "w").write(s[:start] + part + s[end:])
		EOF
		echo "--- self-check $i: in '$sub', '$from' -> '$to': the run must fail"
		if run_readme "$copy" "$sub" >"$tmp/break$i.log" 2>&1; then
			cat "$tmp/break$i.log"
			echo "FAIL: self-check $i: the broken README passed" >&2
			bad=1
		else
			grep -E '^(FAIL|PASS)' "$tmp/break$i.log"
			pass "self-check $i: the broken command failed the run"
		fi
	done <<<"$BREAKS"
	return $bad
}

# --- main --------------------------------------------------------------------------------------

main() {
	local mode=run
	while [ $# -gt 0 ]; do
		case $1 in
		--readme) readme=$2; shift ;;
		--only) only=$2; shift ;;
		--self-check) mode=self-check ;;
		*) fail "usage: $0 [--readme FILE] [--only TITLE] | --self-check" ;;
		esac
		shift
	done
	need bash bash
	need unshare util-linux
	need timeout coreutils
	need /usr/sbin/sshd openssh-server
	need python3 python3
	require_sandbox
	if [ $mode = self-check ]; then
		self_check || fail "a broken README command did not fail the run"
		pass "readme.sh fails when a README command fails"
		return
	fi
	run_readme "$readme" "$only" || fail "the README's \"Use it with …\" section does not run as written"
	pass "every subsection of \"Use it with …\" ran as written"
}

main "$@"
