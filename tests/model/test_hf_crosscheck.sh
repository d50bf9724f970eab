#!/usr/bin/env bash
# Our Hugging Face and PEFT saves, read by an independent PyTorch Llama
# (hf_crosscheck.py), give the engine's per-token logprobs within 1e-4.
#
#   test_hf_crosscheck.sh RLAIF_EXE
#
# 1. the PyTorch Llama is checked against golden numbers transformers and
#    peft computed (llama_tiny, and llama_tiny + the llama_tiny_lora adapter);
# 2. hf_crosscheck.lua trains stories260K and llama_tiny (full and LoRA),
#    saves them and writes our logprobs;
# 3. each save is read by the checker: full weights (f32 and bf16), base
#    weights + PEFT adapter, merged weights, and the base weights alone
#    against the logprobs from before training;
# 4. the check has teeth: the adapter with lora_alpha doubled must fail.
# Then it lists the checker's notes on our saves: what a transformers/peft
# user would meet beyond the numbers (a tokenizer AutoTokenizer cannot read,
# torch_dtype versus the stored dtype, an unloadable base model path).
# Exit 77 (skip) when /usr/bin/python3 has no torch.
set -euo pipefail
rlaif=$1
src=${RLAIF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
golden=${RLAIF_SHARED_DIR:-$src/../shared}/golden
py=/usr/bin/python3
checker=$src/tests/model/hf_crosscheck.py
tol=1e-4

if ! [ -x "$py" ] || ! why=$("$py" -c 'import torch, numpy' 2>&1); then
  echo "SKIP: $py cannot import torch and numpy: ${why:-no such interpreter}"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# check LABEL EXPECTED_RC ARGS...: runs the checker, prints its verdict.
check() {
  local label=$1 want=$2 rc=0 label_kind=ours
  case $label in golden*|*must*) label_kind=other ;; esac
  shift 2
  "$py" "$checker" "$@" --tol "$tol" > "$tmp/res.json" 2> "$tmp/err" || rc=$?
  local line
  line=$("$py" -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    print("(no result)"); sys.exit()
out = "max |dlogprob| %.3g" % r["max_abs_logprobs"]
if "max_abs_logits" in r: out += ", max |dlogit| %.3g" % r["max_abs_logits"]
if "adapter_effect" in r: out += ", adapter moves logprobs by up to %.3g" % r["adapter_effect"]
with open(sys.argv[2], "a") as f:
    for n in r.get("notes", []): f.write(n + "\n")
print(out)' "$tmp/res.json" "$tmp/notes.$label_kind")
  if [ "$rc" = "$want" ]; then
    printf 'ok    %-44s %s\n' "$label" "$line"
  else
    printf 'FAIL  %-44s %s (exit %s, expected %s)\n' "$label" "$line" "$rc" "$want"
    cat "$tmp/err"
    fail=1
  fi
}

# 1. The checker against transformers/peft.
if [ -d "$golden/llama_tiny" ]; then
  check "golden llama_tiny (transformers)" 0 golden "$golden/llama_tiny" \
    --golden "$golden/llama_tiny/golden.safetensors"
  check "golden llama_tiny + lora (peft)" 0 golden "$golden/llama_tiny" \
    --adapter "$golden/llama_tiny_lora" --golden "$golden/llama_tiny_lora/golden.safetensors"
  check "golden llama_tiny without its adapter: differs" 1 golden "$golden/llama_tiny" \
    --golden "$golden/llama_tiny_lora/golden.safetensors"
else
  echo "note: $golden/llama_tiny not found: golden checks and llama_tiny cases skipped"
fi

# 2. Our saves.
"$rlaif" run --quiet "$src/tests/model/hf_crosscheck.lua" "$tmp/out" "$golden"

# 3. Read back by the checker.
cases=$("$py" -c 'import json, sys; print(" ".join(c["name"] + ":" + str(int(c["lora"])) for c in json.load(open(sys.argv[1]))))' "$tmp/out/cases.json")
for c in $cases; do
  name=${c%:*} lora=${c#*:} d=$tmp/out/${c%:*}
  if [ "$lora" = 1 ]; then
    check "$name: base + PEFT adapter" 0 compare "$d/model" --adapter "$d/adapter" \
      --ours "$d/ours.json" --min-effect 1e-2
    check "$name: merged weights" 0 compare "$d/merged" --ours "$d/ours.json"
    check "$name: base weights, before training" 0 compare "$d/model" --ours "$d/ours.json" \
      --key base_logprobs
  else
    check "$name: weights" 0 compare "$d/model" --ours "$d/ours.json"
  fi
done

# 4. Teeth: a wrong LoRA scale is seen.
d=$tmp/out/stories_lora
cp -r "$d/adapter" "$tmp/bad_adapter"
"$py" -c '
import json, sys
p = sys.argv[1] + "/adapter_config.json"
c = json.load(open(p)); c["lora_alpha"] *= 2; json.dump(c, open(p, "w"))' "$tmp/bad_adapter"
check "stories_lora: lora_alpha doubled must differ" 1 compare "$d/model" \
  --adapter "$tmp/bad_adapter" --ours "$d/ours.json"

# What a transformers/peft user would meet beyond the numbers (not failures).
if [ -s "$tmp/notes.ours" ]; then
  echo "notes on our saves (not failures):"
  sort -u "$tmp/notes.ours" | sed "s|$tmp/out/||g; s|^|  |"
fi

[ "$fail" = 0 ] || { echo "hf_crosscheck: FAILED"; exit 1; }
echo "hf_crosscheck: all checks within $tol"
