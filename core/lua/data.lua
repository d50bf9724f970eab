-- core/lua/data.lua — datasets as lists of rows (Lua tables) and JSONL files.
--
--   rows = rlaif.data.read_jsonl(path [, {require = {"prompt"}}])
--   rlaif.data.write_jsonl(path, rows)          -- atomic: temp file + rename
--   a, b = rlaif.data.split(rows, 0.9, seed)    -- shuffled split by fraction
--   rows2 = rlaif.data.shuffle(rows, seed)      -- a new shuffled list
--   for i, batch in rlaif.data.batches(rows, size) do ... end
--   prompts = rlaif.data.column(rows, "prompt")
-- Errors name the file, the line and the field.
local rlaif = ...
local json = rlaif.json
local data = {}
rlaif.data = data

function data.read_jsonl(path, opts)
  local f, err = io.open(path, "r")
  if not f then rlaif.fail("read_jsonl: " .. err) end
  local rows, lineno = {}, 0
  local required = opts and opts.require or {}
  for line in f:lines() do
    lineno = lineno + 1
    if line:match("%S") then
      local row, jerr = json.decode(line)
      if row == nil then
        f:close()
        rlaif.fail(string.format("%s:%d: %s", path, lineno, jerr))
      end
      if type(row) ~= "table" then
        f:close()
        rlaif.fail(string.format("%s:%d: each line must be a JSON object", path, lineno))
      end
      for _, field in ipairs(required) do
        if row[field] == nil then
          f:close()
          rlaif.fail(string.format("%s:%d: field '%s' is missing", path, lineno, field))
        end
      end
      rows[#rows + 1] = row
    end
  end
  f:close()
  return rows
end

function data.write_jsonl(path, rows)
  local parts = {}
  for i, row in ipairs(rows) do
    local ok, text = pcall(json.encode, row)
    if not ok then rlaif.fail(string.format("write_jsonl %s: row %d: %s", path, i, text)) end
    parts[i] = text
  end
  local ok, err = rlaif.fs.write_atomic(path, table.concat(parts, "\n") .. (#parts > 0 and "\n" or ""))
  if not ok then rlaif.fail("write_jsonl: " .. err) end
end

-- Appends one row and flushes, for logs that must survive a crash.
function data.append_jsonl(path, row)
  local f, err = io.open(path, "a")
  if not f then rlaif.fail("append_jsonl: " .. err) end
  f:write(json.encode(row), "\n")
  f:close()
end

function data.shuffle(rows, seed)
  local out = rlaif.copy(rows)
  local rng = rlaif.rng(seed or 0)
  for i = #out, 2, -1 do
    local j = rng:below(i)
    out[i], out[j] = out[j], out[i]
  end
  return out
end

function data.split(rows, fraction, seed)
  assert(type(fraction) == "number" and fraction > 0 and fraction < 1, "split: fraction must be in (0, 1)")
  local s = data.shuffle(rows, seed)
  local n = math.floor(#s * fraction + 0.5)
  local a, b = {}, {}
  for i = 1, #s do
    if i <= n then a[#a + 1] = s[i] else b[#b + 1] = s[i] end
  end
  return a, b
end

function data.batches(rows, size)
  assert(math.type(size) == "integer" and size > 0, "batches: size must be a positive integer")
  local i = 0
  return function()
    if i * size >= #rows then return nil end
    i = i + 1
    local batch = {}
    for k = (i - 1) * size + 1, math.min(i * size, #rows) do batch[#batch + 1] = rows[k] end
    return i, batch
  end
end

function data.column(rows, field)
  local out = {}
  for i, row in ipairs(rows) do
    if row[field] == nil then rlaif.fail(string.format("column: row %d has no field '%s'", i, field)) end
    out[i] = row[field]
  end
  return out
end
