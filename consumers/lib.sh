# consumers/lib.sh — sourced by every consumer script (consumers/CMakeLists.txt).
# Gives: $tmp (a scratch directory removed at exit), fail, pass, need, require_sandbox,
# sandbox (runs the build-tree ukey-sandbox with the given options).
set -uo pipefail

: "${UKS:?}" "${UKS_SRC:?}" "${UKS_BUILD:?}"
# shellcheck source=../scripts/lib/ukey-card.sh
. "$UKS_SRC/scripts/lib/ukey-card.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ukey-consumer.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf -- "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# need PROGRAM PACKAGE: a consumer that is not installed is a failure, not a skip
# (scripts/deps.sh installs every one of them).
need() {
	command -v "$1" >/dev/null 2>&1 || fail "$1 is missing: install Debian's $2 (scripts/deps.sh)"
}

# Skip (77) only when this machine cannot host a sandbox at all.
require_sandbox() {
	local rc
	"$UKS" --check
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || fail "ukey-sandbox --check: parts of ukey are missing"
}

sandbox() { "$UKS" "$@"; }

# The APDU of PSO: COMPUTE DIGITAL SIGNATURE as pcscd's -a log shows it (docs/apdu.md: a
# secured command, CLA 04): every signature the card makes is one of these.
readonly PSO_SIGN_APDU='APDU: 04 2A 9E 9A'

# pso_count LOG: how many signatures the card made, by pcscd's log.
pso_count() { grep -c "$PSO_SIGN_APDU" "$1"; }

# pso_mechs LOG: the card mechanism byte of every PSO: COMPUTE DIGITAL SIGNATURE in pcscd's
# log. A secured command's data field is SID CTR(4) KR mech … (docs/apdu.md), after a short
# (1-byte) or extended (00 + 2 bytes) Lc.
pso_mechs() {
	awk '/APDU: 04 2A 9E 9A / {
		sub(/.*APDU: /, ""); split($0, b, " ")
		sid = (b[5] == "00") ? 8 : 6
		print b[sid + 6]
	}' "$1"
}
