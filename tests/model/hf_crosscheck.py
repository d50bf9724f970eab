#!/usr/bin/python3
"""hf_crosscheck.py -- an independent reading of our Hugging Face / PEFT saves.

A small PyTorch implementation of Hugging Face's LlamaForCausalLM forward
(and of PEFT's LoRA on it), written from the meaning of config.json,
adapter_config.json and the tensor names, with its own safetensors reader.
It shares no code with the C engine, so when both give the same per-token
log-probabilities on a folder the engine wrote, the folder says what we
meant it to say: names, shapes, q/k row order (rotate-half RoPE), norm eps,
rope theta, tied head, adapter scaling and naming.

It is strict on purpose: a tensor the model does not use, a missing one, a
wrong shape, an adapter tensor that names no targeted module, or a config
key with a value this reader does not implement is an error, not a guess.

It is not transformers: it is checked against numbers transformers and peft
computed (the golden vectors, subcommand `golden`) and then trusted.

Subcommands (all print JSON on stdout; exit 1 on a failed check, 2 on an
unreadable or inconsistent checkpoint):
  logprobs MODEL_DIR [--adapter DIR] --ids FILE
        FILE: JSON list of token id lists; prints {"logprobs": [[...], ...]}
        with log p(ids[t+1] | ids[..t]) per sequence.
  golden   MODEL_DIR [--adapter DIR] --golden golden.safetensors [--tol X]
        compares logits and token_logprobs with a reference's.
  compare  MODEL_DIR [--adapter DIR] --ours FILE [--key NAME] [--tol X]
           [--min-effect Y]
        FILE: JSON with "seqs" (id lists) and NAME (default "logprobs"),
        someone else's per-token log-probabilities of those sequences.
        With an adapter it also reports (and with --min-effect requires)
        how far the adapter moves the logprobs from the base model's.
"""
import argparse
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch

DTYPE = torch.float64  # the reference computes in double: it is the oracle


class CheckpointError(Exception):
    """The folder does not read as the checkpoint it claims to be."""


# ---------------------------------------------------------------- safetensors

_ST_DTYPES = {
    "F32": (np.dtype("<f4"), 4),
    "F64": (np.dtype("<f8"), 8),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "I32": (np.dtype("<i4"), 4),
    "I64": (np.dtype("<i8"), 8),
}


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    return dict(pairs)


