-- core/lua/runs.lua — run directories: everything an experiment leaves behind.
--
--   run = rlaif.run{dir = "runs/quickstart", config = {...}}
--   run:log(step, {reward = 0.3, kl = 0.01})        -- one line of metrics.jsonl
--   run:samples(step, "eval", rows)                 -- samples/step-000010-eval.jsonl
--   run:checkpoint(step, {models = {policy = m}, optimizers = {ppo = opt}, state = {...}})
--   state = run:restore({models = {...}, optimizers = {...}})  -- nil when starting fresh
--   run:print(line)                                 -- stdout + console.log
--   run:status(phase, fields)                       -- the progress line
--
-- Layout of a run directory:
--   config.json         the resolved configuration (written at start)
--   metrics.jsonl       one JSON object per step, appended and flushed
--   console.log         what the run printed
--   samples/            generations at each evaluation
--   checkpoint/         the last complete checkpoint: models (weights + optimizer
--                       moments + RNG), optimizer-plugin state, data cursor;
--                       replaced atomically (written beside, then renamed)
--   report.html         written by `rlaif report`
-- `rlaif run --resume DIR script.lua` continues a killed run from its checkpoint:
-- metrics after the checkpoint's step are dropped and recomputed.
local rlaif = ...
local json = rlaif.json
local Run = {}
Run.__index = Run

local function path(run, name) return run.dir .. "/" .. name end

local function must(ok, err) if not ok then rlaif.fail(err) end return ok end

-- Keeps the lines of metrics.jsonl whose step is <= `step` (after a resume).
local function truncate_metrics(file, step)
  local f = io.open(file, "r")
  if not f then return end
  local keep = {}
  for line in f:lines() do
    local row = json.decode(line)
    if row and row.step and row.step <= step then keep[#keep + 1] = line end
  end
  f:close()
  must(rlaif.fs.write_atomic(file, table.concat(keep, "\n") .. (#keep > 0 and "\n" or "")))
end

function rlaif.run(opts)
  assert(type(opts) == "table", "rlaif.run: a table of options is required")
  local dir = rlaif.resume_dir or opts.dir
  if not dir then rlaif.fail("rlaif.run: option 'dir' is required") end
  local self = setmetatable({dir = dir, config = opts.config or {}, resumed = rlaif.resume_dir ~= nil,
                             started = rlaif.clock(), last_status = 0}, Run)
  must(rlaif.fs.mkdir(dir))
  must(rlaif.fs.mkdir(path(self, "samples")))
  if not self.resumed then
    -- A fresh run in a used folder starts clean, so its files describe this run only.
    for _, name in ipairs({"metrics.jsonl", "console.log"}) do os.remove(path(self, name)) end
    rlaif.fs.remove_tree(path(self, "checkpoint"))
    must(rlaif.fs.write_atomic(path(self, "config.json"), json.encode(self.config) .. "\n"))
  elseif not rlaif.fs.isdir(dir) then
    rlaif.fail("--resume " .. dir .. ": no such run directory")
  end
  self.console = io.open(path(self, "console.log"), "a")
  return self
end

function Run:print(line)
  if rlaif.output_mode() ~= "quiet" then
    if rlaif.output_mode() == "tty" then io.stderr:write("\r\27[K") end
    print(line)
  end
  if self.console then self.console:write(line, "\n"); self.console:flush() end
end

function Run:log(step, metrics)
  local row = {step = step, time = rlaif.clock() - self.started}
  for k, v in pairs(metrics) do row[k] = v end
  rlaif.data.append_jsonl(path(self, "metrics.jsonl"), row)
  if rlaif.output_mode() == "json" then io.stderr:write(json.encode(row), "\n") end
end

function Run:samples(step, label, rows)
  local name = string.format("samples/step-%06d-%s.jsonl", step, label)
  rlaif.data.write_jsonl(path(self, name), rows)
  return path(self, name)
end

-- The progress line: one updating line on a terminal, a line every 10 s otherwise.
function Run:status(text, force)
  local mode = rlaif.output_mode()
  if mode == "quiet" or mode == "json" then return end
  local now = rlaif.clock()
  if mode == "tty" then
    io.stderr:write("\r\27[K", text)
    io.stderr:flush()
  elseif force or now - self.last_status >= 10 then
    self.last_status = now
    io.stderr:write(text, "\n")
  end
end

function Run:checkpoint(step, what)
  local final, tmp, old = path(self, "checkpoint"), path(self, "checkpoint.tmp"), path(self, "checkpoint.old")
  rlaif.fs.remove_tree(tmp)
  must(rlaif.fs.mkdir(tmp))
  local state = {step = step, state = what.state or {}, optimizers = {}, models = {}}
  for name, m in pairs(what.models or {}) do
    m:save(tmp .. "/" .. name, {weights = true, training = true})
    state.models[#state.models + 1] = name
  end
  for name, opt in pairs(what.optimizers or {}) do
    state.optimizers[name] = opt:state()
  end
  must(rlaif.fs.write_atomic(tmp .. "/state.json", json.encode(state) .. "\n"))
  -- Swap: the previous checkpoint stays complete until the new one is in place.
  rlaif.fs.remove_tree(old)
  if rlaif.fs.isdir(final) then must(os.rename(final, old)) end
  must(os.rename(tmp, final))
  rlaif.fs.remove_tree(old)
end

function Run:restore(what)
  if not self.resumed then return nil end
  local dir = path(self, "checkpoint")
  if not rlaif.fs.isdir(dir) and rlaif.fs.isdir(path(self, "checkpoint.old")) then
    dir = path(self, "checkpoint.old") -- killed between the two renames
  end
  local f = io.open(dir .. "/state.json", "r")
  if not f then
    -- Killed before the first checkpoint: start over, without its metrics.
    truncate_metrics(path(self, "metrics.jsonl"), -1)
    return nil
  end
  local state = json.decode(f:read("a"))
  f:close()
  if not state then rlaif.fail(dir .. "/state.json: not valid JSON") end
  for name, m in pairs(what.models or {}) do m:load_state(dir .. "/" .. name) end
  for name, opt in pairs(what.optimizers or {}) do
    if state.optimizers[name] then opt:set_state(state.optimizers[name]) end
  end
  truncate_metrics(path(self, "metrics.jsonl"), state.step)
  self:print(string.format("resumed %s at step %d", self.dir, state.step))
  return state
end

function Run:close()
  if self.console then self.console:close(); self.console = nil end
end
