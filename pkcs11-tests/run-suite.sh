#!/bin/bash
# run-suite.sh MODE — run the PKCS#11 suite (p11t) one way; a CTest test per MODE:
#   ukey        libukey-pkcs11.so directly, under ukey-sandbox (private pcscd, emulated key)
#   ukey_proxy  the same through p11-kit-proxy.so with a private p11-kit configuration that
#               registers only ukey (see proxy_inner)
#   softhsm     SoftHSM2 with a private SOFTHSM2_CONF and a token initialised here
# Environment (set by CMake): P11T_BIN, P11T_SRC, UKS (build-tree ukey-sandbox), P11T_PROXY
# (p11-kit-proxy.so), P11T_MODULE_CONFIGS (p11-kit's system module directory).
# Exit 0 pass, 1 fail, 77 skip (no sandbox or no SoftHSM2 on this machine).
set -uo pipefail

: "${P11T_BIN:?}" "${P11T_SRC:?}"
readonly SOFTHSM_LIB=${P11T_SOFTHSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
readonly SOFTHSM_USER_PIN=user1234   # a throw-away token created below
readonly SOFTHSM_SO_PIN=admin1234
readonly UKEY_MANUFACTURER="ukey project"

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Skip where this machine cannot host a sandbox; a missing part of ukey is a failure.
require_sandbox() {
	local rc
	: "${UKS:?}"
	"$UKS" --check
	rc=$?
	[ $rc -eq 77 ] && skip "ukey-sandbox cannot run here"
	[ $rc -eq 0 ] || fail "ukey-sandbox --check: parts of ukey are missing"
}

run_ukey() {
	require_sandbox
	export P11T_PROFILE=ukey P11T_SKIP_LIST="$P11T_SRC/skip/ukey.skip"
	# shellcheck disable=SC2016 # expanded by the inner shell, inside the sandbox
	"$UKS" -- sh -c 'P11T_MODULE=$UKEY_MODULE P11T_USER_PIN=$UKEY_USER_PIN \
		P11T_SO_PIN=$UKEY_SO_PIN exec "$0"' "$P11T_BIN"
}

# p11-kit 0.24 ignores the user configuration (~/.config/pkcs11) when running as root, and
# P11_NO_USER_CONFIG aside has no variable naming another configuration. So the proxy runs in
# a private mount namespace where p11-kit's system module directory is replaced by one that
# registers only ukey, and /etc/pkcs11 (if any) by an empty directory: no other module (OpenSC
# would talk to the same private pcscd) is loaded, and nothing outside the namespace changes.
run_ukey_proxy() {
	local unshare_flags=-m
	require_sandbox
	[ -r "${P11T_PROXY:-}" ] || skip "p11-kit-proxy.so not found"
	[ -d "${P11T_MODULE_CONFIGS:-}" ] || skip "p11-kit module directory not found"
	[ "$(id -u)" = 0 ] || unshare_flags="-r -m"
	mkdir -p "$tmp/modules" "$tmp/etc" || fail "mkdir"
	export P11T_CONF_DIR=$tmp P11T_PROFILE=ukey
	export P11T_SKIP_LIST="$P11T_SRC/skip/ukey.skip:$P11T_SRC/skip/p11-kit-proxy.skip"
	# shellcheck disable=SC2086 # unshare_flags is two words for non-root
	"$UKS" -- unshare $unshare_flags bash "$0" proxy_inner
}

proxy_inner() {
	printf 'module: %s\n' "$UKEY_MODULE" >"$P11T_CONF_DIR/modules/ukey.module" || exit 125
	mount --bind "$P11T_CONF_DIR/modules" "$P11T_MODULE_CONFIGS" || exit 125
	if [ -d /etc/pkcs11 ]; then
		mount --bind "$P11T_CONF_DIR/etc" /etc/pkcs11 || exit 125
	fi
	P11T_MODULE=$P11T_PROXY P11T_USER_PIN=$UKEY_USER_PIN P11T_SO_PIN=$UKEY_SO_PIN \
		P11T_TOKEN_MANUFACTURER=$UKEY_MANUFACTURER exec "$P11T_BIN"
}

run_softhsm() {
	[ -r "$SOFTHSM_LIB" ] || skip "SoftHSM2 ($SOFTHSM_LIB) not installed"
	command -v softhsm2-util >/dev/null || skip "softhsm2-util not installed"
	mkdir -p "$tmp/tokens" || fail "mkdir"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$tmp/tokens" >"$tmp/softhsm2.conf"
	export SOFTHSM2_CONF=$tmp/softhsm2.conf
	softhsm2-util --init-token --free --label p11t --pin "$SOFTHSM_USER_PIN" \
		--so-pin "$SOFTHSM_SO_PIN" >"$tmp/init.log" 2>&1 ||
		{ cat "$tmp/init.log" >&2; fail "softhsm2-util --init-token"; }
	P11T_MODULE=$SOFTHSM_LIB P11T_PROFILE=softhsm P11T_USER_PIN=$SOFTHSM_USER_PIN \
		P11T_SO_PIN=$SOFTHSM_SO_PIN P11T_TOKEN_LABEL=p11t \
		P11T_SKIP_LIST="$P11T_SRC/skip/softhsm.skip" "$P11T_BIN"
}

[ $# -eq 1 ] || fail "usage: run-suite.sh ukey|ukey_proxy|softhsm"
if [ "$1" = proxy_inner ]; then
	proxy_inner
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11t.XXXXXX") || fail "mktemp"
trap 'rm -rf -- "$tmp"' EXIT
case $1 in
ukey) run_ukey ;;
ukey_proxy) run_ukey_proxy ;;
softhsm) run_softhsm ;;
*) fail "unknown mode '$1'" ;;
esac