def read_safetensors(path, dtypes=None):
    """Returns {name: torch tensor}: 8-byte little-endian header length, JSON
    header, data; offsets relative to the data.  BF16 is widened to F32.
    As strict as the safetensors library: the header is a JSON object, the
    tensors tile the data exactly (no gap, no overlap, nothing after).
    `dtypes`, when given, receives each tensor's stored dtype."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise CheckpointError(f"{path}: shorter than the 8-byte header length")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if 8 + hlen > len(blob):
        raise CheckpointError(f"{path}: header length {hlen} runs past the file")
    if blob[8:9] != b"{":
        raise CheckpointError(f"{path}: header does not start with '{{'")
    try:
        header = json.loads(blob[8:8 + hlen].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except ValueError as e:
        raise CheckpointError(f"{path}: header is not JSON: {e}")
    data = memoryview(blob)[8 + hlen:]
    spans = sorted(tuple(int(x) for x in v["data_offsets"])
                   for k, v in header.items() if k != "__metadata__")
    at = 0
    for begin, end in spans:
        if begin != at or end < begin:
            raise CheckpointError(f"{path}: tensor data [{begin}, {end}) does not follow on "
                                  f"from byte {at}")
        at = end
    if at != len(data):
        raise CheckpointError(f"{path}: tensors cover {at} of the {len(data)} data bytes")
    meta = header.get("__metadata__")
    if meta is not None and not (isinstance(meta, dict) and
                                 all(isinstance(v, str) for v in meta.values())):
        raise CheckpointError(f"{path}: __metadata__ is not a string-to-string map")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info.get("dtype")
        if dt not in _ST_DTYPES:
            raise CheckpointError(f"{path}: tensor '{name}': unsupported dtype {dt}")
        npdt, size = _ST_DTYPES[dt]
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(x) for x in info["data_offsets"])
        numel = math.prod(shape)
        if end - begin != numel * size or begin < 0 or end > len(data):
            raise CheckpointError(f"{path}: tensor '{name}': offsets [{begin}, {end}) do not "
                                  f"hold {shape} {dt} inside {len(data)} data bytes")
        arr = np.frombuffer(data[begin:end], dtype=npdt).reshape(shape)
        if dt == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(arr.copy())
        if dtypes is not None:
            dtypes[name] = dt
    return out


# ---------------------------------------------------------------- config

# What a user of transformers/peft would trip over without our numbers
# being wrong (a missing tokenizer, a dtype the file does not have, a base
# model path PEFT cannot open): reported with the result, never fatal.
NOTES = []

_ST_TORCH = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}


def config_notes(model_dir, config, dtypes):
    for key in ("architectures", "model_type", "hidden_act", "max_position_embeddings",
                "tie_word_embeddings", "bos_token_id", "eos_token_id", "rms_norm_eps",
                "num_key_value_heads"):
        if key not in config:
            NOTES.append(f"config.json: no '{key}' (transformers falls back on its default)")
    if "rope_theta" not in config and "rope_theta" not in (config.get("rope_parameters") or {}):
        NOTES.append("config.json: no rope_theta (transformers assumes 10000)")
    declared = config.get("dtype", config.get("torch_dtype"))
    stored = {_ST_TORCH.get(d, d) for d in dtypes.values()}
    if declared is None:
        NOTES.append("config.json: no 'torch_dtype'/'dtype'")
    elif stored and stored != {declared}:
        NOTES.append(f"config.json: torch_dtype {declared!r} but model.safetensors holds "
                     f"{sorted(stored)} (torch_dtype='auto' would load {declared})")
    if not any(os.path.exists(os.path.join(model_dir, f))
               for f in ("tokenizer.json", "tokenizer.model")):
        NOTES.append("no tokenizer.json or tokenizer.model: AutoTokenizer cannot load this "
                     "folder")


def adapter_notes(adapter_dir, ac):
    for key in ("task_type", "lora_dropout", "bias", "fan_in_fan_out", "inference_mode",
                "base_model_name_or_path"):
        if key not in ac:
            NOTES.append(f"adapter_config.json: no '{key}'")
    if ac.get("task_type") not in (None, "CAUSAL_LM"):
        NOTES.append(f"adapter_config.json: task_type {ac['task_type']!r}, not CAUSAL_LM")
    base = ac.get("base_model_name_or_path")
    if not base:
        NOTES.append("adapter_config.json: base_model_name_or_path is empty: "
                     "AutoPeftModelForCausalLM cannot find the base model")
    elif not os.path.isfile(os.path.join(base, "config.json")):
        NOTES.append(f"adapter_config.json: base_model_name_or_path {base!r} is not a Hugging "
                     "Face folder from here (AutoPeftModelForCausalLM would fail; "
                     "PeftModel.from_pretrained(base, dir) does not read it)")

def _cfg(config, key, default=None, required=True):
    if key in config and config[key] is not None:
        return config[key]
    if required and default is None:
        raise CheckpointError(f"config.json: missing key '{key}'")
    return default


class LlamaConfig:
    def __init__(self, config):
        arch = config.get("architectures") or []
        if config.get("model_type") != "llama" or "LlamaForCausalLM" not in arch:
            raise CheckpointError("config.json: not a LlamaForCausalLM (model_type "
                                  f"{config.get('model_type')!r}, architectures {arch!r})")
        self.dim = int(_cfg(config, "hidden_size"))
        self.n_layers = int(_cfg(config, "num_hidden_layers"))
        self.n_heads = int(_cfg(config, "num_attention_heads"))
        # HF: num_key_value_heads defaults to num_attention_heads
        self.n_kv = int(_cfg(config, "num_key_value_heads", self.n_heads))
        self.hidden = int(_cfg(config, "intermediate_size"))
        self.vocab = int(_cfg(config, "vocab_size"))
        self.eps = float(_cfg(config, "rms_norm_eps"))
        self.head_dim = int(_cfg(config, "head_dim", self.dim // self.n_heads))
        # HF: tie_word_embeddings defaults to False for Llama
        self.tied = bool(config.get("tie_word_embeddings", False))
        rope = config.get("rope_parameters") or {}
        theta = config.get("rope_theta", rope.get("rope_theta"))
        if theta is None:
            raise CheckpointError("config.json: no 'rope_theta' (top level or in 'rope_parameters')")
        self.theta = float(theta)
        rtype = rope.get("rope_type", "default")
        scaling = config.get("rope_scaling")
        if rtype != "default" or (scaling and scaling.get("rope_type", scaling.get("type"))
                                  not in (None, "default")):
            raise CheckpointError("config.json: rope scaling is not implemented here")
        if config.get("hidden_act", "silu") != "silu":
            raise CheckpointError(f"config.json: hidden_act {config['hidden_act']!r} is not silu")
        self.attn_bias = bool(config.get("attention_bias", False))
        self.mlp_bias = bool(config.get("mlp_bias", False))
        if self.n_heads % self.n_kv:
            raise CheckpointError("config.json: num_attention_heads not a multiple of "
                                  "num_key_value_heads")

    def expected(self):
        """HF's parameter names and shapes for this config."""
        D, F, V = self.dim, self.hidden, self.vocab
        q, kv = self.n_heads * self.head_dim, self.n_kv * self.head_dim
        e = {"model.embed_tokens.weight": [V, D], "model.norm.weight": [D]}
        if not self.tied:
            e["lm_head.weight"] = [V, D]
        for l in range(self.n_layers):
            p = f"model.layers.{l}."
            lin = {"self_attn.q_proj": ([q, D], self.attn_bias),
                   "self_attn.k_proj": ([kv, D], self.attn_bias),
                   "self_attn.v_proj": ([kv, D], self.attn_bias),
                   "self_attn.o_proj": ([D, q], self.attn_bias),
                   "mlp.gate_proj": ([F, D], self.mlp_bias),
                   "mlp.up_proj": ([F, D], self.mlp_bias),
                   "mlp.down_proj": ([D, F], self.mlp_bias)}
            for mod, (shape, bias) in lin.items():
                e[p + mod + ".weight"] = shape
                if bias:
                    e[p + mod + ".bias"] = [shape[0]]
            e[p + "input_layernorm.weight"] = [D]
            e[p + "post_attention_layernorm.weight"] = [D]
        return e


