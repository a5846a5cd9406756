#!/usr/bin/env python3
"""ifd_usb_bundle: the generated ifd-ukey.bundle is what pcscd's hotplug expects.

pcsc-lite hotplug_libudev.c (HPReadBundleValues) reads Contents/Info.plist of every
*.bundle in its drop directory: CFBundleExecutable (the library, in Contents/Linux/),
ifdVendorID, ifdProductID and ifdFriendlyName (arrays of equal length, else the whole
bundle scan fails), and CFBundleName (CCIDCLASSDRIVER marks a class driver; ukey must not
be one, so it is chosen before libccid for the keys it lists).
usage: ifd_usb_bundle.py BUNDLE_DIR IDS_TXT"""
import os
import plistlib
import sys


def main():
    bundle, ids_txt = sys.argv[1], sys.argv[2]
    with open(os.path.join(bundle, "Contents", "Info.plist"), "rb") as f:
        p = plistlib.load(f)
    for key in ("CFBundleExecutable", "ifdVendorID", "ifdProductID", "ifdFriendlyName",
                "CFBundleName", "ifdCapabilities"):
        assert key in p, "missing " + key
    assert p["CFBundleExecutable"] == "libifd-ukey.so", p["CFBundleExecutable"]
    assert p["CFBundleName"] != "CCIDCLASSDRIVER"
    lib = os.path.join(bundle, "Contents", "Linux", p["CFBundleExecutable"])
    assert os.path.isfile(lib), lib + " missing"
    vids, pids, names = p["ifdVendorID"], p["ifdProductID"], p["ifdFriendlyName"]
    assert isinstance(vids, list) and len(vids) >= 1
    assert len(vids) == len(pids) == len(names), (len(vids), len(pids), len(names))
    # pcscd reads the IDs with strtol(value, NULL, 16)
    got = [(int(v, 16), int(q, 16)) for v, q in zip(vids, pids)]
    assert all(0 < v <= 0xFFFF and 0 <= q <= 0xFFFF for v, q in got), got
    assert all(v.startswith("0x") and len(v) == 6 for v in vids + pids)
    assert all(n.strip() for n in names)
    want = []
    with open(ids_txt) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                vid, pid, _ = line.split(None, 2)
                want.append((int(vid, 16), int(pid, 16)))
    assert got == want, (got, want)
    assert (0x1209, 0x0001) in got, "the emulated key's ID is missing"
    assert int(p["ifdCapabilities"], 16) == 0
    print("ifd_usb_bundle: ok (%d key IDs)" % len(got))


if __name__ == "__main__":
    main()
