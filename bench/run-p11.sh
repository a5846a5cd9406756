#!/bin/bash
# run-p11.sh — the PKCS#11 benchmark (docs/performance.md "PKCS#11 targets"): in one run,
# side by side,
#   ukey      libukey-pkcs11.so under ukey-sandbox (pcscd + ifd + ukey-emu): SM2, P-256, RSA-2048
#   softhsm2  SoftHSM2 on a fresh token (private SOFTHSM2_CONF in a temporary directory):
#             P-256 and RSA-2048, with token keys and with session keys
#   openssl   `openssl speed` for the raw baselines (sm2, ecdsap256, rsa2048)
#   nopcscd   ukey's C_Initialize with no pcscd at all (a socket path that does not exist)
#   rtt       bench/run-rtt.sh, the per-APDU round trip (unless --rtt 0)
# then one table of the DESIGN.md "Performance targets" as ratios with meets/misses. Every
# signature ukey-bench-p11 counts was verified by OpenSSL; the run fails (exit 1) if any was
# not. A benchmark, not a test: no timing is asserted (bench_p11_smoke runs it tiny).
#
#   run-p11.sh --build DIR [--seconds S] [--threads T] [--keygen K] [--load-runs R]
#              [--rtt N] [--keep]
# Exit: 0; 1 a bench failed or a signature did not verify; 2 usage; 77 no sandbox here;
# 125 setup failure.
set -u

build=
seconds=3
threads=1
keygen=3
load_runs=7
rtt_n=5000
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--seconds) seconds=${2:?}; shift 2 ;;
	--threads) threads=${2:?}; shift 2 ;;
	--keygen) keygen=${2:?}; shift 2 ;;
	--load-runs) load_runs=${2:?}; shift 2 ;;
	--rtt) rtt_n=${2:?}; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: run-p11.sh --build DIR [--seconds S] [--threads T] [--keygen K]" \
		"[--load-runs R] [--rtt N] [--keep]" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "run-p11: --build DIR is required" >&2; exit 2; }
build=$(readlink -f "$build")
here=$(dirname "$(readlink -f "$0")")
BENCH=${UKEY_P11_BENCH:-$build/bench/ukey-bench-p11}
SANDBOX=${UKEY_P11_SANDBOX:-$build/tools/ukey-sandbox}
SOFTHSM=${UKEY_P11_SOFTHSM:-$(for f in /usr/lib/softhsm/libsofthsm2.so \
	/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do [ -e "$f" ] && echo "$f" && break; done)}

die() { echo "run-p11: $*" >&2; exit 125; }
[ -x "$BENCH" ] || die "$BENCH not found (build the target ukey-bench-p11)"
[ -x "$SANDBOX" ] || die "$SANDBOX not found"
"$SANDBOX" --check >/dev/null 2>&1
case $? in 0) ;; 77) echo "run-p11: skipped: no ukey-sandbox on this machine"; exit 77 ;;
	*) die "ukey-sandbox --check failed (a part of ukey is not built)" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/ukey-p11.XXXXXX") || die "no temporary directory"
