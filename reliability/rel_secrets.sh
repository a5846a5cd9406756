#!/bin/bash
# rel_secrets.sh — "nothing secret leaves", over a full run through the real stack.
#   rel_secrets.sh SANDBOX SCAN VECTORS PIN_TEST_SRC E2E_PIN E2E_MECH E2E_SECRET E2E_OBJECTS
# One ukey-sandbox (--max-tries 3, pcscd's APDU log with -a -d, a state directory of our own)
# runs the existing end-to-end clients one after another on the same key, reusing their
# scenarios rather than repeating them:
#   module_e2e_pin      login, C_SetPIN, the PIN locked, unlocked by the SO (C_InitPIN =
#                       RESET RETRY COUNTER), changed back
#   module_e2e_mech     key generation SM2 / P-256 / RSA, every signature and decryption
#   module_e2e_secret   the enveloped import (S2-1) of the official SM2 encryption key d of
#                       gm-vectors [sm2-encrypt], its decryption, SM4 session keys
#   module_e2e_objects  certificates and data objects written and read back
# Then every byte of pcscd's log and every file under the state directory is searched
# (rel_scan) for: each PIN the run used (the sandbox's user and SO PIN and every PIN literal
# of e2e_pin.c) in ASCII, hex and UTF-16 LE/BE; the imported private key d whole and each
# 8-byte window of it, raw and as hex. Keys the card generated are unknown to this test (the
# conformance test S0-K4 checks their absence from the state with the test-only accessor).
# Not searched: the official SM4 key module_e2e_secret unwraps, because the official vector's
# plaintext is the same 16 bytes as its key and is sent to the card as data.
# Markers prove that the search sees the log's APDUs (the ukey AID of SELECT) and the state's
# contents (a label the run wrote).
set -u
sandbox=$1 scan=$2 vectors=$3 pin_src=$4
shift 4
clients=("$@")

if [ ! -x "$sandbox" ]; then
	echo "skipped: $sandbox not built"
	exit 77
fi
"$sandbox" --check >/dev/null 2>&1
rc=$?
if [ "$rc" != 0 ]; then
	echo "skipped: sandbox unavailable here (--check: $rc)"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ukey-secrets.XXXXXX") || exit 1
trap 'rm -rf -- "$work"' EXIT
log=$work/apdu.log
state=$work/state
user_pin=user1234 so_pin=admin1234      # the sandbox's, set explicitly below

hex() { od -An -v -tx1 | tr -d ' \n'; }
utf16() { iconv -f UTF-8 -t "$1" | hex; }

# The run: each client in turn, all on the one key.
UKEY_SANDBOX_USER_PIN=$user_pin UKEY_SANDBOX_SO_PIN=$so_pin \
"$sandbox" --max-tries 3 --apdu-log "$log" --state "$state" -- bash -c '
	log=$1
	shift
	for c in "$@"; do
		echo "== ${c##*/}"
		case ${c##*/} in
		module_e2e_mech) "$c" "$log" ;;
		*) "$c" ;;
		esac || { echo "${c##*/} failed"; exit 1; }
	done' rel_secrets "$log" "${clients[@]}" >"$work/run.out" 2>&1
rc=$?
grep -E '^== |checks passed|failed' "$work/run.out"
if [ "$rc" != 0 ]; then
	tail -n 40 "$work/run.out"
	echo "rel_secrets: the scenario failed ($rc)"
	exit 1
fi

args=()
# PINs: the sandbox's and every literal of e2e_pin.c (right, wrong, refused by policy)
pins=("$user_pin" "$so_pin")
while IFS= read -r p; do pins+=("$p"); done < <(grep -o 'PIN("[^"]*")' "$pin_src" |
	sed 's/^PIN("//; s/")$//' | sort -u)
for p in "${pins[@]}"; do
	[ "${#p}" -ge 6 ] || continue
	args+=(-s "pin:$p=$(printf %s "$p" | hex)")
	args+=(-s "pin-utf16le:$p=$(printf %s "$p" | utf16 UTF-16LE)")
	args+=(-s "pin-utf16be:$p=$(printf %s "$p" | utf16 UTF-16BE)")
done
# The imported encryption key: d of [sm2-encrypt], whole and every 8-byte window
d=$(awk '/^\[sm2-encrypt\]/ { s = 1; next } /^\[/ { s = 0 } s && $1 == "d" { print $3 }' \
	"$vectors")
if [ "${#d}" != 64 ]; then
	echo "rel_secrets: no d in [sm2-encrypt] of $vectors"
	exit 1
fi
args+=(-s "sm2-encrypt-d=$d")
for ((i = 0; i + 16 <= 64; i += 2)); do
	args+=(-s "sm2-encrypt-d[$((i / 2))..+8]=${d:i:16}")
done
# Markers: SELECT of the ukey AID in the log; a label module_e2e_secret gave the import
args+=(-m "select-ukey-aid=00a4040006f0756b657901")   # docs/apdu.md SELECT
args+=(-m "label-env-holder=$(printf env-holder | hex)")

files=("$log")
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$state" -type f -print0)
echo "scanning $(wc -c <"$log") bytes of pcscd's APDU log ($(grep -c 'APDU:' "$log") APDUs)" \
     "and ${#files[@]} files, ${#pins[@]} PINs"
"$scan" "${args[@]}" "${files[@]}"
