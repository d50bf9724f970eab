#!/usr/bin/env bash
# A run killed mid-way and resumed ends with the same metrics, step for step,
# as an uninterrupted run (timing fields aside).
set -euo pipefail
rlaif=$1 script=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rlaif" run --quiet "$script" "$tmp/full" 8
set +e
KILL_AT=5 "$rlaif" run --quiet "$script" "$tmp/killed" 8
rc=$?
set -e
[ "$rc" = 9 ] || { echo "the run was meant to die at step 5 (rc $rc)"; exit 1; }
"$rlaif" run --quiet --resume "$tmp/killed" "$script" "$tmp/ignored" 8
strip() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    print(json.dumps({k: v for k, v in sorted(row.items()) if not k.startswith("time") and k != "tokens_per_s"}))
' "$1"; }
strip "$tmp/full/metrics.jsonl" > "$tmp/a"
strip "$tmp/killed/metrics.jsonl" > "$tmp/b"
[ "$(wc -l < "$tmp/a")" = 8 ] || { echo "uninterrupted run logged $(wc -l < "$tmp/a") steps"; exit 1; }
if ! diff "$tmp/a" "$tmp/b"; then echo "resumed metrics differ from the uninterrupted run"; exit 1; fi
echo "resume: identical metrics over 8 steps (killed after step 5)"
