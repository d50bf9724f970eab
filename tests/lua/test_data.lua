-- Datasets: JSONL round trip, precise errors, deterministic shuffles and splits.
local data = rlaif.data
local tmp = os.tmpname()
local rows = {}
for i = 1, 25 do rows[i] = {prompt = "p" .. i, response = "r" .. i, n = i} end
data.write_jsonl(tmp, rows)
local back = data.read_jsonl(tmp, {require = {"prompt", "response"}})
assert(#back == 25 and back[7].prompt == "p7" and back[7].n == 7, "round trip")

-- errors name the file, the line and the field
local f = io.open(tmp, "w")
f:write('{"prompt": "a"}\n\n{"prompt": "b", oops}\n')
f:close()
local ok, err = pcall(data.read_jsonl, tmp)
assert(not ok and err:find(tmp .. ":3:", 1, true), "bad JSON names file:line: " .. tostring(err))
f = io.open(tmp, "w")
f:write('{"prompt": "a"}\n{"response": "b"}\n')
f:close()
ok, err = pcall(data.read_jsonl, tmp, {require = {"prompt"}})
assert(not ok and err:find(":2: field 'prompt' is missing", 1, true), tostring(err))
ok, err = pcall(data.read_jsonl, "/nonexistent/file.jsonl")
assert(not ok and err:find("/nonexistent/file.jsonl", 1, true), tostring(err))
os.remove(tmp)

-- shuffles and splits are deterministic in the seed and lose nothing
local s1, s2, s3 = data.shuffle(rows, 1), data.shuffle(rows, 1), data.shuffle(rows, 2)
local same, differ, seen = true, false, {}
for i = 1, #rows do
  same = same and s1[i] == s2[i]
  differ = differ or s1[i] ~= s3[i]
  seen[s1[i].n] = true
end
assert(same and differ, "shuffle determinism")
for i = 1, #rows do assert(seen[i], "shuffle lost row " .. i) end
local a, b = data.split(rows, 0.8, 3)
assert(#a == 20 and #b == 5, "split sizes")
local count = 0
for i, batch in data.batches(rows, 10) do
  count = count + #batch
  assert(#batch == (i < 3 and 10 or 5))
end
assert(count == 25, "batches cover every row")
assert(data.column(rows, "prompt")[3] == "p3")
print("data: ok")

-- Many sequences in one model call (a regression: the binding's scratch list
-- once had a fixed size of 64 blocks).
local m = rlaif.model{backend = "bigram", seed = 1}
local seqs = {}
for i = 1, 150 do seqs[i] = "seq " .. i end
local outs = m:forward(seqs, {logprobs = true})
assert(#outs == 150 and #outs[150].logprobs == #m:tokenize("seq 150", {bos = true}))
print("many sequences: ok")
