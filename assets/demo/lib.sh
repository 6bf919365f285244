# lib.sh: sourced by every stand-in of the demo host (and by init.sh). See README.md for the
# contract: DEMO_ASSETS, DEMO_SANDBOX, DEMO_SPEED, DEMO_FAIL, DEMO_STEP come from the wizard.
# shellcheck shell=bash

: "${DEMO_ASSETS:?not run by dstack-wizard --demo (DEMO_ASSETS is not set)}"
: "${DEMO_SANDBOX:?not run by dstack-wizard --demo (DEMO_SANDBOX is not set)}"
: "${DEMO_SPEED:=1}"
: "${DEMO_FAIL:=}"
: "${DEMO_STEP:=}"
DEMO_ROOT="$DEMO_SANDBOX/root"
DEMO_STATE="$DEMO_SANDBOX/state"

# The real program NAME, found on PATH without the stand-ins.
demo_real() {
	local IFS=: dir
	for dir in $PATH; do
		case "$dir" in "$DEMO_ASSETS/bin" | "$DEMO_ASSETS/bin/") continue ;; esac
		if [ -x "$dir/$1" ] && [ ! -d "$dir/$1" ]; then
			printf '%s\n' "$dir/$1"
			return 0
		fi
	done
	return 1
}

# Sleep SECONDS (fractions allowed), scaled by DEMO_SPEED; 0 does not sleep at all.
demo_sleep() {
	local s
	case "$DEMO_SPEED" in 0 | 0.0 | "") return 0 ;; esac
	s=$(awk -v a="$1" -v b="$DEMO_SPEED" 'BEGIN { v = a * b; if (v > 0) printf "%.3f", v }')
	[ -n "$s" ] && "$(demo_real sleep)" "$s"
	return 0
}

# Is the running step the one whose failure is injected (--demo-fail)?
demo_failing() {
	[ -n "$DEMO_FAIL" ] && [ "$DEMO_FAIL" = "$DEMO_STEP" ]
}

# Facts of the simulated host, one small file each under state/.
demo_state_set() {
	local f="$DEMO_STATE/$1"
	[ -d "${f%/*}" ] || mkdir -p "${f%/*}"
	printf '%s\n' "${2-}" >"$f"
}
demo_state_get() {
	cat "$DEMO_STATE/$1" 2>/dev/null || true
}
demo_state_has() {
	[ -e "$DEMO_STATE/$1" ]
}
demo_state_del() {
	rm -rf "${DEMO_STATE:?}/$1"
}

# The loopback port that answers for simulated service port PORT (empty if none).
demo_port() {
	awk -v p="$1" '$1 == p { print $2; exit }' "$DEMO_SANDBOX/ports" 2>/dev/null
}

# When the running step's failure is injected and it belongs to this command line (NAME
# ARGS...), print it (to stderr) and exit with its status. The table is failures.txt.
demo_maybe_fail() {
	demo_failing || return 0
	local line id pat code msg cmdline="$*"
	while IFS= read -r line; do
		case "$line" in '#'* | '') continue ;; esac
		IFS='|' read -r id pat code msg <<<"$line"
		[ "$id" = "$DEMO_STEP" ] || continue
		# shellcheck disable=SC2254
		case "$cmdline" in
		$pat)
			printf '%b\n' "$msg" >&2
			exit "$code"
			;;
		esac
	done <"$DEMO_ASSETS/failures.txt"
	return 0
}

# Print lines one by one, DELAY (scaled) seconds apart: realistic output, compressed.
demo_say() {
	local delay=$1 line
	shift
	for line in "$@"; do
		printf '%s\n' "$line"
		demo_sleep "$delay"
	done
}

