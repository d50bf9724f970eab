-- core/lua/commands.lua — CLI commands written in Lua (called from main.c as
-- rlaif._commands[name](args)).  A usage error raises "rlaif_usage:<text>".
local rlaif = ...
local commands = {}
rlaif._commands = commands

-- Command-line options shared by every command written in Lua: --key value, flags,
-- and "list" options that may be repeated (--reward a --reward b).

local function usage(text) error("rlaif_usage:" .. text, 0) end
rlaif._usage = usage

function rlaif._cli_parse(args, spec, aliases, help)
  local opts, rest = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      io.stdout:write(help)
      return nil
    end
    local key = aliases[a] or (a:match("^%-%-(.+)$"))
    if key then
      key = key:gsub("%-", "_")
      local kind = spec[key]
      if not kind then usage("unknown option '" .. a .. "'\n" .. help) end
      if kind == "flag" then
        opts[key] = true
      else
        local v = args[i + 1]
        if v == nil then usage("option '" .. a .. "' needs a value\n" .. help) end
        if kind == "number" or kind == "integer" then
          local num = tonumber(v)
          if num == nil or (kind == "integer" and math.type(num) ~= "integer") then
            usage("option '" .. a .. "': " .. kind .. " expected, got '" .. v .. "'\n" .. help)
          end
          v = num
        end
        if kind == "list" then
          opts[key] = opts[key] or {}
          table.insert(opts[key], v)
        else
          opts[key] = v
        end
        i = i + 1
      end
    elseif a:match("^%-") and #a > 1 then
      usage("unknown option '" .. a .. "'\n" .. help)
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

local parse = rlaif._cli_parse

local generate_help = [[
usage: rlaif generate --model PATH --prompt TEXT [options]

Samples continuations of a prompt.  PATH is a Hugging Face model folder or a
llama2.c checkpoint (.bin, with its tokenizer beside it).

  --model PATH            the model (required)
  --prompt TEXT           the prompt (default: empty, i.e. BOS only)
  -n N                    number of samples (default 1)
  -t, --temperature T     sampling temperature, 0 = greedy (default 0.8)
  --top-k K               keep the K most likely tokens (default 0 = off)
  --top-p P               nucleus sampling (default 1 = off)
  --seed S                random seed (default 0): same seed, same text
  --max-new-tokens M      tokens to generate (default 128)
  --backend NAME          model plugin (default transformer)
  --threads N             worker threads (default 2)
  --model-config JSON     more model config keys, e.g. '{"matmul": "bf16",
                          "decode_bf16": true}' (mixed precision, see
                          docs/lua-api.md)
  --json                  print one JSON object per sample
]]

-- The model table of a command: its own flags, plus the keys of
-- --model-config (a JSON object), which may not repeat them.
function rlaif._cli_model_config(opts, base, help)
  if not opts.model_config then return base end
  local extra, err = rlaif.json.decode(opts.model_config)
  if type(extra) ~= "table" or extra[1] ~= nil then
    usage("--model-config: expected a JSON object, got '" .. opts.model_config .. "'" ..
      (err and (" (" .. tostring(err) .. ")") or "") .. "\n" .. help)
  end
  for k, v in pairs(extra) do
    if base[k] ~= nil then
      usage("--model-config: key '" .. k .. "' is set by its own option\n" .. help)
    end
    base[k] = v
  end
  return base
end

function commands.generate(args)
  local opts = parse(args, {model = "string", prompt = "string", n = "integer", temperature = "number",
      top_k = "integer", top_p = "number", seed = "integer", max_new_tokens = "integer",
      backend = "string", threads = "integer", json = "flag", model_config = "string"},
    {["-n"] = "n", ["-t"] = "temperature"}, generate_help)
  if not opts then return 0 end
  if not opts.model then usage("--model is required\n" .. generate_help) end
  local m <close> = rlaif.model(rlaif._cli_model_config(opts,
    {backend = opts.backend, path = opts.model, threads = opts.threads or 2}, generate_help))
  local outs = m:generate(opts.prompt or "", {n = opts.n or 1, temperature = opts.temperature or 0.8,
    top_k = opts.top_k, top_p = opts.top_p, seed = opts.seed or 0,
    max_new_tokens = opts.max_new_tokens or 128})
  for i, o in ipairs(outs) do
    if opts.json then
      print(rlaif.json.encode({prompt = opts.prompt or "", text = o.text, finish = o.finish, tokens = #o.ids}))
    else
      if #outs > 1 then print(string.format("--- sample %d (%s, %d tokens)", i, o.finish, #o.ids)) end
      print((opts.prompt or "") .. o.text)
    end
  end
  return 0
end
