#!/usr/bin/env bash
# Checks the systemd units in systemd/:
#   1. `systemd-analyze verify` reports nothing for jitaudit.socket + jitaudit.service;
#   2. `systemd-analyze security --offline=yes` scores jitaudit.service at most 1.0;
#   3. with JITAUDIT_BIN set: that binary runs under MemoryDenyWriteExecute
#      (the same kernel rule, PR_SET_MDWE, applied by hand).
#
#   Tests/Scripts/verify-units.sh [UNIT_DIR]      (default: systemd/ of this checkout)
#
# verify checks that ExecStart's binary exists, and /usr/local/bin/jitaudit
# is not installed on a build machine: the units are checked as copies in a
# temporary directory whose ExecStart points at $JITAUDIT_BIN (or /bin/true).
# Nothing else in the copies changes. Exits 77 when systemd-analyze is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
units=${1:-$here/systemd}
max_exposure=${MAX_EXPOSURE:-1.0}

command -v systemd-analyze >/dev/null || { echo "verify-units: systemd-analyze not installed" >&2; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=${JITAUDIT_BIN:-/bin/true}
cp "$units/jitaudit.socket" "$units/jitaudit.service" "$tmp/"
sed -i "s|/usr/local/bin/jitaudit |$bin |" "$tmp/jitaudit.service"
grep -q "^ExecStart=$bin run " "$tmp/jitaudit.service" || { echo "verify-units: ExecStart not found in jitaudit.service" >&2; exit 1; }

fail=0
verify_out=$(cd "$tmp" && systemd-analyze verify --man=no jitaudit.socket jitaudit.service 2>&1) || fail=1
if [ -n "$verify_out" ] || [ $fail -ne 0 ]; then
  echo "verify-units: systemd-analyze verify complained:" >&2
  echo "$verify_out" >&2
  exit 1
fi
echo "verify: clean"

sec_out=$(systemd-analyze security --offline=yes "$units/jitaudit.service" 2>&1) || true
score=$(printf '%s\n' "$sec_out" | sed -n 's/.*Overall exposure level for jitaudit.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "verify-units: no exposure score in:" >&2; echo "$sec_out" >&2; exit 1; }
if ! awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
  echo "verify-units: exposure $score is above $max_exposure:" >&2
  printf '%s\n' "$sec_out" | grep -v '^✓' >&2
  exit 1
fi
echo "security: exposure $score (limit $max_exposure)"

if [ -n "${JITAUDIT_BIN:-}" ]; then
  python3 - "$JITAUDIT_BIN" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print("mdwe: kernel without PR_SET_MDWE, not checked")
    sys.exit(0)
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv(sys.argv[1], [sys.argv[1], "--help"])
_, status = os.waitpid(pid, 0)
if status != 0:
    print(f"mdwe: {sys.argv[1]} --help failed under MemoryDenyWriteExecute (status {status})", file=sys.stderr)
    sys.exit(1)
print("mdwe: the binary runs with W^X enforced")
PY
fi
