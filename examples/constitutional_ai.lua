-- examples/constitutional_ai.lua — Constitutional AI (Bai et al.): a supervised
-- phase on revised responses, then RL from AI-labelled preferences.
--
--   build/rlaif run examples/constitutional_ai.lua [CONSTITUTION] [DPO_STEPS] [K]
--                   [SFT_LR] [DPO_LR] [PAIRS_PER_PROMPT] [BETA]
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
-- RL-CAI: the SFT policy samples pairs of responses per prompt, the labeler
-- answers the comparison question of a principle drawn per pair (both orders
-- averaged, soft labels), and DPO with those soft labels trains the policy
-- (its reference is the SL-CAI model).
-- Evaluation: the AI score (labeler:score through reward/judge) on the 24
-- held-out prompts x 4 samples at temperature 1, same seeds at each stage;
-- KL is to the starting model; "±" is the standard error of the mean.
--
-- Measured outcome (defaults: "stories", best of 8, SFT 2 epochs at lr 1e-4,
-- 4 labelled pairs per prompt = 384 pairs, DPO 48 steps of 16 pairs at lr
-- 1e-4, beta 0.3; 2-core machine shared with other jobs, 38 s wall):
--   start       AI score 0.135 ± 0.071
--   SL-CAI      AI score 0.264 ± 0.069, KL 2.4, distinct-2 0.766 -> 0.823
--   RL-CAI/DPO  AI score 0.432 ± 0.060, KL 6.2, distinct-2 0.813
-- Both phases raise the score.  Caveats: SL-CAI here picks the best of 8
-- under the very score that is then measured, so its gain is what that
-- selection buys, not a revision's; DPO with beta 0.1 gave 0.335 at KL 8.0,
-- and at lr 5e-5 only 0.284 (within one standard error of SL-CAI) at KL 4.7.
local constitution = arg[1] or "stories"
local steps = tonumber(arg[2]) or 48       -- DPO steps
local k = tonumber(arg[3]) or 8            -- samples per prompt for best-of-k
local sft_lr = tonumber(arg[4]) or 1e-4
local dpo_lr = tonumber(arg[5]) or 1e-4
local pairs_per_prompt = tonumber(arg[6]) or 4
local beta = tonumber(arg[7]) or 0.3
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
    generation = {max_new_tokens = 40, temperature = 1.0}, seed = 3, samples_per_prompt = 4}
  print(string.format("%s: AI score %.3f ± %.3f  KL %.3f  distinct-2 %.3f", label, res.reward_mean,
    res.reward_std / math.sqrt(res.n), res.kl or 0, res.distinct_2))
  return res
end
local before = evaluate("start")

-- SL-CAI
local revised = {}
local t0 = rlaif.clock()
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
  config = {lr = sft_lr, max_grad_norm = 1}})
print(string.format("SL-CAI: SFT on %d revisions, loss %.3f -> %.3f (%.0f s)", #revised, sft[1].loss,
  sft[#sft].loss, rlaif.clock() - t0))
local mid = evaluate("after SL-CAI")

-- RL-CAI with DPO on AI-labelled soft preferences.
t0 = rlaif.clock()
local pairs_out = policy:generate(prompts, {n = 2 * pairs_per_prompt, max_new_tokens = 40, temperature = 1.0, seed = 31})
local items = {}
for i = 1, #pairs_out, 2 do
  items[#items + 1] = {prompt = prompts[pairs_out[i].prompt_index], a = pairs_out[i].text, b = pairs_out[i + 1].text}
end
local labels = labeler:compare_batch(items, {seed = 9})
local rows = {}
for i, it in ipairs(items) do rows[i] = {prompt = it.prompt, a = it.a, b = it.b, p_a = labels[i].p_a} end
local dpo = rlaif.train("dpo", policy, rows, {steps = steps, batch_size = 16, seed = 2,
  config = {lr = dpo_lr, beta = beta, max_grad_norm = 1}})
print(string.format("RL-CAI: DPO on %d labelled pairs, %d steps, loss %.3f -> %.3f, last-batch accuracy %.3f (%.0f s)",
  #rows, #dpo, dpo[1].loss, dpo[#dpo].loss, dpo[#dpo].accuracy or 0, rlaif.clock() - t0))
local after = evaluate("after RL-CAI")
print(string.format("AI score %.3f -> %.3f -> %.3f (start -> SL -> RL), KL %.3f", before.reward_mean,
  mid.reward_mean, after.reward_mean, after.kl or 0))
