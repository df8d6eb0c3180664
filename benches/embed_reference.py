#!/usr/bin/env python3
"""Reference sentence vectors for all-MiniLM-L6-v2, computed with numpy alone from the model
folder (`model.safetensors`, `vocab.txt`), to check what rsearch's embedding module computes.

Usage: python3 benches/embed_reference.py [MODEL_DIR] "sentence" ...
Prints each sentence's first 5 numbers and the cosine of every pair (needs `pip install numpy`).
The tokenizer here is BERT's basic one (lower-case, accents stripped, punctuation split) plus
WordPiece: enough for plain English sentences.
"""

import json
import os
import struct
import sys
import unicodedata

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=kinds[spec["dtype"]]).reshape(spec["shape"])
    return out


def tokenize(text, vocab):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words, word = [], ""
    for c in text:
        if c.isspace():
            words.append(word)
            word = ""
        elif unicodedata.category(c).startswith("P") or (c.isascii() and not c.isalnum()):
            words += [word, c]
            word = ""
        else:
            word += c
    words.append(word)
    ids = [vocab["[CLS]"]]
    for w in filter(None, words):
        start, pieces = 0, []
        while start < len(w):
            end = len(w)
            while end > start:
                piece = w[start:end] if start == 0 else "##" + w[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece])
                    break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            start = end
        ids += pieces
    return ids + [vocab["[SEP]"]]


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    from math import erf

    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def embed(ids, t, config):
    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:n]
    x = x + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    heads = config["num_attention_heads"]
    size = config["hidden_size"] // heads
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda v, name: v @ t[p + name + ".weight"].T + t[p + name + ".bias"]
        q, k, v = (lin(x, f"attention.self.{m}").reshape(n, heads, size).transpose(1, 0, 2) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
        x = layer_norm(x + lin(context, "attention.output.dense"), t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(h, "output.dense"), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    mean = x.mean(0)
    return mean / np.linalg.norm(mean)


def main():
    args = sys.argv[1:]
    model = args.pop(0) if args and os.path.isdir(args[0]) else "models/all-MiniLM-L6-v2"
    vocab = {w.rstrip("\n"): i for i, w in enumerate(open(os.path.join(model, "vocab.txt"), encoding="utf-8"))}
    config = json.load(open(os.path.join(model, "config.json")))
    tensors = load_safetensors(os.path.join(model, "model.safetensors"))
    vectors = [embed(tokenize(s, vocab), tensors, config) for s in args]
    for s, v in zip(args, vectors):
        print(" ".join(f"{x:+.5f}" for x in v[:5]), s)
    for i in range(len(args)):
        for j in range(i + 1, len(args)):
            print(f"{float(vectors[i] @ vectors[j]):.4f}  {args[i]!r} ~ {args[j]!r}")


if __name__ == "__main__":
    main()
