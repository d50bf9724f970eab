-- core/lua/commands.lua
local rlaif = ...; local _ = rlaif
