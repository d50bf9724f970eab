-- examples/d_rlaif.lua — direct RLAIF (d-RLAIF): the labeler's score is the reward.
--
--   build/rlaif run examples/d_rlaif.lua [STEPS]
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
-- Measured outcome: printed at the end; reference figures in docs/examples.md.
local steps = tonumber(arg[1]) or 30
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
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
    generation = {max_new_tokens = 40, temperature = 0.7}, seed = 3}
  print(string.format("%s: AI score %.3f  KL %.3f  distinct-2 %.3f", label, res.reward_mean, res.kl or 0, res.distinct_2))
  return res
end
local before = evaluate("before")
local run = rlaif.run{dir = here .. "/runs/d_rlaif", config = {steps = steps, algorithm = "rloo"}}
rlaif.rl{policy = policy, reference = reference, algorithm = "rloo", reward = judge, prompts = prompts,
  config = {lr = 3e-4, kl_coef = 0.05, max_grad_norm = 1}, steps = steps, batch_size = 8,
  samples_per_prompt = 4, generation = gen, seed = 2, run = run, checkpoint_every = 10}
local after = evaluate("after")
print(string.format("held-out AI score %.3f -> %.3f, KL %.3f", before.reward_mean, after.reward_mean, after.kl or 0))
print("after: " .. heldout[1] .. after.samples[1].response)
run:close()
