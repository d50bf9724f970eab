-- reward/judge on labelled data: on story pairs written for the labeler
-- tests (one clearly kinder than the other), the judge's direct AI score must
-- rank the kinder story higher.  Prints the measured agreement (the figure in
-- docs/rewards.md).
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local m = rlaif.model{path = src .. "/models/stories260K/stories260K.bin", threads = 1}
local labeler = rlaif.labeler{plugin = "llm", model = m, constitution = "stories"}
local judge = rlaif.reward{plugin = "judge", labeler = labeler}
local function agreement(file)
  local rows = rlaif.data.read_jsonl(file, {require = {"prompt", "chosen", "rejected"}})
  local prompts, responses = {}, {}
  for i, r in ipairs(rows) do
    prompts[2 * i - 1], responses[2 * i - 1] = r.prompt, r.chosen
    prompts[2 * i], responses[2 * i] = r.prompt, r.rejected
  end
  local s = judge:score(prompts, responses)
  local agree = 0
  for i = 1, #rows do if s[2 * i - 1] > s[2 * i] then agree = agree + 1 end end
  return agree, #rows
end
local a1, n1 = agreement(src .. "/tests/labeler/data/story_pairs.jsonl")
local a2, n2 = agreement(src .. "/tests/labeler/data/story_pairs_fresh.jsonl")
print(string.format("judge agreement: %d/%d = %.3f (main set), %d/%d = %.3f (fresh set)", a1, n1, a1 / n1, a2, n2, a2 / n2))
assert(a1 / n1 >= 0.8 and a2 / n2 >= 0.8, "the judge must prefer the kinder story in at least 80% of pairs")
