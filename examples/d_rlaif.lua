-- examples/d_rlaif.lua — direct RLAIF (d-RLAIF): the labeler's score is the reward.
--
--   build/rlaif run examples/d_rlaif.lua [STEPS] [LR] [KL_COEF]
--
-- No preference pairs and no reward model: during RL every sampled story is
-- scored directly by an AI labeler (Lee et al., "RLAIF vs. RLHF", d-RLAIF).
-- Here the labeler is stories260K itself, frozen, under the "stories"
-- constitution; in probe mode its score is 2σ(margin) − 1 where the margin is
-- how much more likely the story continues happily than sadly.  `reward/judge`
-- caches repeated scores.  The optimizer is RLOO (k samples per prompt,
-- leave-one-out baseline, sequence KL in the reward) to show a second online
-- algorithm; swap in "ppo" or "grpo" by changing one string.
--
-- Evaluation: the 24 held-out prompts x 8 samples at temperature 1 (so the
-- KL is a Monte-Carlo estimate of the KL to the starting model), same seeds
-- before and after; "±" is the standard error of the mean.
--
-- Measured outcome (defaults: RLOO, 80 steps x 8 prompts x 4 samples, lr 2e-4,
-- KL coefficient 0.05; 2-core machine shared with other jobs, 22 s wall):
-- held-out AI score 0.440 ± 0.049 -> 0.660 ± 0.034, KL to the start 5.6
-- nats per story, distinct-2 0.684 -> 0.633 (somewhat less varied).  On 24 x
-- 4 samples, where the start scores 0.396: lr 2e-4 with KL coefficient 0.1
-- gave 0.515 at KL 2.9, lr 1e-4 with 0.1 gave 0.466 at KL 1.4.  Caveats: the judge is
-- the policy's own starting checkpoint, so this is self-improvement as the
-- judge sees it; the stories are no more coherent than before.
local steps = tonumber(arg[1]) or 80
local lr = tonumber(arg[2]) or 2e-4
local kl_coef = tonumber(arg[3]) or 0.05
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local runs = os.getenv("RLAIF_RUNS_DIR") or (here .. "/runs")
local model_path = here .. "/models/stories260K/stories260K.bin"
local data = here .. "/examples/data/"

local policy = rlaif.model{path = model_path, threads = 2}
local reference = policy:reference()
local labeler = rlaif.labeler{plugin = "llm", model = reference, constitution = "stories"}
local judge = rlaif.reward{plugin = "judge", labeler = labeler}

local prompts = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_train.jsonl"), "prompt")
local heldout = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_heldout.jsonl"), "prompt")
local gen = {max_new_tokens = 40, temperature = 1.0}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = heldout, reward = judge,
    generation = gen, seed = 3, samples_per_prompt = 8}
  print(string.format("%s: AI score %.3f ± %.3f (%d samples)  KL %.3f  distinct-2 %.3f", label, res.reward_mean,
    res.reward_std / math.sqrt(res.n), res.n, res.kl or 0, res.distinct_2))
  return res
end
local before = evaluate("before")
local run = rlaif.run{dir = runs .. "/d_rlaif", config = {steps = steps, algorithm = "rloo", lr = lr, kl_coef = kl_coef}}
rlaif.rl{policy = policy, reference = reference, algorithm = "rloo", reward = judge, prompts = prompts,
  config = {lr = lr, kl_coef = kl_coef, max_grad_norm = 1}, steps = steps, batch_size = 8,
  samples_per_prompt = 4, generation = gen, seed = 2, run = run, checkpoint_every = 10}
local after = evaluate("after")
run:close()
-- The first held-out prompt's first sample, before and after (same seed).
print("before: " .. heldout[1] .. (before.samples[1].response:gsub("%s+", " ")))
print("after:  " .. heldout[1] .. (after.samples[1].response:gsub("%s+", " ")))
print(string.format("held-out AI score %.3f -> %.3f, KL %.3f", before.reward_mean, after.reward_mean, after.kl or 0))
