-- PPO on stories260K in a run directory, for tests/lua/test_resume.sh: the
-- policy has a value head and a reference view (and LoRA adapters when the
-- script's name contains "lora"); with KILL_AT=k it dies abruptly right
-- after step k's metrics, before that step's checkpoint.
local dir, steps = arg[1], tonumber(arg[2]) or 8
local kill_at = tonumber(os.getenv("KILL_AT") or "")
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local lora = rlaif_test_lora and {rank = 4, alpha = 8, targets = {"q_proj", "v_proj"}} or nil
local policy = rlaif.model{path = src .. "/models/stories260K/stories260K.bin", threads = 2,
  value_head = true, seed = 4, lora = lora}
local reference = policy:reference()
local reward = rlaif.reward(function(_, r) return select(2, r:gsub("a", "")) / 10 end, "count_a")
local prompts = {}
for i = 1, 12 do prompts[i] = ({"Lily was", "Tom saw", "One day"})[i % 3 + 1] end
local run = rlaif.run{dir = dir, config = {steps = steps}}
rlaif.rl{policy = policy, reference = reference, algorithm = "ppo", reward = reward, prompts = prompts,
  config = {lr = 1e-3, epochs = 2, kl_coef = 0.05, max_grad_norm = 1},
  steps = steps, batch_size = 6, generation = {max_new_tokens = 12, temperature = 1.0}, seed = 3,
  run = run, checkpoint_every = 1,
  on_step = function(step) if step == kill_at then os.exit(9, false) end end}
run:close()
