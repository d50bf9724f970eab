-- core/lua/runs.lua
local rlaif = ...; local _ = rlaif
