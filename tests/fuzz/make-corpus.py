#!/usr/bin/env python3
"""Writes the small seed corpora under tests/fuzz/corpus/<target>/ (committed; rerun to refresh).

Seeds are valid files plus a few near-misses, so the fuzzer starts next to every rejection rule.
safetensors seeds put a zero byte first in the data section: the harness's second pass rewrites the
length prefix up to the first NUL after it, which then lands exactly at the end of the header."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def st_file(tensors, metadata=None, pad=0, raw_header=None):
    """tensors: list of (name, dtype, shape, bytes); offsets assigned in order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    data = b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(payload)]}
        off += len(payload)
        data += payload
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    h = h.encode("utf-8") + b" " * pad
    return struct.pack("<Q", len(h)) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def f16(*v):
    return struct.pack("<%de" % len(v), *v)


def bf16(*v):
    return b"".join(struct.pack("<f", x)[2:] for x in v)


def safetensors():
    t = "safetensors"
    out(t, "f32", st_file([("w", "F32", [2, 2], f32(0, 1, -2, 3.5)), ("b", "F32", [2], f32(0, 1))]))
    out(t, "mixed", st_file([("a", "F16", [3], f16(0, 1.5, -65504)),
                             ("b", "BF16", [2, 1], bf16(0, -3)),
                             ("c", "I64", [], struct.pack("<q", 7)),
                             ("e", "U8", [0], b"")],
                            metadata={"format": "pt"}, pad=5))
    out(t, "empty", st_file([]))
    out(t, "metadata-only", st_file([], metadata={"format": "pt", "k": "v"}))
    out(t, "unaligned", st_file([("x", "F32", [1], f32(0)), ("y", "F16", [2], f16(0, 2))], pad=3))
    names = []
    for i in range(2):
        for n, shape in [("ln_1.weight", [4]), ("ln_1.bias", [4]), ("attn.c_attn.weight", [4, 12]),
                         ("attn.c_attn.bias", [12]), ("attn.c_proj.weight", [4, 4]),
                         ("mlp.c_fc.weight", [4, 16]), ("mlp.c_proj.weight", [16, 4])]:
            names.append(("h.%d.%s" % (i, n), shape))
    names += [("wte.weight", [10, 4]), ("wpe.weight", [8, 4]), ("ln_f.weight", [4])]
    tensors = []
    for n, shape in names:
        k = 1
        for s in shape:
            k *= s
        tensors.append((n, "F32", shape, f32(*([0.0] * k))))
    out(t, "gpt2-tiny", st_file(tensors, metadata={"format": "pt"}))
    # Near misses.
    out(t, "dup-key", st_file([], raw_header='{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                             '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}')
        + b"\0" * 8)
    out(t, "gap", st_file([], raw_header='{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}')
        + b"\0" * 8)
    out(t, "mismatch", st_file([], raw_header='{"a":{"dtype":"F32","shape":[3,4],"data_offsets":[0,12]}}')
        + b"\0" * 12)
    out(t, "overflow", st_file([], raw_header='{"a":{"dtype":"F32","shape":[4611686018427387905],'
                                              '"data_offsets":[0,4]}}') + b"\0" * 4)
    out(t, "escapes", st_file([], raw_header='{"\\u0061\\ud83d\\ude00":{"dtype":"U8","shape":[1],'
                                             '"data_offsets":[0,1]}}') + b"\0")


