-- The engine's half of the Hugging Face / PEFT cross-check
-- (tests/model/test_hf_crosscheck.sh; the other half is hf_crosscheck.py).
--
--   rlaif run tests/model/hf_crosscheck.lua OUTDIR [GOLDEN_DIR]
--
-- Trains a few steps on two models -- stories260K (the llama2.c checkpoint,
-- its q/k rows permuted to rotate-half by the loader) and the Hugging Face
-- folder golden/llama_tiny (GOLDEN_DIR, else $RLAIF_SHARED_DIR/golden;
-- skipped with a warning when absent) -- once fully and once with LoRA,
-- saves what a Hugging Face or PEFT user would load, and writes the
-- engine's per-token log-probabilities of a few sequences next to each
-- save.  Layout of OUTDIR, one folder per case:
--   <case>/model/      m:save(dir)                     config.json, model.safetensors, tokenizer
--   <case>/adapter/    m:save(dir, {weights = false, adapter = true})   (LoRA cases)
--   <case>/merged/     m:save(dir, {merged = true})     W0 + s B A        (LoRA cases)
--   <case>/ours.json   {"seqs": [[ids]], "logprobs": [[...]], "base_logprobs": ...}
-- and cases.json, the list of cases written.
local out = assert(arg[1], "usage: hf_crosscheck.lua OUTDIR [GOLDEN_DIR]")
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local golden = arg[2] or ((os.getenv("RLAIF_SHARED_DIR") or (src .. "/../shared")) .. "/golden")
local stories = src .. "/models/stories260K/stories260K.bin"
local tiny = golden .. "/llama_tiny"

local function mkdir(p) assert(rlaif.fs.mkdir(p) or rlaif.fs.isdir(p), "cannot create " .. p) end

-- Token sequences from a seeded generator: BOS first, ids in [3, vocab).
local function sequences(vocab, bos, lens, seed)
  local r, seqs = rlaif.rng(seed), {}
  for i, n in ipairs(lens) do
    local s = {bos}
    for t = 2, n do s[t] = 3 + r:below(vocab - 3) end
    seqs[i] = s
  end
  return seqs
end

-- A few optimizer steps of next-token SFT on `data` (loss: mean -logprob).
local function train(m, data, steps, lr)
  for _ = 1, steps do
    local outs = m:forward(data, {keep = true})
    local n, grads = 0, {}
    for _, s in ipairs(data) do n = n + #s - 1 end
    for i, s in ipairs(data) do
      local g = {}
      for t = 1, #s do g[t] = t < #s and -1 / n or 0 end
      grads[i] = {logprobs = g}
    end
    assert(#outs == #data)
    m:backward(grads)
    local r = m:step{lr = lr}
    assert(r.grad_norm > 0, "no gradient reached the parameters")
  end
end

local function logprobs(m, seqs)
  local lp = {}
  for i, s in ipairs(seqs) do lp[i] = m:logprobs(s, {bos = false}) end
  return lp
end

local function write_json(path, value)
  assert(rlaif.fs.write_atomic(path, rlaif.json.encode(value)))
end

local cases = {}

-- One case: a model, trained fully or through LoRA, saved and scored.
local function case(name, cfg, lora)
  local dir = out .. "/" .. name
  mkdir(dir)
  cfg.threads, cfg.seed = 2, 7
  cfg.lora = lora
  local m = rlaif.model(cfg)
  local info = m:info()
  local train_seqs = sequences(info.vocab_size, info.bos_id, {17, 23, 30}, 11)
  local eval_seqs = sequences(info.vocab_size, info.bos_id, {2, 12, 40, math.min(info.max_seq_len, 120)}, 29)
  local base = lora and logprobs(m, eval_seqs) or nil
  train(m, train_seqs, 4, lora and 1e-2 or 2e-3)
  local res = {seqs = eval_seqs, logprobs = logprobs(m, eval_seqs), base_logprobs = base}
  m:save(dir .. "/model")
  if lora then
    m:save(dir .. "/adapter", {weights = false, adapter = true})
    m:save(dir .. "/merged", {merged = true})
  end
  write_json(dir .. "/ours.json", res)
  cases[#cases + 1] = {name = name, lora = lora ~= nil}
  m:close()
  return dir
end

mkdir(out)
local lora_cfg = {rank = 4, alpha = 8, targets = {"q_proj", "v_proj", "up_proj", "down_proj"}}
local full = case("stories_full", {path = stories})
case("stories_lora", {path = stories}, lora_cfg)

-- bf16 save: our own HF save reloaded, written in bfloat16, reloaded again
-- and scored from what was written (the checker reads the same bits).
do
  local dir = out .. "/stories_bf16"
  mkdir(dir)
  local m = rlaif.model{path = full .. "/model", threads = 2, save_dtype = "bfloat16"}
  m:save(dir .. "/model")
  m:close()
  local r = rlaif.model{path = dir .. "/model", threads = 2}
  local seqs = rlaif.json.decode(io.open(full .. "/ours.json"):read("a")).seqs
  write_json(dir .. "/ours.json", {seqs = seqs, logprobs = logprobs(r, seqs)})
  r:close()
  cases[#cases + 1] = {name = "stories_bf16", lora = false}
end

if rlaif.fs.isdir(tiny) then
  case("tiny_full", {path = tiny})
  -- rsLoRA here, plain alpha/r on stories: both scalings are checked
  case("tiny_lora", {path = tiny}, {rank = 4, alpha = 8, rslora = true,
                                    targets = {"q_proj", "v_proj", "up_proj", "down_proj"}})
else
  rlaif.log("warn", "hf_crosscheck: " .. tiny .. " not found: Hugging Face input cases skipped")
end
write_json(out .. "/cases.json", rlaif.json.array(cases))
print(("hf_crosscheck: %d cases written to %s"):format(#cases, out))
