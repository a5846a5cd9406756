#!/bin/sh
# Run module_e2e_mech inside tools/ukey-sandbox with pcscd's APDU log, so the client can
# count the APDUs each call costs; exit 77 (skip) where no sandbox can run.
sandbox="$1"
client="$2"
if [ ! -x "$sandbox" ]; then
	echo "skipped: $sandbox not built" >&2
	exit 77
fi
if ! "$sandbox" --check; then
	echo "skipped: sandbox unavailable here" >&2
	exit 77
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$sandbox" --apdu-log "$tmp/apdu.log" -- "$client" "$tmp/apdu.log"
