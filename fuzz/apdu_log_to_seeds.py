#!/usr/bin/env python3
"""Seeds for the token_apdu and module_card fuzz targets from a pcscd APDU log.

    ukey-sandbox --apdu-log LOG -- <a PKCS#11 run>
    fuzz/apdu_log_to_seeds.py LOG --token fuzz/corpus/token_apdu --card fuzz/corpus/module_card
    fuzz/apdu_log_to_seeds.py --examples --token fuzz/corpus/token_apdu

pcscd -a logs every command ("APDU: 00 A4 ...") and its answer ("SW: ... 90 00").

token_apdu (fuzz/token_apdu_fuzz.c): one seed per card connection (a run of commands that
starts with SELECT of the ukey application). Plain commands become raw ops; GENERAL
AUTHENTICATE becomes the harness's own session op (the logged keys belong to another
session); a secured command (CLA bit 04, docs/apdu.md "Secure session") becomes a secured op
with its payload (SID, CTR and MAC stripped; the harness wraps it again). The payloads of
VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER are encrypted in the log, so they are
replaced by the sandbox's PINs (user1234 / admin1234, DESIGN.md defaults).

module_card (fuzz/module_card_fuzz.c): the answers of the whole log, in order, as the card's
script: each answer is length (2 bytes, big-endian) || data || SW1 SW2, after a first byte
of flags (0).
"""
import argparse
import hashlib
import os
import re
import sys

USER_PIN = b"user1234"
SO_PIN = b"admin1234"
AID_SELECT = bytes.fromhex("00A4040006F0756B657901")


def parse_log(path):
    """[(command bytes, answer bytes or None)] in log order."""
    pairs = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r"\b(APDU|SW): ((?:[0-9A-Fa-f]{2} ?)*)", line)
            if not m:
                continue
            data = bytes.fromhex(m.group(2).replace(" ", ""))
            if m.group(1) == "APDU":
                pairs.append([data, None])
            elif pairs and pairs[-1][1] is None:
                pairs[-1][1] = data
    return pairs


def split_apdu(cmd):
    """(header, data, le flags) per ISO 7816-3 §12.1 cases; None when malformed."""
    hdr, body = cmd[:4], cmd[4:]
    if len(hdr) < 4:
        return None
    if not body:
        return hdr, b"", 0
    if len(body) == 1:
        return hdr, b"", 2                          # short Le
    if body[0] != 0:
        lc = body[0]
        data = body[1:1 + lc]
        return hdr, data, 2 if len(body) > 1 + lc else 0
    if len(body) == 3:
        return hdr, b"", 6                          # extended Le
    lc = int.from_bytes(body[1:3], "big")
    data = body[3:3 + lc]
    return hdr, data, 6 if len(body) > 3 + lc else 0


def pin_payload(ins, p2):
    if ins == 0x20:
        return SO_PIN if p2 == 0x82 else USER_PIN
    if ins == 0x24:
        old = SO_PIN if p2 == 0x82 else USER_PIN
        return bytes([len(old)]) + old + bytes([len(old)]) + old
    return USER_PIN                                 # RESET RETRY COUNTER: the new PIN


def token_op(cmd):
    if len(cmd) >= 2 and cmd[1] == 0x86:
        return b"\x02"
    parts = split_apdu(cmd)
    if parts is None or not cmd[0] & 0x04 or len(parts[1]) < 21:
        return b"\x00" + len(cmd).to_bytes(2, "big") + cmd
    hdr, data, le = parts
    payload = data[5:-16]
    enc = 0
    if hdr[1] in (0x20, 0x24, 0x2C) and payload:
        payload, enc = pin_payload(hdr[1], hdr[3]), 1
    return (b"\x04" + bytes([hdr[0] & ~0x14 & 0xFF]) + hdr[1:4] + bytes([enc | le]) +
            len(payload).to_bytes(2, "big") + payload)


def token_seeds(pairs):
    seeds, cur = [], None
    for cmd, _ in pairs:
        if cmd.startswith(AID_SELECT):
            if cur:
                seeds.append(cur)
            cur = b"\x00"
        if cur is not None:
            cur += token_op(cmd)
    if cur:
        seeds.append(cur)
    return seeds


