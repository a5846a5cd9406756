#!/bin/sh
# ifd_usb_subset: libifd-ukey.so calls only the libusb-1.0 functions docs/ccid.md lists
# ("libusb subset"), the ones libukey-fakeusb.so implements for the tests.
set -eu
so=$1 doc=$2
command -v nm >/dev/null 2>&1 || { echo "skipped: no nm"; exit 77; }
used=$(nm -D --undefined-only "$so" | awk '{print $2}' | sed 's/@.*//' | grep '^libusb_' || true)
[ -n "$used" ] || { echo "libifd-ukey.so uses no libusb function"; exit 1; }
bad=0
for f in $used; do
	if ! grep -q "\`$f\`" "$doc"; then
		echo "not in the libusb subset of docs/ccid.md: $f"
		bad=1
	fi
done
[ $bad -eq 0 ] || exit 1
echo "ifd_usb_subset: ok ($(echo $used | wc -w) functions)"
