-- Rewards per second on 1,000 samples for the model-backed rewards: judge
-- (direct AI scores from stories260K through labeler/llm, cache off, then the
-- same batch again from the cache) and preference (stories260K with a score head).
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local path = src .. "/models/stories260K/stories260K.bin"
local m = rlaif.model{path = path, threads = 2}
local rm = rlaif.model{path = path, threads = 2, score_head = true}
local outs = m:generate({"Once upon a time,", "Lily was sad because", "Tom had a dog."},
  {n = 334, max_new_tokens = 40, temperature = 1.0, seed = 1})
local prompts, responses = {}, {}
for i = 1, 1000 do prompts[i], responses[i] = "Once upon a time,", outs[i].text end
local function bench(name, reward)
  local t = rlaif.clock()
  reward:score(prompts, responses)
  local dt = rlaif.clock() - t
  print(rlaif.json.encode({bench = name, samples = 1000, seconds = dt, rewards_per_s = 1000 / dt}))
end
local labeler = rlaif.labeler{plugin = "llm", model = m, constitution = "stories"}
local judge = rlaif.reward{plugin = "judge", labeler = labeler, cache_size = 4096}
bench("judge", judge)
bench("judge_cached", judge)
bench("preference", rlaif.reward{plugin = "preference", model = rm})
