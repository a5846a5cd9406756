#!/bin/sh
# module_e2e_inittoken, inside ukey-sandbox: the C test (e2e_inittoken.c), then Debian's
# pkcs11-tool --init-token / --init-pin (PKCS#11 C_InitToken, C_InitPIN) and a login with the
# new user PIN. $1: the C test binary.
set -eu
[ -n "${UKEY_MODULE:-}" ] || { echo "skipped: not inside ukey-sandbox"; exit 77; }
"$1"
command -v pkcs11-tool >/dev/null 2>&1 || { echo "skipped: no pkcs11-tool"; exit 77; }
p11() { timeout 60 pkcs11-tool --module "$UKEY_MODULE" "$@"; }
p11 --init-token --label "tool label" --so-pin "$UKEY_SO_PIN"
p11 --list-token-slots | tee /dev/stderr | grep -q "token label *: tool label"
if p11 --list-token-slots | grep -q "PIN initialized"; then
	echo "FAILED: user PIN still initialised after --init-token" >&2; exit 1
fi
p11 --login --login-type so --so-pin "$UKEY_SO_PIN" --init-pin --new-pin "tooluser1"
p11 --list-token-slots | grep -q "PIN initialized"
p11 --login --pin "tooluser1" --keypairgen --key-type EC:prime256v1 --label k
p11 --login --pin "tooluser1" --list-objects | grep -q "Private Key Object; EC"
echo "module_e2e_inittoken: ok"
