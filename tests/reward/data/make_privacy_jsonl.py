#!/usr/bin/env python3
"""Converts a marked-up privacy set (one sentence a line, entities written
{{type|text}}, '#' comments) into JSONL with byte offsets:
{"text": ..., "entities": [{"type": ..., "start": ..., "end": ...}]}.
Usage: make_privacy_jsonl.py privacy_labelled.txt > privacy_labelled.jsonl"""
import json
import re
import sys

TYPES = {"name", "email", "phone", "address", "card", "iban", "ip", "national_id"}
MARK = re.compile(r"\{\{([a-z_]+)\|(.*?)\}\}")

for lineno, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        continue
    text = b""
    entities = []
    pos = 0
    for m in MARK.finditer(line):
        if m.group(1) not in TYPES:
            sys.exit(f"{sys.argv[1]}:{lineno}: unknown type {m.group(1)}")
        text += line[pos:m.start()].encode()
        start = len(text)
        text += m.group(2).encode()
        entities.append({"type": m.group(1), "start": start, "end": len(text)})
        pos = m.end()
    text += line[pos:].encode()
    print(json.dumps({"text": text.decode(), "entities": entities}, ensure_ascii=False))
