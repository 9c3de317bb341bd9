# The one process a run starts in a session container, as uid 1000 (the candidate's uid).
# stdin: a line "<n>", then n bytes of a tar for /workspace, then the program's own stdin.
# $1: the command to run, in sh syntax.
#
# kill(-1) signals every process this uid may signal except the caller and pid 1; the
# container's init and keeper run under another uid, so only the candidate's processes die.
kill -KILL -1 2>/dev/null
# One byte that says "the runner started": the server strips it, and an exec whose output does
# not start with it never ran (e.g. no pid was free for it).
printf '\006'
# The workspace could not be written: say so with 0x15 and the reason instead of the second
# 0x06, so the run is reported as an error, never as a program that exited 125.
failed() { printf '\025%s' "$1"; exit 125; }
IFS= read -r n || failed "no workspace header"
case "$n" in '' | *[!0-9]*) failed "malformed workspace header" ;; esac
if [ "$n" -gt 0 ]; then
  # On failure the rest of the tar is still read, so the server's write ends normally and
  # the reason reaches it before the exec closes.
  err=$(head -c "$n" | { tar -x -m -f - -C /workspace 2>&1; s=$?; cat >/dev/null; exit $s; }) ||
    failed "$err"
fi
printf '\006'
sh -c "$1"
code=$?
# Nothing a run started may outlive it: background jobs, nohup, daemons.
kill -KILL -1 2>/dev/null
exit $code
