-- core/lua/rlaif.lua — small shared helpers of the Lua side of the module.
local rlaif = ...

-- A deterministic random stream (xorshift64*) so that shuffles, splits and
-- principle draws do not depend on Lua's math.random state.
local Rng = {}
Rng.__index = Rng

function rlaif.rng(seed)
  local s = (math.tointeger(seed or 0) or 0) ~ 0x9E3779B97F4A7C15
  if s == 0 then s = 0x2545F4914F6CDD1D end
  return setmetatable({s = s}, Rng)
end

function Rng:next_int()
  local x = self.s
  x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
  self.s = x
  return (x * 0x2545F4914F6CDD1D) >> 11 -- 53 bits, non-negative
end

-- uniform in [0, 1)
function Rng:uniform() return self:next_int() / 9007199254740992.0 end

-- integer in [1, n]
function Rng:below(n) return self:next_int() % n + 1 end

-- Copies a list shallowly.
function rlaif.copy(list)
  local out = {}
  for i = 1, #list do out[i] = list[i] end
  return out
end

-- Mean and (population) standard deviation of a list of numbers.
function rlaif.mean_std(xs)
  local n = #xs
  if n == 0 then return 0, 0 end
  local s = 0
  for i = 1, n do s = s + xs[i] end
  local m = s / n
  local v = 0
  for i = 1, n do v = v + (xs[i] - m) ^ 2 end
  return m, math.sqrt(v / n)
end

-- Raises an error whose message is "where: what" without Lua's position prefix
-- when `level` is 0, so messages about data files name the file and line.
function rlaif.fail(msg) error(msg, 0) end
