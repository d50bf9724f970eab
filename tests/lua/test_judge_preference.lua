-- reward/judge (d-RLAIF scores through a labeler, cached) and reward/preference
-- (a score-head model), on stories260K.
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local path = src .. "/models/stories260K/stories260K.bin"
local m = rlaif.model{path = path, threads = 1}
local labeler = rlaif.labeler{plugin = "llm", model = m, constitution = "stories"}
local judge = rlaif.reward{plugin = "judge", labeler = labeler, cache_size = 8}
local prompt = "Lily had a ball."
local happy = " She played with her friend and they laughed. They were very happy."
local sad = " She lost the ball and cried. She was very sad and alone."
local r, metrics = judge:score({prompt, prompt}, {happy, sad})
assert(r[1] > r[2], string.format("happy %.3f should beat sad %.3f", r[1], r[2]))
assert(r[1] >= -1 and r[1] <= 1 and r[2] >= -1 and r[2] <= 1)
assert(metrics.cache_hit[1] == 0 and metrics.cache_hit[2] == 0)
-- the labeler agrees with itself
local direct = labeler:score(prompt, happy)
local r2, metrics2 = judge:score({prompt, prompt}, {sad, happy})
assert(metrics2.cache_hit[1] == 1 and metrics2.cache_hit[2] == 1, "second call hits the cache")
assert(r2[1] == r[2] and r2[2] == r[1], "cached scores are the same scores")
-- eviction keeps it working past its size
for i = 1, 20 do judge:score1(prompt, happy .. string.rep(" Yes.", i)) end
local again = judge:score1(prompt, happy)
assert(math.abs(again - r[1]) < 1e-6, "a re-scored pair gives the same score")
assert(math.abs(direct.score - r[1]) < 0.5) -- per-pair seeds may draw another principle

-- preference: the reward equals gain · score-head output + bias
local rm = rlaif.model{path = path, threads = 1, score_head = true}
local pref = rlaif.reward{plugin = "preference", model = rm, gain = 2, bias = 0.5}
local pr = pref:score({prompt, prompt}, {happy, sad})
local ids = rm:tokenize(prompt, {bos = true})
for _, t in ipairs(rm:tokenize(happy)) do ids[#ids + 1] = t end
ids[#ids + 1] = rm:info().eos_id
local s = rm:forward({ids}, {logprobs = false, score = true})[1].score
assert(math.abs(pr[1] - (2 * s + 0.5)) < 1e-4, pr[1] .. " vs " .. (2 * s + 0.5))
local ok, err = pcall(rlaif.reward, {plugin = "preference", model = m})
assert(not ok and err:find("no score head"), tostring(err))
ok, err = pcall(rlaif.reward, {plugin = "judge", labeler = m})
assert(not ok and err:find("a labeler was expected"), tostring(err))
print("judge and preference: ok")
