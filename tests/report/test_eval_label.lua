-- `rlaif eval`, `rlaif label`, rlaif.eval, rlaif.label and rlaif.cai.revise on
-- the real stories260K model with the `stories` constitution (probe mode),
-- short generations.  arg[1] is the rlaif binary.
local exe = assert(arg[1], "usage: test_eval_label.lua RLAIF_EXE")
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local model_path = src .. "/models/stories260K/stories260K.bin"
local prompts_file = src .. "/tests/report/data/prompts.jsonl"
local prompts = rlaif.data.column(rlaif.data.read_jsonl(prompts_file), "prompt")
local principles = {happy_ending = true, warmth = true, kindness = true, good_day = true, friendship = true}

local tmp = os.tmpname()
os.remove(tmp)
assert(rlaif.fs.mkdir(tmp))

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function rlaif_cli(args)
  local ok, how, code = os.execute(q(exe) .. " " .. args .. " >" .. q(tmp .. "/stdout") .. " 2>" .. q(tmp .. "/stderr"))
  local out = io.open(tmp .. "/stdout"):read("a")
  local err = io.open(tmp .. "/stderr"):read("a")
  return ok and 0 or code, out, err
end
local function slurp(path) local f = assert(io.open(path, "rb")); local t = f:read("a"); f:close(); return t end
local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-9) end

------------------------------------------------------------------------------
-- rlaif eval: a model against itself is a tie in every respect.
local eval_args = "eval --policy " .. q(model_path) .. " --baseline " .. q(model_path) .. " --prompts " ..
  q(prompts_file) .. " --reward sentiment --reward length --constitution stories --max-new-tokens 16 --seed 7"
local rc, out, err = rlaif_cli(eval_args .. " --out " .. q(tmp .. "/e1.json"))
assert(rc == 0, "rlaif eval failed: " .. err)
assert(out:find("win rate of the policy over the baseline: 0.5000", 1, true), out)
assert(out:find("reward_sentiment", 1, true) and out:find("distinct_2", 1, true), "the table")
local e = assert(rlaif.json.decode(slurp(tmp .. "/e1.json")))
assert(e.win_rate == 0.5 and e.pairs == 4 and e.policy_wins == 0 and e.baseline_wins == 0, "a tie")
assert(e.policy.kl == 0, "KL of a model to itself is 0, got " .. tostring(e.policy.kl))
for _, k in ipairs({"reward_mean", "reward_sentiment", "reward_length", "distinct_1", "distinct_2", "n"}) do
  assert(type(e.policy[k]) == "number" and e.policy[k] == e.baseline[k], k .. " equal for equal models")
