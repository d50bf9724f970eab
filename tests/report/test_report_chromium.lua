-- The report in a real browser: headless Chromium loads the page from a
-- synthetic run, its rendered DOM must hold the SVG charts with drawn
-- polylines, and its screenshot must show them (the chart colours are on
-- screen, and the page is not blank).  Exits 77 (skipped) without Chromium.
-- arg[1] is python3, arg[2] png_ink.py (which decodes the screenshot).
local src = os.getenv("RLAIF_SOURCE_DIR") or "."
local make = dofile(src .. "/tests/report/synthetic_run.lua")
local python, png_ink = arg[1], arg[2]
assert(python and png_ink, "usage: test_report_chromium.lua PYTHON PNG_INK")

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function find_browser()
  for _, name in ipairs({"chromium", "chromium-browser", "google-chrome"}) do
    local p = io.popen("command -v " .. name .. " 2>/dev/null")
    local path = p:read("l")
    p:close()
    if path and path ~= "" then return path end
  end
end

local browser = find_browser()
if not browser then
  print("chromium not installed: skipped")
  os.exit(77)
end

local dir = os.tmpname()
os.remove(dir)
make(dir, {steps = 40, eval_every = 10, with_eval_json = true})
local page = rlaif.report(dir)
local profile = dir .. "/chromium-profile"
rlaif.fs.mkdir(profile)
local flags = table.concat({"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
  "--user-data-dir=" .. sh_quote(profile), "--window-size=1280,1200"}, " ")
local url = sh_quote("file://" .. page)

-- 1. The DOM after rendering.
local p = io.popen(sh_quote(browser) .. " " .. flags .. " --dump-dom " .. url .. " 2>/dev/null")
local dom = p:read("a")
p:close()
assert(#dom > 1000, "chromium printed no DOM")
local svgs, lines, drawn = 0, 0, 0
for _ in dom:gmatch("<svg ") do svgs = svgs + 1 end
for pts in dom:gmatch('<polyline[^>]- points="([^"]*)"') do
  lines = lines + 1
  local n = 0
  for _ in pts:gmatch("[%d.]+,[%d.]+") do n = n + 1 end
  if n >= 2 then drawn = drawn + 1 end
end
assert(svgs >= 10, "rendered DOM has " .. svgs .. " SVG charts, want 10")
assert(lines >= 14 and drawn == lines, string.format("%d polylines, %d with points", lines, drawn))

-- 2. The screenshot: decode it and look for the series colours.
local shot = dir .. "/shot.png"
assert(os.execute(sh_quote(browser) .. " " .. flags .. " --screenshot=" .. sh_quote(shot) .. " " .. url ..
  " >/dev/null 2>&1"), "chromium --screenshot failed")
local f = assert(io.open(shot, "rb"), "no screenshot written")
assert(f:read(8) == "\137PNG\r\n\26\n", "the screenshot is a PNG")
f:close()
p = io.popen(sh_quote(python) .. " " .. sh_quote(png_ink) .. " " .. sh_quote(shot) .. " 1f6fb4 e3701a")
local stats = rlaif.json.decode(p:read("a") or "")
p:close()
assert(stats, "png_ink.py failed")
print(string.format("screenshot %dx%d: ink %.3f, %d colours, blue line pixels %d, orange %d", stats.width,
  stats.height, stats.ink, stats.colors, stats.hits["1f6fb4"], stats.hits["e3701a"]))
assert(stats.ink > 0.05 and stats.colors > 50, "the screenshot is blank")
assert(stats.hits["1f6fb4"] > 500 and stats.hits["e3701a"] > 100, "the chart lines are not on screen")
rlaif.fs.remove_tree(dir)
print("report-chromium: ok")
