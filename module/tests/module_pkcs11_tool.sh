#!/bin/sh
# module_pkcs11_tool: Debian's OpenSC pkcs11-tool (0.23) self-tests against $UKEY_MODULE,
# run inside ukey-sandbox: --test (logged in), --test-fork (C_Initialize in a forked child)
# and --test-threads (threads initialising with CKF_OS_LOCKING_OK and calling
# C_GetInfo/C_GetSlotList/C_GetSlotInfo/C_GetTokenInfo concurrently). 77 without pkcs11-tool.
set -u
command -v pkcs11-tool >/dev/null 2>&1 || { echo "skipped: no pkcs11-tool"; exit 77; }
[ -n "${UKEY_MODULE:-}" ] || { echo "skipped: not inside ukey-sandbox"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
	echo "pkcs11-tool $*"
	if ! timeout 120 pkcs11-tool --module "$UKEY_MODULE" "$@" >"$log" 2>&1; then
		cat "$log"
		echo "FAILED: pkcs11-tool $*" >&2
		exit 1
	fi
	if grep -Eiq 'error|failed' "$log" && ! grep -q '^No errors' "$log"; then
		cat "$log"
		echo "FAILED (errors reported): pkcs11-tool $*" >&2
		exit 1
	fi
}
run --login --pin "$UKEY_USER_PIN" --test
run --test-fork
# --test-threads: several threads call C_Initialize, and all but one must get
# CKR_CRYPTOKI_ALREADY_INITIALIZED (PKCS#11 §5.4.1); pkcs11-tool counts that as "some
# errors" when its cleanup sees it, so the verdict here is every call's own result: each
# returned CKR_OK (C_Initialize: or CKR_CRYPTOKI_ALREADY_INITIALIZED) and every thread
# ended with rv 0.
args="--test-threads IN --test-threads ILGISLT0 --test-threads ILGISLT0 --test-threads ILGISLT0"
echo "pkcs11-tool $args"
# shellcheck disable=SC2086
timeout 120 pkcs11-tool --module "$UKEY_MODULE" $args >"$log" 2>&1 || { cat "$log"; exit 1; }
bad=$(grep -E 'returned CKR_|returning rv = ' "$log" |
      grep -Ev 'returned CKR_OK$|C_Initialize +returned CKR_CRYPTOKI_ALREADY_INITIALIZED$|returning rv = 0$' || true)
ended=$(grep -c 'returning rv = 0$' "$log")
if [ -n "$bad" ] || [ "$ended" -ne 4 ]; then
	cat "$log"
	echo "FAILED: pkcs11-tool $args: $bad (threads ended: $ended)" >&2
	exit 1
fi
echo "module_pkcs11_tool: ok"