end
assert(e.policy.distinct_1 > 0 and e.policy.distinct_1 <= 1 and e.policy.n == 4)
assert(e.config.seed == 7 and e.config.n_prompts == 4 and e.config.constitution == "stories")
assert(#e.samples == 4 and e.samples[1].prompt == prompts[1] and e.samples[1].p_policy == 0.5)
assert(principles[e.samples[1].principle], "a principle of the constitution")
-- same seed, same bytes; another seed, other samples
rc, out, err = rlaif_cli(eval_args .. " --out " .. q(tmp .. "/e2.json"))
assert(rc == 0 and slurp(tmp .. "/e1.json") == slurp(tmp .. "/e2.json"), "eval is not reproducible")
rc, out, err = rlaif_cli(eval_args:gsub("%-%-seed 7", "--seed 8") .. " --out " .. q(tmp .. "/e3.json"))
assert(rc == 0)
local e3 = rlaif.json.decode(slurp(tmp .. "/e3.json"))
assert(e3.samples[1].policy ~= e.samples[1].policy, "the seed changes the samples")
-- -n: samples per prompt, each judged
rc, out, err = rlaif_cli(eval_args .. " -n 2 --limit 3 --out " .. q(tmp .. "/e4.json"))
assert(rc == 0, err)
local e4 = rlaif.json.decode(slurp(tmp .. "/e4.json"))
assert(e4.pairs == 6 and e4.policy.n == 6 and e4.samples[2].prompt == prompts[1] and e4.samples[3].prompt == prompts[2])
-- eval.json in a run directory shows in its report
local run_dir = tmp .. "/run"
dofile(src .. "/tests/report/synthetic_run.lua")(run_dir, {steps = 10, eval_every = 5})
assert(os.rename(tmp .. "/e1.json", run_dir .. "/eval.json"))
rc, out, err = rlaif_cli("report " .. q(run_dir))
assert(rc == 0 and out:find("report: " .. run_dir .. "/report.html", 1, true), out .. err)
local page = slurp(run_dir .. "/report.html")
assert(page:find("Win rate of the policy over the baseline: <b>0.5</b> (4 pairs", 1, true), "eval.json in the report")
assert(page:find("<th>reward_sentiment</th>", 1, true))
-- usage errors exit 2 and name the problem
rc, out, err = rlaif_cli("eval --policy " .. q(model_path))
assert(rc == 2 and err:find("--baseline is required", 1, true), err)
rc, out, err = rlaif_cli("eval --policy x --baseline y --prompts " .. q(prompts_file) .. " --labeler-model z")
assert(rc == 2 and err:find("needs --constitution", 1, true), err)

------------------------------------------------------------------------------
-- rlaif generate --model-config: more model keys (here mixed precision), and
-- clear usage errors for what is not a JSON object or repeats an option.
local gen_args = "generate --model " .. q(model_path) .. " --prompt 'Lily was' -t 0 --max-new-tokens 12"
rc, out, err = rlaif_cli(gen_args)
assert(rc == 0 and #out > 10, err)
local f32_text = out
rc, out, err = rlaif_cli(gen_args .. " --model-config " .. q('{"matmul": "bf16", "decode_bf16": true}'))
assert(rc == 0 and out:sub(1, 8) == "Lily was", err)
-- greedy text under bf16 may differ from f32 in a late token, never in the prompt
assert(#out > 10 and f32_text:sub(1, 8) == out:sub(1, 8))
rc, out, err = rlaif_cli(gen_args .. " --model-config " .. q("[1]"))
assert(rc == 2 and err:find("--model-config: expected a JSON object", 1, true), err)
rc, out, err = rlaif_cli(gen_args .. " --model-config " .. q('{"threads": 1}'))
assert(rc == 2 and err:find("'threads' is set by its own option", 1, true), err)
rc, out, err = rlaif_cli(gen_args .. " --model-config " .. q('{"matmul": "fp8"}'))
assert(rc ~= 0 and err:find("matmul", 1, true), err)

------------------------------------------------------------------------------
-- rlaif.eval against a different model: the numbers are those of
-- rlaif.evaluate and of the labeler, and swapping the two complements the win rate.
local stories = rlaif.model{path = model_path}
local bigram = rlaif.model{backend = "bigram", seed = 1}
local judge = rlaif.labeler{plugin = "llm", model = stories, constitution = "stories"}
local sentiment = rlaif.reward{plugin = "sentiment"}
local gen = {max_new_tokens = 16, temperature = 1.0}
local r = rlaif.eval{policy = stories, baseline = bigram, reference = false, prompts = prompts,
  rewards = {sentiment}, labeler = judge, generation = gen, seed = 3}
local direct = rlaif.evaluate{policy = stories, prompts = prompts, reward = rlaif.compose({sentiment}),
  generation = gen, seed = 3}
assert(r.policy.reward_mean == direct.reward_mean and r.policy.distinct_2 == direct.distinct_2)
assert(r.policy.kl == nil, "reference = false: no KL")
assert(r.samples[1].policy ~= r.samples[1].baseline)
local again = judge:compare(r.samples[2].prompt, r.samples[2].policy, r.samples[2].baseline, {seed = 3 + 1})
assert(close(again.p_a, r.samples[2].p_policy, 1e-5), "win rate entries are the labeler's p(policy > baseline)")
local s = rlaif.eval{policy = bigram, baseline = stories, reference = false, prompts = prompts,
  rewards = {sentiment}, labeler = judge, generation = gen, seed = 3}
for i = 1, #prompts do
  assert(s.samples[i].p_policy == 1 - r.samples[i].p_policy, "swapped pair: exact complement")
end
assert(close(s.win_rate, 1 - r.win_rate, 1e-12) and s.policy_wins == r.baseline_wins)
assert(s.policy.reward_mean == r.baseline.reward_mean)

------------------------------------------------------------------------------
-- rlaif label and rlaif.label: preference rows, reproducible, and equal.
local label_args = "label --model " .. q(model_path) .. " --prompts " .. q(prompts_file) ..
  " --constitution stories --max-new-tokens 16 -n 2 --seed 5 --out "
rc, out, err = rlaif_cli(label_args .. q(tmp .. "/p1.jsonl"))
assert(rc == 0, err)
assert(out:find("8 pairs from 4 prompts", 1, true), out)
rc, out, err = rlaif_cli(label_args .. q(tmp .. "/p2.jsonl"))
assert(rc == 0 and slurp(tmp .. "/p1.jsonl") == slurp(tmp .. "/p2.jsonl"), "label is not reproducible")
local rows = rlaif.data.read_jsonl(tmp .. "/p1.jsonl", {require = {"prompt", "a", "b", "p_a", "p_a_first",
  "p_a_second", "principle"}})
assert(#rows == 8, "2 pairs for each of 4 prompts")
local first_line = slurp(tmp .. "/p1.jsonl"):match("^[^\n]*")
assert(first_line:match('^{"prompt":.*,"a":.*,"b":.*,"p_a":.*,"p_a_first":.*,"p_a_second":.*,"principle":.*,"rationale":null}$'),
  "fields in the documented order")
local differ = 0
for i, row in ipairs(rows) do
  assert(row.prompt == prompts[(i + 1) // 2], "prompts in file order, two rows each")
  assert(row.p_a > 0 and row.p_a < 1 and principles[row.principle])
  assert(row.p_a_first == row.p_a_second, "probe mode reads no presentation order")
  if row.a ~= row.b then differ = differ + 1 end
  -- the label is the labeler's own answer for that pair and seed
  local c = judge:compare(row.prompt, row.a, row.b, {seed = 5 + i - 1})
  assert(close(c.p_a, row.p_a, 1e-5) and c.principle == row.principle)
end
assert(differ == 8, "two different samples per pair")
-- the Lua function writes the same file as the command
local lua_rows = rlaif.label{policy = stories, labeler = judge, prompts = prompts, out = tmp .. "/p3.jsonl",
  seed = 5, pairs_per_prompt = 2, generation = gen}
assert(#lua_rows == 8 and slurp(tmp .. "/p3.jsonl") == slurp(tmp .. "/p1.jsonl"), "rlaif.label == rlaif label")
rc, out, err = rlaif_cli("label --model " .. q(model_path) .. " --prompts " .. q(prompts_file) .. " --out x")
assert(rc == 2 and err:find("--constitution is required", 1, true), err)

------------------------------------------------------------------------------
-- rlaif.cai.revise: critique and revision chains, final revision as the response.
-- stories260K cannot follow a critique request, so the texts carry no meaning;
-- what is checked is the chain, its fields and its reproducibility.
local reviser = rlaif.labeler{plugin = "llm", model = stories, constitution = "stories", mode = "instruct",
  max_new_tokens = 16}
local function revise(out)
  return rlaif.cai.revise{policy = stories, labeler = reviser, prompts = {prompts[1], prompts[2]}, rounds = 2,
    out = out, seed = 11, generation = gen}
end
local crows = revise(tmp .. "/c1.jsonl")
revise(tmp .. "/c2.jsonl")
assert(slurp(tmp .. "/c1.jsonl") == slurp(tmp .. "/c2.jsonl"), "revise is not reproducible")
local initial = stories:generate({prompts[1], prompts[2]}, {n = 1, seed = 11, max_new_tokens = 16, temperature = 1.0})
local file_rows = rlaif.data.read_jsonl(tmp .. "/c1.jsonl", {require = {"prompt", "response", "initial", "critiques"}})
assert(#file_rows == 2)
for i, row in ipairs(file_rows) do
  assert(row.prompt == prompts[i] and row.initial == initial[i].text, "the policy's sample is revised")
  assert(#row.critiques == 2, "one entry per round")
  for _, c in ipairs(row.critiques) do
    assert(principles[c.principle] and type(c.critique) == "string" and type(c.revision) == "string")
  end
  assert(row.response == row.critiques[2].revision, "the response is the last revision")
  assert(crows[i].response == row.response)
end
-- probe mode cannot revise: a clear error
local ok, perr = pcall(rlaif.cai.revise, {policy = stories, labeler = judge, prompts = {prompts[1]}, generation = gen})
assert(not ok and tostring(perr):find("revise"), tostring(perr))

rlaif.fs.remove_tree(tmp)
print("eval-label: ok")
