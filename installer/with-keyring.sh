#!/usr/bin/env bash
# Runs a command with a real OS keychain: a private D-Bus session bus and a
# gnome-keyring Secret Service on it, unlocked with a throwaway password, its
# keyring files in a temporary directory. Used by installer/test-all.sh for
# the tests of the vault's keychain; works headless (CI) and on a desktop,
# where the private bus keeps the tests away from the user's own keyring.
# With SILLOK_KEYRING_DIR set, the keyring files live there and outlast the
# run (the heavy check keeps its evaluation data directory's vault openable).
#
#   installer/with-keyring.sh cargo test --workspace
#
# Exit status: the command's.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "with-keyring: $tool is missing (installer/dev-setup.sh installs it)" >&2
    exit 1
  }
done

state="$(mktemp -d "${TMPDIR:-/tmp}/sillok-keyring.XXXXXX")"
trap 'rm -rf "$state"' EXIT
mkdir -m 700 "$state/data" "$state/runtime"
export SILLOK_KEYRING_STATE="$state"
export SILLOK_KEYRING_DATA="$state/data"
if [ -n "${SILLOK_KEYRING_DIR:-}" ]; then
  mkdir -p -m 700 "$SILLOK_KEYRING_DIR"
  SILLOK_KEYRING_DATA="$SILLOK_KEYRING_DIR"
fi

# dbus-run-session starts a new session bus even when one exists, and ends it
# (and with it the daemon, which exits when its bus goes) after the command.
# The daemon gets its own data and runtime directories, so it neither opens
# the user's login keyring (whose password is not ours) nor joins a daemon
# already running for this user.
dbus-run-session -- bash -c '
  set -euo pipefail
  printf %s "sillok-test-keyring" |
    XDG_DATA_HOME="$SILLOK_KEYRING_DATA" XDG_RUNTIME_DIR="$SILLOK_KEYRING_STATE/runtime" \
      gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
  # The Secret Service is on the bus once the daemon has taken its name.
  for _ in $(seq 50); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
        grep -q "boolean true"; then
      exec "$@"
    fi
    sleep 0.1
  done
  echo "with-keyring: gnome-keyring-daemon did not start its Secret Service" >&2
  exit 1
' with-keyring "$@"
