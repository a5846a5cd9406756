#!/bin/sh
# module_e2e_objects_tool: Debian's pkcs11-tool --write-object / --read-object of an X.509
# certificate and a data object through $UKEY_MODULE (run inside tools/ukey-sandbox).
# The certificate is made by the openssl CLI for a P-256 key generated on the token
# (a test CA signs it, -force_pubkey puts the token's key in); what is read back must be
# byte for byte what was written. Exit 77 when pkcs11-tool or openssl is missing.
set -eu
command -v pkcs11-tool >/dev/null 2>&1 || { echo "skipped: no pkcs11-tool"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "skipped: no openssl"; exit 77; }
[ -n "${UKEY_MODULE:-}" ] || { echo "skipped: run inside tools/ukey-sandbox"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
p11() { pkcs11-tool --module "$UKEY_MODULE" "$@"; }
login() { p11 --login --pin "$UKEY_USER_PIN" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# a key pair on the token; its ID and public key
login --keypairgen --key-type EC:prime256v1 --label tool-cert >keygen.txt
id=$(sed -n 's/^ *ID: *\([0-9a-f]*\)$/\1/p' keygen.txt | head -n 1)
[ -n "$id" ] || fail "no ID in: $(cat keygen.txt)"
p11 --read-object --type pubkey --id "$id" -o pub.der
openssl pkey -pubin -inform DER -in pub.der -out pub.pem

# a test CA, and a certificate for the token's key
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -new -x509 -key ca.key -subj "/CN=ukey tool CA" -days 2 -out ca.pem
openssl req -new -key ca.key -subj "/CN=tool-cert" -out req.pem
openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-force_pubkey pub.pem -outform DER -out cert.der

# write without login is refused; with it the certificate joins its key (same ID)
if p11 --write-object cert.der --type cert --id "$id" --label tool-cert 2>/dev/null; then
	fail "certificate written without login"
fi
login --write-object cert.der --type cert --id "$id" --label tool-cert
p11 --read-object --type cert --id "$id" -o back.der
cmp cert.der back.der || fail "certificate read back differs"
p11 --list-objects --type cert >certs.txt
grep -q "label: *tool-cert" certs.txt || fail "certificate not listed: $(cat certs.txt)"

# a data object: written, listed, read back, deleted
head -c 3000 /dev/urandom >data.bin
login --write-object data.bin --type data --label tool-data --application-label ukey
p11 --read-object --type data --label tool-data -o data.back
cmp data.bin data.back || fail "data object read back differs"
login --delete-object --type data --label tool-data
if p11 --read-object --type data --label tool-data -o gone.bin 2>/dev/null; then
	fail "data object still there after --delete-object"
fi
login --delete-object --type cert --id "$id"
echo "module_e2e_objects_tool: ok"
