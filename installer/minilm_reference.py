#!/usr/bin/env python3
"""Reference embeddings for all-MiniLM-L6-v2, computed in plain numpy.

Usage: minilm_reference.py MODEL_DIR [--gguf FILE] [--json OUT] [SENTENCE ...]

* Runs BERT forward from model.safetensors (HF tensor names, independent of the
  converter's name mapping), mean-pools over all tokens incl. [CLS]/[SEP] and
  L2-normalises, exactly like sentence-transformers. Prints pairwise cosines.
* With --gguf: dumps the GGUF metadata/tensors, re-tokenises with an emulation of
  llama.cpp's WPM tokenizer over the GGUF token list (must equal HF token ids) and
  re-runs the forward from the GGUF tensors (must equal the safetensors result).
* With --json: writes token ids + embeddings, for comparison with the Rust engine.

Tokenisation uses the `tokenizers` package when installed, else a small built-in
BERT basic tokenizer + WordPiece (identical for ordinary text).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

DEFAULT_SENTENCES = [
    "The patient has high blood pressure.",
    "Hypertension was diagnosed in the patient.",
    "The stock market fell sharply today.",
]
MAX_SEQ = 256  # sentence-transformers max_seq_length (sentence_bert_config.json)

# --- tokenisation ----------------------------------------------------------


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return any(a <= cp <= b for a, b in (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


def basic_words(text: str) -> list[str]:
    """BertNormalizer (lowercase, strip accents, clean) + BertPreTokenizer."""
    words, cur = [], ""
    for ch in unicodedata.normalize("NFD", text.lower()):
        cat = unicodedata.category(ch)
        if ch.isspace():
            words.append(cur); cur = ""
        elif ch in ("\0", "\ufffd") or cat in ("Cc", "Cf") or cat == "Mn":
            continue
        elif _is_punct(ch) or _is_cjk(ord(ch)):
            words += [cur, ch]; cur = ""
        else:
            cur += ch
    words.append(cur)
    return [w for w in words if w]


def hf_wordpiece(text: str, vocab: dict[str, int], cls: int, sep: int, unk: int) -> list[int]:
    ids = [cls]
    for word in basic_words(text):
        if len(word) > 100:
            ids.append(unk); continue
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in vocab:
                    pieces.append(vocab[sub]); start = end; break
            else:
                pieces = [unk]; break
        ids += pieces
    return ids[:MAX_SEQ - 1] + [sep]


def llama_wpm(text: str, tok2id: dict[str, int], bos: int, sep: int, unk: int, max_len: int) -> list[int]:
    """Mirror of llm_tokenizer_wpm_session::tokenize with add_special=true."""
    out = [bos]
    for word in basic_words(text):
        w1 = "\u2581" + word
        n, cur, i = len(w1), len(out), 0
        while i < n:
            for j in range(min(n, i + max_len + 1), i, -1):
                tid = tok2id.get(w1[i:j])
                if tid is not None:
                    out.append(tid); i = j; break
            else:
                del out[cur:]; break
        if len(out) == cur:
            out.append(unk)
    return out + [sep]


def make_hf_tokenizer(model_dir: Path):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        vocab = tok["model"]["vocab"]
        sp = {t["content"]: t["id"] for t in tok["added_tokens"]}
        print("tokenizer: built-in WordPiece (tokenizers not installed)", file=sys.stderr)
        return lambda s: hf_wordpiece(s, vocab, sp["[CLS]"], sp["[SEP]"], sp["[UNK]"])
    t = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    t.no_padding()  # tokenizer.json ships Fixed(128) padding; ST does not pad single inputs
    t.enable_truncation(MAX_SEQ)
    print("tokenizer: HF tokenizers", file=sys.stderr)
    return lambda s: t.encode(s).ids


# --- model -----------------------------------------------------------------

HF_NAMES = {
    "tok": "embeddings.word_embeddings.weight", "pos": "embeddings.position_embeddings.weight",
    "typ": "embeddings.token_type_embeddings.weight", "ln0": "embeddings.LayerNorm.{}",
    "q": "encoder.layer.{i}.attention.self.query.{}", "k": "encoder.layer.{i}.attention.self.key.{}",
    "v": "encoder.layer.{i}.attention.self.value.{}", "o": "encoder.layer.{i}.attention.output.dense.{}",
    "ln1": "encoder.layer.{i}.attention.output.LayerNorm.{}", "up": "encoder.layer.{i}.intermediate.dense.{}",
    "down": "encoder.layer.{i}.output.dense.{}", "ln2": "encoder.layer.{i}.output.LayerNorm.{}",
}
GGUF_NAMES = {
    "tok": "token_embd.weight", "pos": "position_embd.weight", "typ": "token_types.weight",
    "ln0": "token_embd_norm.{}", "q": "blk.{i}.attn_q.{}", "k": "blk.{i}.attn_k.{}",
    "v": "blk.{i}.attn_v.{}", "o": "blk.{i}.attn_output.{}", "ln1": "blk.{i}.attn_output_norm.{}",
    "up": "blk.{i}.ffn_up.{}", "down": "blk.{i}.ffn_down.{}", "ln2": "blk.{i}.layer_output_norm.{}",
}

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):  # exact erf GELU as in HF BERT (ggml uses the tanh approximation)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def embed(ids: list[int], T: dict, names: dict, n_layer=6, n_head=12, eps=1e-12) -> np.ndarray:
    g = lambda key, part="weight", i=0: T[names[key].format(part, i=i)].astype(np.float64)
    lin = lambda x, key, i: x @ g(key, "weight", i).T + g(key, "bias", i)
    n = len(ids)
    x = g("tok")[ids] + g("pos")[:n] + g("typ")[0]  # token type 0 everywhere
    x = layer_norm(x, g("ln0"), g("ln0", "bias"), eps)
    d = x.shape[1] // n_head
    for i in range(n_layer):
        q, k, v = (lin(x, t, i).reshape(n, n_head, d).transpose(1, 0, 2) for t in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
        ctx = (p @ v).transpose(1, 0, 2).reshape(n, -1)
        x = layer_norm(lin(ctx, "o", i) + x, g("ln1", "weight", i), g("ln1", "bias", i), eps)
        h = lin(gelu(lin(x, "up", i)), "down", i)
        x = layer_norm(h + x, g("ln2", "weight", i), g("ln2", "bias", i), eps)
    e = x.mean(0)  # mean pooling (no padding, so every token counts)
    return e / np.linalg.norm(e)


# --- GGUF ------------------------------------------------------------------


def load_gguf(path: Path):
    from gguf import GGUFReader
    r = GGUFReader(path)
    kv = {}
    print(f"== {path}", file=sys.stderr)
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        val = f.contents()
        kv[f.name] = val
        shown = f"[{len(val)} items] {val[:5]}..." if isinstance(val, list) and len(val) > 8 else val
        print(f"  {f.name} = {shown}", file=sys.stderr)
    T = {}
    for t in r.tensors:
        print(f"  tensor {t.name:32s} ne={list(map(int, t.shape))} {t.tensor_type.name}", file=sys.stderr)
        T[t.name] = np.array(t.data)
    return kv, T


def main() -> None:
    ap = argparse.ArgumentParser(description="numpy reference for all-MiniLM-L6-v2")
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("sentences", nargs="*", default=DEFAULT_SENTENCES)
    ap.add_argument("--gguf", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    tokenize = make_hf_tokenizer(a.model_dir)
    T = load_file(a.model_dir / "model.safetensors")
    ids = [tokenize(s) for s in a.sentences]
    embs = np.stack([embed(i, T, HF_NAMES) for i in ids])

    if a.gguf:
        kv, G = load_gguf(a.gguf)
        toks = kv["tokenizer.ggml.tokens"]
        tok2id = {t: i for i, t in enumerate(toks)}  # later id wins, as in llama.cpp
        max_len = max(len(t) for t in toks)
        bos, sep, unk = (kv[f"tokenizer.ggml.{k}"] for k in ("bos_token_id", "seperator_token_id", "unknown_token_id"))
        for s, hf_ids in zip(a.sentences, ids):
            ll = llama_wpm(s, tok2id, bos, sep, unk, max_len)
            status = "OK" if ll == hf_ids else f"MISMATCH llama={ll}"
            print(f"tokens {status}: {s!r} -> {hf_ids} {[toks[i] for i in ll]}")
            if ll != hf_ids:
                sys.exit(1)
        g_embs = np.stack([embed(i, G, GGUF_NAMES) for i in ids])
        diff = float(np.abs(g_embs - embs).max())
        print(f"gguf vs safetensors forward: max |diff| = {diff:.3g}")
        if diff > 1e-5:
            sys.exit(1)

    for s, i, e in zip(a.sentences, ids, embs):
        print(f"{s!r}: {len(i)} tokens {i}, emb[:4]={np.round(e[:4], 5).tolist()}")
    print("cosine similarities:")
    for x in range(len(embs)):
        for y in range(x + 1, len(embs)):
            print(f"  {float(embs[x] @ embs[y]):.4f}  [{x}] vs [{y}]  {a.sentences[x]!r} | {a.sentences[y]!r}")

    if a.json:
        a.json.write_text(json.dumps([
            {"text": s, "ids": i, "embedding": [round(float(v), 7) for v in e]}
            for s, i, e in zip(a.sentences, ids, embs)], indent=1))
        print(f"wrote {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
