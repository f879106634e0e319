"""`mtp convert --from meta` and `--from hf` end to end.

A tiny multi-token model in Meta's exact format (tests/meta_fixture.py:
bfloat16 consolidated.NN.pth, params.json with Meta's FFN rule and
grouped-query attention, a SentencePiece tokenizer.model) is converted; then
  - every converted tensor equals the original widened to float32, with q/k
    rows permuted from interleaved pairs to rotate-half (Hugging Face's
    permutation, written here independently), bit for bit;
  - the logits of every head (build/tools/logits_dump) equal the fixture's
    float64 forward with Meta's interleaved RoPE, within 1e-4 relative;
  - a model-parallel checkpoint (two shards) converts to the same tensors;
  - a Hugging Face Llama directory (sharded safetensors with an index, bf16,
    tied embeddings) converts, and an mtp checkpoint re-imported that way
    keeps its weights and heads;
  - bad inputs are refused with one line naming the file.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
BUILD = os.environ.get("BUILD", "build")
MTP = os.environ.get("MTP", os.path.join(HERE, "..", BUILD, "mtp"))
DUMP = os.path.join(HERE, "..", BUILD, "tools", "logits_dump")
DATA = os.environ.get("MTP_DATA", os.path.join(HERE, "..", "..", "shared", "data"))

try:
    import numpy as np
    import sentencepiece as spm
    import torch
except ImportError as e:
    print(f"skip: {e.name} is not installed (python3-torch, python3-sentencepiece)")
    sys.exit(77)
for tool in (MTP, DUMP):
    if not os.access(tool, os.X_OK):
        print(f"skip: {tool} not built")
        sys.exit(77)
import meta_fixture  # noqa: E402
import safetensors_py  # noqa: E402

failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def run(*args):
    return subprocess.run([MTP, *args], capture_output=True, text=True)


def expect_error(what, pattern, *args):
    r = run(*args)
    lines = r.stderr.strip().splitlines()
    if r.returncode in (0,) or r.returncode >= 128 or len(lines) != 1 or pattern not in r.stderr:
        fail(f"{what}: expected one error line with '{pattern}', got exit {r.returncode}: {r.stderr.strip()}")


def train_tokenizer(prefix, vocab):
    """A Llama-2-style SentencePiece BPE model (byte fallback, split digits)."""
    text = os.path.join(os.path.dirname(prefix), "spm_text.txt")
    src = os.path.join(DATA, "tinystories", "tinystories_val_prefix.txt")
    lines = []
    if os.path.exists(src):
        with open(src, encoding="utf-8", errors="replace") as f:
            lines = [l.strip() for l in f.read(300_000).splitlines() if l.strip()]
    if not lines:  # no shared data: a synthetic text is enough for the converter
        lines = [f"line {i}: the {i % 7} quick brown foxes jump over {i * 13 % 101} lazy dogs." for i in range(3000)]
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=prefix, vocab_size=vocab, model_type="bpe", byte_fallback=True,
        split_digits=True, add_dummy_prefix=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, character_coverage=0.9995, bos_id=1, eos_id=2, unk_id=0,
        minloglevel=2, num_threads=2)
    return prefix + ".model"


def hf_permute(w, heads):
    """Hugging Face's convert_llama_weights_to_hf permutation."""
    rows, cols = w.shape
    return w.view(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def mtp_name(key, p):
    """Meta key -> the checkpoint name design.md gives."""
    n = p.get("n_future_tokens", 1)
    table = {"attention_norm": "input_layernorm", "attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
             "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "feed_forward.w1": "mlp.gate_proj", "feed_forward.w3": "mlp.up_proj", "feed_forward.w2": "mlp.down_proj"}
    if key == "tok_embeddings.weight":
        return "model.embed_tokens.weight"
    if key == "norm.weight":
        return "model.norm.weight"
    if key == "output.weight":
        return "lm_head.weight"
    group, idx, rest = key.split(".", 2)
    prefix = "model.layers" if group == "layers" else "model.extra_heads"
    return f"{prefix}.{idx}.{table[rest[: -len('.weight')]]}.weight"


def check_tensors(what, ckpt, state, p):
    got = safetensors_py.load(os.path.join(ckpt, "model.safetensors"))
    want = {}
    hkv = p.get("n_kv_heads") or p["n_heads"]
    for k, v in state.items():
        w = v.float()
        if k.endswith("attention.wq.weight"):
            w = hf_permute(w, p["n_heads"])
        elif k.endswith("attention.wk.weight"):
            w = hf_permute(w, hkv)
        want[mtp_name(k, p)] = w.contiguous().numpy()
    if sorted(got) != sorted(want):
        fail(f"{what}: tensor names differ: {sorted(set(got) ^ set(want))}")
        return
    for name, w in want.items():
        if got[name].shape != w.shape or not np.array_equal(got[name].view(np.uint32), w.view(np.uint32)):
            fail(f"{what}: tensor {name} differs from the original")


def check_logits(what, ckpt, model, vocab, T=24):
    tokens = torch.randint(0, vocab, (1, T), generator=torch.Generator().manual_seed(5))
    out = os.path.join(os.path.dirname(ckpt), "logits.safetensors")
    r = subprocess.run([DUMP, "--model", ckpt, "--tokens", ",".join(map(str, tokens[0].tolist())), "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{what}: logits_dump: {r.stderr.strip()}")
        return
    got = safetensors_py.load(out)["logits"]  # (n, T, V)
    with torch.no_grad():
        ref = model(tokens)[0].permute(1, 0, 2).numpy()  # (n, T, V)
    scale = np.abs(ref).max()
    err = np.abs(got - ref).max() / scale
    if got.shape != ref.shape or not err < 1e-4:
        fail(f"{what}: logits differ from the reference forward: shape {got.shape} vs {ref.shape}, "
             f"max error {err:.2e} of max |logit| {scale:.3f}")
    else:
        print(f"{what}: {got.shape[0]} heads x {T} positions, max relative error {err:.1e}")


def main():
    tmp = tempfile.mkdtemp()
    J = lambda *a: os.path.join(tmp, *a)  # noqa: E731
    tok = train_tokenizer(J("tok"), 320)
    vocab = spm.SentencePieceProcessor(model_file=tok).vocab_size()
    params = {"dim": 64, "n_layers": 5, "n_heads": 4, "n_kv_heads": 2, "vocab_size": -1, "multiple_of": 32,
              "ffn_dim_multiplier": 1.3, "norm_eps": 1e-05, "rope_theta": 10000.0, "n_future_tokens": 3}

    # ---- Meta, one file; tokenizer one directory up as in Meta's release --
    os.makedirs(J("release", "7B_1T_3"))
    model, state = meta_fixture.write_meta_model(J("release", "7B_1T_3"), params, vocab, seed=1)
    shutil.copy(tok, J("release", "tokenizer.model"))
    r = run("convert", "--from", "meta", "--in", J("release", "7B_1T_3"), "--out", J("meta_ckpt"))
    if r.returncode != 0:
        fail(f"convert --from meta: {r.stderr.strip()}")
    else:
        cfg = json.load(open(J("meta_ckpt", "config.json")))
        ffn = meta_fixture.ffn_hidden(64, 32, 1.3)
        if (cfg["intermediate_size"], cfg["n_future_tokens"], cfg["num_hidden_layers"], cfg["num_key_value_heads"],
                cfg["vocab_size"]) != (ffn, 3, 3, 2, vocab):
            fail(f"config.json: {cfg}")
        check_tensors("meta", J("meta_ckpt"), state, params)
        check_logits("meta", J("meta_ckpt"), model, vocab)
        if not os.path.exists(J("meta_ckpt", "tokenizer.model")):
            fail("the converted checkpoint has no tokenizer.model")

    # ---- Meta, two model-parallel shards, float16 ---------------------------
    model2, state2 = meta_fixture.write_meta_model(J("mp"), params, vocab, seed=2, shards=2, dtype=torch.float16)
    r = run("convert", "--from", "meta", "--in", J("mp"), "--out", J("mp_ckpt"), "--tokenizer", tok)
    if r.returncode != 0:
        fail(f"convert two shards: {r.stderr.strip()}")
    else:
        check_tensors("meta, two shards", J("mp_ckpt"), state2, params)
        check_logits("meta, two shards", J("mp_ckpt"), model2, vocab)

    # ---- an n = 1 model (Llama 2's layout: no extra_heads) -------------------
    p1 = dict(params, n_layers=3, n_future_tokens=1, n_kv_heads=4)
    del p1["n_future_tokens"]
    model1, state1 = meta_fixture.write_meta_model(J("n1"), p1, vocab, seed=3)
    r = run("convert", "--from", "meta", "--in", J("n1"), "--out", J("n1_ckpt"), "--tokenizer", tok)
    if r.returncode != 0:
        fail(f"convert n=1: {r.stderr.strip()}")
    else:
        check_logits("meta, n=1", J("n1_ckpt"), model1, vocab)

    # ---- everything downstream runs on the converted n = 3 model --------------
    if os.path.isdir(J("meta_ckpt")):
        downstream(J, tok)

    # ---- bad inputs ---------------------------------------------------------
    expect_error("existing --out", "already exists", "convert", "--from", "meta", "--in", J("n1"), "--out",
                 J("n1_ckpt"), "--tokenizer", tok)
    expect_error("no tokenizer", "pass --tokenizer", "convert", "--from", "meta", "--in", J("n1"), "--out", J("x1"))
    os.makedirs(J("badparams"))
    for f in os.listdir(J("n1")):
        shutil.copy(J("n1", f), J("badparams", f))
    json.dump(dict(p1, n_layers=4), open(J("badparams", "params.json"), "w"))
    expect_error("params.json with a layer too many", "layers.3.", "convert", "--from", "meta", "--in",
                 J("badparams"), "--out", J("x2"), "--tokenizer", tok)
    json.dump(dict(p1, multiple_of=64), open(J("badparams", "params.json"), "w"))
    expect_error("FFN rule mismatch", "feed_forward.w1.weight", "convert", "--from", "meta", "--in", J("badparams"),
                 "--out", J("x3"), "--tokenizer", tok)
    json.dump(dict(p1, n_layers=2), open(J("badparams", "params.json"), "w"))
    expect_error("params.json with a layer too few", "not part of the model", "convert", "--from", "meta", "--in",
                 J("badparams"), "--out", J("x4"), "--tokenizer", tok)
    for x in ("x1", "x2", "x3", "x4"):
        if os.path.exists(J(x)) or any(n.startswith(x + ".tmp") for n in os.listdir(tmp)):
            fail(f"a failed conversion left {x} behind")

    # ---- Hugging Face Llama: sharded bf16 safetensors, tied embeddings ------
    hf = J("hf")
    os.makedirs(hf)
    src = safetensors_py.load(os.path.join(J("n1_ckpt"), "model.safetensors"))
    names = sorted(src)
    cfg = json.load(open(J("n1_ckpt", "config.json")))
    cfg.pop("n_future_tokens")
    cfg["tie_word_embeddings"] = True
    json.dump(cfg, open(os.path.join(hf, "config.json"), "w"))
    bf = {k: torch.from_numpy(v).bfloat16() for k, v in src.items() if k != "lm_head.weight"}
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        fname = f"model-{i + 1:05d}-of-00002.safetensors"
        tensors = {k: bf[k] for k in part if k in bf}
        write_bf16_safetensors(os.path.join(hf, fname), tensors)
        weight_map.update({k: fname for k in tensors})
    json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(hf, "model.safetensors.index.json"), "w"))
    shutil.copy(tok, os.path.join(hf, "tokenizer.model"))
    r = run("convert", "--from", "hf", "--in", hf, "--out", J("hf_ckpt"))
    if r.returncode != 0:
        fail(f"convert --from hf: {r.stderr.strip()}")
    else:
        got = safetensors_py.load(os.path.join(J("hf_ckpt"), "model.safetensors"))
        for k in names:
            w = bf["model.embed_tokens.weight" if k == "lm_head.weight" else k].float().numpy()
            if not np.array_equal(got[k], w):
                fail(f"hf: tensor {k} differs from the bf16 original widened")
    # one float16 model.safetensors, untied (lm_head present)
    hf16 = J("hf16")
    os.makedirs(hf16)
    cfg16 = dict(cfg, tie_word_embeddings=False)
    json.dump(cfg16, open(os.path.join(hf16, "config.json"), "w"))
    safetensors_py.save(os.path.join(hf16, "model.safetensors"), {k: v.astype(np.float16) for k, v in src.items()})
    shutil.copy(tok, os.path.join(hf16, "tokenizer.model"))
    r = run("convert", "--from", "hf", "--in", hf16, "--out", J("hf16_ckpt"))
    if r.returncode != 0:
        fail(f"convert --from hf (float16): {r.stderr.strip()}")
    else:
        got = safetensors_py.load(os.path.join(J("hf16_ckpt"), "model.safetensors"))
        bad = [k for k in src if not np.array_equal(got[k], src[k].astype(np.float16).astype(np.float32))]
        if bad:
            fail(f"hf float16: {len(bad)} tensors differ from the float16 originals widened, e.g. {bad[0]}")
    # an mtp checkpoint is itself a Hugging Face directory: heads survive
    r = run("convert", "--from", "hf", "--in", J("meta_ckpt"), "--out", J("again"))
    if r.returncode != 0:
        fail(f"convert --from hf of an mtp checkpoint: {r.stderr.strip()}")
    else:
        check_logits("hf re-import of the n=3 model", J("again"), model, vocab)
    cfg["rope_scaling"] = {"type": "linear", "factor": 2.0}
    json.dump(cfg, open(os.path.join(hf, "config.json"), "w"))
    expect_error("rope_scaling", "rope_scaling", "convert", "--from", "hf", "--in", hf, "--out", J("x5"))

    shutil.rmtree(tmp)
    if failures:
        print(f"test_convert: {len(failures)} failures")
        sys.exit(1)
    print("test_convert: all checks passed")


def generate(model, k, prompt="line 5: the", extra=()):
    r = run("generate", "--model", model, "--prompt", prompt, "--max-new", "40", "--speculative", k,
            "--temperature", "0", "--json", "--threads", "2", *extra)
    if r.returncode != 0:
        fail(f"generate --model {model} --speculative {k}: {r.stderr.strip()}")
        return None
    return json.loads(r.stdout)


def downstream(J, tok):
    """Fine-tuning from the imported weights (train --resume of a checkpoint
    without a run), then generate (greedy self-speculative = plain, <s> before
    the prompt), eval, bench-decode and quantize on the results."""
    sp = spm.SentencePieceProcessor(model_file=tok)
    corpus = J("corpus.txt")
    with open(corpus, "w") as f:
        for i in range(1, 401):
            f.write(f"line {i}: the {i % 7} quick brown foxes jump over {i * 13 % 101} lazy dogs, "
                    f"said speaker {i % 5}.\n")
    r = run("prepare", "--tokenizer", J("meta_ckpt"), "--out", J("data"), corpus)
    if r.returncode != 0:
        return fail(f"prepare with the converted model's tokenizer: {r.stderr.strip()}")
    r = run("train", "--resume", J("meta_ckpt"), "--data", J("data"), "--out", J("tuned"), "--steps", "40",
            "--seq-len", "64", "--batch", "8", "--lr", "3e-3", "--threads", "2")
    if r.returncode != 0:
        return fail(f"fine-tuning the imported weights: {r.stderr.strip()}")
    plain = generate(J("meta_ckpt"), "0")
    if plain and plain["prompt_tokens"] != len(sp.encode("line 5: the")) + 1:
        fail(f"the prompt should be <s> + its {len(sp.encode('line 5: the'))} ids: {plain['prompt_tokens']} tokens")
    for model in (J("meta_ckpt"), J("tuned")):
        runs = [generate(model, k) for k in ("0", "1", "all", "auto")]
        if all(runs) and len({x["text"] for x in runs}) != 1:
            fail(f"{model}: greedy self-speculative text differs from plain: {[x['text'] for x in runs]}")
    spec = generate(J("tuned"), "all")
    if spec and not spec["tokens_per_forward"] > 1.3:
        fail(f"the fine-tuned heads should draft usefully: {spec['tokens_per_forward']} tokens per forward")
    r = run("eval", "--model", J("tuned"), "--data", J("data"), "--json", "--threads", "2", "--seq-len", "64")
    if r.returncode != 0 or len(json.loads(r.stdout).get("heads", [])) != 3:
        fail(f"eval of the fine-tuned model: {r.stdout.strip()[:200]} {r.stderr.strip()}")
    prompts = J("prompts.txt")
    with open(prompts, "w") as f:
        f.write("line 7: the\nline 12: the 5 quick\n")
    r = run("bench-decode", "--model", J("tuned"), "--prompts", prompts, "--max-new", "24", "--json",
            "--threads", "2")
    if r.returncode != 0:
        fail(f"bench-decode on the fine-tuned model: {r.stderr.strip()}")
    r = run("quantize", "--model", J("meta_ckpt"), "--type", "q8", "--out", J("q8"))
    if r.returncode != 0:
        return fail(f"quantize the converted model: {r.stderr.strip()}")
    runs = [generate(J("q8"), k) for k in ("0", "all")]
    if all(runs) and runs[0]["text"] != runs[1]["text"]:
        fail("int8: greedy self-speculative text differs from plain")
    print(f"downstream: fine-tuned heads draft {spec['tokens_per_forward']:.2f} tokens per forward; eval, "
          "bench-decode, quantize run")


def write_bf16_safetensors(path, tensors):
    """BF16 safetensors by hand (safetensors_py writes numpy dtypes only)."""
    import struct
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        raw = t.contiguous().view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


main()