# A deterministic pseudo-random hex string of LEN characters derived from SEED.
demo_hex() {
	local seed=$1 len=$2 out=""
	while [ "${#out}" -lt "$len" ]; do
		out="$out$(printf '%s' "$seed${#out}" | sha256sum | cut -c1-64)"
	done
	printf '%s\n' "${out:0:$len}"
}

# A version-4 style UUID derived from SEED.
demo_uuid() {
	local h
	h=$(demo_hex "$1" 32)
	printf '%s-%s-4%s-a%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" "${h:17:3}" "${h:20:12}"
}

# Is unit NAME active?
demo_unit_active() {
	[ "$(demo_state_get "services/$1")" = active ]
}

# Append a line to a unit's journal.
demo_journal() {
	local unit=$1
	shift
	mkdir -p "$DEMO_STATE/journal"
	printf '%s %s %s[%d]: %s\n' "$(date '+%b %d %H:%M:%S')" demo-tdx "$unit" "$((1000 + RANDOM % 9000))" "$*" >>"$DEMO_STATE/journal/$unit"
}

# Boot the simulated host: the kernel, the firmware settings and the loaded modules decide
# what /proc/cpuinfo, /dev, /sys and the kernel log show.
demo_boot() {
	local kernel bios flags tdx=N
	kernel=$(demo_state_get kernel-next)
	[ -n "$kernel" ] || kernel=$(demo_state_get kernel)
	demo_state_set kernel "$kernel"
	demo_state_del kernel-next
	bios=$(demo_state_get bios)
	flags="fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cat_l2 cdp_l3 intel_ppin cdp_l2 ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb intel_pt avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local split_lock_detect avx_vnni avx512_bf16 wbnoinvd dtherm ida arat pln pts hfi vnmi avx512vbmi umip pku ospke waitpkg avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg tme avx512_vpopcntdq la57 rdpid bus_lock_detect cldemote movdiri movdir64b enqcmd fsrm md_clear serialize tsxldtrk pconfig arch_lbr ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities"
	rm -f "$DEMO_ROOT/dev/sgx_enclave" "$DEMO_ROOT/dev/sgx_provision" "$DEMO_ROOT/dev/sgx_vepc" "$DEMO_ROOT/dev/vhost-vsock"
	{
		echo "[    0.000000] Linux version $kernel (buildd@lcy02-amd64-045) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #30-Ubuntu SMP PREEMPT_DYNAMIC"
		echo "[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-$kernel root=UUID=5d0b7e5c-2f5e-4bb4-9d55-0c0f1c0b2c11 ro quiet splash"
		if [ "$bios" = on ]; then
			echo "[    0.000000] x86/tme: enabled by BIOS"
			echo "[    0.000000] x86/tme: Unknown policy is active: 0x2"
			echo "[    0.000000] x86/mktme: enabled by BIOS"
			echo "[    0.000000] x86/mktme: 63 KeyIDs available"
		else
			echo "[    0.000000] x86/tme: not enabled by BIOS"
		fi
		echo "[    0.512345] smpboot: CPU0: INTEL(R) XEON(R) GOLD 6530 (family: 0x6, model: 0xcf, stepping: 0x2)"
		if [ "$bios" = on ]; then
			echo "[    1.204311] sgx: EPC section 0x8000c00000-0x807f7fffff"
			echo "[    1.204398] sgx: EPC section 0x10000c00000-0x1007fbfffff"
		fi
	} >"$DEMO_STATE/dmesg"
	if [ "$bios" = on ]; then
		flags="$flags sgx sgx_lc"
		: >"$DEMO_ROOT/dev/sgx_enclave"
		: >"$DEMO_ROOT/dev/sgx_provision"
		: >"$DEMO_ROOT/dev/sgx_vepc"
		case "$kernel" in
		*-intel)
			flags="$flags tdx_host_platform"
			tdx=Y
			{
				echo "[    4.113210] virt/tdx: BIOS enabled: private KeyID range [32, 64)"
				echo "[    4.113214] virt/tdx: Disable ACPI S3. Turn off TDX in the BIOS to use ACPI S3."
				echo "[    6.871002] virt/tdx: 1050644 KB allocated for PAMT"
				echo "[    6.871007] virt/tdx: module initialized"
			} >>"$DEMO_STATE/dmesg"
			;;
		esac
	fi
	if [ -e "$DEMO_ROOT/etc/modules-load.d/dstack-vhost-vsock.conf" ] || demo_state_has modules/vhost_vsock-now; then
		: >"$DEMO_ROOT/dev/vhost-vsock"
	fi
	demo_state_del modules/vhost_vsock-now
	mkdir -p "$DEMO_ROOT/sys/module/kvm_intel/parameters"
	echo "$tdx" >"$DEMO_ROOT/sys/module/kvm_intel/parameters/tdx"
	: >"$DEMO_ROOT/proc/cpuinfo"
	local cpu
	for cpu in $(seq 0 63); do
		cat >>"$DEMO_ROOT/proc/cpuinfo" <<EOF
processor	: $cpu
vendor_id	: GenuineIntel
cpu family	: 6
model		: 207
model name	: INTEL(R) XEON(R) GOLD 6530
stepping	: 2
microcode	: 0x21000230
cpu MHz		: 2100.000
cache size	: 163840 KB
physical id	: $((cpu / 32))
siblings	: 32
core id		: $((cpu % 32))
cpu cores	: 32
flags		: $flags

EOF
	done
	# Services enabled at boot come back; everything else is stopped.
	local unit
	for unit in "$DEMO_STATE"/services/*; do
		[ -e "$unit" ] || continue
		unit=${unit##*/}
		if demo_state_has "enabled/$unit"; then
			demo_state_set "services/$unit" active
		else
			demo_state_set "services/$unit" inactive
		fi
	done
}

# Reboot: the host goes down (ssh-keyscan sees it down at least once), then boots.
demo_reboot() {
	demo_state_set boot/pending-down 1
	demo_state_set boot/down-until "$(awk -v s="$DEMO_SPEED" -v now="$(date +%s)" 'BEGIN { printf "%d", now + 20 * s }')"
	demo_boot
}
