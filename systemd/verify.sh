#!/bin/sh
# Checks systemd/acsync.service with `systemd-analyze verify`.
#
# verify insists that every Exec*= binary exists, and /usr/bin/acsync usually
# does not where this runs (a build machine, CI). So the unit is copied to a
# temporary folder with /usr/bin/acsync replaced by ACSYNC_BIN (default: the
# debug build, else /bin/true) and that copy is verified. UNIT=path checks
# another unit file the same way. Exit status is
# systemd-analyze's; any warning it prints also fails (set STRICT=0 to allow).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${ACSYNC_BIN:-$here/../target/debug/acsync}
[ -x "$bin" ] || bin=/bin/true
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found; skipped" >&2; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unit=${UNIT:-$here/acsync.service}
sed "s|/usr/bin/acsync|$bin|g" "$unit" >"$tmp/acsync.service"
out=$(systemd-analyze verify "$tmp/acsync.service" 2>&1) || { echo "$out" >&2; exit 1; }
# Warnings about other units on this machine are not ours.
ours=$(printf '%s\n' "$out" | grep 'acsync' || true)
if [ -n "$ours" ]; then
    echo "$ours" >&2
    [ "${STRICT:-1}" = 0 ] || exit 1
fi
echo "$unit: OK"
