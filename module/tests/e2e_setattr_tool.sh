#!/bin/sh
# module_e2e_setattr_tool: renaming objects with a stock tool through $UKEY_MODULE (run
# inside tools/ukey-sandbox). Debian's pkcs11-tool 0.23 has no option changing CKA_LABEL
# (only --set-id, CKA_ID, which ukey reports read-only), so GnuTLS's p11tool --set-label
# renames a key pair's container through its private key; pkcs11-tool then lists the key
# pair under the new name only. A label taken by another container is refused, as is
# pkcs11-tool --set-id. Exit 77 when pkcs11-tool or p11tool is missing.
set -eu
command -v pkcs11-tool >/dev/null 2>&1 || { echo "skipped: no pkcs11-tool"; exit 77; }
command -v p11tool >/dev/null 2>&1 || { echo "skipped: no p11tool"; exit 77; }
[ -n "${UKEY_MODULE:-}" ] || { echo "skipped: run inside tools/ukey-sandbox"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
p11() { pkcs11-tool --module "$UKEY_MODULE" "$@"; }
login() { p11 --login --pin "$UKEY_USER_PIN" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
tok="pkcs11:manufacturer=ukey%20project"
pt() { GNUTLS_PIN="$UKEY_USER_PIN" p11tool --provider "$UKEY_MODULE" --batch --login "$@"; }

login --keypairgen --key-type EC:prime256v1 --label tool-old >/dev/null
login --keypairgen --key-type EC:prime256v1 --label tool-other >/dev/null

pt --set-label tool-new "$tok;object=tool-old;type=private" >"$dir/set.txt" 2>&1 ||
	{ cat "$dir/set.txt" >&2; fail "p11tool --set-label"; }
login --list-objects >"$dir/list.txt"
n_new=$(grep -c "label: *tool-new$" "$dir/list.txt" || true)
[ "$n_new" = 2 ] || fail "private and public key not both renamed: $(cat "$dir/list.txt")"
if grep -q "label: *tool-old$" "$dir/list.txt"; then
	fail "old label still listed: $(cat "$dir/list.txt")"
fi

# a taken name: refused, nothing changes
if pt --set-label tool-other "$tok;object=tool-new;type=private" >"$dir/dup.txt" 2>&1; then
	fail "renamed onto another container's name"
fi
login --list-objects >"$dir/list2.txt"
cmp "$dir/list.txt" "$dir/list2.txt" || fail "a refused rename changed objects"
# CKA_ID is derived from the key: read-only
if login --type privkey --label tool-new --set-id 0102 >"$dir/id.txt" 2>&1; then
	fail "pkcs11-tool --set-id accepted"
fi
grep -q "CKR_ATTRIBUTE_READ_ONLY" "$dir/id.txt" || fail "--set-id: $(cat "$dir/id.txt")"

login --delete-object --type privkey --label tool-new
login --delete-object --type privkey --label tool-other
echo "module_e2e_setattr_tool: ok"
