#!/bin/sh
# ifd-scale.sh: the ukey reader at pcscd 1.9.9's limit of 16 slots (16 reader contexts).
#   ifd-scale.sh sixteen UKEY_SANDBOX CLIENT    16 emulated keys under ukey-sandbox: CLIENT
#                                              (ifd_scale_p11) sees 16 tokens that answer
#   ifd-scale.sh seventeen                      run as the COMMAND of ifd-pcscd.sh with
#                                              DEVICENAME ";slots=17": the driver refuses
#                                              the reader at channel creation, says so in
#                                              pcscd's log, makes no link socket, and
#                                              pcscd stays up (ifd-pcscd.sh checks that)
# Exit 77 = skipped (no private pcscd possible here).
set -u
case ${1:-} in
sixteen)
	uks=$2; client=$3
	"$uks" --check >/dev/null 2>&1; rc=$?
	[ $rc -eq 77 ] && { echo "skipped: no sandbox here"; exit 77; }
	[ $rc -eq 0 ] || { echo "ukey-sandbox --check failed ($rc)"; exit 1; }
	exec "$uks" --tokens 16 -- "$client"
	;;
seventeen)
	: "${IFD_PCSCD_LOG:?run me through ifd-pcscd.sh}" "${IFD_PCSCD_LINK:?}"
	sock=${IFD_PCSCD_LINK#unix:}
	# pcscd opens the reader's first channel while starting up, before its socket exists
	if ! grep -q 'bad DEVICENAME ".*;slots=17.*slots=1\.\.16.*reader refused' "$IFD_PCSCD_LOG"; then
		echo "no refusal line in pcscd's log"; exit 1
	fi
	grep 'bad DEVICENAME' "$IFD_PCSCD_LOG" | head -n 1
	[ ! -e "$sock" ] || { echo "link socket $sock exists"; exit 1; }
	if grep -q 'Card inserted\|ukey.*slot.*inserted' "$IFD_PCSCD_LOG"; then
		echo "a slot came up"; exit 1
	fi
	echo "seventeen: refused cleanly"
	;;
*)
	echo "usage: ifd-scale.sh sixteen UKEY_SANDBOX CLIENT | seventeen"; exit 2 ;;
esac
