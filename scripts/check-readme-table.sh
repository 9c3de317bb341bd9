#!/usr/bin/env bash
# Fails when the README's language table differs from what `livecode environments --markdown`
# prints (environment folders plus the versions read off the built images).
# Run after the images are built; `--fix` rewrites the README instead.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(./target/debug/livecode environments --markdown)
current=$(sed -n '/<!-- environments:start -->/,/<!-- environments:end -->/p' README.md | sed '1d;$d')
if [ "$table" == "$current" ]; then
  echo "README language table is current"
  exit 0
fi
if [ "${1:-}" == "--fix" ]; then
  python3 - "$table" <<'PY'
import re, sys
readme = open("README.md").read()
start, end = "<!-- environments:start -->", "<!-- environments:end -->"
i, j = readme.index(start) + len(start), readme.index(end)
open("README.md", "w").write(readme[:i] + "\n" + sys.argv[1] + "\n" + readme[j:])
PY
  echo "README language table rewritten"
  exit 0
fi
echo "README language table is stale; run: bash scripts/check-readme-table.sh --fix" >&2
diff <(echo "$current") <(echo "$table") >&2 || true
exit 1
