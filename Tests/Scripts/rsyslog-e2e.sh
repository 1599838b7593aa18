#!/usr/bin/env bash
# Runs a command next to a private, real rsyslogd that owns /dev/log and
# prints what rsyslog received, for end-to-end tests of the syslog sink.
#
#   Tests/Scripts/rsyslog-e2e.sh [-o FILE] [-t TAG] -- COMMAND [ARG...]
#
# In a private mount namespace (unshare -m --propagation private) it mounts a
# tmpfs on /dev (null, zero, random, urandom bound in from the host, and the
# /dev/fd, stdin, stdout, stderr links), starts rsyslogd with imuxsock on
# /dev/log writing every message as `PRI|SYSLOGTAG|MSG` (rsyslog's own
# control-character escaping left on, so a raw control character that
# reached it shows as `#NNN`), runs COMMAND (its stdout and stderr go to this
# script's stderr), then writes the lines whose tag starts with TAG (default
# jitaudit) to FILE (default: stdout). Exits with COMMAND's status. The
# host's /dev/log and syslog are never touched.
# Needs root (or CAP_SYS_ADMIN); exits 77 ("skip") when it cannot unshare or
# rsyslogd is not installed.
set -euo pipefail

out=/dev/stdout
tag=jitaudit
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2 ;;
    -t) tag=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-o FILE] [-t TAG] -- COMMAND [ARG...]" >&2; exit 2; }

rsyslogd=/usr/sbin/rsyslogd
[ -x "$rsyslogd" ] || rsyslogd=/sbin/rsyslogd
[ -x "$rsyslogd" ] || { echo "rsyslog-e2e: rsyslogd not installed (apt package rsyslog)" >&2; exit 77; }

if [ "${RSYSLOG_E2E_INSIDE:-}" != 1 ]; then
  if ! unshare -m --propagation private true 2>/dev/null; then
    echo "rsyslog-e2e: cannot create a mount namespace (needs root)" >&2; exit 77
  fi
  case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
  RSYSLOG_E2E_INSIDE=1 exec unshare -m --propagation private "$0" -o "$out" -t "$tag" -- "$@"
fi

work=$(mktemp -d /tmp/jitaudit-rsyslog.XXXXXX)
mkdir -p "$work/hostdev"
mount --rbind /dev "$work/hostdev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for node in null zero random urandom; do
  touch "/dev/$node"
  mount --bind "$work/hostdev/$node" "/dev/$node"
done
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr

cat >"$work/rsyslog.conf" <<EOF
global(workDirectory="$work")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
template(name="probe" type="string" string="%pri%|%syslogtag%|%msg%\n")
*.* action(type="omfile" file="$work/messages" template="probe")
EOF
"$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" </dev/null >"$work/rsyslogd.log" 2>&1 &
rpid=$!
trap 'kill -KILL "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  [ -S /dev/log ] && break
  sleep 0.05
done
[ -S /dev/log ] || { echo "rsyslog-e2e: rsyslogd did not create /dev/log: $(cat "$work/rsyslogd.log")" >&2; exit 1; }

status=0
"$@" >&2 || status=$?

# rsyslog writes each message as it comes; give the last ones a moment.
prev=-1
for _ in $(seq 1 20); do
  n=$(wc -c <"$work/messages" 2>/dev/null || echo 0)
  [ "$n" = "$prev" ] && break
  prev=$n
  sleep 0.1
done
grep -a "|$tag\[" "$work/messages" >"$out" 2>/dev/null || true
exit "$status"
