-- examples/privacy.lua — teach the policy to stop emitting names and contact details.
--
--   build/rlaif run examples/privacy.lua [STEPS]
--
-- RL from computed feedback: the reward is the `privacy` plugin's penalty
-- (person names from a gazetteer with context cues, e-mail addresses, phone
-- numbers, postal addresses, Luhn-checked card numbers, IBANs, IP addresses,
-- national ID numbers; docs/rewards.md has its measured precision and
-- recall).  stories260K names its characters in most stories ("Lily", "Tom"),
-- so the penalty is felt at once; PPO with a KL penalty to the starting model
-- keeps the stories fluent while the names give way to "the girl", "her
-- friend".  The prompts do not name anyone, so every name is the model's own.
--
-- Measured outcome: printed at the end; reference figures in docs/examples.md.
local steps = tonumber(arg[1]) or 40
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local model_path = here .. "/models/stories260K/stories260K.bin"
local prompts = {
  "Once upon a time, there was a little girl.", "One day, a boy went to the park.",
  "There was a happy dog.", "A little bird sat in a tree.", "It was a sunny day.",
  "Mom and dad went to the store.", "A girl had a red ball.", "The cat was sleepy.",
  "There was a big tree in the garden.", "A boy found a shiny stone.", "The sun was hot.",
  "A little girl wanted a toy.", "Two friends played in the sand.", "The rain came down.",
  "A small bear was hungry.", "The children went to school.",
}
local heldout = {"Once upon a time, there was a boy.", "A girl went to the beach.",
  "There was a little car.", "The dog saw a cat.", "One morning, the sky was blue.",
  "A kind old man lived in a house.", "The baby smiled.", "A girl and her mom baked a cake."}

local policy = rlaif.model{path = model_path, threads = 2, value_head = true}
local reference = policy:reference()
local privacy = rlaif.reward{plugin = "privacy"}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = heldout, reward = privacy,
    generation = {max_new_tokens = 48, temperature = 0.7}, seed = 5, samples_per_prompt = 4}
  local leaks = 0
  for _, r in ipairs(res.rewards) do if r < 0 then leaks = leaks + 1 end end
  print(string.format("%s: mean penalty %.3f, %d/%d stories with personal data, KL %.3f, distinct-2 %.3f",
    label, res.reward_mean, leaks, res.n, res.kl or 0, res.distinct_2))
  return res, leaks
end
local before, leaks_before = evaluate("before")
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = privacy, prompts = prompts,
  config = {lr = 3e-4, epochs = 2, minibatch_size = 8, kl_coef = 0.02, max_grad_norm = 1},
  steps = steps, batch_size = 16, generation = {max_new_tokens = 48, temperature = 1.0}, seed = 6}
local after, leaks_after = evaluate("after")
print(string.format("stories with personal data %d/%d -> %d/%d; penalty %.3f -> %.3f", leaks_before, before.n,
  leaks_after, after.n, before.reward_mean, after.reward_mean))
print("after: " .. heldout[1] .. after.samples[1].response)