def linear_modules(cfg):
    """The module names PEFT can target (every nn.Linear, lm_head included)."""
    mods = []
    for l in range(cfg.n_layers):
        for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
            mods.append(f"model.layers.{l}.{m}")
    mods.append("lm_head")
    return mods


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    cfg = LlamaConfig(config)
    path = os.path.join(model_dir, "model.safetensors")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: missing (sharded checkpoints are not read here)")
    dtypes = {}
    w = read_safetensors(path, dtypes)
    config_notes(model_dir, config, dtypes)
    exp = cfg.expected()
    missing = sorted(set(exp) - set(w))
    unexpected = sorted(set(w) - set(exp))
    if missing or unexpected:
        raise CheckpointError(f"{path}: tensor names do not match LlamaForCausalLM: "
                              f"missing {missing}, unexpected {unexpected}")
    for name, shape in exp.items():
        if list(w[name].shape) != shape:
            raise CheckpointError(f"{path}: tensor '{name}' has shape {list(w[name].shape)}, "
                                  f"config.json implies {shape}")
    w = {k: v.to(DTYPE) for k, v in w.items()}
    if cfg.tied:
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    return cfg, w


# ---------------------------------------------------------------- PEFT LoRA

def _peft_targeted(module, targets):
    """PEFT's rule: a regex string must match the whole name; a list entry
    matches the name itself or a '.'-separated suffix of it."""
    if isinstance(targets, str):
        return re.fullmatch(targets, module) is not None
    return any(module == t or module.endswith("." + t) for t in targets)