cleanup() { if [ "$keep" = 1 ]; then echo "run-p11: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
rc=0
common=(--seconds "$seconds" --threads "$threads" --keygen "$keygen" --load-runs "$load_runs")

# ---- header: where and when ----
echo "# run-p11: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -sr), $(nproc) CPU" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(openssl version | cut -d' ' -f1-2)," \
	"SoftHSM2 $(softhsm2-util --version 2>/dev/null || echo absent)"
echo "# ${seconds} s a phase, ${threads} thread(s), ${keygen} key generations, ${load_runs} load runs"

# ---- raw OpenSSL ----
osl_s=${seconds%.*}; [ "${osl_s:-0}" -ge 1 ] 2>/dev/null || osl_s=1
openssl speed -seconds "$osl_s" sm2 ecdsap256 rsa2048 >"$work/speed.out" 2>/dev/null ||
	echo "run-p11: openssl speed failed" >&2
osl_sm2=$(awk '/bits SM2/ {print $(NF-1)}' "$work/speed.out")
osl_p256=$(awk '/bits ecdsa \(nistp256\)/ {print $(NF-1)}' "$work/speed.out")
osl_rsa=$(awk '/^rsa 2048 bits/ {print $(NF-1)}' "$work/speed.out")

# ---- ukey through the whole stack ----
echo
"$SANDBOX" -- sh -c 'b=$1; shift; "$b" --module "$UKEY_MODULE" --name ukey "$@"' sh "$BENCH" \
	"${common[@]}" \
	--mech sm2,sm2e,p256,rsa >"$work/ukey.out" 2>"$work/ukey.err" || rc=1
cat "$work/ukey.out"

# ---- ukey with no pcscd: C_Initialize must succeed at once with zero slots ----
for ((i = 0; i < 5; i++)); do
	PCSCLITE_CSOCK_NAME=$work/no-such-pcscd.comm "$BENCH" --probe-load \
		--module "$build/module/libukey-pkcs11.so" >>"$work/nopcscd.out" 2>&1
done

# ---- SoftHSM2 on a fresh token ----
shsm=
if [ -n "$SOFTHSM" ] && command -v softhsm2-util >/dev/null 2>&1; then
	mkdir -p "$work/softhsm/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$work/softhsm/tokens" >"$work/softhsm/softhsm2.conf"
	export SOFTHSM2_CONF=$work/softhsm/softhsm2.conf
	if softhsm2-util --init-token --free --label ukey-bench --pin 1234 --so-pin 12345678 \
		>"$work/softhsm/init.out" 2>&1; then
		shsm=1
		for mode in token session; do
			extra=(); [ "$mode" = session ] && extra=(--session-keys --load-runs 0)
			UKEY_P11_SOFTHSM_PIN=1234 "$BENCH" --module "$SOFTHSM" --token-label ukey-bench \
				--pin-env UKEY_P11_SOFTHSM_PIN --name "softhsm2-$mode" "${common[@]}" \
				"${extra[@]}" --mech p256,rsa >"$work/shsm-$mode.out" 2>>"$work/shsm.err" || rc=1
			grep -v '^#' "$work/shsm-$mode.out" | grep -v '^$'
		done
	else
		echo "run-p11: softhsm2-util --init-token failed: $(cat "$work/softhsm/init.out")"
	fi
else
	echo "run-p11: SoftHSM2 rows skipped: libsofthsm2.so or softhsm2-util not installed"
fi

# ---- per-APDU round trip ----
rtt=
if [ "$rtt_n" -gt 0 ] 2>/dev/null; then
	bash "$here/run-rtt.sh" --build "$build" -n "$rtt_n" -w 500 -t 10 >"$work/rtt.out" 2>&1
	rtt=$(sed -n 's/^round trip emu \/ floor (median): \([0-9.]*\) x.*/\1/p' "$work/rtt.out")
fi

# ---- the table ----
all=$(cat "$work"/ukey.out "$work"/shsm-*.out 2>/dev/null)
# val NAME WHAT [MECH] KEY: one figure from the "result" lines
val() {
	local sel="^result name=$1 what=$2 "
	[ -n "$3" ] && sel="$sel.*${3} "
	printf '%s\n' "$all" | grep -E "$sel" | head -1 | tr ' ' '\n' | sed -n "s/^$4=//p"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
judge() {       # ratio op limit
	awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN { if (r == "n/a" || r == "") { print "n/a"; exit }
		ok = op == ">=" ? r + 0 >= l : r + 0 <= l; print ok ? "meets" : "misses" }'
}
row() { printf '| %s | %s | %s | %s | %s %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$6" "$(judge "$4" "$5" "$6")"; }

u_sm2=$(val ukey sign mech=sm2 sign_ops); u_sm2e=$(val ukey sign mech=sm2e sign_ops)
u_p256=$(val ukey sign mech=p256 sign_ops)
s_p256t=$(val softhsm2-token sign mech=p256 sign_ops); s_p256s=$(val softhsm2-session sign mech=p256 sign_ops)
s_p256=$(awk -v a="$s_p256t" -v b="$s_p256s" 'BEGIN { if (a == "" && b == "") exit; print (a + 0 > b + 0 ? a : b) }')
u_load=$(val ukey load "" total_us); s_load=$(val softhsm2-token load "" total_us)
np_us=$(sed -n 's/^load init_us=[0-9.]* total_us=\([0-9.]*\) slots=.*/\1/p' "$work/nopcscd.out" |
	sort -n | awk '{ t[NR] = $1 } END { if (NR) print t[int((NR + 1) / 2)]; else print "fail" }')
np_slots=$(grep -c '^load .* slots=[1-9]' "$work/nopcscd.out")

echo
echo "### DESIGN.md performance targets (${threads} thread(s); ratios: ukey / baseline)"
echo "| target | ukey | baseline | ratio | target | verdict |"
echo "|---|---|---|---|---|---|"
r=$(ratio "$u_sm2" "$osl_sm2")
row "SM2 C_Sign/s (CKM_UKEY_SM2_SM3) vs openssl speed sm2" "$u_sm2" "$osl_sm2" "$r" ">=" 0.9
r=$(ratio "$u_sm2e" "$osl_sm2")
row "SM2 C_Sign/s (CKM_UKEY_SM2, e precomputed) vs openssl speed sm2" "$u_sm2e" "$osl_sm2" "$r" ">=" 0.9
r=$(ratio "$u_p256" "$s_p256")
row "ECDSA P-256 C_Sign/s vs SoftHSM2 (best of token/session keys)" "$u_p256" "${s_p256:-n/a}" "$r" ">=" 1.0
for op in C_Initialize C_GetTokenInfo C_FindObjects C_Login; do
	n=$(val ukey apdu "op=$op" n)
	lim=0; [ "$op" = C_Login ] && lim=2
	what=$op; [ "$op" = C_GetTokenInfo ] || [ "$op" = C_FindObjects ] && what="$op (cached)"
	row "APDUs: $what" "${n:-n/a}" "-" "${n:-n/a}" "<=" "$lim"
done
for m in sm2 sm2e p256 rsa; do
	n=$(val ukey sign "mech=$m" apdu_per_sign)
	row "APDUs: C_Sign ($m)" "${n:-n/a}" "-" "${n:-n/a}" "<=" 1
done
r=$(ratio "$u_load" "$s_load")
row "load: C_Initialize -> first C_GetTokenInfo, median us (vs SoftHSM2)" "$u_load" "${s_load:-n/a}" "$r" "<=" 1.0
if [ "$np_us" = fail ] || [ "$np_slots" != 0 ]; then
	printf '| no pcscd: C_Initialize succeeds at once, zero slots | %s | - | - | - | misses |\n' "$(head -1 "$work/nopcscd.out")"
else
	printf '| no pcscd: C_Initialize succeeds at once, zero slots | %s us, 0 slots | - | - | < 100000 us | %s |\n' \
		"$np_us" "$(awk -v t="$np_us" 'BEGIN { print t + 0 < 100000 ? "meets" : "misses" }')"
fi
if [ -n "$rtt" ]; then
	row "per-APDU round trip, emu / floor median (run-rtt.sh)" "-" "-" "$rtt" "<=" 1.2
else
	echo "| per-APDU round trip (run-rtt.sh) | skipped | - | - | <= 1.2 | n/a |"
fi
# The same comparisons at the median latency (1e6 / p50): a loaded machine stretches the
# tail of a three-process round trip (client, pcscd, ukey-emu) far more than an in-process
# loop, so the rate ratio above mostly measures the scheduler when the load is high.
echo
echo "### The same at the median latency (rate = 1e6 / p50; openssl speed: its mean)"
echo "| comparison | ukey p50 us | baseline us | ratio | target |"
echo "|---|---|---|---|---|"
lat() { awk -v u="$2" -v b="$3" -v n="$1" -v t="$4" 'BEGIN { if (u == "" || b == "" || u + 0 == 0) r = "n/a"; else r = sprintf("%.2f", b / u)
	printf "| %s | %s | %s | %s | %s |\n", n, u, b, r, t }'; }
osl_sm2_us=$(awk -v r="$osl_sm2" 'BEGIN { if (r + 0 > 0) printf "%.1f", 1e6 / r }')
lat "SM2 (CKM_UKEY_SM2_SM3) vs openssl speed sm2" "$(val ukey sign mech=sm2 sign_p50_us)" "$osl_sm2_us" ">= 0.9"
lat "SM2 (CKM_UKEY_SM2) vs openssl speed sm2" "$(val ukey sign mech=sm2e sign_p50_us)" "$osl_sm2_us" ">= 0.9"
s_p50=$(val softhsm2-session sign mech=p256 sign_p50_us); s_p50t=$(val softhsm2-token sign mech=p256 sign_p50_us)
s_p50=$(awk -v a="$s_p50" -v b="$s_p50t" 'BEGIN { if (a == "") print b; else if (b == "") print a; else print (a + 0 < b + 0 ? a : b) }')
lat "ECDSA P-256 vs SoftHSM2 (faster of token/session keys)" "$(val ukey sign mech=p256 sign_p50_us)" "$s_p50" ">= 1.0"
echo
echo "### Other figures (sign/s; raw OpenSSL from openssl speed, ${osl_s} s)"
echo "| mechanism | ukey | SoftHSM2 token keys | SoftHSM2 session keys | openssl speed |"
echo "|---|---|---|---|---|"
echo "| SM2 | ${u_sm2:-n/a} | - | - | ${osl_sm2:-n/a} |"
echo "| ECDSA P-256 | ${u_p256:-n/a} | ${s_p256t:-n/a} | ${s_p256s:-n/a} | ${osl_p256:-n/a} |"
echo "| RSA-2048 PKCS#1 v1.5 | $(val ukey sign mech=rsa sign_ops) | $(val softhsm2-token sign mech=rsa sign_ops) |" \
	"$(val softhsm2-session sign mech=rsa sign_ops) | ${osl_rsa:-n/a} |"

# every counted signature verified by OpenSSL, in every row
bad=$(printf '%s\n' "$all" | awk '/^result .*what=sign / && !/unsupported=1/ {
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	if (v["signed"] != v["verified"] || v["bad"] != 0 || v["sign_fail"] != 0 ||
	    v["verify_fail"] != 0 || v["verified"] == 0)
		print v["name"] "/" v["mech"] }')
[ -z "$shsm" ] || [ -s "$work/shsm-token.out" ] || bad="$bad softhsm2"
if [ -n "$bad" ] || [ -z "$u_sm2" ] || [ -z "$u_p256" ]; then
	echo "run-p11: FAILED rows (a signature not verified by OpenSSL, or no result): ${bad:-ukey}"
	for f in ukey.err shsm.err; do [ -s "$work/$f" ] && { echo "---- $f"; tail -n 20 "$work/$f"; }; done
	rc=1
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
