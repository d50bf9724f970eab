#!/usr/bin/env python3
"""Writes data/variants/<name>/tokenizer.json: small char-level BPE
tokenizers (printable ASCII, merges learnt here from a few sentences) that
each exercise pipeline parts the real tokenizers do not: every Split
behaviour and invert, Digits, Whitespace, WhitespaceSplit, the NFD / Replace
(regex) / Strip / Prepend normalizers, ignore_merges, unk fusing, and the
Replace / Strip / Fuse decoders.  Reference ids come from make_reference.js.

  cd tests/tokenizer/data && python3 make_variants.py
"""
import collections
import json
import os

CORPUS = """Once upon a time, there was a little girl named Lily. She loved to play
outside in the park. One day, she saw a big, red ball. I'm sure you've seen it;
they'll say we'd done it. numbers 1234567 and 3.14159 and -42 the cat sat on the mat
def f(x): return x**2 abcabc abc abd""".split('\n')


def learn_merges(n):
    words = collections.Counter()
    for line in CORPUS:
        for w in line.split():
            words[tuple(w)] += 1
    merges = []
    for _ in range(n):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        new = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    return merges


def base(merges, ignore_merges=False, extra_vocab=()):
    vocab = {'<unk>': 0}
    for c in [chr(i) for i in range(32, 127)] + ['\n', '\t', '\u0301', '\u2581']:
        vocab.setdefault(c, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for w in extra_vocab:
        vocab.setdefault(w, len(vocab))
    return {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
            'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': False,
            'ignore_merges': ignore_merges, 'vocab': vocab, 'merges': [[a, b] for a, b in merges]}


def byte_to_char(b):
    """GPT-2's printable stand-in for a byte."""
    if b <= 0x20:
        return chr(256 + b)
    if 0x7F <= b <= 0xA0:
        return chr(256 + 33 + b - 0x7F)
    if b == 0xAD:
        return chr(256 + 67)
    return chr(b)


def byte_level_model(merges):
    """Every byte's stand-in char, the merges learnt on the corpus (with
    the space shown as U+0120), RoBERTa's specials."""
    vocab = {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3}
    for b in range(256):
        vocab.setdefault(byte_to_char(b), len(vocab))
    space = byte_to_char(0x20)
    bl = [(a.replace(' ', space), b) for a, b in merges]
    bl = [(space, 't'), (space, 'a'), (space, 's'), (space + 't', 'he')] + bl
    out = []
    for a, b in bl:
        if a in vocab and b in vocab and (a, b) not in out:
            vocab.setdefault(a + b, len(vocab))
            out.append((a, b))
    return {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
            'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False,
            'vocab': vocab, 'merges': ['%s %s' % m for m in out]}


def affix_model(prefix, suffix):
    """A char-level BPE whose symbols carry a continuing-subword prefix
    (chars after the first) or an end-of-word suffix (the last char), with
    merges learnt on the corpus in that form."""
    words = collections.Counter()
    for line in CORPUS:
        for w in line.split():
            syms = [w[0]] + [prefix + c for c in w[1:]]
            syms[-1] += suffix
            words[tuple(syms)] += 1
    vocab = {'<unk>': 0}
    for c in [chr(i) for i in range(33, 127)]:
        for v in (c, prefix + c, c + suffix, prefix + c + suffix):
            vocab.setdefault(v, len(vocab))
    merges = []
    for _ in range(60):
        pairs = collections.Counter()
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merged = a + b[len(prefix):]
        merges.append((a, b))
        vocab.setdefault(merged, len(vocab))
        new = collections.Counter()
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += n
        words = new
    return {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>',
            'continuing_subword_prefix': prefix or None, 'end_of_word_suffix': suffix or None,
            'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False, 'vocab': vocab,
            'merges': ['%s %s' % m for m in merges]}


def split(pattern, behavior, invert=False, regex=True):
    return {'type': 'Split', 'pattern': {'Regex' if regex else 'String': pattern},
            'behavior': behavior, 'invert': invert}


def main():
    merges = learn_merges(60)
    join_dec = {'type': 'Fuse'}
    variants = {
        'split_removed': (None, split(' ', 'Removed', regex=False), join_dec),
        'split_merged_prev': (None, split('[,.!?;:]', 'MergedWithPrevious'), join_dec),
        'split_merged_next': (None, split('\\s+', 'MergedWithNext'), join_dec),
        'split_contiguous': (None, split('\\d', 'Contiguous'), join_dec),
        'split_invert': (None, split('\\w+', 'Removed', invert=True), join_dec),
        'split_isolated_invert': (None, split('[a-z]+', 'Isolated', invert=True), join_dec),
        'digits_whitespace': (None, {'type': 'Sequence', 'pretokenizers': [
            {'type': 'Whitespace'}, {'type': 'Digits', 'individual_digits': True}]}, None),
        'whitespacesplit_digits': (None, {'type': 'Sequence', 'pretokenizers': [
            {'type': 'WhitespaceSplit'}, {'type': 'Digits', 'individual_digits': False}]},
            {'type': 'Sequence', 'decoders': [{'type': 'Fuse'}]}),
        'normalizers': ({'type': 'Sequence', 'normalizers': [
            {'type': 'NFD'},
            {'type': 'Replace', 'pattern': {'Regex': '\\s+'}, 'content': ' '},
            {'type': 'Strip', 'strip_left': True, 'strip_right': True},
            {'type': 'Prepend', 'prepend': '_'},
            {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '_'}]},
            split('_', 'MergedWithNext', regex=False),
            {'type': 'Sequence', 'decoders': [
                {'type': 'Replace', 'pattern': {'Regex': '_+'}, 'content': ' '},
                {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0},
                {'type': 'Fuse'}]}),
        'ignore_merges': (None, {'type': 'WhitespaceSplit'}, None),
    }
    # Metaspace with split (the older Llama / T5 style), prepended always.
    variants['metaspace_split'] = (None, {'type': 'Metaspace', 'replacement': '\u2581',
                                          'prepend_scheme': 'always', 'split': True},
                                   {'type': 'Metaspace', 'replacement': '\u2581',
                                    'prepend_scheme': 'always', 'split': True})
    # Compatibility forms and lowercasing (the Metaspace "first" head must
    # follow a first char that expands, e.g. U+FB01 -> "fi").
    variants['nfkc_lowercase'] = (
        {'type': 'Sequence', 'normalizers': [{'type': 'NFKC'}, {'type': 'Lowercase'}]},
        {'type': 'Sequence', 'pretokenizers': [
            split('[,.;:!?]', 'Isolated'),
            {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'first', 'split': True}]},
        {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'first', 'split': True})
    variants['nfkd'] = ({'type': 'NFKD'}, {'type': 'WhitespaceSplit'}, None)
    # BERT-style splitting, punctuation runs kept together, a char delimiter.
    variants['bert_pre'] = (None, {'type': 'BertPreTokenizer'}, None)
    variants['punct_contiguous_chardelim'] = (None, {'type': 'Sequence', 'pretokenizers': [
        {'type': 'CharDelimiterSplit', 'delimiter': ' '},
        {'type': 'Punctuation', 'behavior': 'Contiguous'}]}, join_dec)
    # Metaspace "first" after a split: only pieces starting at the input's
    # start get the prefix (HF judges by original offsets).
    variants['metaspace_first_after_split'] = (
        {'type': 'NFC'},
        {'type': 'Sequence', 'pretokenizers': [
            split('^\\s+|[,.;:!?]', 'Removed'),
            {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'first', 'split': True}]},
        {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'first', 'split': True})
    for name, (norm, pre, dec) in variants.items():
        model = base(merges, ignore_merges=(name == 'ignore_merges'),
                     extra_vocab=('abcabc', 'little', 'Lily.', '1234567') if name == 'ignore_merges' else ())
        tok = {'version': '1.0', 'truncation': None, 'padding': None,
               'added_tokens': [{'id': 0, 'content': '<unk>', 'single_word': False, 'lstrip': False,
                                 'rstrip': False, 'normalized': False, 'special': True}],
               'normalizer': norm, 'pre_tokenizer': pre, 'post_processor': None, 'decoder': dec,
               'model': model}
        write(name, tok)
    # Byte-level behind modern split patterns (GPT-4o / o200k-like with
    # case classes and optional contractions; DeepSeek-like with literal
    # ranges and an end anchor): checks PCRE2 reads them as Oniguruma does.
    patterns = {
        'split_o200k_style': [
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*"
            "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
            "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
            "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
        'split_deepseek_style': [
            "\\p{N}{1,3}",
            "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
            "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+$|\\s+(?!\\S)|\\s+"],
    }
    for name, pats in patterns.items():
        write(name, {
            'version': '1.0', 'truncation': None, 'padding': None,
            'added_tokens': [{'id': 2, 'content': '</s>', 'single_word': False, 'lstrip': False,
                              'rstrip': False, 'normalized': False, 'special': True}],
            'normalizer': None,
            'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [
                split(pat, 'Isolated') for pat in pats] + [
                {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True,
                 'use_regex': False}]},
            'post_processor': None,
            'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True,
                        'use_regex': True},
            'model': byte_level_model(merges)})
    # Subword affixes: an end-of-word suffix with its BPEDecoder (CLIP
    # style, after NFC + Lowercase + whitespace folding), and a
    # continuing-subword prefix.
    for name, prefix, suffix, dec in (
            ('eow_suffix', '', '</w>', {'type': 'BPEDecoder', 'suffix': '</w>'}),
            ('subword_prefix', '##', '', None)):
        write(name, {
            'version': '1.0', 'truncation': None, 'padding': None,
            'added_tokens': [{'id': 0, 'content': '<unk>', 'single_word': False, 'lstrip': False,
                              'rstrip': False, 'normalized': False, 'special': True}],
            'normalizer': {'type': 'Sequence', 'normalizers': [
                {'type': 'NFC'}, {'type': 'Replace', 'pattern': {'Regex': '\\s+'}, 'content': ' '},
                {'type': 'Lowercase'}]},
            'pre_tokenizer': {'type': 'Whitespace'},
            'post_processor': None, 'decoder': dec,
            'model': affix_model(prefix, suffix)})
    # Byte-level with add_prefix_space (RoBERTa style) and its post-processor.
    write('bytelevel_prefix', {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [{'id': i, 'content': c, 'single_word': False, 'lstrip': c == '<mask>',
                          'rstrip': False, 'normalized': False, 'special': True}
                         for i, c in enumerate(['<s>', '<pad>', '</s>', '<unk>'])],
        'normalizer': None,
        'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True,
                          'use_regex': True},
        'post_processor': {'type': 'RobertaProcessing', 'sep': ['</s>', 2], 'cls': ['<s>', 0],
                           'trim_offsets': True, 'add_prefix_space': True},
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True,
                    'use_regex': True},
        'model': byte_level_model(merges)})


def write(name, tok):
    os.makedirs(os.path.join('variants', name), exist_ok=True)
    with open(os.path.join('variants', name, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
