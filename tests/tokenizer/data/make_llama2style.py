#!/usr/bin/env python3
"""Writes three small sentencepiece-style tokenizer.json files built from the
vocabulary of llama2.c's tok512.bin (MIT), to test the Llama-2 side of the
tokenizer.json pipeline (Prepend/Replace normalizers, Metaspace, byte
fallback, unk fusing, added tokens with lstrip/rstrip/single_word, added
tokens matched in normalized text (llama2norm), the
ByteFallback/Fuse/Strip/Replace/Metaspace decoders, a BOS template).

  python3 make_llama2style.py ../../../../shared/models/stories260K/tok512.bin

Merges are derived from the vocabulary the way HF's sentencepiece converter
does it: every split of a piece into two pieces of the vocabulary, ordered
by the merged piece's id.  The reference ids are then made with
make_reference.js (Hugging Face `tokenizers`).
"""
import json
import struct
import sys


def read_tok512(path):
    data = open(path, 'rb').read()
    at, pieces = 4, []
    while len(pieces) < 512:
        score, n = struct.unpack('<fi', data[at:at + 8])
        at += 8
        pieces.append(data[at:at + n].decode('utf-8'))
        at += n
    return pieces


def build(pieces, variant):
    vocab = {}
    for i, p in enumerate(pieces):
        p = {0: '<unk>', 1: '<s>', 2: '</s>'}.get(i, p.replace(' ', '\u2581'))
        vocab.setdefault(p, i)
    merges = []
    for piece, pid in sorted(vocab.items(), key=lambda kv: kv[1]):
        if pid < 259:
            continue
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                merges.append((pid, vocab[left], vocab[right], left, right))
    merges.sort()
    added = [
        {'id': 0, 'content': '<unk>', 'special': True},
        {'id': 1, 'content': '<s>', 'special': True},
        {'id': 2, 'content': '</s>', 'special': True},
        {'id': 512, 'content': '<mask>', 'special': True, 'lstrip': True},
        {'id': 513, 'content': '[SEP]', 'special': False, 'rstrip': True},
        {'id': 514, 'content': 'cat', 'special': False, 'single_word': True},
        {'id': 515, 'content': '<mask>x', 'special': False},
    ]
    if variant == 'normalized':
        # Added tokens matched in normalized text (by their normalized form).
        added.append({'id': 516, 'content': 'a b', 'special': False})
    for a in added:
        for k in ('single_word', 'lstrip', 'rstrip'):
            a.setdefault(k, False)
        a['normalized'] = variant == 'normalized' and a['content'] != 'cat'
    model = {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>',
             'continuing_subword_prefix': None, 'end_of_word_suffix': None,
             'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False, 'vocab': vocab}
    template = {'type': 'TemplateProcessing',
                'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                           {'Sequence': {'id': 'A', 'type_id': 0}}],
                'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                         {'Sequence': {'id': 'A', 'type_id': 0}},
                         {'SpecialToken': {'id': '<s>', 'type_id': 1}},
                         {'Sequence': {'id': 'B', 'type_id': 1}}],
                'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}}
    if variant in ('prepend', 'normalized'):
        # Llama-2 as converted by transformers >= 4.40: string merges.
        model['merges'] = ['%s %s' % (m[3], m[4]) for m in merges]
        tok = {'normalizer': {'type': 'Sequence', 'normalizers': [
                   {'type': 'Prepend', 'prepend': '\u2581'},
                   {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\u2581'}]},
               'pre_tokenizer': None,
               'decoder': {'type': 'Sequence', 'decoders': [
                   {'type': 'Replace', 'pattern': {'String': '\u2581'}, 'content': ' '},
                   {'type': 'ByteFallback'}, {'type': 'Fuse'},
                   {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]}}
    else:
        # Metaspace pre-tokenizer (Mistral / newer Llama style): pair merges.
        model['merges'] = [[m[3], m[4]] for m in merges]
        tok = {'normalizer': None,
               'pre_tokenizer': {'type': 'Metaspace', 'replacement': '\u2581',
                                 'prepend_scheme': 'first', 'split': False},
               'decoder': {'type': 'Sequence', 'decoders': [
                   {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'first',
                    'split': False},
                   {'type': 'ByteFallback'}, {'type': 'Fuse'}]}}
    out = {'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added}
    out.update(tok)
    out['post_processor'] = template
    out['model'] = model
    return out


def main():
    pieces = read_tok512(sys.argv[1])
    for variant, name in (('prepend', 'llama2style'), ('metaspace', 'metaspace'),
                          ('normalized', 'llama2norm')):
        import os
        os.makedirs(name, exist_ok=True)
        with open(os.path.join(name, 'tokenizer.json'), 'w', encoding='utf-8') as f:
            json.dump(build(pieces, variant), f, ensure_ascii=False, indent=1)
            f.write('\n')


if __name__ == '__main__':
    main()
