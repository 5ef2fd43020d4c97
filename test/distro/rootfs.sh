#!/usr/bin/env bash
# Builds (once) a minimal Debian rootfs for the distro test and prints its path. The rootfs is
# cached under /var/cache/sockvisor-distro, keyed by suite, mirror and package list, so a second
# run reuses it; the test boots it through a throwaway overlay, so the cache stays as built.
# The mirror is the one this machine's apt uses (SOCKVISOR_DISTRO_MIRROR overrides it).
set -euo pipefail
suite=${SOCKVISOR_DISTRO_SUITE:-bookworm}
cache=${SOCKVISOR_DISTRO_CACHE:-/var/cache/sockvisor-distro}
# systemd as PID 1 with dbus and procps (ps, pkill for checks), then what a user of sockvisor
# installs from Debian: its own nodejs, uWSGI with the Python 3 plugin, nginx.
packages=systemd,systemd-sysv,dbus,procps,nodejs,uwsgi-core,uwsgi-plugin-python3,nginx-light

mirror=${SOCKVISOR_DISTRO_MIRROR:-}
if [ -z "$mirror" ]; then
  # The first Debian main archive in the host's apt sources (deb822 URIs: lines or one-line deb lines).
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
    | tr ' ' '\n' | grep -E '^https?://' | grep -v -e '-security' -e '-updates' | grep -E '/debian/?$' | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  echo "rootfs.sh: no Debian mirror found in /etc/apt/sources.list*: set SOCKVISOR_DISTRO_MIRROR to one (e.g. the URL of a Debian archive)." >&2
  exit 1
fi

key=$(printf '%s\n' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-12)
root="$cache/$suite-$key/rootfs"
if [ -e "$cache/$suite-$key/complete" ]; then
  echo "$root"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
echo "rootfs.sh: debootstrap $suite from $mirror into $work (once; cached as $cache/$suite-$key)" >&2
# debootstrap installs packages with a fake start-stop-daemon and outside any running systemd,
# so nginx's postinst starts no server on this machine's network.
debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >&2
# The image's own nginx site would listen on port 80 of this machine's network (nspawn shares it).
rm -f "$work/rootfs/etc/nginx/sites-enabled/default"
# An empty machine-id: systemd makes one at each boot, as on a freshly installed image.
: > "$work/rootfs/etc/machine-id"
apt_cache="$work/rootfs/var/cache/apt/archives"
find "$apt_cache" -name '*.deb' -delete
rm -rf "${cache:?}/$suite-$key"
mkdir -p "$cache/$suite-$key"
mv "$work/rootfs" "$root"
touch "$cache/$suite-$key/complete"
echo "$root"
