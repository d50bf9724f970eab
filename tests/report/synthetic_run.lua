-- tests/report/synthetic_run.lua — writes a run directory that looks like a
-- PPO run whose reward rises, without training anything:
--   local make = dofile(RLAIF_SOURCE_DIR .. "/tests/report/synthetic_run.lua")
--   make(dir, {steps = 40, eval_every = 10, with_eval_json = true})
-- The numbers follow simple curves with a deterministic wobble, so charts have
-- a known shape (reward up, KL up then flat, losses down).
local function wobble(rng) return rng:uniform() - 0.5 end

local prompts = {
  "Lily was sad because", "Tom had a ball and", "The cat sat on the mat.", "Ben found a box.",
  "Mia lost her toy and", "The dog ran to the park.", "Sam saw a big tree.", "Anna & <Bob> went out.",
}

local function eval_rows(rng, quality)
  local rows = {}
  for i, p in ipairs(prompts) do
    local r = math.max(-1, math.min(1, quality + 0.35 * wobble(rng) * 2))
    local text = quality > 0.3 and " They played together and everyone was happy." or " He cried and went home alone."
    if i == 8 then text = text .. ' She said "<script>alert(1)</script>" & left.' end
    rows[i] = {prompt = p, response = text, reward = r}
  end
  return rows
end

return function(dir, opts)
  opts = opts or {}
  local steps, every = opts.steps or 40, opts.eval_every or 10
  local rng = rlaif.rng(opts.seed or 3)
  assert(rlaif.fs.mkdir(dir))
  assert(rlaif.fs.mkdir(dir .. "/samples"))
  assert(rlaif.fs.write_atomic(dir .. "/config.json", rlaif.json.encode({
    algorithm = "ppo", steps = steps, lr = 1e-5, model = "models/stories260K/stories260K.bin",
    note = "<i>not markup</i> & friends", generation = {max_new_tokens = 48, temperature = 1.0}}) .. "\n"))
  local lines = {}
  local function eval_at(step)
    local quality = -0.4 + 1.0 * step / steps
    rlaif.data.write_jsonl(string.format("%s/samples/step-%06d-eval.jsonl", dir, step), eval_rows(rng, quality))
    return quality
  end
  lines[#lines + 1] = rlaif.json.encode({step = 0, time = 0.5, eval_reward = eval_at(0), eval_kl = 0})
  for s = 1, steps do
    local frac = s / steps
    local row = {
      step = s, time = 1.0 + 0.8 * s,
      reward_mean = -0.4 + 0.9 * frac + 0.05 * wobble(rng),
      reward_std = 0.3 - 0.1 * frac,
      kl = 0.02 * (1 - math.exp(-4 * frac)) + 0.001 * wobble(rng),
      loss = 1.2 * math.exp(-2 * frac) + 0.05 * wobble(rng),
      policy_loss = -0.05 + 0.02 * wobble(rng),
      value_loss = 0.8 * math.exp(-3 * frac) + 0.02 * wobble(rng),
      tokens_per_s = 900 + 60 * wobble(rng),
      time_generate = 0.5 + 0.05 * wobble(rng), time_reward = 0.05, time_update = 0.25 + 0.02 * wobble(rng),
      entropy = 2.5 - 0.5 * frac, reward_sentiment = -0.3 + 0.8 * frac,
    }
    if s % every == 0 or s == steps then
      row.eval_reward = eval_at(s)
      row.eval_kl = row.kl * 1.1
    end
    lines[#lines + 1] = rlaif.json.encode(row)
  end
  -- a line cut short by a kill: the report must skip it, not fail
  local text = table.concat(lines, "\n") .. "\n" .. (opts.torn_line and '{"step": 41, "rew' or "")
  assert(rlaif.fs.write_atomic(dir .. "/metrics.jsonl", text))
  if opts.with_eval_json then
    assert(rlaif.fs.write_atomic(dir .. "/eval.json", rlaif.json.encode({
      config = {policy = dir .. "/checkpoint/policy", baseline = "models/stories260K/stories260K.bin", seed = 0},
      policy = {n = 8, reward_mean = 0.41, reward_sentiment = 0.41, kl = 0.021, distinct_1 = 0.52, distinct_2 = 0.81},
      baseline = {n = 8, reward_mean = -0.12, reward_sentiment = -0.12, distinct_1 = 0.55, distinct_2 = 0.84},
      win_rate = 0.68, pairs = 8, policy_wins = 6, baseline_wins = 2,
      samples = {{prompt = "Tom had a ball and", policy = " they shared it.", baseline = " he <kept> it.",
                  reward_policy = 0.6, reward_baseline = -0.2, p_policy = 0.71, principle = "kindness"}}})))
  end
  return dir
end
