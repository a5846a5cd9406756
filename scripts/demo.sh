#!/bin/bash
# scripts/demo.sh — the ukey demo. On a fresh Debian 12 machine it installs what is missing,
# builds ukey from scratch, starts an emulated key behind a private pcscd (ukey-sandbox) and
# walks through: the key seen by pkcs11-tool, an SM2 key generated on the key, a file signed
# on the key and verified by the openssl command, and the PIN try counters.
#
#   scripts/demo.sh            deps + fresh build in build-demo/ + the demo
#   UKEY_BUILD_DIR=DIR         build somewhere else (wiped first)
# Run under an existing sandbox (ukey-sandbox -- scripts/demo.sh) it only plays the demo.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
root=$(cd "$here/.." && pwd)

build_and_rerun() {
	local build=${UKEY_BUILD_DIR:-$root/build-demo}
	"$here/deps.sh"
	echo "== building ukey from scratch in $build"
	rm -rf -- "$build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
	echo "== starting a private pcscd with one emulated key (ukey-sandbox)"
	exec "$build/tools/ukey-sandbox" --tokens 1 -- "$here/demo.sh"
}

if [ -z "${UKEY_SANDBOX_DIR:-}" ]; then
	build_and_rerun
fi

# ---- inside the sandbox ----------------------------------------------------------------

# shellcheck source=lib/ukey-card.sh
. "$here/lib/ukey-card.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/ukey-demo.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
tool=${UKEY_TOOL:-ukey-tool}
label=demo-sign

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
note() { printf '   %s\n' "$*"; }

show_pin_counters() {
	local pins user so
	pins=$(ukey_card_get_data 01)
	user=$(ukey_tlv_value "$pins" 81)
	so=$(ukey_tlv_value "$pins" 82)
	note "user PIN: $((16#${user:0:2})) of $((16#${user:2:2})) tries left$(pin_flags "${user:4:2}")"
	note "SO PIN:   $((16#${so:0:2})) of $((16#${so:2:2})) tries left$(pin_flags "${so:4:2}")"
}

pin_flags() {
	local f=$((16#$1)) s=
	(( f & 1 )) && s+=", BLOCKED"
	(( f & 2 )) && s+=", must be changed"
	printf '%s' "$s"
}

token_flags() {
	pkcs11-tool --module "$UKEY_MODULE" -L 2>/dev/null | sed -n 's/^ *token flags *: */   token flags: /p' | head -1
}

step "1. The emulated key, as any PKCS#11 application sees it (pkcs11-tool -L)"
pkcs11-tool --module "$UKEY_MODULE" -L
info=$(ukey_card_get_data 00)
note "full 20-digit serial number (GET DATA 00 CA 01 00, tag 80): $(ukey_hex_to_text "$(ukey_tlv_value "$info" 80)")"

step "2. Log in and generate an SM2 key pair on the key (ukey-tool keygen)"
note "the PIN comes from \$UKEY_USER_PIN, never from the command line"
"$tool" keygen --label "$label"

step "3. Sign a file on the key (SM2 with SM3, user ID 1234567812345678)"
printf 'Bid for tender 2024-117: 1,250,000 CNY\n' >"$work/bid.txt"
note "message: $(cat "$work/bid.txt")"
"$tool" sign --label "$label" --in "$work/bid.txt" --out "$work/bid.sig"
"$tool" pubkey --label "$label" --out "$work/pub.pem"
openssl pkey -pubin -in "$work/pub.pem" -noout -text | sed 's/^/   /'

step "4. Verify the signature with the openssl command (no ukey code involved)"
note "openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -digest sm3 -pkeyopt distid:1234567812345678"
openssl pkeyutl -verify -pubin -inkey "$work/pub.pem" -rawin -digest sm3 \
	-pkeyopt distid:1234567812345678 -in "$work/bid.txt" -sigfile "$work/bid.sig" | sed 's/^/   /'
printf 'Bid for tender 2024-117: 9,250,000 CNY\n' >"$work/forged.txt"
if openssl pkeyutl -verify -pubin -inkey "$work/pub.pem" -rawin -digest sm3 \
	-pkeyopt distid:1234567812345678 -in "$work/forged.txt" -sigfile "$work/bid.sig" \
	>/dev/null 2>&1; then
	echo "demo: a changed message verified: this must not happen" >&2
	exit 1
fi
note "the same signature over a changed message is rejected, as it must be"

step "5. PIN try counters (PKCS#11 token flags, and the exact counts from the key)"
note "read through PC/SC with scriptor: SELECT $UKEY_AID, then GET DATA 00 CA 01 01"
token_flags
show_pin_counters
note "now one login with a wrong PIN..."
printf 'wrong999\n' >"$work/wrong.pin"
if "$tool" --pin-file "$work/wrong.pin" sign --label "$label" --in "$work/bid.txt" \
	--out "$work/x.sig" 2>&1 | sed 's/^/   /'; then :; fi
show_pin_counters
note "...and a login with the right PIN resets the counter:"
"$tool" sign --label "$label" --in "$work/bid.txt" --out "$work/bid2.sig" >/dev/null
show_pin_counters

step "Done: the key's state lived in $UKEY_STATE and is thrown away with the sandbox."
