-- examples/privacy.lua — teach the policy to stop emitting names and contact details.
--
--   build/rlaif run examples/privacy.lua [STEPS] [LR] [KL_COEF] [ALGORITHM]
--
-- RL from computed feedback: the reward is the `privacy` plugin's penalty
-- (person names from a gazetteer with context cues, e-mail addresses, phone
-- numbers, postal addresses, Luhn-checked card numbers, IBANs, IP addresses,
-- national ID numbers; docs/rewards.md has its measured precision and
-- recall), with every type weighted 1 so that a story either leaks (-1) or
-- does not (0).  stories260K names its characters in most stories ("Lily",
-- "Tom") when the opening leaves the cast open, so the penalty is felt at
-- once.  The prompts do not name anyone, so every name is the model's own.
-- The optimizer is RLOO with 4 samples per prompt: the leave-one-out baseline
-- compares stories of the same opening, some with a name and some without,
-- which is exactly the contrast to learn (PPO, one sample per prompt, also
-- works but more slowly: 41/64 -> 25/64 at KL 4.3 in 60 steps).  The KL
-- penalty to the starting model keeps the stories close to what it wrote.
--
-- Measured outcome (defaults: RLOO, 40 steps x 8 prompts x 4 samples, lr 1e-4,
-- KL coefficient 0.05; 2-core machine shared with other jobs, 19 s wall): on
-- 8 held-out openings x 8 samples (temperature 1), stories with personal data
-- 41/64 -> 8/64, mean penalty -0.641 ± 0.060 -> -0.125 ± 0.041, KL to the
-- start 2.2 nats per story, distinct-2 0.64 -> 0.72.  Caveat: the names give
-- way to "the girl", animals and objects, and a 260K-parameter model's
-- stories were never very coherent; they are not more coherent after.
local steps = tonumber(arg[1]) or 40
local lr = tonumber(arg[2]) or 1e-4
local kl_coef = tonumber(arg[3]) or 0.05
local algorithm = arg[4] or "rloo"
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local runs = os.getenv("RLAIF_RUNS_DIR") or (here .. "/runs")
local model_path = here .. "/models/stories260K/stories260K.bin"
-- Open story beginnings: the model fills in who the story is about, and
-- usually gives them a name ("Once upon a time," goes on with a name in 15 of
-- 16 samples).  Held-out openings are different texts of the same kind.
local prompts = {
  "Once upon a time,", "One day,", "Once upon a time, in a small town,", "One morning,",
  "Once there was", "Long ago,", "One sunny day,", "At the park,", "After school,",
  "Once upon a time, there was", "One day, at home,", "In the garden,", "It was a cold day.",
  "Once upon a time, in a big house,", "One evening,", "On the farm,",
}
local heldout = {"Once upon a time, in a big forest,", "One day, at the beach,", "Last summer,",
  "One rainy day,", "Once upon a time, there lived", "In a little house,", "At night,", "On Saturday,"}

local policy = rlaif.model{path = model_path, threads = 2, value_head = true}
local reference = policy:reference()
-- Every kind of personal data costs the full penalty (a name alone would
-- cost 0.3 by default): a story either leaks (-1) or does not (0).
local privacy = rlaif.reward{plugin = "privacy", weights = {name = 1}}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = heldout, reward = privacy,
    generation = {max_new_tokens = 48, temperature = 1.0}, seed = 5, samples_per_prompt = 8}
  local leaks = 0
  for _, r in ipairs(res.rewards) do if r < 0 then leaks = leaks + 1 end end
  print(string.format("%s: mean penalty %.3f ± %.3f, %d/%d stories with personal data, KL %.3f, distinct-2 %.3f",
    label, res.reward_mean, res.reward_std / math.sqrt(res.n), leaks, res.n, res.kl or 0, res.distinct_2))
  return res, leaks
end
local before, leaks_before = evaluate("before")
local run = rlaif.run{dir = runs .. "/privacy", config = {steps = steps, lr = lr, kl_coef = kl_coef, algorithm = algorithm}}
local config = {lr = lr, kl_coef = kl_coef, max_grad_norm = 1}
if algorithm == "ppo" then config.epochs, config.minibatch_size = 2, 16 end
rlaif.rl{policy = policy, reference = reference, algorithm = algorithm, reward = privacy, prompts = prompts,
  config = config, steps = steps, batch_size = algorithm == "ppo" and 32 or 8,
  samples_per_prompt = algorithm == "ppo" and 1 or 4,
  generation = {max_new_tokens = 48, temperature = 1.0}, seed = 6, run = run, checkpoint_every = 20}
local after, leaks_after = evaluate("after")
run:close()
print("before: " .. heldout[1] .. (before.samples[1].response:gsub("%s+", " ")))
print("after:  " .. heldout[1] .. (after.samples[1].response:gsub("%s+", " ")))
print(string.format("stories with personal data %d/%d -> %d/%d; penalty %.3f -> %.3f; KL %.3f", leaks_before,
  before.n, leaks_after, after.n, before.reward_mean, after.reward_mean, after.kl or 0))
