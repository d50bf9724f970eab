-- examples/constitutional_ai.lua — Constitutional AI (Bai et al.): a supervised
-- phase on revised responses, then RL from AI-labelled preferences.
--
--   build/rlaif run examples/constitutional_ai.lua [CONSTITUTION] [STEPS]
--
-- CONSTITUTION is a name under constitutions/ or a path (default "stories").
--
-- SL-CAI: for each prompt, sample a response and revise it under principles
-- drawn from the constitution.  With an instruction-following labeler model
-- (an "instruct" constitution such as harmless.json on a chat model) this is
-- the paper's critique -> revision chain (labeler:revise).  A base model such
-- as stories260K cannot follow a critique request, so for probe-mode
-- constitutions the revision is the best of k fresh samples under the
-- constitution's direct score (labeler:score) — rejection sampling, the
-- base-model stand-in for a revision.  The policy is fine-tuned (SFT) on
-- (prompt, revision).
-- RL-CAI: the SFT policy samples two responses per prompt, the labeler answers
-- the comparison question of a principle drawn per pair (both orders
-- averaged, soft labels), and DPO with those soft labels trains the policy.
--
-- Measured outcome: printed at the end; reference figures in docs/examples.md.
local constitution = arg[1] or "stories"
local steps = tonumber(arg[2]) or 20
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local model_path = here .. "/models/stories260K/stories260K.bin"
local data = here .. "/examples/data/"
local prompts = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_train.jsonl"), "prompt")
local heldout = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_heldout.jsonl"), "prompt")

local policy = rlaif.model{path = model_path, threads = 2}
local frozen = policy:reference()
local labeler = rlaif.labeler{plugin = "llm", model = frozen, constitution = constitution}
local judge = rlaif.reward{plugin = "judge", labeler = labeler}
local gen = {max_new_tokens = 40, temperature = 1.0}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = frozen, prompts = heldout, reward = judge,
    generation = {max_new_tokens = 40, temperature = 0.7}, seed = 3}
  print(string.format("%s: AI score %.3f  KL %.3f  distinct-2 %.3f", label, res.reward_mean, res.kl or 0, res.distinct_2))
  return res
end
local before = evaluate("start")

-- SL-CAI
local revised = {}
local k = 4
local outs = policy:generate(prompts, {n = k, max_new_tokens = 40, temperature = 1.0, seed = 21})
for i, prompt in ipairs(prompts) do
  local first = outs[(i - 1) * k + 1].text
  local ok, chain = pcall(labeler.revise, labeler, prompt, first, 2, {seed = i})
  if ok then
    revised[i] = {prompt = prompt, response = chain[#chain].revision}
  else
    -- probe-mode constitution: the best of k samples under the labeler's score
    local best, best_score = first, -math.huge
    for j = 1, k do
      local text = outs[(i - 1) * k + j].text
      local s = labeler:score(prompt, text, {seed = i}).score
      if s > best_score then best, best_score = text, s end
    end
    revised[i] = {prompt = prompt, response = best}
  end
end
local sft = rlaif.train("sft", policy, revised, {epochs = 2, batch_size = 16, seed = 1,
  config = {lr = 5e-4, max_grad_norm = 1}})
print(string.format("SL-CAI: SFT on %d revisions, loss %.3f -> %.3f", #revised, sft[1].loss, sft[#sft].loss))
local mid = evaluate("after SL-CAI")

-- RL-CAI with DPO on AI-labelled soft preferences.
local pairs_out = policy:generate(prompts, {n = 2, max_new_tokens = 40, temperature = 1.0, seed = 31})
local items = {}
for i = 1, #pairs_out, 2 do
  items[#items + 1] = {prompt = prompts[pairs_out[i].prompt_index], a = pairs_out[i].text, b = pairs_out[i + 1].text}
end
local labels = labeler:compare_batch(items, {seed = 9})
local rows = {}
for i, it in ipairs(items) do rows[i] = {prompt = it.prompt, a = it.a, b = it.b, p_a = labels[i].p_a} end
local dpo = rlaif.train("dpo", policy, rows, {steps = steps, batch_size = 16, seed = 2,
  config = {lr = 3e-4, beta = 0.1, max_grad_norm = 1}})
print(string.format("RL-CAI: DPO on %d labelled pairs, loss %.3f -> %.3f", #rows, dpo[1].loss, dpo[#dpo].loss))
local after = evaluate("after RL-CAI")
print(string.format("AI score %.3f -> %.3f -> %.3f (start -> SL -> RL), KL %.3f", before.reward_mean,
  mid.reward_mean, after.reward_mean, after.kl or 0))
