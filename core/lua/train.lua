-- core/lua/train.lua — training loops over the optimizer plugins.
--
--   rlaif.train(algorithm, model, rows, opts)   offline: "sft", "reward_model", "dpo"
--   rlaif.rl(opts)                              online:  "ppo", "grpo", "rloo"
--   rlaif.compose{{reward, weight = w, name = n}, ...}   a weighted sum of rewards
--   rlaif.evaluate(opts)                        reward, KL, diversity on held-out prompts
--   rlaif.win_rate(labeler, prompts, a, b)      p(a ≻ b) averaged, both orders
-- Every loop is deterministic given its seed: the batch of step s and the
-- sampling seeds are functions of (seed, s), so a resumed run replays exactly.
local rlaif = ...

------------------------------------------------------------------------------
-- Rewards: plugin handles, Lua functions and weighted sums look the same.

local Composite = {}
Composite.__index = Composite

-- parts: list of {reward, weight = 1, name = "..."}; a bare reward is weight 1.
function rlaif.compose(parts)
  local self = setmetatable({parts = {}}, Composite)
  for i, p in ipairs(parts) do
    local r, w, name = p, 1, nil
    if type(p) == "table" and getmetatable(p) == nil then r, w, name = p[1] or p.reward, p.weight or 1, p.name end
    if type(r) == "function" then r = rlaif.reward(r, name or ("lua" .. i)) end
    if r == nil then rlaif.fail("compose: part " .. i .. " has no reward") end
    name = name or (type(r) == "userdata" and r:plugin():gsub("^reward/", "") or ("part" .. i))
    self.parts[i] = {reward = r, weight = w, name = name}
  end
  return self
end

-- Returns totals and a table of components {name = list} (each unweighted),
-- plus each plugin's own metrics as "name.metric".
function Composite:score(prompts, responses, metas)
  local total, components = {}, {}
  for i = 1, #responses do total[i] = 0 end
  for _, p in ipairs(self.parts) do
    local r, metrics = p.reward:score(prompts, responses, metas)
    components[p.name] = r
    for i = 1, #responses do total[i] = total[i] + p.weight * r[i] end
    for mname, list in pairs(metrics or {}) do components[p.name .. "." .. mname] = list end
  end
  return total, components
end

-- Any reward-like value as a Composite (one part, weight 1).
local function as_reward(r)
  if getmetatable(r) == Composite then return r end
  if r == nil then rlaif.fail("a reward is required") end
  return rlaif.compose({r})
end

------------------------------------------------------------------------------
-- Batches of token sequences.

local function concat(a, b)
  local out = {}
  for i = 1, #a do out[i] = a[i] end
  for i = 1, #b do out[#a + i] = b[i] end
  return out
end

