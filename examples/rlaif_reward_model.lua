-- examples/rlaif_reward_model.lua — the canonical RLAIF pipeline (Lee et al.):
-- AI-labelled preference pairs -> a reward model on soft labels -> PPO against it.
--
--   build/rlaif run examples/rlaif_reward_model.lua [PAIRS] [STEPS]
--
-- 1. Sample two stories per prompt from stories260K and let the AI labeler
--    (the same checkpoint, frozen, "stories" constitution, both presentation
--    orders averaged) give a soft preference p(a ≻ b).
-- 2. Train a reward model — stories260K with a scalar score head — on those
--    soft labels: L = -[p·log σ(r_a - r_b) + (1-p)·log σ(r_b - r_a)], with a
--    held-out split for accuracy.
-- 3. PPO against the reward model (reward/preference) with a KL penalty.
--
-- Measured outcome: printed at the end; reference figures in docs/examples.md.
local n_pairs = tonumber(arg[1]) or 192
local steps = tonumber(arg[2]) or 30
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local model_path = here .. "/models/stories260K/stories260K.bin"
local data = here .. "/examples/data/"
local prompts = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_train.jsonl"), "prompt")
local heldout = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_heldout.jsonl"), "prompt")

local base = rlaif.model{path = model_path, threads = 2}
local labeler = rlaif.labeler{plugin = "llm", model = base, constitution = "stories"}

-- 1. Label pairs.
local rows = {}
local per_prompt = math.max(1, n_pairs // #prompts)
local outs = base:generate(prompts, {n = 2 * per_prompt, max_new_tokens = 40, temperature = 1.0, seed = 11})
local items = {}
for i = 1, #outs, 2 do
  local a, b = outs[i], outs[i + 1]
  items[#items + 1] = {prompt = prompts[a.prompt_index], a = a.text, b = b.text}
end
local labels = labeler:compare_batch(items, {seed = 5})
for i, it in ipairs(items) do
  rows[i] = {prompt = it.prompt, a = it.a, b = it.b, p_a = labels[i].p_a}
end
print(string.format("labelled %d pairs (position bias %.3f)", #rows, labeler:stats().position_bias or 0))
rlaif.data.write_jsonl(here .. "/runs/rlaif_pairs.jsonl", rows)

-- 2. Reward model on soft labels.
local train_rows, test_rows = rlaif.data.split(rows, 0.85, 1)
local rm = rlaif.model{path = model_path, threads = 2, score_head = true}
local hist = rlaif.train("reward_model", rm, train_rows, {epochs = 3, batch_size = 16, seed = 1,
  eval_rows = test_rows, eval_every = 5, config = {lr = 1e-3, max_grad_norm = 1}})
local last = hist[#hist]
print(string.format("reward model: train loss %.3f -> %.3f, held-out accuracy %.3f", hist[1].loss, last.loss,
  last.eval_accuracy or 0))

-- 3. PPO against it.
local policy = rlaif.model{path = model_path, threads = 2, value_head = true}
local reference = policy:reference()
local preference = rlaif.reward{plugin = "preference", model = rm}
-- Held-out evaluation under the reward model and, independently, the AI judge
-- (the labeler's direct score), to see whether the reward model generalises.
local both = rlaif.compose{{preference, name = "reward_model"},
                           {rlaif.reward{plugin = "judge", labeler = labeler}, name = "ai_judge"}}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = heldout, reward = both,
    generation = {max_new_tokens = 40, temperature = 0.7}, seed = 3}
  print(string.format("%s: reward model %.3f  AI judge %.3f  KL %.3f", label, res.reward_reward_model,
    res.reward_ai_judge, res.kl or 0))
  return res
end
local before = evaluate("before PPO")
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = preference, prompts = prompts,
  config = {lr = 3e-4, epochs = 2, minibatch_size = 8, kl_coef = 0.05, max_grad_norm = 1},
  steps = steps, batch_size = 16, generation = {max_new_tokens = 40, temperature = 1.0}, seed = 4}
local after = evaluate("after PPO")
print(string.format("reward model score %.3f -> %.3f; AI judge %.3f -> %.3f", before.reward_reward_model,
  after.reward_reward_model, before.reward_ai_judge, after.reward_ai_judge))
