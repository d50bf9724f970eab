-- examples/custom_reward/pipeline.lua — your own C reward plugin in an RL run.
--
--   cc -shared -fPIC -O2 $(pkg-config --cflags rlaif) my_reward.c -o my_reward.so
--   rlaif run pipeline.lua ./my_reward.so [STEPS]
--
-- PPO on stories260K with the out-of-tree `my_reward` plugin (rewards stories
-- that use the words kind, friend, share, happy) plus a KL penalty to the
-- starting model.  Nothing of rlaif is rebuilt: the plugin is loaded by path.
local plugin = arg[1] or "./my_reward.so"
local steps = tonumber(arg[2]) or 20
local here = (arg[0]:match("^(.*)/examples/custom_reward/[^/]*$")) or "../.."
local model_path = here .. "/models/stories260K/stories260K.bin"
local mine = rlaif.reward{plugin = plugin, words = "kind friend share happy"}
local policy = rlaif.model{path = model_path, threads = 2, value_head = true}
local reference = policy:reference()
local prompts = {"Once upon a time,", "One day, Tom", "Lily went to the park.", "There was a little dog.",
                 "The sun was shining.", "Sam had a toy car.", "Mia saw a bird.", "The cat was alone."}
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = reference, prompts = prompts, reward = mine,
    generation = {max_new_tokens = 48, temperature = 0.7}, seed = 1, samples_per_prompt = 2}
  print(string.format("%s: my_reward %.3f  KL %.3f", label, res.reward_mean, res.kl or 0))
  return res
end
local before = evaluate("before")
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = mine, prompts = prompts,
  config = {lr = 3e-4, epochs = 2, kl_coef = 0.05, max_grad_norm = 1}, steps = steps, batch_size = 8,
  generation = {max_new_tokens = 48, temperature = 1.0}, seed = 2}
local after = evaluate("after")
print(string.format("my_reward %.3f -> %.3f", before.reward_mean, after.reward_mean))
