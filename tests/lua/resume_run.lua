-- A small PPO run on the bigram model in a run directory; with KILL_AT=k it
-- dies abruptly (os.exit without cleanup, like kill -9) right after step k's
-- metrics are logged, before that step's checkpoint.
local dir, steps = arg[1], tonumber(arg[2]) or 8
local kill_at = tonumber(os.getenv("KILL_AT") or "")
local policy = rlaif.model{backend = "bigram", seed = 4, value_head = true}
local reference = policy:reference()
local reward = rlaif.reward(function(_, r) return select(2, r:gsub("a", "")) end, "count_a")
local prompts = {}
for i = 1, 12 do prompts[i] = string.rep("b", i % 3) .. "x" end
local run = rlaif.run{dir = dir, config = {steps = steps}}
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = reward, prompts = prompts,
  config = {lr = 0.05, epochs = 2, kl_coef = 0.05, max_grad_norm = 1},
  steps = steps, batch_size = 6, generation = {max_new_tokens = 12, temperature = 1.0}, seed = 3,
  run = run, checkpoint_every = 1,
  on_step = function(step) if step == kill_at then os.exit(9, false) end end}
run:close()
