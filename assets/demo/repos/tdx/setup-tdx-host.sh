#!/bin/bash
# setup-tdx-host.sh (dstack-wizard demo stand-in for canonical/tdx): installs the -intel
# kernel, TDX QEMU/OVMF/libvirt and, with TDX_SETUP_ATTESTATION=1, the attestation packages
# into the simulated host. The new kernel runs after the next reboot.
# shellcheck source=/dev/null
. "$DEMO_ASSETS/lib.sh"
demo_maybe_fail setup-tdx-host.sh "$@"
if [ -z "${DEMO_SUDO:-}" ]; then
	echo "Please run as root"
	exit 1
fi
cd "$(dirname "$0")" || exit 1
# shellcheck source=/dev/null
. ./setup-tdx-config
KERNEL=6.8.0-1028-intel
echo "Install the TDX host components"
demo_say 0.4 "Adding PPA: ppa:kobuk-team/tdx-release" "Hit:1 http://archive.ubuntu.com/ubuntu noble InRelease" \
	"Get:2 https://ppa.launchpadcontent.net/kobuk-team/tdx-release/ubuntu noble InRelease [24.3 kB]" \
	"Reading package lists..."
apt-get install -y "linux-image-$KERNEL" "linux-modules-extra-$KERNEL" qemu-system-x86 ovmf libvirt-daemon-system || exit 1
echo "Updating the GRUB configuration to boot $KERNEL"
demo_sleep 2
echo "Generating grub configuration file ..."
echo "Found linux image: /boot/vmlinuz-$KERNEL"
echo "Found initrd image: /boot/initrd.img-$KERNEL"
echo "done"
demo_state_set kernel-next "$KERNEL"
if [ "${TDX_SETUP_ATTESTATION:-0}" = 1 ]; then
	echo "Install the attestation components"
	apt-get install -y sgx-dcap-pccs tdx-qgs libsgx-dcap-default-qpl sgx-ra-service sgx-pck-id-retrieval-tool || exit 1
	demo_journal pccs "$(date '+%F %T').000 [info]: HTTPS Server is running on: https://localhost:8081"
else
	echo "Attestation components are not installed (TDX_SETUP_ATTESTATION=0)"
fi
usermod -aG kvm "$(demo_state_get user)"
echo
echo "========================================================================"
echo "The host OS setup has been done successfully. Now, please enable Intel TDX in the BIOS."
echo "========================================================================"
