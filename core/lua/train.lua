-- core/lua/train.lua
local rlaif = ...; local _ = rlaif
