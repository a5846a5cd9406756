#!/bin/bash
# run-pcsc.sh TEST [SANDBOX-OPTION...] — run one conformance test program through the real
# PC/SC stack.
#
#  - PCSCLITE_CSOCK_NAME already set (e.g. the whole ctest run inside `ukey-sandbox -- ctest`):
#    run `TEST --pcsc` directly against that pcscd.
#  - else, if the build-tree sandbox ($UKEY_CONF_SANDBOX) exists and `--check` passes:
#    `ukey-sandbox SANDBOX-OPTION... -- TEST --pcsc` (a fresh private pcscd + ifd + ukey-emu
#    key per test; the options shape that key, e.g. --max-tries 3, and the sandbox exports
#    what the test needs to know, e.g. UKEY_MAX_TRIES). With an outside pcscd they cannot
#    apply: the test finds the outside key's settings in the environment the same way.
#  - else run `TEST --pcsc`, which skips (77) because PCSCLITE_CSOCK_NAME is unset.
# The conformance tests speak APDUs over PC/SC only: the PKCS#11 module is not needed, so
# the sandbox is told not to require it (UKEY_SANDBOX_MODULE) unless the caller chose one.
set -u
test=${1:?usage: run-pcsc.sh TEST-PROGRAM [SANDBOX-OPTION...]}
shift

if [ -n "${PCSCLITE_CSOCK_NAME:-}" ]; then
	exec "$test" --pcsc
fi
sandbox=${UKEY_CONF_SANDBOX:-}
if [ -z "$sandbox" ] || [ ! -x "$sandbox" ]; then
	echo "run-pcsc: no ukey-sandbox at '${sandbox}'"
	exec "$test" --pcsc
fi
export UKEY_SANDBOX_MODULE=${UKEY_SANDBOX_MODULE:-/dev/null}
"$sandbox" --check
rc=$?
case $rc in
0) ;;
77) echo "run-pcsc: this machine cannot host a sandbox: skipped"; exit 77 ;;
*) echo "run-pcsc: a part of the stack is missing (build ukey-emu, ifd-ukey, ukey-pcsc-wait)"
   exit 77 ;;
esac
exec "$sandbox" "$@" -- "$test" --pcsc
