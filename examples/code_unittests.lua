-- examples/code_unittests.lua — RL from computed feedback: unit-test pass rate.
--
--   build/rlaif run examples/code_unittests.lua [STEPS]
--
-- A policy small enough to train from nothing in seconds learns to write a
-- Lua function that passes hidden unit tests.  The policy is the `bigram`
-- model plugin (a byte-level model: the next byte depends on the previous
-- one), first taught the shape of the code by SFT on a synthetic corpus this
-- script generates (`function f(x) return x <op> <n> end` with random
-- operators and constants), then trained with GRPO on the pass rate of the
-- task "f doubles its argument", as measured by the sandboxed `unittest`
-- reward: each sample runs in a separate lua5.4 process with limits on time,
-- memory, processes and files, no network, and verdicts the code cannot
-- forge (docs/sandbox.md).  Most SFT samples compute something else
-- (x + 2, x - 1, ...), so the pass rate starts low; GRPO finds the "* 2".
--
-- Measured outcome: printed at the end (held-out pass rate before -> after);
-- the reference run's figures are in docs/examples.md.
local steps = tonumber(arg[1]) or 40
local rng = rlaif.rng(7)

-- 1. A synthetic corpus of small Lua functions.
local ops = {"+", "-", "*", "+", "-"}
local corpus = {}
for i = 1, 400 do
  local op, n = ops[rng:below(#ops)], rng:below(4)
  corpus[i] = {prompt = "-- lua\n", response = string.format("```lua\nfunction f(x) return x %s %d end\n```", op, n)}
end

local policy = rlaif.model{backend = "bigram", seed = 3, init_std = 0.01}
local sft = rlaif.train("sft", policy, corpus, {steps = 150, batch_size = 16, seed = 1,
  config = {lr = 0.05, max_grad_norm = 1}})
print(string.format("SFT on %d synthetic programs: loss %.3f -> %.3f", #corpus, sft[1].loss, sft[#sft].loss))

-- 2. The task: hidden tests of f(x) = 2x.
local tests = {"assert(f(1) == 2)", "assert(f(3) == 6)", "assert(f(-2) == -4)", "assert(f(0) == 0)", "assert(f(10) == 20)"}
local function task(i) return {prompt = "-- lua\n", tests = tests, language = "lua", id = i} end
local train_tasks, eval_tasks = {}, {}
for i = 1, 16 do train_tasks[i] = task(i) end
for i = 1, 32 do eval_tasks[i] = task(100 + i) end

local unittest = rlaif.reward{plugin = "unittest", language = "lua", timeout_ms = 2000, memory_mb = 64, workers = 2}
local gen = {max_new_tokens = 48, temperature = 1.0, stop = {"end\n```"}}
local function pass_rate(label)
  local res = rlaif.evaluate{policy = policy, prompts = eval_tasks, reward = unittest, generation = gen, seed = 99}
  print(string.format("%s: held-out pass rate %.3f over %d samples", label, res.reward_mean, res.n))
  return res
end
local before = pass_rate("before RL")

-- 3. GRPO: 4 samples per task, group-normalised advantages, no reference (beta 0).
local history = rlaif.rl{
  policy = policy, algorithm = "grpo", prompts = train_tasks, reward = unittest,
  config = {lr = 0.05, beta = 0, epochs = 1, max_grad_norm = 1},
  steps = steps, batch_size = 8, samples_per_prompt = 4, generation = gen, seed = 5,
  on_step = function(step, stats)
    if step % 10 == 0 then print(string.format("step %3d  train pass rate %.3f", step, stats.reward_mean)) end
  end,
}
local after = pass_rate("after RL")
print(string.format("pass rate %.3f -> %.3f (%d GRPO steps)", before.reward_mean, after.reward_mean, #history))
for i = 1, 3 do print("sample: " .. after.samples[i].response:gsub("\n", " ")) end