-- prompt (with BOS) ++ response (+ EOS when `eos`) as one sample.
local function encode_pair(model, eos_id, prompt, response, eos)
  local p = model:tokenize(prompt, {bos = true})
  local r = model:tokenize(response, {bos = false})
  if eos and eos_id >= 0 then r[#r + 1] = eos_id end
  return {ids = concat(p, r), prompt_len = #p}
end

-- The rows of step `step`: an epoch-wise shuffled walk through `rows`, a pure
-- function of (rows, batch_size, seed, step) so that resume replays it.
local orders = setmetatable({}, {__mode = "k"}) -- rows -> {epoch -> permutation}

local function rows_for_step(rows, batch_size, seed, step)
  local n, out = #rows, {}
  orders[rows] = orders[rows] or {}
  for k = 0, batch_size - 1 do
    local pos = (step - 1) * batch_size + k
    local epoch = pos // n
    local perm = orders[rows][epoch]
    if not perm then
      perm = {}
      for i = 1, n do perm[i] = i end
      perm = rlaif.data.shuffle(perm, seed * 1000003 + epoch)
      orders[rows][epoch] = perm
    end
    out[#out + 1] = rows[perm[pos % n + 1]]
  end
  return out
end

local function optimizer_for(algorithm, config)
  if type(algorithm) == "userdata" then return algorithm end
  local cfg = {}
  for k, v in pairs(config or {}) do cfg[k] = v end
  cfg.plugin = algorithm
  return rlaif.optimizer(cfg)
end

local function fmt_stats(stats, keys)
  local parts = {}
  for _, k in ipairs(keys) do
    if stats[k] ~= nil then parts[#parts + 1] = string.format("%s %.4g", k, stats[k]) end
  end
  return table.concat(parts, "  ")
end

local function check_finite(step, stats)
  for k, v in pairs(stats) do
    if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      rlaif.fail(string.format("step %d: %s is %s; stopping (the last checkpoint is untouched)", step, k, tostring(v)))
    end
  end
end

------------------------------------------------------------------------------
-- Offline training: sft, reward_model, dpo.

-- rows: sft {prompt, response}; pairwise {prompt, chosen, rejected} or {prompt, a, b, p_a}.
local function offline_batch(model, algorithm, rows)
  local info = model:info()
  local batch = {labels = {}}
  for _, row in ipairs(rows) do
    if algorithm == "sft" then
      batch[#batch + 1] = encode_pair(model, info.eos_id, row.prompt or "", row.response, true)
    else
      local a, b, p = row.chosen, row.rejected, 1
      if a == nil then a, b, p = row.a, row.b, row.p_a end
      if a == nil or b == nil or p == nil then
        rlaif.fail("pairwise rows need {prompt, chosen, rejected} or {prompt, a, b, p_a}")
      end
      batch[#batch + 1] = encode_pair(model, info.eos_id, row.prompt or "", a, true)
      batch[#batch + 1] = encode_pair(model, info.eos_id, row.prompt or "", b, true)
      batch.labels[#batch.labels + 1] = p
    end
  end
  if algorithm == "sft" then batch.labels = nil end
  return batch
end

-- opts: epochs (1), steps (instead of epochs), batch_size (8), config (optimizer
-- plugin config), reference (dpo), eval_rows, eval_every, run, seed, on_step,
-- checkpoint_every.  Returns the list of per-step stats.
function rlaif.train(algorithm, model, rows, opts)
  opts = opts or {}
  local name = type(algorithm) == "string" and algorithm or algorithm:plugin():gsub("^optimizer/", "")
  if #rows == 0 then rlaif.fail("rlaif.train: no data rows") end
  local opt = optimizer_for(algorithm, opts.config)
  local bs = opts.batch_size or 8
  local steps = opts.steps or math.ceil(#rows * (opts.epochs or 1) / bs)
  local seed = opts.seed or 0
  local models = {policy = model, reference = opts.reference}
  if name == "dpo" and not models.reference then models.reference = model:reference() end
  local run, history, start = opts.run, {}, 1
  if run then
    local st = run:restore({models = {policy = model}, optimizers = {[name] = opt}})
    if st then start = st.step + 1 end
  end
  local t0 = rlaif.clock()
  for step = start, steps do
    if rlaif.cancelled() then rlaif.fail("interrupted") end
    local batch = offline_batch(model, name, rows_for_step(rows, bs, seed, step))
    local stats = opt:step(models, batch)
    check_finite(step, stats)
    if opts.eval_rows and (step % (opts.eval_every or 10) == 0 or step == steps) then
      local ev = opt:evaluate(models, offline_batch(model, name, opts.eval_rows))
      for k, v in pairs(ev) do stats["eval_" .. k] = v end
    end
    history[#history + 1] = stats
    if run then
      run:log(step, stats)
      if step % (opts.checkpoint_every or 1) == 0 or step == steps then
        run:checkpoint(step, {models = {policy = model}, optimizers = {[name] = opt}})
      end
      local el = rlaif.clock() - t0
      run:status(string.format("%s step %d/%d  %s  %.1fs/step  ETA %.0fs", name, step, steps,
        fmt_stats(stats, {"loss", "accuracy", "eval_loss", "eval_accuracy", "margin"}),
        el / (step - start + 1), el / (step - start + 1) * (steps - step)), step == steps)
    end
    if opts.on_step then opts.on_step(step, stats) end
  end
  if run then run:status("", true) end
  return history
end

------------------------------------------------------------------------------
-- Evaluation.

local function distinct_n(texts, n)
  local seen, total = {}, 0
  for _, t in ipairs(texts) do
    local words = {}
    for w in t:gmatch("%S+") do words[#words + 1] = w end
    for i = 1, #words - n + 1 do
      seen[table.concat(words, " ", i, i + n - 1)] = true
      total = total + 1
    end
  end
  local count = 0
  for _ in pairs(seen) do count = count + 1 end
  return total > 0 and count / total or 0
end

-- Sum over response tokens of log p_policy - log p_ref, per sample (temperature 1).
local function sequence_kl(policy, reference, samples)
  if not reference then return nil end
  local seqs = {}
  for i, s in ipairs(samples) do seqs[i] = s.ids end
  local lp = policy:forward(seqs, {logprobs = true})
  local lr = reference:forward(seqs, {logprobs = true})
  local kls = {}
  for i, s in ipairs(samples) do
    local k = 0
    for t = s.prompt_len, #s.ids - 1 do k = k + lp[i].logprobs[t] - lr[i].logprobs[t] end
    kls[i] = k
  end
  return kls
end

-- opts: policy, prompts, reward, reference, generation {...}, seed, samples_per_prompt
function rlaif.evaluate(opts)
  local gen = {}
  for k, v in pairs(opts.generation or {}) do gen[k] = v end
  gen.seed = opts.seed or 12345
  gen.n = opts.samples_per_prompt or 1
  local texts, metas_of = {}, {}
  for i, p in ipairs(opts.prompts) do
    if type(p) == "table" then
      texts[i] = p.prompt
      local meta = p.meta
      if meta == nil then
        meta = {}
        for key, v in pairs(p) do if key ~= "prompt" then meta[key] = v end end
      end
      metas_of[i] = meta
    else
      texts[i], metas_of[i] = p, {}
    end
  end
  local outs = opts.policy:generate(texts, gen)
  local prompts, responses, samples, metas = {}, {}, {}, {}
  for i, o in ipairs(outs) do
    prompts[i] = texts[o.prompt_index]
    metas[i] = metas_of[o.prompt_index]
    responses[i] = o.text
    samples[i] = {ids = concat(o.prompt_ids, o.ids), prompt_len = #o.prompt_ids}
  end
  local result = {n = #outs, distinct_1 = distinct_n(responses, 1), distinct_2 = distinct_n(responses, 2)}
  if opts.reward then
    local rewards, components = as_reward(opts.reward):score(prompts, responses, metas)
    result.reward_mean, result.reward_std = rlaif.mean_std(rewards)
    for name, list in pairs(components) do result["reward_" .. name] = (rlaif.mean_std(list)) end
    result.rewards = rewards
  end
  local kls = sequence_kl(opts.policy, opts.reference, samples)
  if kls then result.kl = (rlaif.mean_std(kls)) end
  result.samples = {}
  for i = 1, #outs do
    result.samples[i] = {prompt = prompts[i], response = responses[i], reward = result.rewards and result.rewards[i]}
  end
  return result
end

-- Mean p(a ≻ b) under a labeler (it averages both presentation orders itself).
function rlaif.win_rate(labeler, prompts, a, b, seed)
  local items = {}
  for i = 1, #prompts do items[i] = {prompt = prompts[i], a = a[i], b = b[i]} end
  local res = labeler:compare_batch(items, {seed = seed or 0})
  local ps = {}
  for i, r in ipairs(res) do ps[i] = r.p_a end
  return (rlaif.mean_std(ps)), res
end

------------------------------------------------------------------------------
-- Online RL: ppo, grpo, rloo.

-- opts: policy, reference, value, algorithm ("ppo"), config (optimizer plugin
-- config), prompts (strings or rows with .prompt), reward, steps, batch_size
-- (prompts per step), samples_per_prompt, generation {max_new_tokens,
-- temperature, top_k, top_p, stop}, eval {prompts, every, reward}, run, seed,
-- checkpoint_every, on_step(step, stats, samples), on_eval(step, result).
function rlaif.rl(opts)
  local policy = opts.policy or rlaif.fail("rlaif.rl: 'policy' is required")
  local name = type(opts.algorithm) == "string" and opts.algorithm
      or (opts.algorithm and opts.algorithm:plugin():gsub("^optimizer/", "")) or "ppo"
  local opt = optimizer_for(opts.algorithm or "ppo", opts.config)
  local reward = as_reward(opts.reward)
  -- Prompts are strings or rows {prompt = ..., meta = {...}}: a row's meta (or
  -- its other fields, e.g. `tests`) goes to the reward as the sample metadata.
  local prompts = {}
  for i, p in ipairs(opts.prompts or rlaif.fail("rlaif.rl: 'prompts' is required")) do
    if type(p) == "table" then
      local meta = p.meta
      if meta == nil then
        meta = {}
        for key, v in pairs(p) do if key ~= "prompt" then meta[key] = v end end
      end
      prompts[i] = {text = p.prompt or rlaif.fail("rlaif.rl: prompts[" .. i .. "] has no 'prompt'"), meta = meta}
    else
      prompts[i] = {text = p, meta = {}}
    end
  end
  local steps, bs = opts.steps or 10, opts.batch_size or 8
  local k = opts.samples_per_prompt or (name == "ppo" and 1 or 4)
  local seed = opts.seed or 0
  local gen = {max_new_tokens = 64, temperature = 1.0}
  for key, v in pairs(opts.generation or {}) do gen[key] = v end
  local models = {policy = policy, reference = opts.reference, value = opts.value}
  local run, history, start = opts.run, {}, 1
  local saved = {policy = policy}
  if opts.value then saved.value = opts.value end
  if run then
    local st = run:restore({models = saved, optimizers = {[name] = opt}})
    if st then start = st.step + 1 end
  end
  local eval = opts.eval
  local function evaluate(step)
    if not eval then return end
    local res = rlaif.evaluate{policy = policy, reference = opts.reference, prompts = eval.prompts,
      reward = eval.reward or reward, generation = eval.generation or gen, seed = (eval.seed or 777),
      samples_per_prompt = eval.samples_per_prompt}
    if run then run:samples(step, "eval", res.samples) end
    if opts.on_eval then opts.on_eval(step, res) end
    return res
  end
  if start == 1 and eval then
    local res = evaluate(0)
    if run and res then run:log(0, {eval_reward = res.reward_mean, eval_kl = res.kl, eval_distinct_2 = res.distinct_2}) end
  end
  local t0, tokens = rlaif.clock(), 0
  for step = start, steps do
    if rlaif.cancelled() then rlaif.fail("interrupted") end
    local t_gen = rlaif.clock()
    local rows = rows_for_step(prompts, bs, seed, step)
    local texts = {}
    for i, r in ipairs(rows) do texts[i] = r.text end
    local g = {}
    for key, v in pairs(gen) do g[key] = v end
    g.n, g.seed = k, seed * 7919 + step * 104729
    local outs = policy:generate(texts, g)
    t_gen = rlaif.clock() - t_gen
    local t_rew = rlaif.clock()
    local ps, rs, ms = {}, {}, {}
    for i, o in ipairs(outs) do
      ps[i], rs[i], ms[i] = texts[o.prompt_index], o.text, rows[o.prompt_index].meta
    end
    local rewards, components = reward:score(ps, rs, ms)
    t_rew = rlaif.clock() - t_rew
    local batch = {temperature = gen.temperature}
    local ntok = 0
    for i, o in ipairs(outs) do
      batch[i] = {ids = concat(o.prompt_ids, o.ids), prompt_len = #o.prompt_ids, reward = rewards[i],
                  logprobs = o.logprobs, group = o.prompt_index - 1, finished = o.finish == "stop"}
      ntok = ntok + #o.ids
    end
    tokens = tokens + ntok
    local t_upd = rlaif.clock()
    local stats = opt:step(models, batch)
    t_upd = rlaif.clock() - t_upd
    check_finite(step, stats)
    stats.reward_mean, stats.reward_std = rlaif.mean_std(rewards)
    for cname, list in pairs(components) do stats["reward_" .. cname] = (rlaif.mean_std(list)) end
    stats.response_tokens = ntok / #outs
    stats.time_generate, stats.time_reward, stats.time_update = t_gen, t_rew, t_upd
    stats.tokens_per_s = ntok / math.max(t_gen, 1e-9)
    if eval and (step % (eval.every or 10) == 0 or step == steps) then
      local res = evaluate(step)
      stats.eval_reward, stats.eval_kl, stats.eval_distinct_2 = res.reward_mean, res.kl, res.distinct_2
    end
    history[#history + 1] = stats
    if run then
      run:log(step, stats)
      if step % (opts.checkpoint_every or 1) == 0 or step == steps then
        run:checkpoint(step, {models = saved, optimizers = {[name] = opt}})
      end
      local el = rlaif.clock() - t0
      local per = el / (step - start + 1)
      run:status(string.format("%s step %d/%d  reward %.3f  kl %.4f  %.0f tok/s  ETA %.0fs", name, step,
        steps, stats.reward_mean, stats.kl or stats.kl_mean or 0, tokens / el, per * (steps - step)), step == steps)
    end
    if opts.on_step then opts.on_step(step, stats, batch) end
  end
  if run then run:status("", true) end
  return history
end
