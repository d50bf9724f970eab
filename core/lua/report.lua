-- core/lua/report.lua — `rlaif report RUN_DIR`: one self-contained HTML page
-- describing a run (docs/report.md).
--
--   path = rlaif.report(run_dir [, out])     -- default out: RUN_DIR/report.html
--
-- The page needs no network and no script: the charts are inline SVG drawn
-- here (polylines on axes with ticks and labels), every text is HTML-escaped,
-- and the file is written atomically.  Also defined here, for the other
-- command parts: rlaif._cli_parse (option parsing with repeatable options)
-- and rlaif._sorted_json (JSON with sorted keys, so outputs are byte-stable).
local rlaif = ...
local json = rlaif.json
local report = {}
rlaif._report = report -- the pieces, for tests

------------------------------------------------------------------------------
-- Text.

local escapes = {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;"}

function report.escape(s)
  return (tostring(s):gsub("[&<>\"']", escapes))
end
local esc = report.escape

-- A number for people: integers as such, others with 4 significant digits.
function report.fmt(x)
  if x == nil then return "–" end
  if type(x) ~= "number" then return tostring(x) end
  if math.type(x) == "integer" then return tostring(x) end
  if x == math.floor(x) and math.abs(x) < 1e15 then return string.format("%d", math.tointeger(x)) end
  return (string.format("%.4g", x))
end
local fmt = report.fmt

------------------------------------------------------------------------------
-- JSON with sorted keys (Lua's table order varies from run to run, and files
-- written under one seed must be identical).  `indent` (a string) pretty-prints.

local function is_list(t)
  if getmetatable(t) ~= nil then return true end -- rlaif.json.array
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

local function sorted_json(v, indent, depth)
  if type(v) ~= "table" then return json.encode(v) end
  local nl, pad, pad_in = "", "", ""
  if indent then
    nl = "\n"
    pad = string.rep(indent, depth)
    pad_in = pad .. indent
  end
  local parts = {}
  if is_list(v) then
    if #v == 0 then return "[]" end
    for i = 1, #v do parts[i] = pad_in .. sorted_json(v[i], indent, depth + 1) end
    return "[" .. nl .. table.concat(parts, "," .. nl) .. nl .. pad .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "string" then rlaif.fail("JSON: a table mixing list items and named keys") end
    keys[#keys + 1] = k
  end
  if #keys == 0 then return "{}" end
  table.sort(keys)
  local sep = indent and ": " or ":"
  for i, k in ipairs(keys) do
    parts[i] = pad_in .. json.encode(k) .. sep .. sorted_json(v[k], indent, depth + 1)
  end
  return "{" .. nl .. table.concat(parts, "," .. nl) .. nl .. pad .. "}"
end

function rlaif._sorted_json(v, indent) return sorted_json(v, indent, 0) end

------------------------------------------------------------------------------
-- Reading a run directory.

-- metrics.jsonl as rows sorted by step (a later row for the same step wins,
-- as after a resume).  A line cut short by a kill is skipped and counted.
local function read_metrics(file)
  local f = io.open(file, "r")
  if not f then return nil end
  local by_step, skipped = {}, 0
  for line in f:lines() do
    if line:match("%S") then
      local row = json.decode(line)
      if type(row) == "table" and type(row.step) == "number" then by_step[row.step] = row
      else skipped = skipped + 1 end
    end
  end
  f:close()
  local rows = {}
  for _, row in pairs(by_step) do rows[#rows + 1] = row end
  table.sort(rows, function(a, b) return a.step < b.step end)
  return rows, skipped
end

-- The evaluation sample files, ordered by step: {step, path}.
local function eval_sample_files(dir)
  local names = rlaif.fs.list(dir .. "/samples") or {}
  local files = {}
  for _, name in ipairs(names) do
    local step = name:match("^step%-(%d+)%-eval%.jsonl$")
    if step then files[#files + 1] = {step = tonumber(step), path = dir .. "/samples/" .. name} end
  end
  table.sort(files, function(a, b) return a.step < b.step end)
  return files
end

local function read_json_file(file)
  local f = io.open(file, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local v, err = json.decode(text)
  if v == nil then rlaif.fail(file .. ": " .. tostring(err)) end
  return v
end

-- At most `max` points: consecutive points are averaged in buckets, and each
-- bucket's lowest and highest value is returned as an envelope {x, lo, hi},
-- drawn as a light band, so a long run reads as a line and its spikes stay
-- visible while the page stays small.  Short series come back unchanged.
local MAX_POINTS = 2000
function report.decimate(pts, max)
  max = max or MAX_POINTS
  if #pts <= max then return pts, nil end
  local means, env, per = {}, {}, math.ceil(#pts / max)
  for start = 1, #pts, per do
    local sx, sy, lo, hi, n = 0, 0, math.huge, -math.huge, 0
    for i = start, math.min(start + per - 1, #pts) do
      local x, y = pts[i][1], pts[i][2]
      sx, sy, n = sx + x, sy + y, n + 1
      lo, hi = math.min(lo, y), math.max(hi, y)
    end
    means[#means + 1] = {sx / n, sy / n}
    env[#env + 1] = {sx / n, lo, hi}
  end
  return means, env
end

-- series(rows, key) -> {{x, y}, ...} over the rows that have a number there.
local function series(rows, key)
  local pts = {}
  for _, row in ipairs(rows) do
    local v = row[key]
    if type(v) == "number" and v == v then pts[#pts + 1] = {row.step, v} end
  end
  return pts
end

-- A chart series for `key`: its points, thinned with an envelope band when long.
local function line(rows, key, name, extra)
  local pts, env = report.decimate(series(rows, key))
  local s = {name = name or key, points = pts, band = env}
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

------------------------------------------------------------------------------
-- Charts.

local W, H = 600, 270
local ML, MR, MT, MB = 66, 18, 38, 46 -- margins: room for tick labels and titles
local palette = {"#1f6fb4", "#e3701a", "#2a9d3f", "#c2352b", "#7b52ab", "#8c564b", "#d1479b", "#5f6b75"}

-- A tick spacing of 1, 2 or 5 times a power of ten giving about `target` ticks.
local function nice_step(span, target)
  local raw = span / target
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local f = raw / mag
  local n = f < 1.5 and 1 or f < 3 and 2 or f < 7 and 5 or 10
  return n * mag
end

-- Ticks covering [lo, hi]; returns the ticks and the range widened to them.
function report.ticks(lo, hi, target, integer)
  if lo == hi then
    local d = math.max(math.abs(lo) * 0.1, integer and 1 or 1e-3)
    lo, hi = lo - d, hi + d
  end
  local step = nice_step(hi - lo, target or 5)
  if integer then step = math.max(1, math.floor(step + 0.5)) end
  local first = math.floor(lo / step + 1e-9) * step
  local last = math.ceil(hi / step - 1e-9) * step
  local ticks = {}
  local k = 0
  while first + k * step <= last + step * 1e-9 do
    ticks[#ticks + 1] = first + k * step
    k = k + 1
  end
  return ticks, first, last, step
end

-- A tick label with just the decimals its spacing needs.
local function tick_label(v, step)
  local d = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  if math.abs(v) >= 1e5 or (math.abs(v) < 1e-3 and v ~= 0 and d > 6) then return string.format("%.2g", v) end
  local s = string.format("%." .. d .. "f", v)
  if s:match("^%-0%.?0*$") then s = s:sub(2) end -- no "-0"
  return s
end

local function xy(x, y) return string.format("%.1f,%.1f", x, y) end

local function svg_open(title, parts)
  parts[#parts + 1] = string.format('<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" ' ..
    'width="%d" height="%d" role="img" aria-label="%s"><title>%s</title>', W, H, W, H, esc(title), esc(title))
  parts[#parts + 1] = string.format('<text class="ctitle" x="%d" y="16">%s</text>', ML, esc(title))
end

-- Axes, grid, tick labels and axis titles for the mapped ranges.
local function draw_axes(parts, c, xt, xstep, yt, ystep, sx, sy)
  for _, t in ipairs(yt) do
    local y = sy(t)
    parts[#parts + 1] = string.format('<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>', ML, y, W - MR, y)
    parts[#parts + 1] = string.format('<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>',
      ML - 6, y + 4, esc(tick_label(t, ystep)))
  end
  for _, t in ipairs(xt) do
    local x = sx(t)
    parts[#parts + 1] = string.format('<line class="tickmark" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>', x, H - MB, x, H - MB + 5)
    parts[#parts + 1] = string.format('<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>',
      x, H - MB + 18, esc(tick_label(t, xstep)))
  end
  parts[#parts + 1] = string.format('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>', ML, H - MB, W - MR, H - MB)
  parts[#parts + 1] = string.format('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>', ML, MT, ML, H - MB)
  parts[#parts + 1] = string.format('<text class="alabel" x="%d" y="%d" text-anchor="middle">%s</text>',
    (ML + W - MR) // 2, H - 8, esc(c.xlabel or "step"))
  parts[#parts + 1] = string.format('<text class="alabel" x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>',
    (MT + H - MB) // 2, (MT + H - MB) // 2, esc(c.ylabel or ""))
end

-- Legend entries right-aligned above the plot (charts of one series have
-- their name in the title and pass no legend).
local function draw_legend(parts, entries)
  local x = W - MR
  for i = #entries, 1, -1 do
    local e = entries[i]
    local w = 22 + 7 * utf8.len(e.name)
    x = x - w
    parts[#parts + 1] = string.format('<rect x="%.1f" y="24" width="12" height="8" fill="%s"/>' ..
      '<text class="legend" x="%.1f" y="32">%s</text>', x, e.color, x + 16, esc(e.name))
  end
end

-- c = {title, xlabel, ylabel, series = {{name, points, color, band = {{x, lo, hi}}, markers}}}
-- Returns the <svg> text, or nil when no series has a point.
function report.line_chart(c)
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  local function see(x, y)
    xmin, xmax = math.min(xmin, x), math.max(xmax, x)
    ymin, ymax = math.min(ymin, y), math.max(ymax, y)
  end
  for _, s in ipairs(c.series) do
    for _, p in ipairs(s.points) do see(p[1], p[2]) end
    for _, b in ipairs(s.band or {}) do see(b[1], b[2]); see(b[1], b[3]) end
  end
  if xmin > xmax then return nil end
  local xt, x0, x1, xstep = report.ticks(xmin, xmax, 6, true)
  local yt, y0, y1, ystep = report.ticks(ymin, ymax, 5, false)
  local function sx(x) return ML + (x - x0) / (x1 - x0) * (W - ML - MR) end
  local function sy(y) return H - MB - (y - y0) / (y1 - y0) * (H - MT - MB) end
  local parts = {}
  svg_open(c.title, parts)
  draw_axes(parts, c, xt, xstep, yt, ystep, sx, sy)
  local legend = {}
  for i, s in ipairs(c.series) do
    s.color = s.color or palette[(i - 1) % #palette + 1]
    if #s.points > 0 then legend[#legend + 1] = {name = s.name, color = s.color} end
    if s.band and #s.band > 1 then
      local pts = {}
      for _, b in ipairs(s.band) do pts[#pts + 1] = xy(sx(b[1]), sy(b[3])) end
      for k = #s.band, 1, -1 do pts[#pts + 1] = xy(sx(s.band[k][1]), sy(s.band[k][2])) end
      parts[#parts + 1] = string.format('<polygon class="band" points="%s" fill="%s"/>', table.concat(pts, " "), s.color)
    end
    local pts = {}
    for _, p in ipairs(s.points) do pts[#pts + 1] = xy(sx(p[1]), sy(p[2])) end
    if #pts > 0 then
      parts[#parts + 1] = string.format('<polyline class="line" data-series="%s" points="%s" stroke="%s"/>',
        esc(s.name), table.concat(pts, " "), s.color)
    end
    if s.markers or #pts == 1 then
      for _, p in ipairs(s.points) do
        parts[#parts + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: step %s, %s</title></circle>',
          sx(p[1]), sy(p[2]), s.color, esc(s.name), fmt(p[1]), fmt(p[2]))
      end
    end
  end
  if c.legend then draw_legend(parts, legend) end
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n")
end

-- Two distributions on shared bins: translucent bars, a step outline and a
-- dashed line at each mean.  dists = {{name, values, color}, ...}
function report.histogram(title, dists, nbins)
  local lo, hi, n = math.huge, -math.huge, 0
  for _, d in ipairs(dists) do
    for _, v in ipairs(d.values) do lo, hi, n = math.min(lo, v), math.max(hi, v), n + 1 end
  end
  if n == 0 then return nil end
  nbins = nbins or 16
  if lo == hi then lo, hi = lo - 0.5, hi + 0.5 end
  local width = (hi - lo) / nbins
  local shares, top = {}, 0
  for i, d in ipairs(dists) do
    local counts = {}
    for b = 1, nbins do counts[b] = 0 end
    for _, v in ipairs(d.values) do
      local b = math.min(nbins, math.floor((v - lo) / width) + 1)
      counts[b] = counts[b] + 1
    end
    for b = 1, nbins do
      counts[b] = #d.values > 0 and counts[b] / #d.values or 0
      top = math.max(top, counts[b])
    end
    shares[i] = counts
  end
  local xt, x0, x1, xstep = report.ticks(lo, hi, 6, false)
  local yt, y0, y1, ystep = report.ticks(0, top, 4, false)
  local function sx(x) return ML + (x - x0) / (x1 - x0) * (W - ML - MR) end
  local function sy(y) return H - MB - (y - y0) / (y1 - y0) * (H - MT - MB) end
  local parts = {}
  svg_open(title, parts)
  draw_axes(parts, {xlabel = "reward", ylabel = "share of samples"}, xt, xstep, yt, ystep, sx, sy)
  local legend = {}
  for i, d in ipairs(dists) do
    d.color = d.color or palette[(i - 1) % #palette + 1]
    legend[#legend + 1] = {name = d.name, color = d.color}
    local outline = {xy(sx(lo), sy(0))}
    for b = 1, nbins do
      local a, z, h = lo + (b - 1) * width, lo + b * width, shares[i][b]
      if h > 0 then
        parts[#parts + 1] = string.format('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">' ..
          '<title>%s: %s of samples in [%s, %s)</title></rect>', sx(a), sy(h), sx(z) - sx(a), sy(0) - sy(h), d.color,
          esc(d.name), fmt(h), fmt(a), fmt(z))
      end
      outline[#outline + 1] = xy(sx(a), sy(h))
      outline[#outline + 1] = xy(sx(z), sy(h))
    end
    outline[#outline + 1] = xy(sx(hi), sy(0))
    parts[#parts + 1] = string.format('<polyline class="line" data-series="%s" points="%s" stroke="%s"/>',
      esc(d.name), table.concat(outline, " "), d.color)
    if #d.values > 0 then
      local mean = rlaif.mean_std(d.values)
      parts[#parts + 1] = string.format('<line class="mean" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s">' ..
        '<title>%s mean %s</title></line>', sx(mean), MT, sx(mean), H - MB, d.color, esc(d.name), fmt(mean))
    end
  end
  draw_legend(parts, legend)
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n")
end

------------------------------------------------------------------------------
-- Sections of the page.  Each returns HTML text.

local function figure(svg, caption)
  if not svg then return "" end
  return '<figure>' .. svg .. (caption and ('<figcaption>' .. esc(caption) .. '</figcaption>') or "") .. '</figure>'
end

local function empty(text) return '<p class="empty">' .. esc(text) .. '</p>' end

local function keys_of(rows)
  local seen, keys = {}, {}
  for _, row in ipairs(rows) do
    for k, v in pairs(row) do
      if type(v) == "number" and not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  return keys, seen
end

local function is_loss(k) return k == "loss" or k:match("_loss$") ~= nil end

local function summary_section(dir, rows, skipped, files)
  local first_r, last_r, last_kl, time
  for _, row in ipairs(rows) do
    if row.reward_mean and first_r == nil then first_r = row.reward_mean end
    if row.reward_mean then last_r = row.reward_mean end
    if row.kl or row.kl_mean then last_kl = row.kl or row.kl_mean end
    if row.time then time = row.time end
  end
  local last_step = rows[#rows] and rows[#rows].step
  local items = {
    {"steps logged", #rows > 0 and fmt(last_step) or "none"},
    {"train reward, first → last step", first_r and (fmt(first_r) .. " → " .. fmt(last_r)) or "–"},
    {"KL at the last step", fmt(last_kl)},
    {"evaluations with samples", tostring(#files)},
    {"wall time", time and string.format("%.1f s", time) or "–"},
  }
  local html = {'<table class="summary">'}
  for _, it in ipairs(items) do
    html[#html + 1] = '<tr><th>' .. esc(it[1]) .. '</th><td>' .. esc(it[2]) .. '</td></tr>'
  end
  html[#html + 1] = '</table>'
  if skipped > 0 then
    html[#html + 1] = empty(string.format("%d line(s) of metrics.jsonl could not be read and were skipped.", skipped))
  end
  return table.concat(html, "\n")
end

-- Reward (mean ± std band, eval reward), KL, losses, throughput, time per phase;
-- `used` collects the keys drawn so that the rest go to "other metrics".
local function training_charts(rows, used)
  local out = {}
  local function use(...) for _, k in ipairs({...}) do used[k] = true end end
  -- reward
  local lo, hi = {}, {}
  for _, row in ipairs(rows) do
    if type(row.reward_mean) == "number" and type(row.reward_std) == "number" then
      lo[#lo + 1] = {row.step, row.reward_mean - row.reward_std}
      hi[#hi + 1] = {row.step, row.reward_mean + row.reward_std}
    end
  end
  lo, hi = report.decimate(lo), report.decimate(hi) -- the same buckets: same x
  local band = {}
  for i = 1, #lo do band[i] = {lo[i][1], lo[i][2], hi[i][2]} end
  use("reward_mean", "reward_std", "eval_reward")
  out[#out + 1] = figure(report.line_chart{title = "Reward", ylabel = "reward", legend = true, series = {
    {name = "train mean ± std", points = (report.decimate(series(rows, "reward_mean"))), band = band},
    line(rows, "eval_reward", "eval", {markers = true})}},
    "Training reward per step (mean, shaded ± one standard deviation) and the mean reward on the held-out prompts at each evaluation.")
  -- KL
  local kl_series = {}
  for _, k in ipairs({"kl", "kl_mean", "eval_kl"}) do
    local sr = line(rows, k, k, {markers = k == "eval_kl"})
    if #sr.points > 0 then kl_series[#kl_series + 1] = sr end
    use(k)
  end
  out[#out + 1] = figure(#kl_series > 0 and report.line_chart{title = "KL to the reference", ylabel = "KL (nats)", legend = true,
    series = kl_series}, "KL divergence of the policy from the reference model.")
  -- losses: one chart each, their scales differ
  local keys = keys_of(rows)
  for _, k in ipairs(keys) do
    if is_loss(k) then
      use(k)
      out[#out + 1] = figure(report.line_chart{title = k, ylabel = "loss", series = {line(rows, k)}})
    end
  end
  -- throughput and time per phase
  use("tokens_per_s")
  out[#out + 1] = figure(report.line_chart{title = "Throughput", ylabel = "generated tokens / s",
    series = {line(rows, "tokens_per_s", "tokens/s")}})
  local phases = {}
  for _, k in ipairs(keys) do
    if k:match("^time_") then
      use(k)
      phases[#phases + 1] = line(rows, k, k:sub(6))
    end
  end
  out[#out + 1] = figure(#phases > 0 and report.line_chart{title = "Time per phase", ylabel = "seconds per step", legend = true,
    series = phases})
  return table.concat(out, "\n")
end

local function other_charts(rows, used)
  local out = {}
  for _, k in ipairs(keys_of(rows)) do
    if not used[k] and k ~= "step" and k ~= "time" then
      out[#out + 1] = figure(report.line_chart{title = k, ylabel = k, series = {line(rows, k)}})
    end
  end
  if #out == 0 then return nil end
  return table.concat(out, "\n")
end

local function rewards_of(rows)
  local out = {}
  for _, r in ipairs(rows) do
    if type(r.reward) == "number" then out[#out + 1] = r.reward end
  end
  return out
end

local function samples_section(first, last)
  local html = {}
  local before, after = rlaif.data.read_jsonl(first.path), rlaif.data.read_jsonl(last.path)
  local label_b = string.format("before (step %d)", first.step)
  local label_a = string.format("after (step %d)", last.step)
  html[#html + 1] = figure(report.histogram("Reward distribution, before and after", {
    {name = label_b, values = rewards_of(before)}, {name = label_a, values = rewards_of(after)}}),
    "Share of held-out samples per reward bin at the first and the last evaluation; dashed lines mark the means.")
  -- Pair the k-th sample of a prompt in one file with the k-th in the other.
  local queue = {}
  for _, r in ipairs(after) do
    local p = tostring(r.prompt)
    queue[p] = queue[p] or {}
    table.insert(queue[p], r)
  end
  html[#html + 1] = '<table class="samples"><thead><tr><th>prompt</th><th>' .. esc(label_b) ..
    '</th><th>' .. esc(label_a) .. '</th></tr></thead><tbody>'
  local shown, limit = 0, 40
  for _, b in ipairs(before) do
    local list = queue[tostring(b.prompt)]
    local a = list and table.remove(list, 1)
    if a then
      shown = shown + 1
      if shown <= limit then
        html[#html + 1] = string.format('<tr><td class="prompt">%s</td><td>%s<div class="r">reward %s</div></td>' ..
          '<td>%s<div class="r">reward %s</div></td></tr>', esc(b.prompt), esc(b.response or ""), esc(fmt(b.reward)),
          esc(a.response or ""), esc(fmt(a.reward)))
      end
    end
  end
  html[#html + 1] = '</tbody></table>'
  if shown > limit then html[#html + 1] = empty(string.format("%d more pairs in the samples files.", shown - limit)) end
  if shown == 0 then html[#html + 1] = empty("The two evaluations share no prompt.") end
  return table.concat(html, "\n")
end

-- eval.json written by `rlaif eval`: metrics of policy and baseline side by side.
local function eval_section(ev)
  local html = {}
  local pol, base = type(ev.policy) == "table" and ev.policy or {}, type(ev.baseline) == "table" and ev.baseline or {}
  local names, seen = {}, {}
  for _, t in ipairs({pol, base}) do
    for k, v in pairs(t) do
      if type(v) == "number" and not seen[k] then seen[k] = true; names[#names + 1] = k end
    end
  end
  table.sort(names)
  html[#html + 1] = '<table class="metrics"><thead><tr><th>metric</th><th>policy</th><th>baseline</th><th>Δ</th></tr></thead><tbody>'
  for _, k in ipairs(names) do
    local a, b = pol[k], base[k]
    local d = (type(a) == "number" and type(b) == "number") and string.format("%+.4g", a - b) or "–"
    html[#html + 1] = string.format('<tr><th>%s</th><td>%s</td><td>%s</td><td>%s</td></tr>', esc(k), esc(fmt(a)),
      esc(fmt(b)), esc(d))
  end
  html[#html + 1] = '</tbody></table>'
  if type(ev.win_rate) == "number" then
    html[#html + 1] = string.format('<p class="win">Win rate of the policy over the baseline: <b>%s</b> (%s pairs; ' ..
      'policy preferred in %s, baseline in %s; both presentation orders averaged).</p>', esc(fmt(ev.win_rate)),
      esc(fmt(ev.pairs)), esc(fmt(ev.policy_wins)), esc(fmt(ev.baseline_wins)))
  end
  if type(ev.samples) == "table" and #ev.samples > 0 then
    local limit = 20
    html[#html + 1] = string.format('<details><summary>samples (%d%s)</summary><table class="samples"><thead><tr>' ..
      '<th>prompt</th><th>policy</th><th>baseline</th></tr></thead><tbody>', #ev.samples,
      #ev.samples > limit and (", first " .. limit .. " shown") or "")
    for i = 1, math.min(limit, #ev.samples) do
      local s = ev.samples[i]
      local p = type(s.p_policy) == "number" and (" · p(policy better) " .. fmt(s.p_policy)) or ""
      html[#html + 1] = string.format('<tr><td class="prompt">%s</td><td>%s<div class="r">reward %s%s</div></td>' ..
        '<td>%s<div class="r">reward %s</div></td></tr>', esc(s.prompt or ""), esc(s.policy or ""),
        esc(fmt(s.reward_policy)), esc(p), esc(s.baseline or ""), esc(fmt(s.reward_baseline)))
    end
    html[#html + 1] = '</tbody></table></details>'
  end
  if type(ev.config) == "table" then
    html[#html + 1] = '<details><summary>evaluation settings</summary><pre>' ..
      esc(rlaif._sorted_json(ev.config, "  ")) .. '</pre></details>'
  end
  return table.concat(html, "\n")
end

local style = [[
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2329;background:#f5f6f8}
main{max-width:1340px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:30px 0 10px;border-bottom:1px solid #d5d9de;padding-bottom:4px}
.sub{color:#5b6570;margin:0 0 14px}
.charts{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 8px 4px;flex:1 1 520px;max-width:640px;box-sizing:border-box}
figcaption{font-size:13px;color:#5b6570;padding:2px 6px 4px;max-width:590px}
svg.chart{display:block;max-width:100%;height:auto;font-family:system-ui,sans-serif}
svg .grid{stroke:#e6e9ed;stroke-width:1}svg .axis,svg .tickmark{stroke:#59636e;stroke-width:1}
svg .tick{font-size:11px;fill:#4a535c}svg .alabel{font-size:12px;fill:#3a424a}
svg .ctitle{font-size:14px;font-weight:600;fill:#1d2329}svg .legend{font-size:11.5px;fill:#3a424a}
svg .line{fill:none;stroke-width:2;stroke-linejoin:round}svg .band{opacity:.18}
svg .bar{opacity:.28}svg .mean{stroke-width:1.5;stroke-dasharray:5 4}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e6}
th,td{padding:6px 10px;border-bottom:1px solid #eceef1;text-align:left;vertical-align:top}
table.summary th,table.metrics tbody th{font-weight:500;color:#4a535c}
table.metrics td{font-variant-numeric:tabular-nums;text-align:right}
table.samples{width:100%;table-layout:fixed}table.samples td{white-space:pre-wrap;word-wrap:break-word}
table.samples td.prompt{width:22%;color:#3a424a;font-style:italic}
.r{color:#5b6570;font-size:12.5px;margin-top:4px;font-style:normal}
pre{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px;overflow:auto;font-size:13px}
.empty{color:#6b7580;font-style:italic}
]]

-- Builds the page for `dir` and returns it as text.
function report.render(dir)
  if not rlaif.fs.isdir(dir) then rlaif.fail(dir .. ": no such run directory") end
  local rows, skipped = read_metrics(dir .. "/metrics.jsonl")
  if not rows then rlaif.fail(dir .. ": no metrics.jsonl (is this a run directory?)") end
  local files = eval_sample_files(dir)
  local config = read_json_file(dir .. "/config.json")
  local ev = read_json_file(dir .. "/eval.json")
  local name = dir:gsub("/+$", ""):match("([^/]+)$") or dir
  local used = {step = true, time = true}
  local h = {}
  h[#h + 1] = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' ..
    '<meta name="viewport" content="width=device-width, initial-scale=1">' ..
    '<title>rlaif report: ' .. esc(name) .. '</title><style>' .. style .. '</style></head><body><main>'
  h[#h + 1] = '<h1>rlaif report: ' .. esc(name) .. '</h1><p class="sub">' .. esc(dir) .. '</p>'
  h[#h + 1] = '<h2 id="summary">Summary</h2>' .. summary_section(dir, rows, skipped, files)
  h[#h + 1] = '<h2 id="training">Training</h2><div class="charts">' .. training_charts(rows, used) .. '</div>'
  if #rows == 0 then h[#h + 1] = empty("metrics.jsonl has no rows yet.") end
  h[#h + 1] = '<h2 id="samples">Before and after</h2>'
  if #files >= 1 then
    h[#h + 1] = '<div class="charts">' .. samples_section(files[1], files[#files]) .. '</div>'
  else
    h[#h + 1] = empty("No evaluation samples in this run (samples/step-*-eval.jsonl).")
  end
  if ev then h[#h + 1] = '<h2 id="eval">Evaluation (eval.json)</h2>' .. eval_section(ev) end
  local others = other_charts(rows, used)
  if others then h[#h + 1] = '<h2 id="other">Other metrics</h2><div class="charts">' .. others .. '</div>' end
  h[#h + 1] = '<h2 id="config">Configuration</h2>'
  h[#h + 1] = config and ('<pre>' .. esc(rlaif._sorted_json(config, "  ")) .. '</pre>') or empty("No config.json.")
  h[#h + 1] = '</main></body></html>\n'
  return table.concat(h, "\n")
end

function rlaif.report(dir, out)
  if type(dir) ~= "string" then rlaif.fail("rlaif.report: the run directory (a string) is required") end
  out = out or (dir:gsub("/+$", "") .. "/report.html")
  local html = report.render(dir)
  local ok, err = rlaif.fs.write_atomic(out, html)
  if not ok then rlaif.fail("rlaif.report: " .. tostring(err)) end
  return out
end

local report_help = [[
usage: rlaif report RUN_DIR [--out FILE]

Writes one self-contained HTML page (no network, no scripts) about a run:
charts of reward, KL, losses, throughput and time per phase, the reward
distribution and samples before and after training, eval.json results when
the run directory has them, and the configuration.

  --out FILE    where to write the page (default RUN_DIR/report.html)
]]

function rlaif._commands.report(args)
  local opts, rest = rlaif._cli_parse(args, {out = "string"}, {["-o"] = "out"}, report_help)
  if not opts then return 0 end
  if #rest ~= 1 then rlaif._usage("exactly one RUN_DIR is required\n" .. report_help) end
  local out = rlaif.report(rest[1], opts.out)
  print("report: " .. out)
  return 0
end
