-- bench_ppo.lua — one PPO iteration through the real plugins, split into
-- phases (issue 5): 16 prompts x 64 new tokens on stories260K and on a
-- random-weight model of the TinyStories-15M shape.
--
--   rlaif run bench_ppo.lua MAKE_RANDOM_MODEL BENCH_TRAIN_PLUGIN [--quick] [--bf16]
--
-- --bf16: the policy runs in mixed precision (matmul = "bf16" for scoring
-- and the update, decode_bf16 for generation; AMX tiles where the CPU has
-- them), and the training reference is taken with --matmul bf16 too.
--
-- The iteration is what rlaif.rl does in one step (generate, reward,
-- optimizer step), with the scoring calls also made on their own so that
-- each is timed:
--   generate    policy:generate (temperature 1, KV cache)
--   policy      policy:forward (logprobs at the sampling temperature + values)
--   reference   reference:forward (the frozen view, logprobs)
--   reward      reward:score (the sentiment plugin on the response texts)
--   update      opt:step minus the policy and reference scoring it repeats
--               inside (the PPO plugin scores the batch once, then runs
--               4 epochs x 4 minibatches of forward(KEEP) + backward + step)
-- The update's GFLOP/s (4 epochs x training FLOPs of the batch's tokens)
-- is printed next to (a) a plain training step on one minibatch through the
-- same Lua calls and (b) the training benchmark (bench_train_plugin, 8 x 256,
-- with its sgemm reference), all measured in this run.  One JSON line each.
local maker, trainbench = arg[1], arg[2]
local quick, bf16 = false, false
for i = 3, #arg do
  if arg[i] == "--quick" then quick = true
  elseif arg[i] == "--bf16" then bf16 = true
  else error("unknown option " .. arg[i]) end
end
assert(maker and trainbench,
  "usage: rlaif run bench_ppo.lua MAKE_RANDOM_MODEL BENCH_TRAIN_PLUGIN [--quick] [--bf16]")
-- the policy's precision options (see the header)
local PRECISION = bf16 and {matmul = "bf16", decode_bf16 = true} or {}
local function model_config(t)
  for k, v in pairs(PRECISION) do t[k] = v end
  return t
end
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local THREADS, BATCH, NEW, EPOCHS, MINIBATCH = 2, 16, 64, 4, 4
local ITERS = quick and 1 or 2

