-- examples/rlaif_reward_model.lua — the canonical RLAIF pipeline (Lee et al.):
-- AI-labelled preference pairs -> a reward model on soft labels -> PPO against it.
--
--   build/rlaif run examples/rlaif_reward_model.lua [PAIRS] [STEPS] [RM_EPOCHS] [RM_LR] [KL_COEF]
--
-- 1. Sample two stories per prompt from stories260K and let the AI labeler
--    (the same checkpoint, frozen, "stories" constitution, a principle drawn
--    per pair, both presentation orders averaged) give a soft preference
--    p(a ≻ b).  Training pairs come from the training prompts; the reward
--    model's test pairs from the held-out prompts (never trained on).
-- 2. Train a reward model — stories260K with a scalar score head — on those
--    soft labels: L = -[p·log σ(r_a - r_b) + (1-p)·log σ(r_b - r_a)].
--    Accuracy = how often it ranks a held-out pair the way the labeler does.
-- 3. PPO against the reward model (reward/preference, with gain and bias
--    that bring the starting policy's scores to mean 0, std 1) with a KL
--    penalty, evaluated on held-out prompts under the reward model and,
--    independently, under the AI judge (the labeler's direct score): the
--    judge tells whether raising the reward model's score is what the
--    labeler wanted, or reward hacking.
--
-- Measured outcome (defaults: 768 training pairs, reward model 2 epochs = 96
-- steps at lr 3e-4, PPO 40 steps x 32 prompts at lr 1e-4 with KL coefficient
-- 0.2; 2-core machine shared with other jobs, 29-60 s wall):
--   labels        596 of 768 pairs with |p - 0.5| > 0.1
--   reward model  held-out pairwise accuracy 0.719 on 96 pairs from held-out
--                 prompts (chance 0.5; standard error about 0.046); during
--                 training it moved between 0.56 and 0.80
--   PPO           held-out (24 prompts x 8 samples) reward-model score
--                 0.128 -> 1.023 (in units of the starting policy's score
--                 std), and the independent AI judge agrees: 0.440 ± 0.049
--                 -> 0.547 ± 0.045; KL to the start 3.3
-- With KL coefficient 0.05 PPO went further on the reward model, at KL 11.2.
-- Caveat: the reward model and the judge share their origin (the labeler is
-- the starting checkpoint), so the judge's agreement shows the reward model
-- learnt the labeler's preference, not that stories are better by any
-- outside standard.
local n_pairs = tonumber(arg[1]) or 768
local steps = tonumber(arg[2]) or 40
local rm_epochs = tonumber(arg[3]) or 2
local rm_lr = tonumber(arg[4]) or 3e-4
local kl_coef = tonumber(arg[5]) or 0.2
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local runs = os.getenv("RLAIF_RUNS_DIR") or (here .. "/runs")
local model_path = here .. "/models/stories260K/stories260K.bin"
local data = here .. "/examples/data/"
local prompts = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_train.jsonl"), "prompt")
local heldout = rlaif.data.column(rlaif.data.read_jsonl(data .. "story_prompts_heldout.jsonl"), "prompt")
rlaif.fs.mkdir(runs)

local base = rlaif.model{path = model_path, threads = 2}
local labeler = rlaif.labeler{plugin = "llm", model = base, constitution = "stories"}

-- 1. Label pairs: `per_prompt` pairs of fresh samples per prompt.
local function label_pairs(list, per_prompt, seed)
  local outs = base:generate(list, {n = 2 * per_prompt, max_new_tokens = 40, temperature = 1.0, seed = seed})
  local items = {}
  for i = 1, #outs, 2 do
    items[#items + 1] = {prompt = list[outs[i].prompt_index], a = outs[i].text, b = outs[i + 1].text}
  end
  local labels = labeler:compare_batch(items, {seed = seed})
  local rows = {}
  for i, it in ipairs(items) do rows[i] = {prompt = it.prompt, a = it.a, b = it.b, p_a = labels[i].p_a} end
  return rows
end
local t0 = rlaif.clock()
local train_rows = label_pairs(prompts, math.max(1, n_pairs // #prompts), 11)
local test_rows = label_pairs(heldout, 4, 12)
rlaif.data.write_jsonl(runs .. "/rlaif_pairs.jsonl", train_rows)
local confident = 0
for _, r in ipairs(train_rows) do if math.abs(r.p_a - 0.5) > 0.1 then confident = confident + 1 end end
print(string.format("labelled %d training pairs (%d with |p - 0.5| > 0.1) and %d held-out pairs in %.0f s",
  #train_rows, confident, #test_rows, rlaif.clock() - t0))

-- 2. Reward model on soft labels.
local rm = rlaif.model{path = model_path, threads = 2, score_head = true}
t0 = rlaif.clock()
local hist = rlaif.train("reward_model", rm, train_rows, {epochs = rm_epochs, batch_size = 16, seed = 1,
  eval_rows = test_rows, eval_every = 8, config = {lr = rm_lr, max_grad_norm = 1, center_coef = 0.01},
  on_step = function(step, stats)
    if stats.eval_accuracy then
      print(string.format("reward model step %3d: train loss %.3f  held-out loss %.3f  accuracy %.3f", step,
        stats.loss, stats.eval_loss, stats.eval_accuracy))
    end
  end})
local last = hist[#hist]
print(string.format("reward model: %d steps in %.0f s, held-out pairwise accuracy %.3f (chance 0.5, %d pairs)",
  #hist, rlaif.clock() - t0, last.eval_accuracy or 0, #test_rows))

-- 3. PPO against it.  Gain and bias from the starting policy's scores.
local policy = rlaif.model{path = model_path, threads = 2, value_head = true}
local reference = policy:reference()
local raw = rlaif.reward{plugin = "preference", model = rm}
local calib = {}
for i, o in ipairs(policy:generate(prompts, {n = 2, max_new_tokens = 40, temperature = 1.0, seed = 13})) do
  calib[i] = o.text
end
local cal_prompts = {}
for i = 1, #calib do cal_prompts[i] = prompts[(i + 1) // 2] end
local mean, std = rlaif.mean_std((raw:score(cal_prompts, calib)))
local preference = rlaif.reward{plugin = "preference", model = rm, gain = 1 / math.max(std, 1e-6), bias = -mean / math.max(std, 1e-6)}
local both = rlaif.compose{{preference, name = "reward_model"},
                           {rlaif.reward{plugin = "judge", labeler = labeler}, name = "ai_judge"}}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = heldout, reward = both,
    generation = {max_new_tokens = 40, temperature = 1.0}, seed = 3, samples_per_prompt = 8}
  print(string.format("%s: reward model %.3f  AI judge %.3f  KL %.3f  (%d held-out samples)", label,
    res.reward_reward_model, res.reward_ai_judge, res.kl or 0, res.n))
  return res
end
local before = evaluate("before PPO")
local run = rlaif.run{dir = runs .. "/rlaif_reward_model", config = {pairs = #train_rows, steps = steps}}
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = preference, prompts = prompts,
  config = {lr = 1e-4, epochs = 2, minibatch_size = 16, kl_coef = kl_coef, max_grad_norm = 1},
  steps = steps, batch_size = 32, generation = {max_new_tokens = 40, temperature = 1.0}, seed = 4,
  run = run, checkpoint_every = 20}
local after = evaluate("after PPO")
run:close()
print(string.format("held-out reward model score %.3f -> %.3f; AI judge %.3f -> %.3f; KL %.3f", before.reward_reward_model,
  after.reward_reward_model, before.reward_ai_judge, after.reward_ai_judge, after.kl or 0))
