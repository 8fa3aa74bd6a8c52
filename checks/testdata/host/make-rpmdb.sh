#!/bin/sh
# Regenerates rocky9/var/lib/rpm/rpmdb.sqlite with the real rpm (Debian: apt-get install rpm):
# builds empty packages whose headers carry the names, epochs, versions, releases,
# architectures and source rpms of the fixture, and records them with `rpm -i --justdb`.
# The result is a genuine rpm 4.18 SQLite database, the format of RHEL 9 / Rocky 9 / Fedora.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$here/rocky9/var/lib/rpm"
rm -rf "$db"
mkdir -p "$db" "$work/SPECS"

spec() { # name epoch version release arch [subpackage]
  name=$1 epoch=$2 version=$3 release=$4 arch=$5 sub=${6:-}
  {
    echo "Name: $name"
    [ "$epoch" != 0 ] && echo "Epoch: $epoch"
    echo "Version: $version"
    echo "Release: $release"
    echo "Summary: Vigie test fixture"
    echo "License: MIT"
    [ "$arch" = noarch ] && echo "BuildArch: noarch"
    echo "%description"
    echo "Fixture package."
    if [ -n "$sub" ]; then
      echo "%package $sub"
      echo "Summary: Vigie test fixture"
      echo "%description $sub"
      echo "Fixture subpackage."
      echo "%files $sub"
    fi
    echo "%files"
  } > "$work/SPECS/$name-$version-$release.spec"
  rpmbuild --quiet --define "_topdir $work" --define "_build_id_links none" \
    --target "$arch" -bb "$work/SPECS/$name-$version-$release.spec" >/dev/null
}

spec openssl 1 3.0.7 24.el9 x86_64 libs
spec bash 0 5.1.8 6.el9_1 x86_64
spec kernel 0 5.14.0 362.8.1.el9_3 x86_64 core
spec kernel 0 5.14.0 427.13.1.el9_4 x86_64 core
spec dnf 0 4.14.0 8.el9 noarch automatic
spec tzdata 0 2024a 1.el9 noarch

rpm --dbpath "$db" --initdb
rpm --dbpath "$db" -i --justdb --nodeps --noscripts --notriggers --ignorearch --ignoreos \
  "$work"/RPMS/*/*.rpm
# Leave no write-ahead log or shared-memory file: the fixture is the single database file.
rm -f "$db"/rpmdb.sqlite-shm "$db"/rpmdb.sqlite-wal "$db"/.rpm.lock
rpm --dbpath "$db" -qa --qf '%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\n' | sort
rm -f "$db"/rpmdb.sqlite-shm "$db"/rpmdb.sqlite-wal "$db"/.rpm.lock
