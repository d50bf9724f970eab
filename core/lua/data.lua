-- core/lua/data.lua
local rlaif = ...; local _ = rlaif
