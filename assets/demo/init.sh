#!/bin/bash
# init.sh: create the demo sandbox, the starting point of the demo host: a TDX-capable Xeon
# server with Ubuntu 24.04 on its generic kernel, TDX, TME and SGX still off in the firmware,
# nothing of the chain installed. Run by dstack-wizard --demo when $DEMO_SANDBOX/.ready is
# missing (delete the sandbox to start over).
set -euo pipefail
DEMO_SPEED=0
# shellcheck source=lib.sh
. "$DEMO_ASSETS/lib.sh"

S="$DEMO_SANDBOX"
R="$DEMO_ROOT"
mkdir -p "$S" "$R" "$S/home" "$DEMO_STATE"
chmod 700 "$S"
cd "$S"

# The server's file tree.
for d in etc/apt/sources.list.d etc/apt/keyrings etc/modules-load.d etc/systemd/system \
	etc/sudoers.d dev proc sys/firmware/efi sys/module/kvm_intel/parameters var/lib var/log \
	var/run opt tmp usr/local/bin boot; do
	mkdir -p "$R/$d"
done
cat >"$R/etc/os-release" <<'EOF'
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=noble
EOF
echo "demo-tdx" >"$R/etc/hostname"
cat >"$R/proc/meminfo" <<'EOF'
MemTotal:       527958040 kB
MemFree:        519203312 kB
MemAvailable:   521876400 kB
Buffers:          402120 kB
Cached:          3512308 kB
SwapTotal:       8388604 kB
SwapFree:        8388604 kB
EOF
echo "ubuntu ALL=(ALL) NOPASSWD:ALL" >"$R/etc/sudoers.d/ubuntu"

# The host's facts (see lib.sh): generic kernel, firmware settings off.
demo_state_set kernel 6.8.0-49-generic
demo_state_set bios off
demo_state_set user ubuntu
for p in bash coreutils curl git openssl python3 sudo systemd iproute2 gawk sed grep tar \
	ca-certificates gnupg; do
	demo_state_set "packages/$p" "installed"
done
demo_state_set services/ssh active
demo_state_set enabled/ssh 1
demo_state_set balances/0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266 0x0
demo_boot

# A demo CA and one server certificate for every name the simulated services answer.
mkdir -p "$S/ca"
(
	cd "$S/ca"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
		-keyout ca.key -out ca.pem -subj "/O=dstack-wizard demo/CN=dstack-wizard demo CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
		-out server.csr -subj "/O=dstack-wizard demo/CN=demo-tdx" 2>/dev/null
	cat >server.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=@names
[names]
DNS.1=localhost
DNS.2=dstack-demo.example
DNS.3=*.dstack-demo.example
DNS.4=api.cloudflare.com
DNS.5=download.docker.com
DNS.6=github.com
DNS.7=objects.githubusercontent.com
DNS.8=sh.rustup.rs
DNS.9=static.rust-lang.org
DNS.10=download.dstack.org
DNS.11=registry-1.docker.io
DNS.12=acme-v02.api.letsencrypt.org
IP.1=127.0.0.1
IP.2=::1
EOF
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
		-extfile server.ext -out server.pem 2>/dev/null
	rm -f server.csr
	chmod 600 ca.key server.key
)
# The interpreter itself, not a shim (pyenv's take most of a second to start).
python3 -c 'import sys; print(sys.executable)' >"$S/python3"
touch "$S/.ready"
echo "demo sandbox ready: $S"