def config():
    t = "config"
    gpt2 = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
            "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
            "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_inner": None, "n_layer": 12,
            "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": None,
            "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
            "tie_word_embeddings": True, "vocab_size": 50257}
    out(t, "gpt2", json.dumps(gpt2, indent=2))
    out(t, "minimal", '{"model_type":"gpt2","n_layer":2,"n_embd":8,"n_head":2,"n_ctx":16,"vocab_size":50}')
    out(t, "options", '{"model_type":"gpt2","n_layer":2,"n_embd":8,"n_head":2,"n_positions":16,'
                      '"vocab_size":50,"n_inner":24,"activation_function":"gelu_pytorch_tanh",'
                      '"tie_word_embeddings":false,"scale_attn_weights":true,'
                      '"scale_attn_by_inverse_layer_idx":false,"layer_norm_epsilon":1}')
    out(t, "llama", '{"model_type":"llama","hidden_size":4096,"num_hidden_layers":32,'
                    '"rms_norm_eps":1e-6,"rope_theta":10000.0}')
    # The Llama family as released (key spellings and values of real configs).
    llama32 = {"architectures": ["LlamaForCausalLM"], "attention_bias": False,
               "attention_dropout": 0.0, "bos_token_id": 128000, "eos_token_id": 128001,
               "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
               "initializer_range": 0.02, "intermediate_size": 8192,
               "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
               "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
               "pretraining_tp": 1, "rms_norm_eps": 1e-05,
               "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                "original_max_position_embeddings": 8192,
                                "rope_type": "llama3"},
               "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
               "use_cache": True, "vocab_size": 128256}
    out(t, "llama-3.2-1b", json.dumps(llama32, indent=2))
    out(t, "llama-linear", '{"model_type":"llama","hidden_size":8,"intermediate_size":16,'
                           '"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,'
                           '"max_position_embeddings":32,"vocab_size":50,"rope_scaling":'
                           '{"type":"linear","factor":2.0},"attention_bias":true,"mlp_bias":true}')
    out(t, "llama-rope-parameters", '{"model_type":"llama","hidden_size":8,"intermediate_size":16,'
                                    '"num_hidden_layers":1,"num_attention_heads":2,'
                                    '"max_position_embeddings":32,"vocab_size":50,"head_dim":null,'
                                    '"rope_parameters":{"rope_type":"default","rope_theta":1e6}}')
    out(t, "mistral", '{"model_type":"mistral","hidden_size":4096,"intermediate_size":14336,'
                      '"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,'
                      '"max_position_embeddings":32768,"vocab_size":32000,"sliding_window":4096,'
                      '"rms_norm_eps":1e-05,"rope_theta":1000000.0,"hidden_act":"silu"}')
    out(t, "qwen2", '{"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,'
                    '"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,'
                    '"max_position_embeddings":32768,"vocab_size":151936,"sliding_window":32768,'
                    '"use_sliding_window":false,"max_window_layers":21,"rope_theta":1000000.0,'
                    '"tie_word_embeddings":true,"rms_norm_eps":1e-06}')
    out(t, "gemma2", '{"model_type":"gemma2","hidden_size":2304,"intermediate_size":9216,'
                     '"num_hidden_layers":26,"num_attention_heads":8,"num_key_value_heads":4,'
                     '"head_dim":256,"max_position_embeddings":8192,"vocab_size":256000,'
                     '"query_pre_attn_scalar":256,"sliding_window":4096,'
                     '"attn_logit_softcapping":50.0,"final_logit_softcapping":30.0,'
                     '"hidden_activation":"gelu_pytorch_tanh","hidden_act":"gelu_pytorch_tanh"}')
    out(t, "gemma3-nested", '{"model_type":"gemma3","text_config":{"model_type":"gemma3_text",'
                            '"hidden_size":2560,"intermediate_size":10240,"num_hidden_layers":34,'
                            '"rope_scaling":{"factor":8.0,"rope_type":"linear"},'
                            '"sliding_window":1024},"vision_config":{"hidden_size":1152}}')
    out(t, "gpt-neox", '{"model_type":"gpt_neox","hidden_size":512,"intermediate_size":2048,'
                       '"num_hidden_layers":6,"num_attention_heads":8,'
                       '"max_position_embeddings":2048,"vocab_size":50304,"rotary_pct":0.25,'
                       '"rotary_emb_base":10000,"use_parallel_residual":true,'
                       '"layer_norm_eps":1e-05,"hidden_act":"gelu","tie_word_embeddings":false}')
    out(t, "phi3-longrope", '{"model_type":"phi3","hidden_size":32,"intermediate_size":64,'
                            '"num_hidden_layers":2,"num_attention_heads":4,'
                            '"num_key_value_heads":2,"max_position_embeddings":32,'
                            '"original_max_position_embeddings":8,"vocab_size":100,'
                            '"partial_rotary_factor":0.5,"rope_scaling":{"type":"longrope",'
                            '"short_factor":[1.0,1.5],"long_factor":[2.0,4.0]},'
                            '"sliding_window":16}')
    out(t, "olmo2", '{"model_type":"olmo2","hidden_size":2048,"intermediate_size":8192,'
                    '"num_hidden_layers":16,"num_attention_heads":16,"num_key_value_heads":16,'
                    '"max_position_embeddings":4096,"vocab_size":100352,"rms_norm_eps":1e-06,'
                    '"rope_theta":500000}')
    out(t, "qwen3-layer-types", '{"model_type":"qwen3","hidden_size":16,"intermediate_size":32,'
                                '"num_hidden_layers":2,"num_attention_heads":4,'
                                '"num_key_value_heads":2,"head_dim":8,"max_position_embeddings":64,'
                                '"vocab_size":100,"sliding_window":4,"use_sliding_window":true,'
                                '"layer_types":["full_attention","sliding_attention"]}')


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def tokenizers():
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: i for i, b in enumerate(sorted(b2u))}
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
              ("Ġ", "w"), ("o", "r"), ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld"), ("'", "s"),
              ("1", "2"), ("Ċ", "Ċ"), ("Ġ", "Ġ")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    eos = len(vocab)
    vocab["<|endoftext|>"] = eos
    vjson = json.dumps(vocab, ensure_ascii=False)
    mtxt = "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges)
    out("tokenizer-gpt2", "small", vjson.encode() + b"\0" + mtxt.encode())
    out("tokenizer-gpt2", "bytes-only",
        json.dumps({b2u[b]: i for i, b in enumerate(sorted(b2u))}, ensure_ascii=False).encode()
        + b"\0#version: 0.2\n")
    out("tokenizer-gpt2", "tiny", '{"a":0,"b":1,"ab":2}\0a b\n')

    def tj(merges_value):
        return {"version": "1.0", "truncation": None, "padding": None,
                "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": False,
                                  "lstrip": False, "rstrip": False, "normalized": True,
                                  "special": True}],
                "normalizer": None,
                "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                                  "trim_offsets": True, "use_regex": True},
                "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                                   "trim_offsets": False, "use_regex": True},
                "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                            "use_regex": True},
                "model": {"type": "BPE", "dropout": None, "unk_token": None,
                          "continuing_subword_prefix": "", "end_of_word_suffix": "",
                          "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                          "merges": merges_value}}
    out("tokenizer-json", "merges-strings",
        json.dumps(tj(["%s %s" % m for m in merges]), ensure_ascii=False))
    out("tokenizer-json", "merges-pairs", json.dumps(tj([list(m) for m in merges]), ensure_ascii=False))
    out("tokenizer-json", "minimal", '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}')
    pipeline_seeds(vocab, merges, eos)


def pipeline_seeds(vocab, merges, eos):
    """tokenizer.json files shaped like Llama 2, Llama 3 and Qwen, and one with every stage."""
    added = lambda i, c, **kw: dict({"id": i, "content": c, "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": False, "special": True}, **kw)
    # Llama 2 / Mistral: SentencePiece-style BPE with byte fallback
    sp = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + \
        ["▁", "a", "b", "c", "▁a", "ab", "▁ab", "é", "日"]
    sp_vocab = {t: i for i, t in enumerate(sp)}
    llama2 = {
        "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "vocab": sp_vocab,
                  "merges": ["▁ a", "a b", "▁ ab"]}}
    out("tokenizer-json", "llama2", json.dumps(llama2, ensure_ascii=False))
    split = {"type": "Split", "pattern": {"Regex":
             "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": False}
    llama3 = {
        "added_tokens": [added(eos, "<|endoftext|>")],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            split, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [], "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [eos],
                                                              "tokens": ["<|endoftext|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": ["%s %s" % m for m in merges]}}
    out("tokenizer-json", "llama3", json.dumps(llama3, ensure_ascii=False))
    qwen = dict(llama3, normalizer={"type": "NFC"}, post_processor={"type": "ByteLevel"})
    qwen["model"] = dict(llama3["model"], ignore_merges=False, merges=[list(m) for m in merges])
    out("tokenizer-json", "qwen", json.dumps(qwen, ensure_ascii=False))
    # every other stage and setting, on a character vocabulary
    chars = ["<unk>", "<m>", "##b", "a</w>"] + [chr(c) for c in range(32, 127)] + ["▁", "ab"]
    cv = {t: i for i, t in enumerate(dict.fromkeys(chars))}
    kitchen = {
        "added_tokens": [added(1, "<m>", lstrip=True, rstrip=True, single_word=True, special=False,
                               normalized=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKD"}, {"type": "NFKC"}, {"type": "NFD"}, {"type": "Lowercase"},
            {"type": "Strip", "strip_left": True, "strip_right": False},
            {"type": "Replace", "pattern": {"Regex": "\\d+"}, "content": "#"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Whitespace"}, {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Contiguous"},
            {"type": "Digits", "individual_digits": True},
            {"type": "Split", "pattern": {"String": "x"}, "behavior": "MergedWithNext", "invert": True},
            {"type": "Split", "pattern": {"Regex": "[\\w]"}, "behavior": "MergedWithPrevious"},
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<m>", 1], "cls": ["<unk>", 0]},
        "decoder": {"type": "Metaspace", "replacement": "▁"},
        "model": {"type": "BPE", "dropout": 0.0, "unk_token": "<unk>", "continuing_subword_prefix": "##",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": cv, "merges": ["a ##b"]}}
    out("tokenizer-json", "every-stage", json.dumps(kitchen, ensure_ascii=False))


def regressions():
    # Inputs the fuzzers once failed on; kept so every run replays them.
    # A raw newline in a vocab.json key ended up verbatim in a (then two-line) error message.
    out("tokenizer-gpt2", "regress-newline-in-error", b'{"a":1,"\nab":2}\0a2}\0')
    # An empty-string token: token_bytes() returned NULL for a valid id (NULL + 0 under UBSan).
    out("tokenizer-gpt2", "regress-empty-token", b'{"":0}')
    # A regex with a raw line break (written \n in JSON): GLib's error message quoted it raw.
    out("tokenizer-json", "regress-regex-newline",
        '{"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(\\n"}},'
        '"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}')
    # A field of a gemma3 folder's nested text_config: the error named the file as
    # "config.json (text_config)", not "config.json: ..." like every other config error.
    out("config", "regress-gemma3-nested-field",
        '{"model_type":"gemma3","text_config":{"model_type":"gemma3_text","hidden_size":2560,'
        '"rms_norm_eps":{"factor":8.0}}}')


if __name__ == "__main__":
    safetensors()
    config()
    tokenizers()
    regressions()
    sys.exit(0)
