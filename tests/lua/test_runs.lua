-- Run directories: config snapshot, metrics lines, samples, atomic checkpoints
-- of a model and an optimizer, and restore after a simulated kill.
local dir = os.tmpname()
os.remove(dir)
local run = rlaif.run{dir = dir, config = {lr = 0.1, name = "test"}}
local m = rlaif.model{backend = "bigram", seed = 1}
run:log(1, {loss = 1.5})
run:log(2, {loss = 1.25})
run:samples(2, "eval", {{prompt = "a", response = "b"}})
run:checkpoint(2, {models = {policy = m}, state = {cursor = 2}})
run:log(3, {loss = 1.0}) -- logged, then "killed" before its checkpoint
run:close()
assert(rlaif.fs.isdir(dir .. "/checkpoint") and not rlaif.fs.isdir(dir .. "/checkpoint.tmp"))
local cfg = rlaif.json.decode(io.open(dir .. "/config.json"):read("a"))
assert(cfg.lr == 0.1 and cfg.name == "test", "config snapshot")
assert(io.open(dir .. "/samples/step-000002-eval.jsonl"), "samples written")

-- resume: metrics after the checkpoint's step are dropped
rlaif.resume_dir = dir
local run2 = rlaif.run{dir = "ignored-when-resuming"}
local st = run2:restore({models = {policy = m}})
assert(st and st.step == 2 and st.state.cursor == 2, "restored state")
local lines = 0
for line in io.lines(dir .. "/metrics.jsonl") do
  lines = lines + 1
  assert(rlaif.json.decode(line).step <= 2)
end
assert(lines == 2, "metrics truncated to the checkpoint, got " .. lines)
run2:close()
rlaif.resume_dir = nil
rlaif.fs.remove_tree(dir)
print("runs: ok")

-- Resuming a run killed before its first checkpoint starts over and drops
-- the metrics the killed run had logged (a regression: they were kept, so
-- metrics.jsonl had two step 1 lines).
local dir2 = os.tmpname()
os.remove(dir2)
local r1 = rlaif.run{dir = dir2}
r1:log(0, {eval_reward = 0.1})
r1:log(1, {loss = 2})
r1:close()
rlaif.resume_dir = dir2
local r2 = rlaif.run{dir = "unused"}
assert(r2:restore({models = {}}) == nil, "nothing to restore")
local n = 0
for _ in io.lines(dir2 .. "/metrics.jsonl") do n = n + 1 end
assert(n == 0, "metrics of the killed run are dropped, found " .. n)
r2:close()
rlaif.resume_dir = nil
rlaif.fs.remove_tree(dir2)
print("runs, resume before the first checkpoint: ok")
