# scripts/lib/ukey-card.sh — talk to a ukey card through PC/SC with scriptor (pcsc-tools),
# for the demo and the end-to-end tests. Source it; needs PCSCLITE_CSOCK_NAME for a sandbox.
# APDUs and tags: docs/apdu.md.

UKEY_AID=F0756B657901
UKEY_SELECT="00 A4 04 00 06 F0 75 6B 65 79 01"

# ukey_card_run APDU... — send the APDUs in one card connection (scriptor -r READER when
# UKEY_CARD_READER is set, else the first reader); prints one line per response:
# the response bytes in hex without spaces, a space, and the SW.
ukey_card_run() {
	local reader_opt=()
	[ -n "${UKEY_CARD_READER:-}" ] && reader_opt=(-r "$UKEY_CARD_READER")
	printf '%s\n' "$@" | scriptor "${reader_opt[@]}" 2>/dev/null | awk '
		/^< / { collecting = 1; buf = ""; sub(/^< /, "") }
		collecting {
			line = $0
			done = index(line, " : ")
			if (done) line = substr(line, 1, done - 1)
			buf = buf " " line
			if (done) {
				gsub(/ +/, "", buf)
				n = length(buf)
				printf "%s %s\n", substr(buf, 1, n - 4), substr(buf, n - 3)
				collecting = 0
			}
		}'
}

# ukey_card_get_data P2 — SELECT the ukey application, then GET DATA 00 CA 01 P2; prints the
# data object hex and fails unless both answer 9000.
ukey_card_get_data() {
	local out sel get
	out=$(ukey_card_run "$UKEY_SELECT" "00 CA 01 $1 00") || return 1
	sel=$(printf '%s\n' "$out" | sed -n 1p)
	get=$(printf '%s\n' "$out" | sed -n 2p)
	[ "${sel##* }" = 9000 ] || { echo "SELECT answered ${sel##* }" >&2; return 1; }
	[ "${get##* }" = 9000 ] || { echo "GET DATA answered ${get##* }" >&2; return 1; }
	printf '%s\n' "${get%% *}"
}

# ukey_tlv_value HEX TAG — the value (hex) of the first one-byte TAG in a flat BER-TLV
# sequence with short or 81/82 lengths (ISO/IEC 7816-4 §5.2).
ukey_tlv_value() {
	local hex=${1^^} want=${2^^} tag len i=0
	while [ $i -lt ${#hex} ]; do
		tag=${hex:i:2}; i=$((i + 2))
		len=$((16#${hex:i:2})); i=$((i + 2))
		case $len in
		129) len=$((16#${hex:i:2})); i=$((i + 2)) ;;
		130) len=$((16#${hex:i:4})); i=$((i + 4)) ;;
		esac
		if [ "$tag" = "$want" ]; then
			printf '%s\n' "${hex:i:len*2}"
			return 0
		fi
		i=$((i + len * 2))
	done
	return 1
}

# ukey_hex_to_text HEX — the bytes as text (serial numbers, labels).
ukey_hex_to_text() {
	local hex=$1 i out=
	for ((i = 0; i < ${#hex}; i += 2)); do
		out+=$(printf "\\x${hex:i:2}")
	done
	printf '%s\n' "$out"
}
