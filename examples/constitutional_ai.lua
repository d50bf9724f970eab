-- examples/constitutional_ai.lua — Constitutional AI (Bai et al.): a supervised
-- phase on revised responses, then RL from AI-labelled preferences.
--
--   build/rlaif run examples/constitutional_ai.lua [CONSTITUTION] [DPO_STEPS] [K]
--                   [SFT_LR] [DPO_LR] [PAIRS_PER_PROMPT] [BETA] [ROUNDS]
--
-- CONSTITUTION is a name under constitutions/ or a path (default "stories").
--
-- SL-CAI: for each prompt, sample a response and revise it under principles
-- drawn from the constitution.  With an instruction-following labeler model
-- (an "instruct" constitution such as harmless.json on a chat model) this is
-- the paper's critique -> revision chain (labeler:revise).  A base model such
-- as stories260K cannot follow a critique request, so for probe-mode
-- constitutions the revision is the best of k fresh samples under the
-- constitution's direct score (through reward/judge) — rejection sampling,
-- the base-model stand-in for a revision.  The policy is fine-tuned (SFT) on
-- (prompt, revision), ROUNDS revisions per prompt.
-- RL-CAI: the SFT policy samples pairs of responses per prompt, the labeler
-- answers the comparison question of a principle drawn per pair (both orders
-- averaged, soft labels), and DPO with those soft labels trains the policy
-- (its reference is the SL-CAI model).
-- Evaluation: the AI score (labeler:score through reward/judge) on the 24
-- held-out prompts x 8 samples at temperature 1, same seeds at each stage;
-- KL is to the starting model; "±" is the standard error of the mean.
--
-- Measured outcome (defaults: "stories", best of 8, 1 round, SFT 2 epochs at
-- lr 1e-4, 4 labelled pairs per prompt = 384 pairs, DPO 48 steps of 16 pairs
-- at lr 1e-4, beta 0.3; 2-core machine shared with other jobs, 13 s wall):
--   start       AI score 0.440 ± 0.049
--   SL-CAI      best of 8 on the training prompts: chosen 0.530, all 0.171;
--               held-out AI score 0.437 ± 0.050 (no gain), KL 3.0
--   RL-CAI/DPO  held-out AI score 0.472 ± 0.047 (+0.035, under one standard
--               error), KL 6.4, distinct-2 0.684 -> 0.775
-- Honest reading: the selection works on the prompts it selects for, but
-- fine-tuning on 96 selected stories does not carry over to new prompts;
-- 4 rounds (384 stories) gave 0.450 at KL 7.6.  DPO on the AI labels moves
-- the held-out score a little; at lr 2e-4 and best of 16 it reached 0.512,
-- at KL 12.9.  With stories260K as its own judge the AI-labelled phase is the
-- useful one; SL-CAI needs a model that can actually revise.
local constitution = arg[1] or "stories"
local steps = tonumber(arg[2]) or 48       -- DPO steps
local k = tonumber(arg[3]) or 8            -- samples per prompt for best-of-k
local sft_lr = tonumber(arg[4]) or 1e-4
local dpo_lr = tonumber(arg[5]) or 1e-4
local pairs_per_prompt = tonumber(arg[6]) or 4
local beta = tonumber(arg[7]) or 0.3
local rounds = tonumber(arg[8]) or 1       -- SL-CAI revisions per prompt
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
    generation = {max_new_tokens = 40, temperature = 1.0}, seed = 3, samples_per_prompt = 8}
  print(string.format("%s: AI score %.3f ± %.3f  KL %.3f  distinct-2 %.3f", label, res.reward_mean,
    res.reward_std / math.sqrt(res.n), res.kl or 0, res.distinct_2))
  return res
end
local before = evaluate("start")

-- SL-CAI
local revised = {}
local chosen_sum, all_sum, n_all = 0, 0, 0 -- what the best-of-k selection buys on the training prompts
local t0 = rlaif.clock()
for round = 1, rounds do
  local outs = policy:generate(prompts, {n = k, max_new_tokens = 40, temperature = 1.0, seed = 20 + round})
  for i, prompt in ipairs(prompts) do
    local first = outs[(i - 1) * k + 1].text
    local ok, chain = pcall(labeler.revise, labeler, prompt, first, 2, {seed = i})
    if ok then
      revised[#revised + 1] = {prompt = prompt, response = chain[#chain].revision}
    else
      -- probe-mode constitution: the best of k samples under the direct
      -- score, read through reward/judge (the principle is drawn from the
      -- prompt, so the k candidates are judged by the same principle)
      local ps, texts = {}, {}
      for j = 1, k do ps[j], texts[j] = prompt, outs[(i - 1) * k + j].text end
      local scores = judge:score(ps, texts)
      local best, best_score = first, -math.huge
      for j = 1, k do
        if scores[j] > best_score then best, best_score = texts[j], scores[j] end
        all_sum, n_all = all_sum + scores[j], n_all + 1
      end
      chosen_sum = chosen_sum + best_score
      revised[#revised + 1] = {prompt = prompt, response = best}
    end
  end
end
if n_all > 0 then
  print(string.format("SL-CAI: best of %d on the training prompts: AI score of the chosen %.3f, of all samples %.3f",
    k, chosen_sum / (#prompts * rounds), all_sum / n_all))
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
