#!/usr/bin/env python3
"""png_ink.py FILE.png [RRGGBB ...] -> one JSON line {width, height, ink, colors, dark, hits}

Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what headless Chromium
writes) with the standard library only, and measures how much of it is drawn:
  ink     share of pixels that differ from the most common colour (the background)
  colors  number of distinct colours (a blank page has one or two)
  dark    share of pixels darker than mid-grey (text, axes)
  hits    for each RRGGBB argument, how many pixels have exactly that colour
          (the chart lines' colours: a drawn polyline leaves solid pixels)
Used by the report test to tell a drawn page from a blank screenshot.
"""
import json
import struct
import sys
import zlib
from collections import Counter


def chunks(data):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG file")
    idat = b""
    for kind, body in chunks(data):
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise SystemExit(f"{path}: only 8-bit non-interlaced RGB/RGBA is handled")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                line[i] = (line[i] + paeth(a, b, c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = decode(sys.argv[1])
    counts = Counter()
    dark = 0
    for line in rows:
        for x in range(0, len(line), bpp):
            px = line[x:x + 3]
            counts[px] += 1
            if px[0] + px[1] + px[2] < 3 * 128:
                dark += 1
    total = width * height
    background = counts.most_common(1)[0][1]
    hits = {hexa: counts.get(bytes.fromhex(hexa), 0) for hexa in sys.argv[2:]}
    print(json.dumps({"width": width, "height": height, "ink": (total - background) / total,
                      "colors": len(counts), "dark": dark / total, "hits": hits}))


if __name__ == "__main__":
    main()
