-- use_my_reward.lua — load an out-of-tree reward plugin by path and score with it,
-- alone and combined with a Lua reward.
--   rlaif run use_my_reward.lua ./my_reward.so
local path = arg[1] or "./my_reward.so"
local mine = rlaif.reward{plugin = path, words = "kind friend share happy"}
local prompts = {"Once upon a time", "Once upon a time", "Once upon a time"}
local responses = {
  "Tom was kind to his friend and they were happy to share the toys.",
  "The dog was happy.",
  "It rained all day.",
}
local rewards = mine:score(prompts, responses)
for i, r in ipairs(rewards) do
  print(string.format("%.2f  %s", r, responses[i]))
end
-- Rewards compose: a Lua function can call a plugin reward.
local short = rlaif.reward(function(_, response) return #response < 40 and 0.5 or 0 end, "short")
local total = 0
for i = 1, #responses do
  total = total + mine:score1(prompts[i], responses[i]) + short:score1(prompts[i], responses[i])
end
print(string.format("combined total %.2f", total))
