#!/bin/bash
# Runs inside the clean Debian 12 root of installer/offline-install-check.sh,
# networking off, as root (a user like any other here: data in
# ~/.local/share/sillok). Phases: first (after installing 0.1.0), upgraded
# (after 0.1.1), removed (remove, then purge). The keychain is gnome-keyring on
# a private session bus, its keyring kept in ~/.keyring across phases like a
# user's login keyring.
set -euo pipefail
phase=$1
data=/root/.local/share/sillok
question="김가상 환자에게 재진 때 추가한 혈압약은?"
fail() { echo "in-root ($phase): FAILED: $*" >&2; exit 1; }
say() { echo "in-root ($phase): $*" >&2; }

with_keychain() {
  mkdir -p -m 700 /root/.keyring/data /root/.keyring/runtime
  dbus-run-session -- bash -c '
    printf %s sillok-offline-check |
      XDG_DATA_HOME=/root/.keyring/data XDG_RUNTIME_DIR=/root/.keyring/runtime \
        gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
    for _ in $(seq 50); do
      dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
        grep -q "boolean true" && exec "$@"
      sleep 0.1
    done
    echo "no Secret Service" >&2; exit 1
  ' with-keychain "$@"
}

# The search's hits and counts (not its timing).
hits() {
  with_keychain sillok search "혈압" --json | sed -E 's/"elapsed_ms":[0-9.]+,?//'
}

grounded_ask() {
  local out
  out=$(with_keychain sillok ask "$question" --max-tokens 24 --json) || fail "sillok ask"
  grep -q '"status":"answered"' <<<"$out" || fail "not answered: $out"
  grep -q 'note-kim-htn-2024-03.pdf' <<<"$out" || fail "the answer does not cite note-kim-htn-2024-03.pdf"
  say "grounded answer citing note-kim-htn-2024-03.pdf"
}

expected_files() {
  local outside
  outside=$(dpkg -L sillok | grep -vE '^/\.$|^/usr$|^/usr/(bin|share)$|^/usr/share/doc$|^/usr/bin/sillok(-desktop)?$|^/usr/share/(sillok|doc/sillok|applications|icons)(/|$)' || true)
  [ -z "$outside" ] || fail "dpkg -L sillok lists files outside the expected prefixes: $outside"
  say "dpkg -L sillok: $(dpkg -L sillok | wc -l) paths, all under /usr/bin, /usr/share/{sillok,doc/sillok,applications,icons}"
}

case "$phase" in
  first)
    [ "$(dpkg-query -W -f '${Version}' sillok)" = 0.1.0 ] || fail "sillok 0.1.0 is not installed"
    say "$(sillok --version)"
    [ -f /usr/share/sillok/chunk-tokenizer.json ] || fail "no chunk tokenizer"
    expected_files
    with_keychain sillok models import-bundle >/dev/null || fail "models import-bundle"
    with_keychain sillok ingest /srv/samples --collection samples >/dev/null || fail "ingest"
    hits > /root/hits-before.json || fail "search"
    grounded_ask
    ;;
  upgraded)
    [ "$(dpkg-query -W -f '${Version}' sillok)" = 0.1.1 ] || fail "sillok 0.1.1 is not installed"
    say "$(sillok --version) (package 0.1.1)"
    expected_files
    hits > /root/hits-after.json || fail "search after the upgrade"
    cmp -s /root/hits-before.json /root/hits-after.json || fail "search hits differ after the upgrade"
    say "the library survived: the same search hits"
    grounded_ask
    ;;
  removed)
    dpkg -r sillok >/dev/null
    [ ! -e /usr/bin/sillok ] || fail "/usr/bin/sillok is left after dpkg -r"
    # No conffiles: remove already leaves nothing for purge, which must agree.
    dpkg --purge sillok >/dev/null 2>&1
    dpkg-query -W -f '${db:Status-Status}' sillok 2>/dev/null | grep -qv installed ||
      ! dpkg-query -W sillok >/dev/null 2>&1 || fail "sillok is still known to dpkg"
    for f in /usr/bin/sillok /usr/bin/sillok-desktop /usr/share/sillok /usr/share/doc/sillok; do
      [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
    done
    [ -f "$data/data-format.json" ] && [ -d "$data/indexes/library" ] || fail "user data was removed"
    say "purged: system files gone, user data kept ($(du -sh "$data" | cut -f1) in $data)"
    say "left by the installer, not the package: $(ls -d /etc/sillok /var/lib/sillok 2>/dev/null | tr '\n' ' ')"
    ;;
  *) fail "unknown phase" ;;
esac
