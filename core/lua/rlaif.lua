-- core/lua/rlaif.lua
local rlaif = ...; local _ = rlaif