# Hand-written sequences from docs/apdu.md for what a short PKCS#11 run does not reach
# (token_apdu_fuzz.c's pristine card: KR 0 SM2, KR 1 P-256 in container 0, KR 2 RSA-2048 in
# container 1). Each is a list of ops: ("raw", hex) | ("sec", cla, ins, p1, p2, payload hex,
# encrypt, le: None / "short" / "ext") | ("session",) | ("select",) | ("power", n).
LOGIN = [("select",), ("session",), ("sec", 0, 0x20, 0, 0x81, USER_PIN.hex(), 1, None)]
EXAMPLES = {
    "sign-all": LOGIN + [
        ("sec", 0, 0x2A, 0x9E, 0x9A, "0001" + "11" * 32, 0, "ext"),
        ("sec", 0, 0x2A, 0x9E, 0x9A, "0102" + "22" * 32, 0, "short"),
        ("sec", 0, 0x2A, 0x9E, 0x9A,
         "0203" + "3031300d060960864801650304020105000420" + "33" * 32, 0, "ext"),
        ("sec", 0, 0x2A, 0x9E, 0x9A, "0204" + "44" * 32, 0, "ext"),
        ("sec", 0, 0x2A, 0x9E, 0x9A, "0205" + "55" * 20, 0, "short")],
    "decipher": LOGIN + [
        ("sec", 0, 0x2A, 0x80, 0x86, "0011" + "04" + "66" * 64 + "77" * 32 + "88" * 8, 0, "ext"),
        ("sec", 0, 0x2A, 0x80, 0x86, "0212" + "00" + "99" * 255, 0, "ext"),
        ("sec", 0, 0x2A, 0x80, 0x86, "0214" + "00" + "99" * 255, 0, "ext")],
    "files": LOGIN + [
        ("sec", 0x80, 0xE0, 0x01, 0x00, "8302d001800110840464617461", 0, None),
        ("raw", "00A4020C02D001"),
        ("sec", 0, 0xD6, 0x00, 0x00, "0102030405060708", 0, None),
        ("sec", 0, 0xD7, 0x00, 0x00, "540102" + "5303aabbcc", 0, None),
        ("raw", "00B0000000"), ("raw", "00B1000003540101" + "00"),
        ("sec", 0x80, 0xE2, 0x01, 0x00, "8302d0018403616263", 0, None),
        ("raw", "00CA010300"),
        ("sec", 0x80, 0xE4, 0x00, 0x00, "8302d001", 0, None)],
    "hash-chain": [("select",), ("raw", "002A908000"), ("raw", "102A908003616263"),
                   ("raw", "002A90800364656600"), ("raw", "002A9080000003616263000000")],
    "containers": LOGIN + [
        ("sec", 0x80, 0xE0, 0x00, 0x00, "81036e6577", 0, "short"),
        ("sec", 0, 0x46, 0x80, 0x04, "800101810101", 0, "ext"),
        ("raw", "0046810400"),
        ("sec", 0x80, 0xE2, 0x00, 0x00, "800102810472656e6d", 0, None),
        ("raw", "00CA010200"),
        ("sec", 0x80, 0xE4, 0x01, 0x00, "800102", 0, None)],
    "session-keys": LOGIN + [
        ("sec", 0x80, 0xE8, 0x01, 0x00, "", 0, "short"),
        ("sec", 0, 0x2A, 0x84, 0x80, "0101" + "00" * 32, 0, "ext"),
        ("sec", 0, 0x2A, 0x80, 0x84, "0102" + "00" * 16 + "11" * 16, 0, "ext"),
        ("sec", 0x80, 0xE8, 0x00, 0x01, "04" + "66" * 64 + "77" * 32 + "88" * 17, 0, "short")],
    "pins": [("select",), ("session",),
             ("sec", 0, 0x20, 0, 0x81, "7772306e67706e31", 1, None),
             ("raw", "0020008100"),
             ("sec", 0, 0x20, 0, 0x82, SO_PIN.hex(), 1, None),
             ("sec", 0, 0x2C, 0x02, 0x81, "6e65777573657231", 1, None),
             ("sec", 0, 0x24, 0, 0x81, "08" + USER_PIN.hex() + "08" + "6e65777573657232", 1,
              None),
             ("sec", 0, 0x20, 0xFF, 0x81, "", 0, None), ("raw", "00CA010100")],
    "reinit-misc": LOGIN + [
        ("raw", "0084000008"), ("raw", "00CA010000"), ("raw", "00C0000000"),
        ("power", 2), ("select",), ("session",),
        ("sec", 0, 0x20, 0, 0x82, SO_PIN.hex(), 1, None),
        ("sec", 0x80, 0xEE, 0x00, 0x00, "81036e6577", 0, None)],
}


def example_op(op):
    kind = op[0]
    if kind == "raw":
        cmd = bytes.fromhex(op[1])
        return b"\x00" + len(cmd).to_bytes(2, "big") + cmd
    if kind == "session":
        return b"\x02"
    if kind == "select":
        return b"\x03"
    if kind == "power":
        return b"\x05" + bytes([op[1]])
    _, cla, ins, p1, p2, payload, enc, le = op
    payload = bytes.fromhex(payload)
    f = enc | {None: 0, "short": 2, "ext": 6}[le]
    return (b"\x04" + bytes([cla, ins, p1, p2, f]) + len(payload).to_bytes(2, "big") +
            payload)


def example_seeds():
    return [b"\x00" + b"".join(example_op(op) for op in ops) for ops in EXAMPLES.values()]


def card_seed(pairs):
    out = b"\x00"
    for _, ans in pairs:
        ans = ans or b"\x6F\x00"
        out += len(ans).to_bytes(2, "big") + ans
    return out


def write(dirname, seeds):
    os.makedirs(dirname, exist_ok=True)
    for s in seeds:
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(dirname, name), "wb") as f:
            f.write(s)
    print(f"{dirname}: {len(seeds)} seeds")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", nargs="?", help="pcscd -a log (ukey-sandbox --apdu-log)")
    ap.add_argument("--token", help="corpus directory of token_apdu")
    ap.add_argument("--card", help="corpus directory of module_card")
    ap.add_argument("--examples", action="store_true",
                    help="also write the docs/apdu.md sequences to the --token directory")
    a = ap.parse_args()
    if a.examples and a.token:
        write(a.token, example_seeds())
    if a.log is None:
        return
    pairs = parse_log(a.log)
    if not pairs:
        sys.exit(f"{a.log}: no APDU in it")
    if a.token:
        write(a.token, set(token_seeds(pairs)))
    if a.card:
        write(a.card, [card_seed(pairs)])


if __name__ == "__main__":
    main()
