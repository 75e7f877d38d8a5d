#!/usr/bin/env bash
# Builds the Debian package with cargo-deb, installs it on this machine with
# dpkg -i, checks that every part is where Debian expects it and that
# `acsync check` passes on the packaged configuration as the service user,
# then purges it. Run as root by .ci/run (needs cargo-deb, systemd's
# sysusers/tmpfiles, runuser). Leaves the machine as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."

if dpkg -s acsync >/dev/null 2>&1; then
  echo "deb: acsync is already installed here; refusing to replace it" >&2
  exit 1
fi

# Who built it (README "Debian package"); a CI build is never published.
maintainer="${ACSYNC_DEB_MAINTAINER:-acsync CI <ci@$(hostname)>}"
rm -rf target/debian/ci
if [ "${1:-}" = "--from-debug-build" ]; then
  # CI: package the binary `cargo test` just built (target/debug/acsync).
  # What is checked is the packaging, not the binary's speed, and a
  # release build would double CI's time.
  [ -x target/debug/acsync ] || cargo build --locked --bin acsync
  echo "deb: cargo deb --profile dev --no-build"
  cargo deb --profile dev --no-build --maintainer "$maintainer" --output target/debian/ci/
else
  echo "deb: cargo deb (release build)"
  cargo deb --locked --maintainer "$maintainer" --output target/debian/ci/
fi
deb=$(ls target/debian/ci/acsync_*.deb)
echo "deb: $deb"
dpkg-deb --field "$deb" Package Version Maintainer Depends

fail() { echo "deb: FAIL: $*" >&2; status=1; }
status=0
# Debian keeps system users on purge; a user this test made goes with it.
had_user=no
getent passwd acsync >/dev/null && had_user=yes
# tmpfiles.d makes /etc/credstore (shared with other services, so the
# package never removes it); remove it only if this test made it.
had_credstore=no
[ -e /etc/credstore ] && had_credstore=yes
cleanup() {
  dpkg --purge acsync >/dev/null 2>&1 || true
  if [ "$had_credstore" = no ]; then
    rmdir /etc/credstore 2>/dev/null || true
  fi
  if [ "$had_user" = no ] && getent passwd acsync >/dev/null; then
    userdel acsync >/dev/null 2>&1 || true
    groupdel acsync >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

dpkg -i "$deb"

for path in \
  /usr/bin/acsync \
  /usr/lib/systemd/system/acsync.service \
  /usr/lib/sysusers.d/acsync.conf \
  /usr/lib/tmpfiles.d/acsync.conf \
  /usr/share/bash-completion/completions/acsync \
  /usr/share/zsh/vendor-completions/_acsync \
  /usr/share/fish/vendor_completions.d/acsync.fish \
  /usr/share/acsync/schema/acsync.schema.json \
  /usr/share/acsync/schema/export.schema.json \
  /usr/share/doc/acsync/copyright \
  /etc/acsync/acsync.toml; do
  [ -e "$path" ] || fail "missing $path"
done
# Man pages, compressed or not, and readable by man.
for page in man1/acsync.1 man5/acsync.toml.5 man5/acsync-export.5; do
  if [ -e "/usr/share/man/$page" ] || [ -e "/usr/share/man/$page.gz" ]; then
    :
  else
    fail "missing /usr/share/man/$page[.gz]"
  fi
done

getent passwd acsync >/dev/null || fail "no acsync user (sysusers.d)"
getent group acsync >/dev/null || fail "no acsync group (sysusers.d)"
mode=$(stat -c '%a %U:%G' /etc/acsync/acsync.toml 2>&1 || true)
[ "$mode" = "640 root:acsync" ] || fail "acsync.toml is $mode, want 640 root:acsync (tmpfiles.d)"
mode=$(stat -c '%a %U:%G' /etc/acsync/exports 2>&1 || true)
[ "$mode" = "2775 root:acsync" ] || fail "exports/ is $mode, want 2775 root:acsync (tmpfiles.d)"
dpkg-query -W -f='${Conffiles}\n' acsync | grep -q ' /etc/acsync/acsync.toml ' \
  || fail "acsync.toml is not a conffile"

# ExecStartPre= of the unit, as the unit runs it.
out=$(runuser -u acsync -- /usr/bin/acsync check --config-dir /etc/acsync 2>&1) \
  || fail "acsync check as acsync failed: $out"
case "$out" in *warning*) fail "acsync check warns on the packaged files: $out" ;; esac
echo "deb: acsync check as acsync: $out"

dpkg --purge acsync
[ ! -e /usr/bin/acsync ] || fail "/usr/bin/acsync left after purge"
[ ! -e /etc/acsync ] || fail "/etc/acsync left after purge: $(ls -A /etc/acsync)"
if [ "$status" = 0 ]; then
  echo "deb: package installs, checks and purges cleanly"
fi
exit "$status"
