#!/bin/sh
# Hugging Face's own `tokenizers` (the npm package, Rust underneath) reads the
# tokenizer.json that tokenizer_save writes for tok512.bin and must give the
# llama2.c encoder's ids on every case test_tokenizer_hf_export --dump makes.
# Skips (77) without node or the package; the package is found through
# NODE_PATH, else /tmp/tokref/node_modules (where data/README.md installs it):
#   mkdir /tmp/tokref && cd /tmp/tokref && npm install tokenizers@0.23.2
# Usage: test_hf_export_node.sh <test_tokenizer_hf_export> <hf_export_compare.js>
set -u
exe=$1
js=$2
command -v node >/dev/null 2>&1 || { echo "skip: no node"; exit 77; }
NODE_PATH=${NODE_PATH:-/tmp/tokref/node_modules}
export NODE_PATH
node -e "require('tokenizers')" >/dev/null 2>&1 ||
    { echo "skip: the npm package tokenizers is not in NODE_PATH ($NODE_PATH)"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/rlaif-hfexport-node-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
"$exe" --dump "$dir" || { echo "the dump failed"; exit 1; }
node "$js" "$dir"
