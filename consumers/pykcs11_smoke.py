#!/usr/bin/python3
"""pykcs11_smoke.py — PyKCS11 (Debian's python3-pykcs11) signs with keys on a ukey token.

    /usr/bin/python3 pykcs11_smoke.py --out DIR [--module SO] [--p256 LABEL] [--sm2 LABEL]

Loads the module ($UKEY_MODULE), lists the slots and tokens, logs in with $UKEY_USER_PIN
(PKCS#11 3.0 §5.6.6), and signs with two keys found by label (CKA_LABEL = container name,
docs/pkcs11-profile.md):
  - P-256: CKM_ECDSA over a SHA-256 digest (PKCS#11 3.0 mechanisms §2.3.6: the signature is
    r||s), verified here with python3-cryptography, which also must reject a tampered digest;
  - SM2: the vendor mechanism CKM_UKEY_SM2_SM3 (0xD54B0202: SM3 with Z of the default user ID
    "1234567812345678", GM/T 0003.2 §6.1), r||s as well. python3-cryptography has no SM2
    curve, so the signature goes to DIR/sm2.sig (DER, GM/T 0009 §7.3 SM2Signature) with the
    message DIR/msg.txt and the key DIR/sm2.pub.der for openssl.
DIR also gets p256.sig (DER) and p256.pub.der, so the caller can check both with openssl.
Exit status 0 only when everything above worked.
"""
import argparse
import hashlib
import os
import sys

import PyKCS11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

CKM_UKEY_SM2_SM3 = 0xD54B0202        # module/include/ukey-pkcs11.h
SM2_EC_PARAMS = bytes.fromhex("06082A811CCF5501822D")  # OID 1.2.156.10197.1.301
P256_EC_PARAMS = bytes.fromhex("06082A8648CE3D030107")  # prime256v1
MESSAGE = b"pay 100 to Alice\n"


def find_one(session, cls, label):
    objs = session.findObjects([(PyKCS11.CKA_CLASS, cls), (PyKCS11.CKA_LABEL, label)])
    if len(objs) != 1:
        sys.exit("want one object of class %d labelled %r, found %d" % (cls, label, len(objs)))
    return objs[0]


def public_key_info(session, label, want_params):
    """The SubjectPublicKeyInfo DER of the public key labelled `label`, after checking its curve."""
    pub = find_one(session, PyKCS11.CKO_PUBLIC_KEY, label)
    params, spki = session.getAttributeValue(pub, [PyKCS11.CKA_EC_PARAMS,
                                                   PyKCS11.CKA_PUBLIC_KEY_INFO])
    if bytes(params) != want_params:
        sys.exit("key %r: CKA_EC_PARAMS %s, want %s" % (label, bytes(params).hex(),
                                                        want_params.hex()))
    return bytes(spki)


def rs_to_der(sig):
    if len(sig) != 64:
        sys.exit("signature of %d bytes, want r||s of 64" % len(sig))
    return utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                      int.from_bytes(sig[32:], "big"))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def list_tokens(lib):
    info = lib.getInfo()
    print("library: %s %s" % (info.manufacturerID.strip(), info.libraryDescription.strip()))
    slots = lib.getSlotList(tokenPresent=True)
    if not slots:
        sys.exit("no token present")
    for slot in slots:
        tok = lib.getTokenInfo(slot)
        print("slot %d: token %r serial %s model %r" % (slot, tok.label.strip(),
                                                         tok.serialNumber.strip(),
                                                         tok.model.strip()))
    return slots[0]


def sign_p256(session, label, out):
    spki = public_key_info(session, label, P256_EC_PARAMS)
    key = find_one(session, PyKCS11.CKO_PRIVATE_KEY, label)
    digest = hashlib.sha256(MESSAGE).digest()
    sig = bytes(session.sign(key, digest, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)))
    der = rs_to_der(sig)
    pub = serialization.load_der_public_key(spki)
    prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    pub.verify(der, digest, prehashed)          # raises InvalidSignature
    try:
        pub.verify(der, hashlib.sha256(MESSAGE + b"!").digest(), prehashed)
        sys.exit("cryptography accepted the ECDSA signature on a tampered digest")
    except InvalidSignature:
        pass
    write(os.path.join(out, "p256.sig"), der)
    write(os.path.join(out, "p256.pub.der"), spki)
    print("ECDSA P-256 (CKM_ECDSA over SHA-256): verified by python3-cryptography")


def sign_sm2(session, label, out):
    spki = public_key_info(session, label, SM2_EC_PARAMS)
    key = find_one(session, PyKCS11.CKO_PRIVATE_KEY, label)
    # No parameter: the module uses the default user ID (docs/pkcs11-profile.md).
    sig = bytes(session.sign(key, MESSAGE, PyKCS11.Mechanism(CKM_UKEY_SM2_SM3, None)))
    write(os.path.join(out, "sm2.sig"), rs_to_der(sig))
    write(os.path.join(out, "sm2.pub.der"), spki)
    print("SM2 (CKM_UKEY_SM2_SM3 0x%08X): %d-byte r||s written as DER" % (CKM_UKEY_SM2_SM3,
                                                                        len(sig)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default=os.environ.get("UKEY_MODULE"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--p256", default="p256")
    ap.add_argument("--sm2", default="sm2")
    args = ap.parse_args()
    pin = os.environ.get("UKEY_USER_PIN")
    if not args.module or not pin:
        sys.exit("need --module (or $UKEY_MODULE) and $UKEY_USER_PIN")
    lib = PyKCS11.PyKCS11Lib()
    lib.load(args.module)
    slot = list_tokens(lib)
    session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
    session.login(pin)
    try:
        write(os.path.join(args.out, "msg.txt"), MESSAGE)
        sign_p256(session, args.p256, args.out)
        sign_sm2(session, args.sm2, args.out)
    finally:
        session.logout()
        session.closeSession()
    return 0


if __name__ == "__main__":
    sys.exit(main())
