-- Rewards compose: plugin + Lua function, weighted, every component reported.
local length = rlaif.reward{plugin = "length", target = 2, tolerance = 0, falloff = 2}
local exclaim = function(_, r) return select(2, r:gsub("!", "")) end
local total = rlaif.compose{{length, weight = 2}, {exclaim, weight = 0.5, name = "bang"}}
local t, parts = total:score({"p", "p"}, {"hi there", "wow! so! much!"})
-- "hi there": length 1.0 (2 words), bangs 0 -> 2.0; "wow! so! much!": 3 words -> 0.5, 3 bangs -> 1 + 1.5
assert(math.abs(t[1] - 2.0) < 1e-6 and math.abs(t[2] - 2.5) < 1e-6, t[1] .. " " .. t[2])
assert(parts.length[2] == 0.5 and parts.bang[2] == 3 and parts["length.length"][2] == 3)
print("compose: ok")
