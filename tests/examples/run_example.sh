#!/usr/bin/env bash
# run_example.sh RLAIF_EXE SOURCE_DIR SCRIPT CLOSING_REGEX [ARGS...]
#
# Runs one example with small arguments and checks that it completes: exit
# status 0, and the last line it prints matches CLOSING_REGEX (the example's
# closing "before -> after" line) with no nan/inf in it.  The example runs
# from a scratch tree whose models/, examples/data/ and constitutions/ link
# to the source tree, so everything it writes (runs/...) lands in the
# scratch tree, never in the checkout.  SCRIPT is relative to SOURCE_DIR.
# For examples/custom_reward/pipeline.lua the plugin is compiled first from
# my_reward.c against the source tree's include/ and passed as the first
# argument.
set -u
exe=$1 src=$2 script=$3 closing=$4
shift 4
work=$(mktemp -d "${TMPDIR:-/tmp}/rlaif-example.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/examples/custom_reward" "$work/runs"
ln -s "$src/models" "$work/models"
ln -s "$src/examples/data" "$work/examples/data"
ln -s "$src/constitutions" "$work/constitutions"
cp "$src/$script" "$work/$script"
args=("$@")
if [ "$script" = examples/custom_reward/pipeline.lua ]; then
  cc -shared -fPIC -O2 -I"$src/include" "$src/examples/custom_reward/my_reward.c" \
     -o "$work/my_reward.so" || { echo "FAIL: my_reward.c does not compile"; exit 1; }
  args=("$work/my_reward.so" "${args[@]}")
fi
export RLAIF_RUNS_DIR="$work/runs"
start=$(date +%s)
"$exe" run "$work/$script" "${args[@]}" > "$work/out.txt" 2> "$work/err.txt"
rc=$?
echo "== $script ${args[*]} (exit $rc, $(( $(date +%s) - start )) s)"
cat "$work/out.txt"
if [ $rc -ne 0 ]; then
  echo "FAIL: exit status $rc"; tail -n 30 "$work/err.txt"; exit 1
fi
last=$(grep -v '^[[:space:]]*$' "$work/out.txt" | tail -n 1)
if ! printf '%s\n' "$last" | grep -Eq -- "$closing"; then
  echo "FAIL: the last line does not match /$closing/:"; echo "  $last"; tail -n 30 "$work/err.txt"; exit 1
fi
if printf '%s\n' "$last" | grep -Eqi -- '(^|[^a-z])(-?nan|-?inf)([^a-z]|$)'; then
  echo "FAIL: a figure in the closing line is not finite: $last"; exit 1
fi
echo "ok: $last"