def apply_lora(cfg, w, adapter_dir):
    """W_eff = W + scale * B @ A on the targeted modules; returns their names."""
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        ac = json.load(f)
    where = os.path.join(adapter_dir, "adapter_config.json")
    adapter_notes(adapter_dir, ac)
    if ac.get("peft_type") != "LORA":
        raise CheckpointError(f"{where}: peft_type {ac.get('peft_type')!r} is not LORA")
    for key, ok in (("use_dora", False), ("fan_in_fan_out", False), ("bias", "none")):
        if ac.get(key, ok) != ok:
            raise CheckpointError(f"{where}: {key} = {ac[key]!r} is not implemented here")
    for key in ("rank_pattern", "alpha_pattern", "modules_to_save", "layers_to_transform",
                "target_parameters", "trainable_token_indices"):
        if ac.get(key):
            raise CheckpointError(f"{where}: {key} = {ac[key]!r} is not implemented here")
    r = int(ac["r"])
    alpha = float(ac["lora_alpha"])
    scale = alpha / math.sqrt(r) if ac.get("use_rslora", False) else alpha / r
    targets = ac["target_modules"]
    if not targets:
        raise CheckpointError(f"{where}: no target_modules")
    path = os.path.join(adapter_dir, "adapter_model.safetensors")
    t = read_safetensors(path)
    targeted = [m for m in linear_modules(cfg) if _peft_targeted(m, targets)]
    if cfg.tied and "lm_head" in targeted:
        raise CheckpointError(f"{where}: LoRA on a tied lm_head is not implemented here")
    if not targeted:
        raise CheckpointError(f"{where}: target_modules {targets!r} match no Linear of the model")
    expected = {}
    for m in targeted:
        W = w[m + ".weight"]
        expected[f"base_model.model.{m}.lora_A.weight"] = [r, W.shape[1]]
        expected[f"base_model.model.{m}.lora_B.weight"] = [W.shape[0], r]
    missing = sorted(set(expected) - set(t))
    unexpected = sorted(set(t) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: adapter tensors do not match target_modules "
                              f"{targets!r}: missing {missing}, unexpected {unexpected}")
    for name, shape in expected.items():
        if list(t[name].shape) != shape:
            raise CheckpointError(f"{path}: tensor '{name}' has shape {list(t[name].shape)}, "
                                  f"expected {shape}")
    for m in targeted:
        A = t[f"base_model.model.{m}.lora_A.weight"].to(DTYPE)
        B = t[f"base_model.model.{m}.lora_B.weight"].to(DTYPE)
        w[m + ".weight"] = w[m + ".weight"] + scale * (B @ A)
    return targeted


# ---------------------------------------------------------------- forward

def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(cfg, T):
    hd = cfg.head_dim
    inv_freq = 1.0 / (cfg.theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(DTYPE) / hd))
    pos = torch.arange(T, dtype=DTYPE)
    freqs = torch.outer(pos, inv_freq)          # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)     # [T, hd]
    return emb.cos(), emb.sin()


def linear(x, w, name):
    y = x @ w[name + ".weight"].T
    b = w.get(name + ".bias")
    return y + b if b is not None else y


def forward(cfg, w, ids):
    """ids: LongTensor [B, T] -> logits [B, T, V] (no padding, positions 0..T-1)."""
    B, T = ids.shape
    H, KV, hd = cfg.n_heads, cfg.n_kv, cfg.head_dim
    x = w["model.embed_tokens.weight"][ids]                       # [B, T, D]
    cos, sin = rope_cos_sin(cfg, T)
    mask = torch.full((T, T), float("-inf"), dtype=DTYPE).triu(1)
    for l in range(cfg.n_layers):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], cfg.eps)
        q = linear(h, w, p + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = linear(h, w, p + "self_attn.k_proj").view(B, T, KV, hd).transpose(1, 2)
        v = linear(h, w, p + "self_attn.v_proj").view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)                   # query head i reads kv i//rep
        v = v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + linear(o, w, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], cfg.eps)
        g = linear(h, w, p + "mlp.gate_proj")
        u = linear(h, w, p + "mlp.up_proj")
        x = x + linear(torch.nn.functional.silu(g) * u, w, p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], cfg.eps)
    return x @ w["lm_head.weight"].T


