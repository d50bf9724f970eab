-- rlaif.report on a synthetic run directory: the page's sections, charts whose
-- points follow the metrics, escaping, and the command's errors.  The page is
-- checked as text here; test_report_chromium.lua checks it in a browser.
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local make = dofile(src .. "/tests/report/synthetic_run.lua")
local R = rlaif._report

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

local function count(text, pattern)
  local n = 0
  for _ in text:gmatch(pattern) do n = n + 1 end
  return n
end

-- Helpers: escaping, number formatting, ticks.
assert(R.escape([[<a href="x">&'</a>]]) == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;")
assert(R.fmt(3) == "3" and R.fmt(2.0) == "2" and R.fmt(0.123456) == "0.1235" and R.fmt(nil) == "–")
local ticks, lo, hi, step = R.ticks(-0.37, 0.52, 5)
assert(step == 0.2 and math.abs(lo + 0.4) < 1e-12 and math.abs(hi - 0.6) < 1e-12, "ticks widen to multiples of 0.2")
assert(#ticks == 6, "-0.4 .. 0.6 by 0.2 is 6 ticks, got " .. #ticks)
ticks, lo, hi, step = R.ticks(0, 40, 6, true)
assert(step == 5 and lo == 0 and hi == 40 and #ticks == 9)
ticks, lo, hi = R.ticks(3, 3, 5) -- a flat series still gets a range
assert(lo < 3 and hi > 3)

-- JSON with sorted keys is byte-stable and round-trips.
local v = {b = {2, 1}, a = {z = true, y = "<"}, c = rlaif.json.array({})}
local s1 = rlaif._sorted_json(v)
assert(s1 == '{"a":{"y":"<","z":true},"b":[2,1],"c":[]}', s1)
assert(rlaif.json.decode(rlaif._sorted_json(v, "  ")).a.y == "<")

-- A chart's polyline has one point per metric value, mapped into the plot.
local svg = R.line_chart{title = "t", series = {{name = "s", points = {{0, 0}, {10, 1}, {20, 0.5}}}}}
local pts = svg:match('<polyline[^>]- points="([^"]*)"')
assert(pts and count(pts, "[%d.]+,[%d.]+") == 3, "three points")
local x1, y1, x2, y2 = pts:match("^([%d.]+),([%d.]+) ([%d.]+),([%d.]+)")
assert(tonumber(x2) > tonumber(x1) and tonumber(y2) < tonumber(y1), "larger values are drawn higher")
assert(R.line_chart{title = "empty", series = {{name = "s", points = {}}}} == nil, "no data, no chart")

-- A long run is averaged down to at most 2000 points per line; the envelope
-- keeps each bucket's extremes, so a spike survives.
local long = {}
for i = 1, 10000 do long[i] = {i, math.sin(i / 300)} end
long[5001][2] = 40
local thin, env = R.decimate(long)
assert(#thin <= 2000 and #thin >= 1000 and #env == #thin, "thinned to " .. #thin)
local top = -math.huge
for i, p in ipairs(thin) do
  top = math.max(top, env[i][3])
  assert(env[i][2] <= p[2] and p[2] <= env[i][3], "the mean lies in its envelope")
  if i > 1 then assert(p[1] > thin[i - 1][1], "steps stay in order") end
end
assert(top == 40, "the spike survives in the envelope")
assert(math.abs(thin[1][2] - (math.sin(1 / 300) + math.sin(2 / 300) + math.sin(3 / 300) + math.sin(4 / 300)
  + math.sin(5 / 300)) / 5) < 1e-12, "buckets of 5 are averaged")
local short, none = R.decimate({{1, 1}, {2, 2}})
assert(#short == 2 and none == nil, "short series are kept whole")

-- The whole page from a synthetic run (with a torn last line in metrics.jsonl).
local dir = tmpdir()
make(dir, {steps = 40, eval_every = 10, with_eval_json = true, torn_line = true})
local out = rlaif.report(dir)
assert(out == dir .. "/report.html")
local html = assert(io.open(out)):read("a")
assert(html:match("^<!DOCTYPE html>"), "a complete page")
for _, id in ipairs({"summary", "training", "samples", "eval", "other", "config"}) do
  assert(html:find('id="' .. id .. '"', 1, true), "section " .. id)
end
for _, title in ipairs({"Reward", "KL to the reference", "loss", "policy_loss", "value_loss", "Throughput",
                        "Time per phase", "Reward distribution, before and after", "entropy", "reward_sentiment"}) do
  assert(html:find('<title>' .. title .. '</title>', 1, true), "chart " .. title)
end
local svgs = count(html, "<svg ")
assert(svgs == 10, "10 charts, got " .. svgs)
-- every polyline has points; the reward line has one per training step
for p in html:gmatch('<polyline[^>]- points="([^"]*)"') do assert(p:match("%d"), "empty polyline") end
local reward_pts = html:match('data%-series="train mean ± std" points="([^"]*)"')
assert(reward_pts and count(reward_pts, ",") == 40, "40 reward points")
local eval_pts = html:match('data%-series="eval" points="([^"]*)"')
assert(eval_pts and count(eval_pts, ",") == 5, "5 evaluations (steps 0, 10, 20, 30, 40)")
-- the rising reward goes up the page: the last point is higher (smaller y) than the first
local first_y = tonumber(reward_pts:match("^[%d.]+,([%d.]+)"))
local last_y = tonumber(reward_pts:match("[%d.]+,([%d.]+)$"))
assert(last_y < first_y, "reward rises")
assert(html:find('class="band"', 1, true), "the ± std band")
assert(html:find("1 line(s) of metrics.jsonl could not be read", 1, true), "the torn line is reported")
-- samples side by side and escaping of data
assert(html:find("before (step 0)", 1, true) and html:find("after (step 40)", 1, true))
assert(count(html, '<td class="prompt">') == 9, "8 prompts side by side, 1 eval.json sample")
assert(not html:find("<script", 1, true), "no markup from the data gets through")
assert(html:find("&lt;script&gt;alert(1)&lt;/script&gt;", 1, true), "escaped response")
assert(html:find("Anna &amp; &lt;Bob&gt; went out.", 1, true), "escaped prompt")
assert(html:find("&lt;i&gt;not markup&lt;/i&gt; &amp; friends", 1, true), "escaped config")
assert(html:find("Win rate of the policy over the baseline: <b>0.68</b>", 1, true), "eval.json shown")
assert(html:find("he &lt;kept&gt; it.", 1, true) and html:find("p(policy better) 0.71", 1, true), "eval samples")
assert(not html:find("src=", 1, true) and not html:find("href=", 1, true), "nothing loaded from elsewhere")
assert(not html:find("<script", 1, true) and not html:find("<link", 1, true), "self-contained")

-- The command: --out, output path printed; usage errors.
local other = tmpdir() .. ".html"
assert(rlaif._commands.report({dir, "--out", other}) == 0)
assert(io.open(other), "--out honoured")
local ok, err = pcall(rlaif._commands.report, {})
assert(not ok and err:match("^rlaif_usage:"), "no RUN_DIR is a usage error")
ok, err = pcall(rlaif._commands.report, {dir, "--bogus"})
assert(not ok and err:match("unknown option '%-%-bogus'"))
ok, err = pcall(rlaif.report, dir .. "/nope")
assert(not ok and err:match("no such run directory"), err)
local bare = tmpdir()
rlaif.fs.mkdir(bare)
ok, err = pcall(rlaif.report, bare)
assert(not ok and err:match("no metrics.jsonl"), err)

-- A run with metrics only (no samples, no eval.json, no config) still renders.
local f = io.open(bare .. "/metrics.jsonl", "w")
f:write('{"step":1,"loss":2.0}\n{"step":2,"loss":1.5}\n')
f:close()
html = assert(io.open(rlaif.report(bare))):read("a")
assert(html:find("No evaluation samples in this run", 1, true) and html:find("No config.json.", 1, true))
assert(count(html, "<svg ") == 1 and not html:find('id="eval"', 1, true))

rlaif.fs.remove_tree(dir)
rlaif.fs.remove_tree(bare)
os.remove(other)
print("report: ok")
