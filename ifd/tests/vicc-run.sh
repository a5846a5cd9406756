#!/bin/sh
# vicc-run.sh: run vsmartcard's vicc (Debian package vsmartcard-vpicc) so that it works.
#
#   vicc-run.sh --check        exit 0 if vicc can run here, 77 (with the reason) if not
#   vicc-run.sh --atr          print the ATR of vicc's default iso7816 card (hex, lower case),
#                              computed by vicc's own code (Iso7816OS.getATR)
#   vicc-run.sh VICC-ARGS...   exec vicc, e.g. -t iso7816 -H 127.0.0.1 -P PORT
#
# Debian 12's vicc is broken as packaged (docs/vsmartcard.md): its Python package lives in
# /usr/lib/python3/site-packages/virtualsmartcard, which is not on sys.path, and
# CryptoUtils.py falls back to the Python 2 module `sha` when PyCrypto is absent. So vicc
# runs with Debian's own /usr/bin/python3 (never a python3 from PATH: a pyenv or venv
# interpreter lacks Debian's modules), that directory on PYTHONPATH, and a one-line `sha`
# shim built on hashlib in a private directory.
set -u

VICC=${VICC:-/usr/bin/vicc}
PY=${VICC_PYTHON:-/usr/bin/python3}
PKGDIR=${VICC_PKGDIR:-/usr/lib/python3/site-packages/virtualsmartcard}

unavailable() { echo "vicc unavailable: $*" >&2; exit 77; }

[ -f "$VICC" ] || unavailable "$VICC not found (Debian: apt-get install vsmartcard-vpicc)"
[ -x "$PY" ] || unavailable "no $PY"
[ -d "$PKGDIR/virtualsmartcard" ] || unavailable "no Python package in $PKGDIR"

shim=$(mktemp -d "${TMPDIR:-/tmp}/ukey-vicc-shim.XXXXXX") || exit 1
# Python 2's `sha` module, as CryptoUtils.py uses it: sha.new(), sha.digest_size.
printf 'from hashlib import sha1 as new\ndigest_size = 20\n' >"$shim/sha.py" || exit 1
export PYTHONPATH="$PKGDIR:$shim${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

# The ATR code path imports the whole card stack (CardGenerator, SmartcardSAM,
# CryptoUtils), so --check exercises what vicc needs at start-up.
atr_py='
from virtualsmartcard.VirtualSmartcard import Iso7816OS
from virtualsmartcard.CardGenerator import CardGenerator
mf, sam = CardGenerator("iso7816").getCard()
print(Iso7816OS(mf, sam).getATR().hex())
'

case ${1:-} in
--check)
	out=$("$PY" -c "$atr_py" 2>&1 </dev/null)
	rc=$?
	rm -rf -- "$shim"
	[ $rc -eq 0 ] || unavailable "vicc's modules do not load: $(printf '%s' "$out" | tail -n 1)"
	exit 0 ;;
--atr)
	"$PY" -c "$atr_py" 2>/dev/null </dev/null
	rc=$?
	rm -rf -- "$shim"
	exit $rc ;;
esac

# Not exec: the shim directory is removed when vicc ends. vicc is stopped with SIGTERM
# by the caller; pass it on.
"$PY" "$VICC" "$@" </dev/null &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT HUP
wait $child
rc=$?
# a trapped signal interrupts the first wait: reap vicc for real
kill -0 $child 2>/dev/null && wait $child
rm -rf -- "$shim"
exit $rc
