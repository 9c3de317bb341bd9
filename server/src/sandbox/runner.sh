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
IFS= read -r n || exit 125
case "$n" in '' | *[!0-9]*) echo "livecode: malformed workspace header" >&2; exit 125 ;; esac
if [ "$n" -gt 0 ]; then
  head -c "$n" | tar -x -m -f - -C /workspace || exit 125
fi
sh -c "$1"
code=$?
# Nothing a run started may outlive it: background jobs, nohup, daemons.
kill -KILL -1 2>/dev/null
exit $code
