-- The sentiment and privacy rewards driven from Lua, as an experiment script
-- uses them: created by plugin name with a config table, scored in a batch.
-- Fails (assert -> exit status 1) when a reward, metric or span is wrong.
local rlaif = require("rlaif")

local kind = rlaif.reward{plugin = "sentiment"}
local rewards, metrics = kind:score({"", "", ""}, {
  "Lily smiled and hugged her friend.",
  "Tom was not happy, he cried all day.",
  "The box is on the table.",
})
assert(rewards[1] > 0.3, "a kind sentence scores positive: " .. tostring(rewards[1]))
assert(rewards[2] < -0.3, "a sad sentence scores negative: " .. tostring(rewards[2]))
assert(rewards[3] == 0, "a neutral sentence scores 0")

local mean = rlaif.reward{plugin = "sentiment", aggregate = "mean", words = {glorp = 4}}
local r2 = mean:score({""}, {"glorp. The box is red."})
assert(math.abs(r2[1] - 0.5 * 4 / math.sqrt(16 + 15)) < 1e-6, "config reaches the plugin")

local ok, err = pcall(rlaif.reward, {plugin = "sentiment", alpah = 1})
assert(not ok and tostring(err):find("alpah", 1, true), "unknown keys are named: " .. tostring(err))

local safe = rlaif.reward{plugin = "privacy", weights = {email = 0.25}}
local text = "Write to anna.lee@example.com or call +44 20 7946 0958."
local pr, pm, details = safe:score({""}, {text})
assert(math.abs(pr[1] + 0.75) < 1e-6, "email 0.25 + phone 0.5: " .. tostring(pr[1]))
assert(pm.email[1] == 1 and pm.phone[1] == 1 and pm.name[1] == 0, "one count per type")
local spans = details[1].spans
assert(#spans == 2, "two spans")
assert(spans[1].type == "email" and spans[1].text == "anna.lee@example.com", "the e-mail span")
-- byte offsets (0-based, end exclusive) point at the text
assert(text:sub(spans[2].start + 1, spans[2]["end"]) == "+44 20 7946 0958", "the phone span")
assert(metrics.positive[1] > 0 and metrics.negative[2] > 0, "sentiment metrics by name")
print("sentiment", rewards[1], rewards[2], rewards[3])
print("privacy", pr[1], spans[1].type, spans[2].type)
