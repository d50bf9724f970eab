-- core/lua/eval.lua — comparing and labelling with a policy (docs/report.md).
--
--   result = rlaif.eval{policy, baseline, prompts, rewards, labeler, reference, generation, seed}
--   rows   = rlaif.label{policy, labeler, prompts, out, seed, generation, pairs_per_prompt}
--   rows   = rlaif.cai.revise{policy, labeler, prompts, rounds, out, seed, generation}
-- and the commands `rlaif eval` and `rlaif label`.
-- Outputs are written with a fixed key order, so the same seed gives the
-- same bytes.
local rlaif = ...
local json = rlaif.json
local usage = rlaif._usage

-- Prompts given as strings or as rows with a `prompt` field.
local function prompt_list(prompts, who)
  if type(prompts) ~= "table" or #prompts == 0 then rlaif.fail(who .. ": 'prompts' must be a non-empty list") end
  local out = {}
  for i, p in ipairs(prompts) do
    if type(p) == "table" then p = p.prompt end
    if type(p) ~= "string" then rlaif.fail(string.format("%s: prompt %d is not a string", who, i)) end
    out[i] = p
  end
  return out
end

-- One JSON object with its keys in `keys` order (absent values become null).
local function ordered_object(row, keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local v = row[k]
    parts[i] = json.encode(k) .. ":" .. (v == nil and "null" or rlaif._sorted_json(v))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function write_rows(path, rows, keys)
  local lines = {}
  for i, row in ipairs(rows) do lines[i] = ordered_object(row, keys) end
  local ok, err = rlaif.fs.write_atomic(path, table.concat(lines, "\n") .. (#lines > 0 and "\n" or ""))
  if not ok then rlaif.fail(tostring(err)) end
end

local function gen_options(generation, defaults)
  local g = {}
  for k, v in pairs(defaults) do g[k] = v end
  for k, v in pairs(generation or {}) do g[k] = v end
  return g
end

------------------------------------------------------------------------------
-- rlaif.eval: a policy against a baseline on the same prompts and seeds.

-- The metrics of one rlaif.evaluate result (no per-sample lists).
local function summary(res)
  local out = {}
  for k, v in pairs(res) do
    if type(v) == "number" then out[k] = v end
  end
  return out
end

-- opts: policy, baseline (models), prompts, rewards (a list of reward handles
-- or functions, or one composite), labeler, reference (default: the baseline;
-- false for none), generation, seed (0), samples_per_prompt (1).
function rlaif.eval(opts)
  local who = "rlaif.eval"
  if not opts.policy or not opts.baseline then rlaif.fail(who .. ": 'policy' and 'baseline' are required") end
  local prompts = prompt_list(opts.prompts, who)
  local reward = opts.rewards -- a list of parts, or one reward or composite
  if type(reward) == "table" and getmetatable(reward) == nil then
    reward = #reward > 0 and rlaif.compose(reward) or nil
  end
  local reference = opts.reference
  if reference == nil then reference = opts.baseline end
  local gen = gen_options(opts.generation, {max_new_tokens = 64, temperature = 1.0})
  local seed = opts.seed or 0
  -- Both models draw with the same seeds: a policy equal to the baseline gives
  -- the same samples, a win rate of exactly 0.5 and a KL of 0.
  local common = {prompts = prompts, reward = reward, generation = gen, seed = seed,
                  samples_per_prompt = opts.samples_per_prompt or 1}
  local function run(model, ref)
    local o = {policy = model, reference = ref or nil}
    for k, v in pairs(common) do o[k] = v end
    return rlaif.evaluate(o)
  end
  local pol = run(opts.policy, reference)
  local base = run(opts.baseline, opts.reference or nil)
  local result = {policy = summary(pol), baseline = summary(base), samples = {}}
  for i, s in ipairs(pol.samples) do
    result.samples[i] = {prompt = s.prompt, policy = s.response, baseline = base.samples[i].response,
                         reward_policy = s.reward, reward_baseline = base.samples[i].reward}
  end
  if opts.labeler then
    local ps, as, bs = {}, {}, {}
    for i, s in ipairs(result.samples) do ps[i], as[i], bs[i] = s.prompt, s.policy, s.baseline end
    local mean, res = rlaif.win_rate(opts.labeler, ps, as, bs, seed)
    local wins, losses = 0, 0
    for i, r in ipairs(res) do
      result.samples[i].p_policy = r.p_a
      result.samples[i].principle = r.principle
      if r.p_a > 0.5 then wins = wins + 1 elseif r.p_a < 0.5 then losses = losses + 1 end
    end
    result.win_rate, result.pairs, result.policy_wins, result.baseline_wins = mean, #res, wins, losses
    result.position_bias = opts.labeler:stats().position_bias
  end
  return result
end

------------------------------------------------------------------------------
-- rlaif.label: preference pairs for reward-model training or DPO.

local label_keys = {"prompt", "a", "b", "p_a", "p_a_first", "p_a_second", "principle", "rationale"}

-- opts: policy, labeler, prompts, out (a JSONL path; optional), seed (0),
-- generation ({max_new_tokens = 64, temperature = 1}), pairs_per_prompt (1).
-- Returns the rows.
function rlaif.label(opts)
  local who = "rlaif.label"
  if not opts.policy or not opts.labeler then rlaif.fail(who .. ": 'policy' and 'labeler' are required") end
  local prompts = prompt_list(opts.prompts, who)
  local k = opts.pairs_per_prompt or 1
  if math.type(k) ~= "integer" or k < 1 then rlaif.fail(who .. ": 'pairs_per_prompt' must be a positive integer") end
  local seed = opts.seed or 0
  local g = gen_options(opts.generation, {max_new_tokens = 64, temperature = 1.0})
  g.n, g.seed = 2 * k, seed
  local outs = opts.policy:generate(prompts, g)
  -- Samples come prompt by prompt, 2k each: pair them in order.
  local items = {}
  for i = 1, #outs, 2 do
    local a, b = outs[i], outs[i + 1]
    items[#items + 1] = {prompt = prompts[a.prompt_index], a = a.text, b = b.text}
  end
  local res = opts.labeler:compare_batch(items, {seed = seed})
  local rows = {}
  for i, it in ipairs(items) do
    local r = res[i]
    rows[i] = {prompt = it.prompt, a = it.a, b = it.b, p_a = r.p_a, p_a_first = r.p_a_first,
               p_a_second = r.p_a_second, principle = r.principle, rationale = r.rationale}
  end
  if opts.out then write_rows(opts.out, rows, label_keys) end
  return rows
end

------------------------------------------------------------------------------
-- rlaif.cai.revise: the supervised phase of Constitutional AI.

rlaif.cai = rlaif.cai or {}

-- opts: policy, labeler (instruct mode: it must follow critique requests),
-- prompts, rounds (1), out (optional), seed (0), generation.  Returns rows
-- {prompt, response = final revision, initial, critiques = {{principle, critique, revision}}}.
function rlaif.cai.revise(opts)
  local who = "rlaif.cai.revise"
  if not opts.policy or not opts.labeler then rlaif.fail(who .. ": 'policy' and 'labeler' are required") end
  local prompts = prompt_list(opts.prompts, who)
  local rounds = opts.rounds or 1
  local seed = opts.seed or 0
  local g = gen_options(opts.generation, {max_new_tokens = 64, temperature = 1.0})
  g.n, g.seed = 1, seed
  local outs = opts.policy:generate(prompts, g)
  local rows = {}
  for i, o in ipairs(outs) do
    if rlaif.cancelled() then rlaif.fail("interrupted") end
    local prompt = prompts[o.prompt_index]
    -- Each prompt draws its principles from its own seed, so a subset of the
    -- prompts gets the same revisions as the whole set.
    local chain = opts.labeler:revise(prompt, o.text, rounds, {seed = seed * 1000003 + i - 1})
    rows[i] = {prompt = prompt, response = chain[#chain].revision, initial = o.text, critiques = chain}
  end
  if opts.out then write_rows(opts.out, rows, {"prompt", "response", "initial", "critiques"}) end
  return rows
end

------------------------------------------------------------------------------
-- Commands.

local function read_prompts(path, limit)
  local rows = rlaif.data.read_jsonl(path, {require = {"prompt"}})
  local out = {}
  for i, r in ipairs(rows) do
    if limit and i > limit then break end
    if type(r.prompt) ~= "string" then rlaif.fail(string.format("%s:%d: 'prompt' must be a string", path, i)) end
    out[#out + 1] = r.prompt
  end
  if #out == 0 then rlaif.fail(path .. ": no prompts") end
  return out
end

local function open_model(path, opts)
  return rlaif.model{backend = opts.backend, path = path, threads = opts.threads or 2}
end

local eval_help = [[
usage: rlaif eval --policy PATH --baseline PATH --prompts FILE.jsonl [options]

Samples both models on the same held-out prompts with the same seeds and
compares them: mean reward under each --reward, win rate of the policy over
the baseline under an AI labeler (both presentation orders averaged), KL of
the policy to the reference, and distinct-1/2 of the responses.  PATH is a
llama2.c checkpoint (.bin) or a Hugging Face model folder (as a run saves).

  --policy PATH           the trained model (required)
  --baseline PATH         the model to compare with (required)
  --prompts FILE.jsonl    one {"prompt": ...} per line (required)
  --reward NAME           a reward plugin (sentiment, length, privacy, ...);
                          repeat for several
  --constitution NAME     judge with labeler/llm and this constitution
  --labeler-model PATH    the judging model (default: the baseline)
  --reference PATH        KL reference (default: the baseline)
  -n N                    samples per prompt (default 1)
  --limit K               use the first K prompts only
  --max-new-tokens M      tokens per response (default 64)
  -t, --temperature T     sampling temperature (default 1)
  --seed S                random seed (default 0)
  --out FILE              write the results as JSON (e.g. RUN_DIR/eval.json,
                          which `rlaif report` shows)
  --backend NAME          model plugin (default transformer)
  --threads N             worker threads (default 2)
]]

local function print_eval_table(r)
  local names, seen = {}, {}
  for _, t in ipairs({r.policy, r.baseline}) do
    for k in pairs(t) do if not seen[k] then seen[k] = true; names[#names + 1] = k end end
  end
  table.sort(names)
  local function fmt(x) return x == nil and "-" or rlaif._report.fmt(x) end -- ASCII: %12s counts bytes
  print(string.format("%-22s %12s %12s %12s", "metric", "policy", "baseline", "delta"))
  for _, k in ipairs(names) do
    local a, b = r.policy[k], r.baseline[k]
    print(string.format("%-22s %12s %12s %12s", k, fmt(a), fmt(b),
      (a and b) and string.format("%+.4g", a - b) or "-"))
  end
  if r.win_rate then
    print(string.format("win rate of the policy over the baseline: %.4f (%d pairs: policy preferred in %d, " ..
      "baseline in %d; position bias %.3f)", r.win_rate, r.pairs, r.policy_wins, r.baseline_wins, r.position_bias or 0))
  end
end

function rlaif._commands.eval(args)
  local opts = rlaif._cli_parse(args, {policy = "string", baseline = "string", prompts = "string", reward = "list",
      constitution = "string", labeler_model = "string", reference = "string", n = "integer", limit = "integer",
      max_new_tokens = "integer", temperature = "number", seed = "integer", out = "string", backend = "string",
      threads = "integer"}, {["-n"] = "n", ["-t"] = "temperature", ["-o"] = "out"}, eval_help)
  if not opts then return 0 end
  for _, k in ipairs({"policy", "baseline", "prompts"}) do
    if not opts[k] then usage("--" .. k .. " is required\n" .. eval_help) end
  end
  if opts.labeler_model and not opts.constitution then usage("--labeler-model needs --constitution\n" .. eval_help) end
  local prompts = read_prompts(opts.prompts, opts.limit)
  local policy <close> = open_model(opts.policy, opts)
  local baseline <close> = open_model(opts.baseline, opts)
  local reference <close> = opts.reference and open_model(opts.reference, opts) or nil
  local judge <close> = opts.labeler_model and open_model(opts.labeler_model, opts) or nil
  local rewards = {}
  for i, name in ipairs(opts.reward or {}) do rewards[i] = rlaif.reward{plugin = name} end
  local labeler <close> = opts.constitution
      and rlaif.labeler{plugin = "llm", model = judge or baseline, constitution = opts.constitution} or nil
  local gen = {max_new_tokens = opts.max_new_tokens or 64, temperature = opts.temperature or 1.0}
  local r = rlaif.eval{policy = policy, baseline = baseline, reference = reference, prompts = prompts,
    rewards = rewards, labeler = labeler, generation = gen, seed = opts.seed or 0, samples_per_prompt = opts.n}
  r.config = {policy = opts.policy, baseline = opts.baseline, reference = opts.reference or opts.baseline,
    prompts = opts.prompts, n_prompts = #prompts, samples_per_prompt = opts.n or 1, rewards = opts.reward,
    constitution = opts.constitution, labeler_model = opts.constitution and (opts.labeler_model or opts.baseline),
    generation = gen, seed = opts.seed or 0}
  print_eval_table(r)
  if opts.out then
    local ok, err = rlaif.fs.write_atomic(opts.out, rlaif._sorted_json(r, "  ") .. "\n")
    if not ok then rlaif.fail(tostring(err)) end
    print("results: " .. opts.out)
  end
  for _, rw in ipairs(rewards) do rw:close() end
  return 0
end

local label_help = [[
usage: rlaif label --model PATH --prompts FILE.jsonl --constitution NAME --out pairs.jsonl [options]

Samples two responses per prompt from the model and asks an AI labeler
(labeler/llm with the constitution) which is better, averaging both
presentation orders.  Each output line is {"prompt", "a", "b", "p_a",
"p_a_first", "p_a_second", "principle", "rationale"}, ready for
rlaif.train("reward_model" | "dpo", ...).

  --model PATH            the policy that writes the responses (required)
  --prompts FILE.jsonl    one {"prompt": ...} per line (required)
  --constitution NAME     a name in constitutions/ or a path (required)
  --out FILE              the preference JSONL (required)
  --labeler-model PATH    the judging model (default: the policy itself)
  --mode MODE             labeler mode, instruct or probe (default: the constitution's)
  -n N                    pairs per prompt (default 1)
  --limit K               use the first K prompts only
  --max-new-tokens M      tokens per response (default 64)
  -t, --temperature T     sampling temperature (default 1)
  --seed S                random seed (default 0): same seed, same file
  --backend NAME          model plugin (default transformer)
  --threads N             worker threads (default 2)
]]

function rlaif._commands.label(args)
  local opts = rlaif._cli_parse(args, {model = "string", prompts = "string", constitution = "string", out = "string",
      labeler_model = "string", mode = "string", n = "integer", limit = "integer", max_new_tokens = "integer",
      temperature = "number", seed = "integer", backend = "string", threads = "integer"},
    {["-n"] = "n", ["-t"] = "temperature", ["-o"] = "out"}, label_help)
  if not opts then return 0 end
  for _, k in ipairs({"model", "prompts", "constitution", "out"}) do
    if not opts[k] then usage("--" .. k .. " is required\n" .. label_help) end
  end
  local prompts = read_prompts(opts.prompts, opts.limit)
  local policy <close> = open_model(opts.model, opts)
  local judge <close> = opts.labeler_model and open_model(opts.labeler_model, opts) or nil
  local labeler <close> = rlaif.labeler{plugin = "llm", model = judge or policy, constitution = opts.constitution,
    mode = opts.mode}
  local rows = rlaif.label{policy = policy, labeler = labeler, prompts = prompts, out = opts.out, seed = opts.seed,
    pairs_per_prompt = opts.n, generation = {max_new_tokens = opts.max_new_tokens or 64,
    temperature = opts.temperature or 1.0}}
  local mean = 0
  for _, r in ipairs(rows) do mean = mean + math.abs(r.p_a - 0.5) end
  print(string.format("%d pairs from %d prompts written to %s (mean |p_a - 0.5| = %.3f, position bias %.3f)",
    #rows, #prompts, opts.out, #rows > 0 and mean / #rows or 0, labeler:stats().position_bias or 0))
  return 0
end
