-- examples/code_unittests.lua — RL from computed feedback: unit-test pass rate.
--
--   build/rlaif run examples/code_unittests.lua [STEPS] [SFT_STEPS]
--
-- stories260K (a TinyStories model that has never seen code; its tokenizer
-- falls back to bytes, so it can write any text) learns to write a Lua
-- function that passes hidden unit tests.
--   1. SFT on a synthetic corpus this script generates:
--      `function f(x) return x <op> <n> end` in a ```lua fence, with the
--      operator drawn from + - * and n from 1..9, all equally often.  This
--      teaches the shape of the code, not the task: "x * 2" is one program
--      in 27, the corpus does not favour it.
--   2. GRPO on the pass rate of the task "f doubles its argument", measured
--      by the sandboxed `unittest` reward: each sample runs in a separate
--      lua5.4 process with limits on time, memory, processes and files, no
--      network, and verdicts the code cannot forge (docs/sandbox.md).  The
--      reward is the fraction of the 5 tests passed, so "x * 3" (f(0) == 0)
--      or "x + 1" (f(1) == 2) earn partial credit and the group-relative
--      advantage points towards "* 2".  The KL to the SFT model (a frozen
--      snapshot) is reported on the held-out samples.
--
-- "Held out" here means fresh samples (seed 99, never a training seed) of the
-- same single task: there is one prompt, the tests are hidden in the reward.
--
-- Measured outcome (defaults: 60 SFT steps, 30 GRPO steps; 2-core machine
-- shared with other jobs, 50 s wall): SFT loss 7.17 -> 0.09; held-out pass
-- rate 0.131 -> 0.909, samples passing all 5 tests 1/64 -> 58/64, KL to the
-- SFT model 3.0 nats per sample.  Nearly every sample ends up as
-- `function f(x) return x * 2 end`; the remaining failures are mangled fences.
local steps = tonumber(arg[1]) or 30
local sft_steps = tonumber(arg[2]) or 60
local here = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local model_path = here .. "/models/stories260K/stories260K.bin"
local rng = rlaif.rng(7)

-- 1. A synthetic corpus of small Lua functions, every (op, n) equally likely.
local ops = {"+", "-", "*"}
local prompt = "-- lua\n"
local corpus = {}
for i = 1, 540 do
  local op, n = ops[rng:below(#ops)], rng:below(9) -- below(n) is 1..n
  corpus[i] = {prompt = prompt, response = string.format("```lua\nfunction f(x) return x %s %d end\n```", op, n)}
end

local policy = rlaif.model{path = model_path, threads = 2, seed = 3}
local t0 = rlaif.clock()
local sft = rlaif.train("sft", policy, corpus, {steps = sft_steps, batch_size = 16, seed = 1,
  config = {lr = 2e-3, max_grad_norm = 1, warmup_steps = 5}})
print(string.format("SFT on %d synthetic programs, %d steps: loss %.3f -> %.3f (%.0f s)", #corpus, sft_steps,
  sft[1].loss, sft[#sft].loss, rlaif.clock() - t0))
local sft_model = policy:reference() -- frozen snapshot of the SFT weights, for the KL

-- 2. The task: hidden tests of f(x) = 2x.
local tests = {"assert(f(1) == 2)", "assert(f(3) == 6)", "assert(f(-2) == -4)", "assert(f(0) == 0)",
               "assert(f(10) == 20)"}
local function task(i) return {prompt = prompt, tests = tests, language = "lua", id = i} end
local train_tasks, eval_tasks = {}, {}
for i = 1, 16 do train_tasks[i] = task(i) end
for i = 1, 8 do eval_tasks[i] = task(100 + i) end

local unittest = rlaif.reward{plugin = "unittest", language = "lua", timeout_ms = 2000, memory_mb = 64, workers = 2}
local gen = {max_new_tokens = 32, temperature = 1.0, stop = {"end\n```"}}
-- Held-out: 8 tasks x 8 samples with their own seeds (the training batches
-- never use seed 99).  `exact` counts the samples that pass all 5 tests.
local function evaluate(label)
  local res = rlaif.evaluate{policy = policy, reference = sft_model, prompts = eval_tasks, reward = unittest,
    generation = gen, seed = 99, samples_per_prompt = 8}
  local exact = 0
  for _, r in ipairs(res.rewards) do if r == 1 then exact = exact + 1 end end
  print(string.format("%s: held-out pass rate %.3f, all tests passed %d/%d, KL to SFT %.3f", label,
    res.reward_mean, exact, res.n, res.kl or 0))
  return res, exact
end
local before, exact_before = evaluate("after SFT, before RL")

-- 3. GRPO: 8 samples per task, group-normalised advantages, a small KL term.
local history = rlaif.rl{
  policy = policy, reference = sft_model, algorithm = "grpo", prompts = train_tasks, reward = unittest,
  config = {lr = 1e-3, beta = 0.01, epochs = 1, max_grad_norm = 1},
  steps = steps, batch_size = 4, samples_per_prompt = 8, generation = gen, seed = 5,
  on_step = function(step, stats)
    if step % 5 == 0 then print(string.format("step %3d  train pass rate %.3f", step, stats.reward_mean)) end
  end,
}
local after, exact_after = evaluate("after RL")
for i = 1, 3 do print("sample: " .. (after.samples[i].response:gsub("\n", " "))) end
print(string.format("held-out pass rate %.3f -> %.3f, all tests passed %d/%d -> %d/%d, KL to SFT %.3f (%d GRPO steps)",
  before.reward_mean, after.reward_mean, exact_before, before.n, exact_after, after.n, after.kl or 0, #history))
