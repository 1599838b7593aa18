#!/usr/bin/env bash
# Runs a command next to a private, real systemd-journald and prints what the
# journal received, for end-to-end tests of the journal sink.
#
#   Tests/Scripts/journal-e2e.sh [-o FILE] [-t IDENTIFIER] -- COMMAND [ARG...]
#
# In a private mount namespace (unshare -m --propagation private) it mounts
# tmpfs on /run/systemd, /run/log and /var/log/journal, starts
# /lib/systemd/systemd-journald, waits for /run/systemd/journal/socket, runs
# COMMAND (its stdout and stderr go to this script's stderr), then writes the
# entries with SYSLOG_IDENTIFIER=IDENTIFIER (default jitaudit) as
# `journalctl -o json` lines to FILE (default: stdout). Exits with COMMAND's
# status. The host's journal, /run and /dev/log are never touched.
# Needs root (or CAP_SYS_ADMIN); exits 77 ("skip") when it cannot unshare.
set -euo pipefail

out=/dev/stdout
ident=jitaudit
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2 ;;
    -t) ident=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-o FILE] [-t IDENTIFIER] -- COMMAND [ARG...]" >&2; exit 2; }

journald=/lib/systemd/systemd-journald
[ -x "$journald" ] || journald=/usr/lib/systemd/systemd-journald
[ -x "$journald" ] || { echo "journal-e2e: systemd-journald not installed" >&2; exit 77; }

if [ "${JOURNAL_E2E_INSIDE:-}" != 1 ]; then
  if ! unshare -m --propagation private true 2>/dev/null; then
    echo "journal-e2e: cannot create a mount namespace (needs root)" >&2; exit 77
  fi
  # Resolve the output path before entering the namespace (a relative path stays valid).
  case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
  JOURNAL_E2E_INSIDE=1 exec unshare -m --propagation private "$0" -o "$out" -t "$ident" -- "$@"
fi

mkdir -p /run/systemd /run/log
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=0755 tmpfs /var/log/journal; fi
mkdir -p /run/systemd/journal /run/log/journal

"$journald" </dev/null >/dev/null 2>&1 &
jpid=$!
trap 'kill "$jpid" 2>/dev/null; wait "$jpid" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  [ -S /run/systemd/journal/socket ] && break
  sleep 0.05
done
[ -S /run/systemd/journal/socket ] || { echo "journal-e2e: journald did not start" >&2; exit 1; }

status=0
"$@" >&2 || status=$?

# Let journald write out what is in its socket buffers before reading.
journalctl --sync >/dev/null 2>&1 || sleep 0.3
journalctl -D /run/log/journal -o json --no-pager "SYSLOG_IDENTIFIER=$ident" >"$out" 2>/dev/null || true
exit "$status"
