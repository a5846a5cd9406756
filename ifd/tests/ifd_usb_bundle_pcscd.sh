#!/bin/sh
# ifd_usb_bundle_pcscd: pcscd itself reads the generated ifd-ukey.bundle. A private pcscd (its
# own mount namespace, a tmpfs over the USB drivers directory holding only this bundle, a
# tmpfs over /run/pcscd) starts, reads the bundle for its USB hotplug and must not complain
# ("Value/Key not defined", "Error parsing", "No bundle files" = hotplug disabled).
# usage: ifd_usb_bundle_pcscd.sh BUNDLE_DIR   (exit 77 when no mount namespace is possible)
set -eu
bundle=$1
if [ "${UKEY_BUNDLE_NS:-}" != 1 ]; then
	command -v pcscd >/dev/null 2>&1 || { echo "skipped: no pcscd"; exit 77; }
	command -v unshare >/dev/null 2>&1 || { echo "skipped: no unshare"; exit 77; }
	unshare -m true 2>/dev/null || { echo "skipped: cannot unshare a mount namespace"; exit 77; }
	UKEY_BUNDLE_NS=1 exec unshare -m sh "$0" "$@"
fi
drop=$(pkg-config --variable=usbdropdir libpcsclite 2>/dev/null || echo /usr/lib/pcsc/drivers)
mount --make-rprivate / 2>/dev/null || true
mkdir -p "$drop" /run/pcscd
mount -t tmpfs -o mode=0755 ukey-bundle-test "$drop"
mount -t tmpfs -o mode=0755 ukey-bundle-run /run/pcscd
cp -r "$bundle" "$drop/"
log=/run/pcscd/test.log
timeout 3 pcscd --foreground --debug --config /dev/null >"$log" 2>&1 || true
if ! grep -q "daemon ready" "$log" ||
   grep -qE "Value/Key not defined|Error parsing|No bundle files|Disabling USB support" "$log"; then
	cat "$log"
	echo "ifd_usb_bundle_pcscd: pcscd did not accept the bundle"
	exit 1
fi
echo "ifd_usb_bundle_pcscd: ok (pcscd 'daemon ready', bundle read without complaint)"