def token_logprobs(cfg, w, seq):
    ids = torch.tensor([seq], dtype=torch.int64)
    if ids.numel() and (ids.min() < 0 or ids.max() >= cfg.vocab):
        raise CheckpointError(f"token id out of range 0..{cfg.vocab - 1}")
    lp = forward(cfg, w, ids).log_softmax(-1)[0]
    return lp[:-1].gather(-1, ids[0, 1:, None])[:, 0]


# ---------------------------------------------------------------- commands

def load(args):
    cfg, w = load_model(args.model)
    targeted = apply_lora(cfg, w, args.adapter) if args.adapter else []
    return cfg, w, targeted


def cmd_logprobs(args):
    cfg, w, _ = load(args)
    with open(args.ids) as f:
        seqs = json.load(f)
    out = [token_logprobs(cfg, w, s).tolist() for s in seqs]
    print(json.dumps({"logprobs": out}))
    return 0


def cmd_golden(args):
    cfg, w, targeted = load(args)
    g = read_safetensors(args.golden)
    ids = g["input_ids"].long()
    logits = forward(cfg, w, ids)
    lp = logits.log_softmax(-1)[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    d_logits = (logits - g["logits"].to(DTYPE)).abs().max().item()
    d_lp = (lp - g["token_logprobs"].to(DTYPE)).abs().max().item()
    ok = d_logits <= args.tol and d_lp <= args.tol
    print(json.dumps({"check": "golden", "model": args.model, "adapter": args.adapter,
                      "lora_modules": len(targeted), "max_abs_logits": d_logits,
                      "max_abs_logprobs": d_lp, "tol": args.tol, "ok": ok,
                      "notes": sorted(set(NOTES))}))
    return 0 if ok else 1


def cmd_compare(args):
    cfg, w, targeted = load(args)
    with open(args.ours) as f:
        ours = json.load(f)
    seqs, theirs = ours["seqs"], ours[args.key]
    if len(seqs) != len(theirs):
        raise CheckpointError(f"{args.ours}: {len(seqs)} sequences, {len(theirs)} '{args.key}'")
    base = load_model(args.model)[1] if args.adapter else None
    worst, effect, n = 0.0, 0.0, 0
    for s, t in zip(seqs, theirs):
        mine = token_logprobs(cfg, w, s)
        t = torch.tensor(t, dtype=DTYPE)[: len(s) - 1]
        if t.numel() != len(s) - 1:
            raise CheckpointError(f"{args.ours}: {t.numel()} logprobs for {len(s)} tokens")
        worst = max(worst, (mine - t).abs().max().item())
        if base is not None:
            effect = max(effect, (mine - token_logprobs(cfg, base, s)).abs().max().item())
        n += t.numel()
    ok = worst <= args.tol
    res = {"check": args.key, "model": args.model, "adapter": args.adapter,
           "lora_modules": len(targeted), "tokens": n, "max_abs_logprobs": worst,
           "tol": args.tol, "ok": ok, "notes": sorted(set(NOTES))}
    if base is not None:
        # how far the adapter moves the logprobs: a check of an adapter that
        # changes nothing would prove little
        res["adapter_effect"] = effect
        if args.min_effect and effect < args.min_effect:
            res["ok"] = ok = False
    print(json.dumps(res))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("logprobs", "golden", "compare"):
        s = sub.add_parser(name)
        s.add_argument("model")
        s.add_argument("--adapter")
        s.add_argument("--tol", type=float, default=1e-4)
        if name == "logprobs":
            s.add_argument("--ids", required=True)
        elif name == "golden":
            s.add_argument("--golden", required=True)
        else:
            s.add_argument("--ours", required=True)
            s.add_argument("--key", default="logprobs")
            s.add_argument("--min-effect", type=float, default=0.0,
                           help="with --adapter: fail unless it moves some logprob this much")
    args = ap.parse_args()
    try:
        with torch.no_grad():
            return {"logprobs": cmd_logprobs, "golden": cmd_golden,
                    "compare": cmd_compare}[args.cmd](args)
    except (CheckpointError, KeyError, OSError, ValueError) as e:
        print(f"hf_crosscheck: {args.cmd} {args.model}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
