#!/usr/bin/env bash
# The Debian package: ./scripts/package builds tund_<version>-<revision>_<arch>.deb;
# lintian finds nothing to report, the copyright file is machine-readable and
# the changelog is gzip -9n's; it is installed into a scratch root with dpkg
# (its own database there), its file list and dependencies checked (examples
# as documentation, nothing in sysctl.d), the installed units pass
# systemd-analyze verify against that root, no service is enabled, a second
# install keeps the user's /etc/tund files, and a purge leaves none of the
# package's files.
#   package_test.sh          this machine's architecture
#   package_test.sh arm64    cross-built (./scripts/package arm64): the same
#                            checks, its binaries arm64 and run under qemu-user
set -u
. "$(dirname "$0")/netns/lab.sh"   # check/summary/require_root only; no lab is built
require_root "package_test"
SRC=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-$(dpkg --print-architecture)}
cpu=$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_CPU 2>/dev/null)
run=()  # how the package's binaries are run: directly, or through the emulator
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  triplet=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
  for need in "$triplet-g++" "qemu-$cpu"; do
    command -v "$need" >/dev/null || { echo "SKIPPED: package_test $arch needs $need (./scripts/setup installs arm64's)"; exit 77; }
  done
  dpkg-query -W "libsodium-dev:$arch" >/dev/null 2>&1 \
    || { echo "SKIPPED: package_test $arch needs the $arch libraries (./scripts/setup installs arm64's)"; exit 77; }
  run=("qemu-$cpu")  # the multiarch loader and libraries (cmake/README.md)
fi
R=$(mktemp -d /tmp/tund-pkgroot.XXXXXX)
trap 'rm -rf "$R" "$R.log"' EXIT
quiet() { "$@" > "$R.log" 2>&1 || { cat "$R.log"; return 1; }; }

deb=$("$SRC/scripts/package" "$arch" | tail -n1)
check "scripts/package built $(basename "$deb")" test -f "$deb"
version=$(dpkg-deb -f "$deb" Version)
check "the version ($version) is the changelog's top entry" \
  test "$version" = "$(dpkg-parsechangelog -l "$SRC/packaging/changelog" -S Version)"
check "the file name is tund_<project version>-<revision>_<arch>.deb" \
  bash -c "[[ '$(basename "$deb")' == tund_$(sed -n 's/^project(tund VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")-*_$arch.deb ]]"
# Not reported: the maintainer address, a placeholder until the project has
# a public one (packaging/deb.cmake, packaging/changelog), and the first
# changelog entry closing no ITP bug (the package is not uploaded to Debian).
check "lintian reports no error or warning" quiet lintian --fail-on error,warning \
  --suppress-tags bogus-mail-host,bogus-mail-host-in-debian-changelog,initial-upload-closes-no-bugs "$deb"
check "nothing goes to a sysctl.d directory (installing changes no setting)" bash -c "! dpkg-deb -c '$deb' | grep -q sysctl.d/"
depends=$(dpkg-deb -f "$deb" Depends)
check "the control file says $arch" test "$(dpkg-deb -f "$deb" Architecture)" = "$arch"
check "dependencies computed by shlibdeps ($depends)" bash -c "grep -q libsodium <<< '$depends' && grep -q libnl-route <<< '$depends'"

mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc"
touch "$R/var/lib/dpkg/status"
# The scratch database knows no other package: dependencies are checked above.
# Another architecture's package goes in too: this root is only looked at.
DPKG=(dpkg "--root=$R" --force-script-chrootless --force-depends --force-architecture --log=/dev/null)
check "dpkg installs it into the scratch root" quiet "${DPKG[@]}" -i "$deb"
doc=/usr/share/doc/tund
expected="/usr/bin/tund /usr/bin/tund-hub /usr/lib/systemd/system/tund@.service /usr/lib/systemd/system/tund-hub.service
/usr/share/man/man8/tund.8.gz /usr/share/man/man8/tund-hub.8.gz /usr/share/man/man5/tund.toml.5.gz
/usr/share/bash-completion/completions/tund /usr/share/bash-completion/completions/tund-hub
$doc/copyright $doc/changelog.Debian.gz $doc/README.md
$(cd "$SRC" && find examples docs -type f | sed "s|^|$doc/|")"
for f in $expected; do check "installed: $f" test -s "$R$f"; done
check "examples/cluster/member-a.toml among the examples" test -s "$R$doc/examples/cluster/member-a.toml"
check "the copyright file is machine-readable (DEP-5), Expat as LICENSE" bash -c \
  "head -1 '$R$doc/copyright' | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' &&
   grep -qx 'License: Expat' '$R$doc/copyright' && grep -qF 'Permission is hereby granted' '$R$doc/copyright'"
# gzip -9n (Policy 12.3, 12.7): header flags 0 (no name), time stamp 0,
# extra flags 2 (best compression).
for gz in $(printf '%s\n' $expected | grep '\.gz$'); do
  check "$gz is gzip -9n" test "$(od -An -tx1 -j3 -N6 "$R$gz" | tr -d ' ')" = 000000000002
done
check "changelog.Debian.gz is the changelog of this version" \
  test "$(zcat "$R$doc/changelog.Debian.gz" | dpkg-parsechangelog -l - -S Version)" = "$version"
# file(1) names the machine as the GNU CPU with a dash (x86-64, aarch64).
check "both binaries are for $cpu, stripped" bash -c \
  "file -L '$R/usr/bin/tund' '$R/usr/bin/tund-hub' | grep '${cpu//_/-}, ' | grep -c ', stripped\$' | grep -qx 2"
check "the binaries run${run:+ under ${run[*]}} (tund genkey)" bash -c "${run[*]} '$R/usr/bin/tund' genkey | ${run[*]} '$R/usr/bin/tund' pubkey | grep -q ."
check "the man pages are gzipped roff" bash -c "zcat '$R/usr/share/man/man5/tund.toml.5.gz' | head -1 | grep -q '^.TH'"
# The installed units as they are, their binaries looked up in the scratch
# root (verify checks that ExecStart exists; the host has no /usr/bin/tund).
mkdir -p "$R/verify"
for u in tund@ tund-hub; do
  sed "s|/usr/bin/|$R/usr/bin/|g" "$R/usr/lib/systemd/system/$u.service" > "$R/verify/$u.service"
done
mv "$R/verify/tund@.service" "$R/verify/tund@main.service"
verify_units "$R/verify" tund@main tund-hub
rm -rf "$R/verify"
check "no service is enabled by installing" bash -c "! find '$R/etc' -path '*systemd*' -name 'tund*' | grep -q ."

# The user's configuration survives a second install over the first.
mkdir -p "$R/etc/tund"
echo 'private_key_file = "office.key"' > "$R/etc/tund/office.toml"
check "a second install over the first succeeds" quiet "${DPKG[@]}" -i "$deb"
check "the user's /etc/tund/office.toml is kept" grep -q office.key "$R/etc/tund/office.toml"

check "dpkg purges it" quiet "${DPKG[@]}" -P tund
left=""
for f in $expected; do [ -e "$R$f" ] && left="$left $f"; done
check "nothing of the package is left${left:+:$left}" test -z "$left"
check "the user's files are still the user's" test -f "$R/etc/tund/office.toml"
summary
