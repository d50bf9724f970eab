#!/usr/bin/env bash
# The out-of-tree plugin path, exactly as a user follows it: install rlaif
# (into a temporary root), build examples/custom_reward/my_reward.c with
# nothing but `cc -shared -fPIC $(pkg-config --cflags rlaif)`, and load it
# from a Lua script with the installed binary — no rebuild of the host.
set -euo pipefail
build_dir=$1
src_dir=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build_dir" --no-rebuild --quiet --destdir "$root" >/dev/null
pc=$(dirname "$(find "$root" -name rlaif.pc | head -n1)")
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$root
cflags=$(pkg-config --cflags rlaif)
case "$cflags" in *"$root"*) ;; *) echo "pkg-config cflags do not point into the install: $cflags"; exit 1;; esac
cc -shared -fPIC -O2 -Wall -Werror $cflags "$src_dir/examples/custom_reward/my_reward.c" -o "$root/my_reward.so"
rlaif=$(find "$root" -path '*/bin/rlaif' | head -n1)
unset RLAIF_PLUGIN_PATH RLAIF_DATA_DIR
out=$(cd "$src_dir/examples/custom_reward" && "$rlaif" run use_my_reward.lua "$root/my_reward.so")
echo "$out"
grep -q '^1.00  Tom was kind' <<<"$out" || { echo "unexpected reward for the first response"; exit 1; }
grep -q '^0.25  The dog was happy.' <<<"$out" || { echo "unexpected reward for the second response"; exit 1; }
grep -q '^0.00  It rained' <<<"$out" || { echo "unexpected reward for the third response"; exit 1; }
grep -q 'combined total 2.25' <<<"$out" || { echo "unexpected combined total"; exit 1; }
# The installed binary finds the installed plugins by name too.
"$rlaif" plugins | grep -q 'rlaif-reward-length.so' || { echo "installed plugins not found"; exit 1; }
echo "out-of-tree plugin: ok"
