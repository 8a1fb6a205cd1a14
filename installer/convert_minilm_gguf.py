#!/usr/bin/env python3
"""Convert sentence-transformers/all-MiniLM-L6-v2 (safetensors + tokenizer.json)
into a GGUF that llama.cpp loads as a BERT embedding model.

Usage: convert_minilm_gguf.py MODEL_DIR OUT.gguf

No torch/transformers: only `gguf`, `safetensors`, `numpy`. The metadata mirrors
llama.cpp's convert_hf_to_gguf.py (class BertModel) so the file behaves like one
produced by the upstream converter. All tensors are stored as F32 (~90 MB): no
precision loss, and the output is byte-for-byte deterministic.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

ARCH = gguf.MODEL_ARCH.BERT

# The chkhsh of this tokenizer (bert-base-uncased vocab) is 0876d13b..., which
# upstream's get_vocab_base_pre() maps to "bert-bge" and then, because a later
# `if` matches the same hash, to "jina-v2-en". llama.cpp ignores the value for
# WPM ("bert") vocabularies; we write what the upstream converter would write.
TOKENIZER_PRE = "jina-v2-en"


def hf_to_gguf_names(names: list[str], n_layer: int) -> dict[str, str]:
    """Map HF tensor names to GGUF names; drop what llama.cpp does not use."""
    tmap = gguf.get_tensor_name_map(ARCH, n_layer)
    out = {}
    for name in names:
        hf = name.removeprefix("bert.")  # some BERT checkpoints carry a "bert." prefix
        # position_ids is a buffer; pooler.* is the NSP head, unused for embeddings
        if hf == "embeddings.position_ids" or hf.startswith("pooler."):
            continue
        new = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"cannot map tensor {name!r}")
        out[name] = new
    return out


def load_vocab(model_dir: Path) -> tuple[list[str], list[int]]:
    """Token list in id order and token types, as BertModel.set_vocab builds them."""
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert tok["model"]["type"] == "WordPiece", tok["model"]["type"]
    vocab: dict[str, int] = tok["model"]["vocab"]
    n_vocab = max(vocab.values()) + 1
    tokens: list[str | None] = [None] * n_vocab
    for text, i in vocab.items():
        tokens[i] = text
    # special added tokens ([PAD] [UNK] [CLS] [SEP] [MASK]) are CONTROL, the rest NORMAL
    special = {t["id"] for t in tok.get("added_tokens", []) if t.get("special")}
    types = []
    for i, t in enumerate(tokens):
        if t is None:  # hole in the vocab (none in MiniLM) -> unused filler, like upstream
            tokens[i], t = f"[PAD{i}]", ""
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL)

    # llama.cpp's WPM tokenizer prepends U+2581 to every word and matches greedily,
    # so word-initial pieces get the phantom-space prefix and "##" continuations lose
    # their marker. Control tokens stay verbatim.
    def phantom(t: str, ty: int) -> str:
        if ty in (gguf.TokenType.CONTROL, gguf.TokenType.UNUSED):
            return t
        return t[2:] if t.startswith("##") else "\u2581" + t

    out = [phantom(t, ty) for t, ty in zip(tokens, types)]
    if len(set(out)) != len(out):  # a collision would make text_to_token ambiguous
        raise SystemExit("phantom-space vocab has duplicate tokens")
    return out, [int(t) for t in types]


def pooling_type(model_dir: Path) -> gguf.PoolingType:
    """Read the sentence-transformers Pooling module, as upstream _try_set_pooling_type."""
    modules = json.loads((model_dir / "modules.json").read_text())
    pool = next(m for m in modules if m["type"] == "sentence_transformers.models.Pooling")
    cfg = json.loads((model_dir / pool["path"] / "config.json").read_text())
    if cfg["pooling_mode_mean_tokens"]:
        return gguf.PoolingType.MEAN
    if cfg["pooling_mode_cls_token"]:
        return gguf.PoolingType.CLS
    raise SystemExit(f"unsupported pooling config {cfg}")


def convert(model_dir: Path, out: Path) -> None:
    hp = json.loads((model_dir / "config.json").read_text())
    assert hp["model_type"] == "bert" and hp.get("position_embedding_type", "absolute") == "absolute"
    assert hp["hidden_act"] == "gelu"
    n_layer = hp["num_hidden_layers"]

    tensors = load_file(model_dir / "model.safetensors")
    names = hf_to_gguf_names(sorted(tensors), n_layer)  # sorted -> deterministic order
    tokens, toktypes = load_vocab(model_dir)
    assert len(tokens) == hp["vocab_size"], (len(tokens), hp["vocab_size"])

    w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[ARCH])

    # general.*
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name("all-MiniLM-L6-v2")
    w.add_basename("all-MiniLM-L6-v2")
    w.add_size_label("22M")
    w.add_license("apache-2.0")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # bert.* hyper-parameters (TextModel.set_gguf_parameters + BertModel)
    w.add_context_length(hp["max_position_embeddings"])
    w.add_embedding_length(hp["hidden_size"])
    w.add_feed_forward_length(hp["intermediate_size"])
    w.add_block_count(n_layer)
    w.add_head_count(hp["num_attention_heads"])
    w.add_layer_norm_eps(hp["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(pooling_type(model_dir))  # MEAN; llama.cpp does NOT L2-normalise

    # tokenizer (BertModel.set_vocab)
    w.add_token_type_count(hp.get("type_vocab_size", 1))
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre(TOKENIZER_PRE)
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    # SpecialVocab reads tokenizer.json/tokenizer_config.json: cls -> bos (101),
    # sep -> eos and sep (102), unk 100, pad 0, mask 103, add_bos/add_eos from the
    # TemplateProcessing post-processor. 'cls' is left out only because GGUFWriter
    # has no handler for it (upstream just logs a warning and skips it).
    sv = gguf.SpecialVocab(model_dir, n_vocab=len(tokens),
                           special_token_types=("bos", "eos", "unk", "sep", "pad", "mask"))
    sv.add_to_gguf(w, quiet=True)

    for name in sorted(names, key=lambda n: names[n]):
        data = np.ascontiguousarray(tensors[name], dtype=np.float32)
        # numpy (rows, cols) is written as ggml ne = {cols, rows}: HF Linear (out, in)
        # becomes {n_in, n_out}, exactly what llama.cpp's create_tensor expects.
        w.add_tensor(names[name], data)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {out} ({len(names)} tensors, vocab {len(tokens)})", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    convert(a.model_dir, a.out)


if __name__ == "__main__":
    main()
