#!/bin/bash
# module_p11kit: ukey as p11-kit's consumers see it.
#   module_p11kit.sh SANDBOX BUILD_DIR P11KIT_MODULE_CONFIGS UKEY_MODULE_INSTALL_DIR
# 1. A DESTDIR install puts ukey.module in p11-kit's module directory, and its `module:` line
#    names the installed libukey-pkcs11.so (absolute path) which is really there.
# 2. Under ukey-sandbox, in a private mount namespace where p11-kit's module directory holds
#    only a ukey.module for the built module (and /etc/pkcs11 is empty, as
#    pkcs11-tests/run-suite.sh does for the proxy): with an SM2 and a P-256 pair generated
#    through the module, `p11-kit list-modules` shows the module and its token (label,
#    serial), `p11tool --list-tokens` shows the token, and `p11tool --list-all` on the URI
#    pkcs11:manufacturer=ukey%20project lists both public keys (and, logged in, both private
#    keys). The serial is compared with what the module says directly (pkcs11-tool -L).
# Exit 0 pass, 1 fail, 77 skip (no sandbox here, or p11-kit / p11tool not installed).
set -uo pipefail

readonly LABEL_SM2=p11kit-sm2 LABEL_P256=p11kit-p256
readonly URI="pkcs11:manufacturer=ukey%20project"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

# ---- inside the sandbox, in the private mount namespace ----

inner_register_only_ukey() {
	mkdir -p "$P11K_TMP/modules" "$P11K_TMP/etc" || exit 1
	printf 'module: %s\n' "$UKEY_MODULE" >"$P11K_TMP/modules/ukey.module" || exit 1
	mount --bind "$P11K_TMP/modules" "$P11K_CONFIGS" || fail "cannot bind p11-kit's module dir"
	if [ -d /etc/pkcs11 ]; then
		mount --bind "$P11K_TMP/etc" /etc/pkcs11 || fail "cannot hide /etc/pkcs11"
	fi
}

inner_generate() {
	"$UKEY_TOOL" keygen --label "$LABEL_SM2" >"$P11K_TMP/gen.log" 2>&1 ||
		{ cat "$P11K_TMP/gen.log" >&2; fail "SM2 key generation through the module"; }
	pkcs11-tool --module "$UKEY_MODULE" --login --pin "$UKEY_USER_PIN" --keypairgen \
		--key-type EC:prime256v1 --label "$LABEL_P256" >"$P11K_TMP/gen.log" 2>&1 ||
		{ cat "$P11K_TMP/gen.log" >&2; fail "P-256 key generation through the module"; }
}

# The module's own view, without p11-kit: label and 16-digit serial of slot 0's token.
inner_direct_token() {
	pkcs11-tool --module "$UKEY_MODULE" -L >"$P11K_TMP/direct" 2>&1 ||
		{ cat "$P11K_TMP/direct" >&2; fail "pkcs11-tool -L"; }
	serial=$(sed -n 's/^ *serial num *: *//p' "$P11K_TMP/direct" | head -1)
	label=$(sed -n 's/^ *token label *: *//p' "$P11K_TMP/direct" | head -1)
	[[ $serial =~ ^[0-9]{16}$ ]] || fail "module serial '$serial' is not 16 digits"
	[ -n "$label" ] || fail "no token label from the module"
}

inner_list_modules() {
	local out=$P11K_TMP/list-modules n
	p11-kit list-modules >"$out" 2>&1 || { cat "$out" >&2; fail "p11-kit list-modules"; }
	cat "$out"
	grep -qx "ukey: $UKEY_MODULE" "$out" || fail "list-modules does not show ukey: $UKEY_MODULE"
	n=$(grep -c '^[^[:space:]]' "$out")
	[ "$n" -eq 1 ] || fail "$n modules listed, want only ukey"
	grep -qx "    token: $label" "$out" || fail "list-modules: no token labelled '$label'"
	grep -qx "        serial-number: $serial" "$out" || fail "list-modules: serial is not $serial"
	grep -qx "        manufacturer: ukey project" "$out" || fail "list-modules: manufacturer"
}

inner_list_tokens() {
	local out=$P11K_TMP/list-tokens
	p11tool --list-tokens >"$out" 2>&1 || { cat "$out" >&2; fail "p11tool --list-tokens"; }
	cat "$out"
	grep -q "^	Label: $label\$" "$out" || fail "p11tool --list-tokens: no label '$label'"
	grep -q "^	Serial: $serial\$" "$out" || fail "p11tool --list-tokens: no serial $serial"
	grep -q "^	Module: $UKEY_MODULE\$" "$out" || fail "p11tool --list-tokens: not from ukey"
	grep -q "^	URL: pkcs11:.*serial=$serial" "$out" || fail "p11tool --list-tokens: URL"
}