local function emit(t, order)
  local parts = {}
  for _, k in ipairs(order) do
    local v = t[k]
    if type(v) == "number" then
      parts[#parts + 1] = string.format("%q: %s", k, (math.type(v) == "integer") and tostring(v)
        or string.format("%.4g", v))
    elseif type(v) == "table" then -- a flat table of numbers, 4 significant digits
      local keys, inner = {}, {}
      for kk in pairs(v) do keys[#keys + 1] = kk end
      table.sort(keys)
      for _, kk in ipairs(keys) do inner[#inner + 1] = string.format("%q: %.4g", kk, v[kk]) end
      parts[#parts + 1] = string.format("%q: {%s}", k, table.concat(inner, ", "))
    elseif v ~= nil then
      parts[#parts + 1] = string.format("%q: %s", k, rlaif.json.encode(v))
    end
  end
  print("{" .. table.concat(parts, ", ") .. "}")
  io.stdout:flush()
end

local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return -1 end
  local l = tonumber(f:read("n")) or -1
  f:close()
  return l
end

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- Training FLOPs per token (6N + 3 x attention over the full context),
-- N = block Linear weights + LM head, as shared/bench/README.md counts.
local function train_flops_per_token(info, ctx)
  local D, F, L, V = info.dim, info.hidden_dim, info.n_layers, info.vocab_size
  local hd = D // info.n_heads
  local Q, KV = info.n_heads * hd, info.n_kv_heads * hd
  local N = L * (D * Q + 2 * D * KV + Q * D + 3 * D * F) + D * V
  return 3 * (2 * N + 4 * L * Q * ctx), N
end

local function concat(a, b)
  local t = {}
  for i = 1, #a do t[i] = a[i] end
  for i = 1, #b do t[#a + i] = b[i] end
  return t
end

-- One iteration; returns the phase times and what the update worked on.
local function iteration(m, it)
  local r = {}
  local c0, t = os.clock(), rlaif.clock()
  local t_start = t
  local outs = m.policy:generate(m.prompts, {max_new_tokens = NEW, temperature = 1.0,
    seed = 1000 + it, ignore_eos = m.ignore_eos, bos = false})
  r.generate = rlaif.clock() - t
  local seqs, texts, batch, ntok, total = {}, {}, {temperature = 1.0}, 0, 0
  for i, o in ipairs(outs) do
    seqs[i] = concat(o.prompt_ids, o.ids)
    texts[i] = o.text
    ntok, total = ntok + #o.ids, total + #seqs[i]
  end
  t = rlaif.clock()
  m.policy:forward(seqs, {logprobs = true, values = true, temperature = 1.0, bos = false})
  r.policy = rlaif.clock() - t
  t = rlaif.clock()
  m.reference:forward(seqs, {logprobs = true, temperature = 1.0, bos = false})
  r.reference = rlaif.clock() - t
  t = rlaif.clock()
  local rewards = m.reward:score(m.prompt_texts, texts)
  r.reward = rlaif.clock() - t
  for i, o in ipairs(outs) do
    batch[i] = {ids = seqs[i], prompt_len = #o.prompt_ids, reward = rewards[i],
                logprobs = o.logprobs, finished = o.finish == "stop"}
  end
  t = rlaif.clock()
  local stats = m.opt:step({policy = m.policy, reference = m.reference}, batch)
  r.opt_step = rlaif.clock() - t
  -- os.clock is the process's CPU time (all threads): below 1, other jobs ran.
  r.cpu_util = (os.clock() - c0) / ((rlaif.clock() - t_start) * THREADS)
  r.update = math.max(r.opt_step - r.policy - r.reference, 0)
  r.scoring = r.policy + r.reference + r.reward
  -- What rlaif.rl's step costs: generate + reward + opt:step (which scores).
  r.iteration = r.generate + r.reward + r.opt_step
  r.response_tokens, r.seq_tokens = ntok, total
  r.mean_len = total / #seqs
  r.minibatches, r.kl = stats.minibatches, stats.kl
  r.seqs = seqs
  return r
end

-- A plain training step on one minibatch of the rollouts, through the same
-- Lua calls the update's inner loop makes (best of 3 after a warm-up).
local function plain_step(m, seqs)
  local mb = {}
  for i = 1, MINIBATCH do mb[i] = seqs[i] end
  local best = math.huge
  for k = 0, 3 do
    local t = rlaif.clock()
    local out = m.policy:forward(mb, {logprobs = true, values = true, keep = true, bos = false})
    local g = {}
    for i, o in ipairs(out) do
      local d, v = {}, {}
      for j = 1, #o.logprobs do d[j], v[j] = -1e-3, 1e-3 end
      g[i] = {logprobs = d, values = v}
    end
    m.policy:backward(g)
    m.policy:step{lr = 1e-6, max_grad_norm = 1}
    local dt = rlaif.clock() - t
    if k > 0 and dt < best then best = dt end
  end
  local tok = 0
  for i = 1, #mb do tok = tok + #mb[i] end
  return best, tok
end

local function bench_model(m, train_ref)
  local info = m.policy:info()
  local iters = {}
  for it = 0, ITERS do
    local r = iteration(m, it)
    if it > 0 then iters[#iters + 1] = r end
    emit({bench = "ppo_iter", model = m.name, warmup = it == 0, it = it,
          generate_s = r.generate, policy_s = r.policy, reference_s = r.reference, reward_s = r.reward,
          opt_step_s = r.opt_step, update_s = r.update, iteration_s = r.iteration,
          response_tokens = r.response_tokens, seq_tokens = r.seq_tokens, kl = r.kl,
          cpu_util = r.cpu_util},
         {"bench", "model", "warmup", "it", "generate_s", "policy_s", "reference_s", "reward_s",
          "opt_step_s", "update_s", "iteration_s", "response_tokens", "seq_tokens", "kl", "cpu_util"})
  end
  local med = {}
  for _, k in ipairs({"generate", "policy", "reference", "reward", "scoring", "opt_step", "update",
                      "iteration", "mean_len", "seq_tokens", "response_tokens", "cpu_util"}) do
    local xs = {}
    for i, r in ipairs(iters) do xs[i] = r[k] end
    med[k] = median(xs)
  end
  local fpt, N = train_flops_per_token(info, med.mean_len)
  local update_gflops = EPOCHS * fpt * med.seq_tokens / med.update * 1e-9
  local plain_s, plain_tok = plain_step(m, iters[#iters].seqs)
  local plain_gflops = fpt * plain_tok / plain_s * 1e-9
  local sum = med.generate + med.scoring + med.update
  local rec = {bench = "ppo_summary", model = m.name, n_params = info.n_params, matmul_params = N,
    threads = THREADS, batch = BATCH, new_tokens = NEW, epochs = EPOCHS,
    minibatch_size = MINIBATCH, iterations = #iters,
    median_s = {generate = med.generate, policy = med.policy, reference = med.reference,
                reward = med.reward, scoring = med.scoring, update = med.update,
                opt_step = med.opt_step, iteration = med.iteration},
    share = {generate = med.generate / sum, scoring = med.scoring / sum, update = med.update / sum},
    generate_tokens_per_s = med.response_tokens / med.generate,
    update_gflops = update_gflops, plain_step_gflops = plain_gflops,
    update_vs_plain_step = update_gflops / plain_gflops, cpu_util = med.cpu_util}
  if train_ref then
    rec.train_bench_gflops, rec.sgemm_gflops = train_ref.gflops, train_ref.sgemm_gflops
    rec.update_vs_train_bench = update_gflops / train_ref.gflops
    rec.update_utilisation = update_gflops / train_ref.sgemm_gflops
  end
  emit(rec, {"bench", "model", "n_params", "matmul_params", "threads", "batch", "new_tokens",
             "epochs", "minibatch_size", "iterations", "median_s", "share",
             "generate_tokens_per_s", "update_gflops", "plain_step_gflops",
             "update_vs_plain_step", "train_bench_gflops", "sgemm_gflops",
             "update_vs_train_bench", "update_utilisation", "cpu_util"})
end

-- The training benchmark's full fine-tuning step of the 15M shape, with its
-- sgemm, in this run: its JSON lines are passed through.
local function train_reference()
  local p = assert(io.popen(string.format("%q --threads %d --config ts15m --mode full --quick --matmul %s",
    trainbench, THREADS, bf16 and "bf16" or "f32")))
  local ref = {}
  for line in p:lines() do
    print(line)
    local rec = rlaif.json.decode(line)
    if rec and rec.bench == "train_step" then ref.gflops = rec.gflops end
    if rec and rec.bench == "sgemm" and rec.when == "before" then ref.sgemm_gflops = rec.gflops end
  end
  p:close()
  return ref.gflops and ref.sgemm_gflops and ref or nil
end

local PROMPTS = {
  "Once upon a time, there was a little girl named", "Tom was sad because",
  "The dog ran to the park and", "One day, a little boy named Tim",
  "Lily wanted to play outside, but", "There was a big tree in the garden. One day,",
  "Sam lost his red ball and", "The cat saw a bird on the fence.",
  "Mom said no to the ice cream, so", "It was a rainy day, and Ben",
  "Anna had a little toy car. One day,", "The sun was hot and the flowers",
  "Max was scared of the dark.", "A small bunny lived in the forest.",
  "Sue broke her favorite cup and", "Once upon a time, there was a big bear who",
}

local function setup(name, policy, prompts, prompt_texts, ignore_eos)
  return {name = name, policy = policy, reference = policy:reference(), prompts = prompts,
    prompt_texts = prompt_texts, ignore_eos = ignore_eos,
    reward = rlaif.reward{plugin = "sentiment"},
    opt = rlaif.optimizer{plugin = "ppo", lr = 3e-5, beta2 = 0.95, epochs = EPOCHS,
      minibatch_size = MINIBATCH, kl_coef = 0.1, vf_coef = 0.1, max_grad_norm = 1}}
end

emit({bench = "machine", threads = THREADS, loadavg_1m = loadavg(), quick = quick,
      precision = bf16 and "bf16" or "f32",
      note = "shared machine: other jobs may run at the same time"},
     {"bench", "threads", "loadavg_1m", "quick", "precision", "note"})

-- stories260K: the real checkpoint, text prompts, stops at EOS/BOS.
do
  local policy = rlaif.model(model_config{path = src .. "/models/stories260K/stories260K.bin",
    threads = THREADS, value_head = true, seed = 1})
  local ids = {}
  for i, p in ipairs(PROMPTS) do ids[i] = policy:tokenize(p, {bos = true}) end
  bench_model(setup("stories260K", policy, ids, PROMPTS, false), nil)
end

-- ts15m: random weights (exactly 64 tokens per row, as the PyTorch anchor),
-- prompts of BOS + 16 random ids.
do
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute(string.format("%q ts15m %q", maker, dir)), "make_random_model failed")
  local ref = train_reference()
  local policy = rlaif.model(model_config{path = dir, threads = THREADS, value_head = true, seed = 1})
  local rng, ids, texts = rlaif.rng(5), {}, {}
  for i = 1, BATCH do
    local p = {1}
    for j = 2, 17 do p[j] = 3 + rng:below(32000 - 3) end
    ids[i], texts[i] = p, policy:detokenize(p)
  end
  bench_model(setup("ts15m-random", policy, ids, texts, true), ref)
  rlaif.fs.remove_tree(dir)
end
emit({bench = "machine_end", loadavg_1m = loadavg()}, {"bench", "loadavg_1m"})
