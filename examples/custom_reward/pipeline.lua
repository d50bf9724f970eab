-- examples/custom_reward/pipeline.lua — your own C reward plugin in an RL run.
--
--   cc -shared -fPIC -O2 $(pkg-config --cflags rlaif) my_reward.c -o my_reward.so
--   rlaif run pipeline.lua ./my_reward.so [STEPS] [LR]
--
-- PPO on stories260K with the out-of-tree `my_reward` plugin (rewards stories
-- that use the words kind, friend, share, happy: the fraction of the four that
-- appear) plus a KL penalty to the starting model.  Nothing of rlaif is
-- rebuilt: the plugin is loaded by path.  The script finds the model from the
-- repository root, from examples/custom_reward/, or through an absolute path.
--
-- Measured outcome (defaults: PPO, 80 steps x 32 prompts, lr 1e-4, KL
-- coefficient 0.05; 2-core machine shared with other jobs, 56 s wall): on 6
-- held-out prompts x 8 samples (temperature 1), my_reward 0.026 ± 0.011 ->
-- 0.109 ± 0.019 (0.44 of the four words per story on average, 0.10
-- before), KL to the start 4.0 nats per story.  40 steps
-- give 0.083 at KL 3.5.  The reward is sparse (most stories use none of the
-- four words), which is why it moves slowly.
local plugin = arg[1] or "./my_reward.so"
local steps = tonumber(arg[2]) or 80
local lr = tonumber(arg[3]) or 1e-4
local root = arg[0]:match("^(.*)examples/custom_reward/[^/]*$")
local here = root and (root == "" and "." or root:gsub("/$", "")) or "../.."
local model_path = here .. "/models/stories260K/stories260K.bin"
local mine = rlaif.reward{plugin = plugin, words = "kind friend share happy"}
local policy = rlaif.model{path = model_path, threads = 2, value_head = true}
local reference = policy:reference()
local prompts = {"Once upon a time,", "One day, Tom", "Lily went to the park.", "There was a little dog.",
                 "The sun was shining.", "Sam had a toy car.", "Mia saw a bird.", "The cat was alone.",
                 "Ben and his sister", "A big bear lived in the woods.", "It was raining.", "Max found a box."}
local heldout = {"Once upon a time, there was a girl.", "One day, Anna", "The dog ran to the garden.",
                 "Tim had a red ball.", "A small bird was sad.", "The children went outside."}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = heldout, reward = mine,
    generation = {max_new_tokens = 48, temperature = 1.0}, seed = 1, samples_per_prompt = 8}
  print(string.format("%s: my_reward %.3f ± %.3f on %d held-out samples, KL %.3f", label, res.reward_mean,
    res.reward_std / math.sqrt(res.n), res.n, res.kl or 0))
  return res
end
local before = evaluate("before")
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = mine, prompts = prompts,
  config = {lr = lr, epochs = 2, minibatch_size = 16, kl_coef = 0.05, max_grad_norm = 1}, steps = steps,
  batch_size = 32, generation = {max_new_tokens = 48, temperature = 1.0}, seed = 2}
local after = evaluate("after")
print("before: " .. heldout[1] .. (before.samples[1].response:gsub("%s+", " ")))
print("after:  " .. heldout[1] .. (after.samples[1].response:gsub("%s+", " ")))
print(string.format("my_reward %.3f -> %.3f, KL %.3f", before.reward_mean, after.reward_mean, after.kl or 0))