# One object line per (label, type) in p11tool's URLs.
has_object() {
	grep -q "^	URL: pkcs11:.*serial=$serial.*;object=$2;type=$3\$" "$1"
}

inner_list_all() {
	local out=$P11K_TMP/list-all l
	p11tool --list-all "$URI" >"$out" 2>&1 || { cat "$out" >&2; fail "p11tool --list-all"; }
	cat "$out"
	for l in "$LABEL_SM2" "$LABEL_P256"; do
		has_object "$out" "$l" public || fail "p11tool --list-all: no public key '$l'"
		has_object "$out" "$l" private && fail "private key '$l' listed without login"
	done
	grep -q "Label: $LABEL_P256" "$out" || fail "p11tool --list-all: no label $LABEL_P256"
	GNUTLS_PIN=$UKEY_USER_PIN p11tool --login --list-all "$URI" >"$out" 2>&1 ||
		{ cat "$out" >&2; fail "p11tool --login --list-all"; }
	for l in "$LABEL_SM2" "$LABEL_P256"; do
		has_object "$out" "$l" private || fail "p11tool --login --list-all: no private '$l'"
	done
	grep -q "Type: Private key (EC/ECDSA-SECP256R1)" "$out" ||
		fail "p11tool does not see the P-256 private key as one"
}

inner() {
	local serial label
	inner_register_only_ukey
	inner_generate
	inner_direct_token
	inner_list_modules
	inner_list_tokens
	inner_list_all
	echo "PASS: p11-kit list-modules, p11tool --list-tokens and --list-all show token" \
		"'$label' serial $serial and its SM2 and P-256 keys"
}

# ---- outside ----

check_installed_config() {
	local build=$1 configs=$2 moddir=$3 dest=$tmp/dest file path n
	DESTDIR=$dest cmake --install "$build" >"$tmp/install.log" 2>&1 ||
		{ cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
	file=$dest$configs/ukey.module
	[ -f "$file" ] || fail "no ukey.module in $configs after install"
	cat "$file"
	n=$(grep -c '^[[:space:]]*module[[:space:]]*:' "$file")
	[ "$n" -eq 1 ] || fail "ukey.module has $n 'module:' lines, want 1"
	path=$(sed -n 's/^[[:space:]]*module[[:space:]]*:[[:space:]]*//p' "$file")
	[ "$path" = "$moddir/libukey-pkcs11.so" ] ||
		fail "ukey.module names '$path', want $moddir/libukey-pkcs11.so"
	case $path in /*) ;; *) fail "module path '$path' is not absolute" ;; esac
	[ -f "$dest$path" ] || fail "the module $path is not installed"
	# Anything else in the file must be a comment: p11-kit reads key: value lines.
	grep -v '^[[:space:]]*#' "$file" | grep -v '^[[:space:]]*$' | grep -vq '^[[:space:]]*module' &&
		fail "ukey.module has lines other than comments and module:"
	echo "PASS: installed ukey.module names $path, which is installed"
}

main() {
	local sandbox=$1 build=$2 configs=$3 moddir=$4 rc unshare_flags=-m
	[ -x "$sandbox" ] || skip "$sandbox not built"
	command -v p11-kit >/dev/null || skip "p11-kit not installed"
	command -v p11tool >/dev/null || skip "p11tool (gnutls-bin) not installed"
	command -v pkcs11-tool >/dev/null || skip "pkcs11-tool (opensc) not installed"
	[ -d "$configs" ] || skip "p11-kit module directory $configs not found"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ukey-p11kit.XXXXXX") || fail "mktemp"
	trap 'rm -rf -- "$tmp"' EXIT
	check_installed_config "$build" "$configs" "$moddir"
	"$sandbox" --check
	rc=$?
	[ $rc -eq 77 ] && skip "ukey-sandbox cannot run here"
	[ $rc -eq 0 ] || fail "ukey-sandbox --check: $rc"
	[ "$(id -u)" = 0 ] || unshare_flags="-r -m"
	# shellcheck disable=SC2086 # two words for non-root
	P11K_TMP=$tmp P11K_CONFIGS=$configs "$sandbox" -- unshare $unshare_flags bash "$0" inner
}

if [ "${1:-}" = inner ]; then
	inner
	exit 0
fi
[ $# -eq 4 ] || fail "usage: module_p11kit.sh SANDBOX BUILD_DIR P11KIT_MODULE_CONFIGS MODULE_DIR"
main "$@"
