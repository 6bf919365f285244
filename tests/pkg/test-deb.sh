#!/usr/bin/env bash
# test-deb.sh TARBALL: the Debian package, built as a distribution would build it.
#
# From the `make dist` TARBALL (a clean tree, debian/ included) it runs dpkg-buildpackage -us -uc
# -b with DEB_BUILD_OPTIONS=nocheck and the nocheck profile (tests/run-all ran the suite
# already), unpacks the .deb with dpkg-deb -x into a temporary root and checks: what it
# installs; that its Depends: names a package for every library the binary links (objdump -p
# NEEDED, dpkg -S); lintian reports no error; the unpacked binary, with no DSTACK_WIZARD_DATADIR,
# walks the whole demo chain from the unpacked /usr/share/dstack-wizard. Prints TAP.

# Without dpkg-buildpackage or debhelper the program is a TAP skip (build-aux/install-deps
# installs them); with CI set, a failure.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"
export XDG_CACHE_HOME="$TMP/cache" XDG_CONFIG_HOME="$TMP/config"

tarball=${1:?usage: tests/pkg/test-deb.sh TARBALL (from make dist)}
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
missing=
for t in dpkg-buildpackage dh lintian objdump jq; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	if [ -n "${CI:-}" ]; then
		echo "Bail out! CI must build the Debian package; not installed:$missing"
		exit 1
	fi
	echo "1..0 # SKIP not installed:$missing (build-aux/install-deps installs them)"
	exit 0
fi

# Build, from the tarball unpacked into an empty directory.
build_deb() {
	local t0=$SECONDS
	mkdir "$TMP/src" && tar -xzf "$tarball" -C "$TMP/src" || return 1
	src=$(echo "$TMP"/src/*/) && [ -f "$src/debian/rules" ] ||
		{ echo "# the tarball has no debian/rules"; return 1; }
	if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
	    dpkg-buildpackage -us -uc -b -Pnocheck -J"$(nproc 2>/dev/null || echo 2)") \
	    >"$TMP/build.log" 2>&1; then
		tail -n 30 "$TMP/build.log" | sed 's/^/# /'
		return 1
	fi
	echo "# dpkg-buildpackage: $((SECONDS - t0)) s"
	deb=$(echo "$TMP"/src/dstack-wizard_*.deb) && [ -f "$deb" ] &&
		changes=$(echo "$TMP"/src/dstack-wizard_*.changes) && [ -f "$changes" ] &&
		dpkg-deb -x "$deb" "$TMP/root"
}
ok "dpkg-buildpackage -us -uc -b builds the package from the dist tarball" build_deb
[ -n "${deb:-}" ] && [ -f "$deb" ] || { done_testing; exit 1; }
WIZ="$TMP/root/usr/bin/dstack-wizard"
data="$TMP/root/usr/share/dstack-wizard"

ok "it installs the program, its man page, the chain and the demo host under /usr" \
	'[ -x "$WIZ" ] && [ -f "$TMP/root/usr/share/man/man1/dstack-wizard.1.gz" ] &&
	 [ -f "$data/chain/chain.yaml" ] && [ -f "$data/demo/server.py" ] && [ -x "$data/demo/bin/docker" ]'

# depends_names: the package names in the .deb's Depends:, one a line.
depends_names() {
	dpkg-deb -f "$deb" Depends | tr ',|' '\n' | sed 's/(.*//; s/:.*//; s/^ *//; s/ *$//' |
		grep -v '^$' | sort -u
}

# Every library the binary links (NEEDED) belongs to a package that Depends: names.
needed_in_depends() {
	local ma so pkgs p found rc=0
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	depends_names >"$TMP/depends"
	echo "# Depends: $(dpkg-deb -f "$deb" Depends)"
	for so in $(objdump -p "$WIZ" | awk '$1 == "NEEDED" { print $2 }'); do
		pkgs=$(dpkg -S "*/$ma/$so" 2>/dev/null | sed 's/: .*//; s/, /\n/g' | sed 's/:.*//' | sort -u)
		found=
		for p in $pkgs; do
			grep -qx -- "$p" "$TMP/depends" && found=$p
		done
		if [ -z "$pkgs" ]; then
			echo "# no installed package holds $so"; rc=1
		elif [ -z "$found" ]; then
			echo "# $so (package ${pkgs//$'\n'/ }) is linked but not in Depends:"; rc=1
		fi
	done
	return $rc
}
ok "Depends: names the package of every library the binary links" needed_in_depends

# The libraries lazylib.c used to dlopen(), linked: their packages come from ${shlibs:Depends}.
linked_in_depends() {
	local p rc=0
	for p in libcurl4 libssh2-1 libnettle8 libyaml-0-2; do
		grep -qx -- "$p" "$TMP/depends" || { echo "# Depends: lacks $p"; rc=1; }
	done
	return $rc
}
ok "Depends: names libcurl4, libssh2-1, libnettle8 and libyaml-0-2" linked_in_depends

# lintian on the .changes (which names the .deb and the .buildinfo): no error.
run_lintian() {
	local t0=$SECONDS
	lintian "$changes" >"$TMP/lintian.out" 2>&1
	sed 's/^/# lintian: /' "$TMP/lintian.out"
	echo "# lintian: $((SECONDS - t0)) s"
	! grep -q '^E:' "$TMP/lintian.out"
}
ok "lintian reports no error on the .deb and the .changes" run_lintian

# The unpacked binary finds the unpacked data beside it and walks the whole demo chain.
steps=$(tar -tzf "$tarball" | grep -c '/assets/chain/[0-9][0-9]-.*\.yaml$')
ok "the unpacked binary walks the demo chain: --demo run --all --yes" \
	'demo 0 run --all --yes && out_has "every step is done"'
ok "status: all $steps steps of the chain are done" \
	'demo 0 status --json &&
	 [ "$(jq "[.steps[] | select(.status == \"done\")] | length" "$TMP/out")" = "$steps" ] &&
	 [ "$(jq ".steps | length" "$TMP/out")" = "$steps" ]'
ok "its step files are the unpacked ones: a title changed there shows in list" \
	'sed -i "s/^title: Local development setup$/title: Local set-up (unpacked)/" \
	   "$data/chain/01-local-dev-setup.yaml" &&
	 demo 0 list && out_has "local-dev-setup +LOCAL +Local set-up \\(unpacked\\)"'
ok "the demo server goes away after the last wizard" no_server_left
done_testing
