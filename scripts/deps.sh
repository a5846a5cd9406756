#!/bin/bash
# scripts/deps.sh — install the Debian 12 packages ukey needs to build and test, with apt-get,
# only those missing, non-interactively. Run as root, or as a user who may use sudo.
set -euo pipefail

packages=(
	build-essential clang cmake pkg-config          # compilers and build system
	libssl-dev openssl                              # OpenSSL 3 (SM2/SM3/SM4)
	libpcsclite-dev pcscd pcsc-tools                # PC/SC: headers, daemon, scriptor
	libp11-kit-dev p11-kit opensc softhsm2          # PKCS#11: headers, proxy, pkcs11-tool, oracle
	gnutls-bin                                      # p11tool: a p11-kit consumer (module_p11kit)
	libtasn1-6-dev libusb-1.0-0-dev                 # ASN.1 and USB CCID
	util-linux procps                               # unshare, setpriv; pgrep (tests)
	valgrind                                        # memcheck of the integration tests
	libengine-pkcs11-openssl                        # consumers: OpenSSL through libp11's engine
	openssh-client openssh-server                   # consumers: ssh -I, ssh-agent, a private sshd
	libnss3-tools firefox-esr                       # consumers: NSS modutil/certutil, a browser
	python3-pykcs11 python3-cryptography            # consumers: PyKCS11 (verified by cryptography)
	p11-kit-modules                                 # consumers: p11-kit-client.so (p11-kit remote)
	groff-base man-db bsdextrautils                 # ukey_tool_man: groff, man -l, col
	# vsmartcard interop tests (docs/vsmartcard.md): Debian's vpcd driver and the vicc
	# card. Note: vsmartcard-vpcd installs /etc/reader.conf.d/vpcd, so the system pcscd
	# (if it runs) then listens on TCP port 35963 on every interface; the tests never use it.
	vsmartcard-vpcd vsmartcard-vpicc
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" = 0 ]; then
	as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo env)
else
	echo "deps: missing ${missing[*]} and neither root nor sudo is available" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"${missing[@]}"
