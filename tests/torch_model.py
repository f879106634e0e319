"""Reference multi-token prediction model in PyTorch, the test oracle.

Written from the model definition in design.md section 1, independently of
the C code, and computed in float64:

  tokens (B, T+n) -> inputs tokens[:, 0:T]
  x = embed[inputs]                                   (B, T, d)
  trunk: L-n Llama blocks -> z (raw residual stream, no norm)
  head k = 1..n: h_k = block_k(z); logits_k = lm_head(RMSNorm_final(h_k))
  head variants (appendix B of the paper): linear heads h_k = W_k z (no block; all L
  blocks are the trunk); causal h_k = block_k(h_{k-1}) with h_0 = z; anticausal
  h_k = block_k(h_{k+1}) with h_{n+1} = z
  loss_k = mean CE(logits_k, tokens[:, k:k+T]); loss = sum_k loss_k
  block: h = x + Attn(RMSNorm(x)); out = h + down(silu(gate(r)) * up(r)), r = RMSNorm(h)
  Attn: causal, scale 1/sqrt(hd), GQA (q head h reads kv head h // (H/Hkv)),
        RoPE rotate-half (Hugging Face convention), positions 0..T-1.

Checkpoint names (design.md section 3): layers 0..L-n-1 are the trunk, layer
L-n is head 1, heads 2..n are model.extra_heads.{0..n-2}.

Also here: the learning-rate schedule, an AdamW training run that mirrors the
C trainer's semantics (torch.optim.AdamW + clip_grad_norm_), and self_test(),
which checks the reference against independent formulations.
"""

import json
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

try:
    from . import safetensors_py as st  # type: ignore
except ImportError:  # run as a script from tests/
    import safetensors_py as st

# Per-block tensor suffixes and their shapes, as functions of the config.
BLOCK_SUFFIXES = (
    "input_layernorm.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
)

CONFIG_KEYS = (
    "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
    "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings",
    "torch_dtype", "n_future_tokens",
)


class FormatError(Exception):
    """The checkpoint does not match design.md section 3."""


@dataclass
class Config:
    vocab: int
    dim: int
    n_head: int
    n_kv_head: int
    ffn: int
    n_layer: int  # L: trunk blocks + head blocks
    n_future: int  # n
    eps: float = 1e-5
    theta: float = 10000.0
    max_pos: int = 1024
    head_type: str = "transformer"  # or "linear"
    head_order: str = "parallel"  # or "causal", "anticausal"

    @property
    def head_dim(self):
        return self.dim // self.n_head

    def validate(self):
        if self.dim % self.n_head or self.head_dim % 2:
            raise ValueError(f"dim {self.dim} must split into n_head {self.n_head} even heads")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head {self.n_head} not a multiple of n_kv_head {self.n_kv_head}")
        if self.head_type not in ("transformer", "linear"):
            raise ValueError(f"head_type {self.head_type!r}")
        if self.head_order not in ("parallel", "causal", "anticausal"):
            raise ValueError(f"head_order {self.head_order!r}")
        if self.head_type == "linear" and self.head_order != "parallel":
            raise ValueError("linear heads are parallel")
        # linear heads take no blocks from the trunk
        limit = 64 if self.head_type == "linear" else self.n_layer - 1
        if not 1 <= self.n_future <= limit:
            raise ValueError(f"need 1 <= n_future {self.n_future} < n_layer {self.n_layer}")
        return self

    @property
    def trunk_layers(self):
        return self.n_layer if self.head_type == "linear" else self.n_layer - self.n_future


def trunk_prefixes(cfg):
    return [f"model.layers.{i}." for i in range(cfg.trunk_layers)]


def head_prefixes(cfg):
    """Prefix of head k's block (linear heads: of its matrix), k = 1..n, in order."""
    if cfg.head_type == "linear":
        return [f"model.linear_heads.{j}." for j in range(cfg.n_future)]
    first = f"model.layers.{cfg.n_layer - cfg.n_future}."
    return [first] + [f"model.extra_heads.{j}." for j in range(cfg.n_future - 1)]


def param_shapes(cfg):
    """{name: shape} of every tensor a checkpoint must hold, no more, no fewer."""
    d, hd, f, V = cfg.dim, cfg.head_dim, cfg.ffn, cfg.vocab
    block = {
        "input_layernorm.weight": (d,),
        "self_attn.q_proj.weight": (cfg.n_head * hd, d),
        "self_attn.k_proj.weight": (cfg.n_kv_head * hd, d),
        "self_attn.v_proj.weight": (cfg.n_kv_head * hd, d),
        "self_attn.o_proj.weight": (d, cfg.n_head * hd),
        "post_attention_layernorm.weight": (d,),
        "mlp.gate_proj.weight": (f, d),
        "mlp.up_proj.weight": (f, d),
        "mlp.down_proj.weight": (d, f),
    }
    shapes = {"model.embed_tokens.weight": (V, d)}
    blocks = trunk_prefixes(cfg) + (head_prefixes(cfg) if cfg.head_type == "transformer" else [])
    for pre in blocks:
        for suf in BLOCK_SUFFIXES:
            shapes[pre + suf] = block[suf]
    if cfg.head_type == "linear":
        for pre in head_prefixes(cfg):
            shapes[pre + "weight"] = (d, d)
    shapes["model.norm.weight"] = (d,)
    shapes["lm_head.weight"] = (V, d)
    return shapes


def config_from_json(cj, where="config.json"):
    """Validates a Hugging Face style config dict and returns a Config."""
    missing = [k for k in CONFIG_KEYS if k not in cj]
    if missing:
        raise FormatError(f"{where}: missing keys {missing}")
    checks = [
        (cj["architectures"] == ["LlamaForCausalLM"], "architectures must be [\"LlamaForCausalLM\"]"),
        (cj["model_type"] == "llama", "model_type must be \"llama\""),
        (cj["tie_word_embeddings"] is False, "tie_word_embeddings must be false"),
        (cj["torch_dtype"] == "float32", "torch_dtype must be \"float32\""),
    ]
    for ok, msg in checks:
        if not ok:
            raise FormatError(f"{where}: {msg}")
    n = cj["n_future_tokens"]
    head_type = cj.get("head_type", "transformer")
    layers = cj["num_hidden_layers"]
    cfg = Config(
        vocab=cj["vocab_size"], dim=cj["hidden_size"], n_head=cj["num_attention_heads"],
        n_kv_head=cj["num_key_value_heads"], ffn=cj["intermediate_size"],
        n_layer=layers if head_type == "linear" else layers - 1 + n, n_future=n,
        eps=float(cj["rms_norm_eps"]), theta=float(cj["rope_theta"]),
        max_pos=cj["max_position_embeddings"], head_type=head_type,
        head_order=cj.get("head_order", "parallel"))
    try:
        return cfg.validate()
    except ValueError as e:
        raise FormatError(f"{where}: {e}") from None


def check_tensor_set(path, dtypes_shapes, cfg, dtype="F32"):
    """Raises FormatError unless the file holds exactly the expected tensors."""
    want = param_shapes(cfg)
    missing = sorted(set(want) - set(dtypes_shapes))
    extra = sorted(set(dtypes_shapes) - set(want))
    bad = [f"{k}: {dtypes_shapes[k][0]} {dtypes_shapes[k][1]} (want {dtype} {list(want[k])})"
           for k in sorted(set(want) & set(dtypes_shapes))
           if dtypes_shapes[k][0] != dtype or tuple(dtypes_shapes[k][1]) != want[k]]
    if missing or extra or bad:
        raise FormatError(f"{path}: missing {missing}; unexpected {extra}; wrong dtype/shape {bad}")


def load_checkpoint(ckpt_dir):
    """Returns (Config, config dict, {name: float32 numpy array})."""
    cpath = os.path.join(ckpt_dir, "config.json")
    with open(cpath) as f:
        cj = json.load(f)
    cfg = config_from_json(cj, cpath)
    mpath = os.path.join(ckpt_dir, "model.safetensors")
    check_tensor_set(mpath, st.load_with_dtypes(mpath), cfg)
    return cfg, cj, st.load(mpath)


def init_params(cfg, seed, std=0.02, norm_jitter=0.0):
    """Random float64 parameters (for self tests): normal(0, std) matrices, norms ~1."""
    g = np.random.default_rng(seed)
    out = {}
    for name, shape in param_shapes(cfg).items():
        if len(shape) == 1:
            out[name] = 1.0 + norm_jitter * g.standard_normal(shape)
        else:
            out[name] = std * g.standard_normal(shape)
    return out


def to_torch(params, requires_grad=False):
    """{name: numpy} -> {name: float64 leaf tensor}."""
    return {k: torch.tensor(np.asarray(v, dtype=np.float64), dtype=torch.float64,
                            requires_grad=requires_grad) for k, v in params.items()}


# ---------------------------------------------------------------- the model

def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope_cos_sin(T, hd, theta):
    """cos, sin of shape (T, hd): inv_freq[i] = theta^(-2i/hd), duplicated halves."""
    i = torch.arange(hd // 2, dtype=torch.float64)
    inv_freq = theta ** (-2.0 * i / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]  # (T, hd/2)
    ang = torch.cat([ang, ang], dim=-1)
    return torch.cos(ang), torch.sin(ang)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def attention(x, p, pre, cfg):
    """x (B, T, d) already normed -> (B, T, d)."""
    B, T, _ = x.shape
    H, Hkv, hd = cfg.n_head, cfg.n_kv_head, cfg.head_dim
    q = (x @ p[pre + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
    k = (x @ p[pre + "self_attn.k_proj.weight"].T).view(B, T, Hkv, hd).transpose(1, 2)
    v = (x @ p[pre + "self_attn.v_proj.weight"].T).view(B, T, Hkv, hd).transpose(1, 2)
    cos, sin = rope_cos_sin(T, hd, cfg.theta)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    rep = H // Hkv
    k = k.repeat_interleave(rep, dim=1)  # q head h reads kv head h // rep
    v = v.repeat_interleave(rep, dim=1)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)  # (B, H, T, T)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    y = torch.softmax(scores, dim=-1) @ v  # (B, H, T, hd)
    y = y.transpose(1, 2).reshape(B, T, H * hd)
    return y @ p[pre + "self_attn.o_proj.weight"].T


def block(x, p, pre, cfg, attn=attention):
    h = x + attn(rms_norm(x, p[pre + "input_layernorm.weight"], cfg.eps), p, pre, cfg)
    r = rms_norm(h, p[pre + "post_attention_layernorm.weight"], cfg.eps)
    m = F.silu(r @ p[pre + "mlp.gate_proj.weight"].T) * (r @ p[pre + "mlp.up_proj.weight"].T)
    return h + m @ p[pre + "mlp.down_proj.weight"].T


def head_logits(p, cfg, inputs, attn=attention):
    """inputs (B, T) int64 -> list of n logits tensors (B, T, V), head k at index k-1."""
    x = p["model.embed_tokens.weight"][inputs]
    for pre in trunk_prefixes(cfg):
        x = block(x, p, pre, cfg, attn)
    z = x  # raw trunk output
    pres = head_prefixes(cfg)

    def head(k, inp):  # head k (1-based) on its input
        if cfg.head_type == "linear":
            return inp @ p[pres[k - 1] + "weight"].T
        return block(inp, p, pres[k - 1], cfg, attn)

    n = cfg.n_future
    hs = {}
    if cfg.head_order == "parallel":
        for k in range(1, n + 1):
            hs[k] = head(k, z)
    elif cfg.head_order == "causal":  # h_k = f_k(h_{k-1}), h_0 = z
        prev = z
        for k in range(1, n + 1):
            hs[k] = prev = head(k, prev)
    else:  # anticausal: h_k = f_k(h_{k+1}), h_{n+1} = z
        prev = z
        for k in range(n, 0, -1):
            hs[k] = prev = head(k, prev)
    out = []
    for k in range(1, n + 1):
        h = rms_norm(hs[k], p["model.norm.weight"], cfg.eps)
        out.append(h @ p["lm_head.weight"].T)
    return out


def head_losses(p, cfg, tokens, attn=attention):
    """tokens (B, T+n) -> list of n scalar losses; loss_k = mean CE vs tokens[:, k:k+T]."""
    n = cfg.n_future
    T = tokens.shape[1] - n
    logits = head_logits(p, cfg, tokens[:, :T], attn)
    return [F.cross_entropy(lg.reshape(-1, cfg.vocab), tokens[:, k + 1:k + 1 + T].reshape(-1))
            for k, lg in enumerate(logits)]


# ---------------------------------------------------------------- training

def lr_at(step, total, lr, warmup, min_ratio):
    """Linear warmup over `warmup` steps, then cosine from lr down to lr*min_ratio."""
    if step < warmup:
        return lr * (step + 1) / warmup
    prog = (step - warmup) / max(1, total - warmup)
    return lr * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * prog)))


def train_reference(params, cfg, rows, batch, accum, steps, lr, warmup, min_ratio,
                    weight_decay, clip):
    """Runs `steps` AdamW steps in float64; step s uses micro-batches s*accum .. s*accum+accum-1
    of `batch` rows each, every micro-batch loss divided by accum.

    Returns {"steps": [{"loss", "head_losses", "grad_norm", "lr"}], "grads": {name: first
    step's unclipped gradient}, "params": {name: parameters after the last step},
    "sensitivity": {name: per-element factor S such that a gradient error of relative size
    kappa (relative to the tensor's largest gradient) moves the final parameter by about
    kappa * S}} (numpy). Adam divides by sqrt(v), so elements whose gradient stays near zero
    amplify rounding noise; a float32 implementation can only match them loosely.
    """
    rows = np.asarray(rows)
    need = steps * accum * batch
    if rows.shape[0] < need:
        raise ValueError(f"need {need} rows, have {rows.shape[0]}")
    p = to_torch(params, requires_grad=True)
    names = list(p)
    decay = [p[k] for k in names if p[k].ndim >= 2]
    no_decay = [p[k] for k in names if p[k].ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    out = {"steps": [], "grads": None, "params": None}
    touched = {k: torch.zeros_like(p[k], dtype=torch.bool) for k in names}
    sens = {k: torch.zeros_like(p[k]).detach() for k in names}
    for s in range(steps):
        lr_s = lr_at(s, steps, lr, warmup, min_ratio)
        for g in opt.param_groups:
            g["lr"] = lr_s
        opt.zero_grad(set_to_none=True)
        hl = np.zeros(cfg.n_future)
        for m in range(accum):
            i0 = (s * accum + m) * batch
            tok = torch.tensor(rows[i0:i0 + batch], dtype=torch.int64)
            losses = head_losses(p, cfg, tok)
            (sum(losses) / accum).backward()
            hl += np.array([float(x) for x in losses]) / accum
        grads = [p[k].grad for k in names]
        if s == 0:
            out["grads"] = {k: p[k].grad.detach().numpy().copy() for k in names}
        if clip > 0:
            gn = float(torch.nn.utils.clip_grad_norm_([p[k] for k in names], clip))
        else:
            gn = float(torch.sqrt(sum((g * g).sum() for g in grads)))
        # How far an fp32-sized gradient error could move each element through Adam's
        # normalization: lr * max|tensor gradient| / (sqrt(v_hat) + eps), summed over
        # steps, for elements whose gradient has ever been nonzero (zero stays exact).
        for k in names:
            g = p[k].grad.detach()
            touched[k] |= g != 0
        opt.step()
        for k in names:
            g = p[k].grad.detach()
            state = opt.state[p[k]]
            t = float(state["step"])
            vhat = state["exp_avg_sq"] / (1.0 - 0.95 ** t)
            gmax = float(g.abs().max())
            term = lr_s * gmax / (torch.sqrt(vhat) + 1e-8)
            sens[k] += torch.where(touched[k], term, torch.zeros_like(term))
        out["steps"].append({"loss": float(hl.sum()), "head_losses": hl.tolist(),
                             "grad_norm": gn, "lr": lr_s})
    out["params"] = {k: p[k].detach().numpy().copy() for k in names}
    out["sensitivity"] = {k: sens[k].numpy().copy() for k in names}
    return out


# ---------------------------------------------------------------- self test

def _attention_loops(x, p, pre, cfg):
    """A second attention: explicit loops over positions and heads, Meta-style complex
    RoPE on interleaved pairs applied to q/k weights permuted from the rotate-half layout."""
    B, T, d = x.shape
    H, Hkv, hd = cfg.n_head, cfg.n_kv_head, cfg.head_dim

    def to_interleaved(w, heads):
        # rotate-half row i pairs with i + hd/2; interleaved rows 2i, 2i+1 hold that pair.
        w = w.view(heads, 2, hd // 2, d).transpose(1, 2)
        return w.reshape(heads * hd, d)

    wq = to_interleaved(p[pre + "self_attn.q_proj.weight"], H)
    wk = to_interleaved(p[pre + "self_attn.k_proj.weight"], Hkv)
    wv = p[pre + "self_attn.v_proj.weight"]
    freqs = 1.0 / cfg.theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    out = torch.zeros(B, T, H * hd, dtype=torch.float64)
    for b in range(B):
        q = (x[b] @ wq.T).view(T, H, hd // 2, 2)
        k = (x[b] @ wk.T).view(T, Hkv, hd // 2, 2)
        v = (x[b] @ wv.T).view(T, Hkv, hd)
        rot = torch.polar(torch.ones(T, hd // 2, dtype=torch.float64),
                          torch.arange(T, dtype=torch.float64)[:, None] * freqs[None, :])
        qc = torch.view_as_complex(q.contiguous()) * rot[:, None, :]
        kc = torch.view_as_complex(k.contiguous()) * rot[:, None, :]
        qr = torch.view_as_real(qc).reshape(T, H, hd)
        kr = torch.view_as_real(kc).reshape(T, Hkv, hd)
        for h in range(H):
            g = h // (H // Hkv)
            for t in range(T):
                s = torch.stack([torch.dot(qr[t, h], kr[j, g]) for j in range(t + 1)])
                a = torch.softmax(s / math.sqrt(hd), dim=0)
                out[b, t, h * hd:(h + 1) * hd] = (a[:, None] * v[:t + 1, g]).sum(0)
    return out @ p[pre + "self_attn.o_proj.weight"].T


def _gradcheck(cfg, base, tok):
    """torch.autograd.gradcheck of the summed head losses with respect to every parameter."""
    names = list(base)

    def f(*tensors):
        return sum(head_losses(dict(zip(names, tensors)), cfg, tok))

    ins = tuple(torch.tensor(base[k], requires_grad=True) for k in names)
    return torch.autograd.gradcheck(f, ins, eps=1e-6, atol=1e-7, rtol=1e-5)


def self_test(verbose=False):
    """Checks the reference against independent formulations; raises AssertionError."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    msgs = []

    # 1. Gradient check on a tiny model, every parameter.
    cfg = Config(vocab=7, dim=4, n_head=2, n_kv_head=1, ffn=6, n_layer=3, n_future=2).validate()
    base = init_params(cfg, 2, std=0.5, norm_jitter=0.3)
    tok = torch.tensor(rng.integers(0, cfg.vocab, size=(2, 3 + cfg.n_future)))
    assert _gradcheck(cfg, base, tok), "gradcheck failed"
    msgs.append("gradcheck ok")

    # 2. Vectorized attention == loop attention with complex (interleaved) RoPE, incl. GQA.
    cfg = Config(vocab=11, dim=16, n_head=4, n_kv_head=2, ffn=24, n_layer=3, n_future=2,
                 theta=500.0).validate()
    p = to_torch(init_params(cfg, 3, std=0.3, norm_jitter=0.2))
    tok = torch.tensor(rng.integers(0, cfg.vocab, size=(2, 6 + cfg.n_future)))
    a = torch.stack(head_logits(p, cfg, tok[:, :6]))
    b = torch.stack(head_logits(p, cfg, tok[:, :6], attn=_attention_loops))
    err = float((a - b).abs().max() / a.abs().max())
    assert err < 1e-12, f"vectorized vs loop attention differ: {err}"
    msgs.append(f"loop attention ok ({err:.1e})")

    # 3. Causality: changing input token t leaves every head's logits at positions < t.
    for t in range(6):
        tok2 = tok.clone()
        tok2[:, t] = (tok2[:, t] + 1) % cfg.vocab
        c = torch.stack(head_logits(p, cfg, tok2[:, :6]))
        assert torch.equal(c[:, :, :t], a[:, :, :t]), f"position {t} leaks backwards"
        assert not torch.allclose(c[:, :, t], a[:, :, t]), f"position {t} has no effect"
    msgs.append("causal ok")

    # 4. GQA == MHA with each kv head's weights copied to the q heads that read it.
    rep = cfg.n_head // cfg.n_kv_head
    cfg_mha = Config(**{**cfg.__dict__, "n_kv_head": cfg.n_head}).validate()
    p_mha = dict(p)
    hd = cfg.head_dim
    for pre in trunk_prefixes(cfg) + head_prefixes(cfg):
        for w in ("k_proj", "v_proj"):
            key = pre + "self_attn." + w + ".weight"
            blocks = p[key].view(cfg.n_kv_head, hd, cfg.dim)
            p_mha[key] = torch.cat([blocks[h // rep] for h in range(cfg.n_head)], dim=0)
    m = torch.stack(head_logits(p_mha, cfg_mha, tok[:, :6]))
    err = float((a - m).abs().max() / a.abs().max())
    assert err < 1e-12, f"GQA vs duplicated-kv MHA differ: {err}"
    msgs.append(f"GQA ok ({err:.1e})")

    # 5. Heads are parallel: loss_k has zero gradient w.r.t. other heads' blocks, and
    #    trunk + head 1 alone is a plain Llama (n = 1 model with the same weights).
    pg = to_torch(init_params(cfg, 4, std=0.3), requires_grad=True)
    losses = head_losses(pg, cfg, tok)
    heads = head_prefixes(cfg)
    for k, lk in enumerate(losses):
        gs = torch.autograd.grad(lk, [pg[n] for n in pg], retain_graph=True, allow_unused=True)
        for name, g in zip(pg, gs):
            other = any(name.startswith(h) for j, h in enumerate(heads) if j != k)
            if other:
                assert g is None or float(g.abs().max()) == 0.0, f"loss_{k+1} reaches {name}"
    cfg1 = Config(**{**cfg.__dict__, "n_layer": cfg.n_layer - 1, "n_future": 1}).validate()
    p1 = {k: v for k, v in pg.items() if not k.startswith("model.extra_heads.")}
    assert set(p1) == set(param_shapes(cfg1)), "n=1 view of the names is not a plain Llama"
    l1 = head_losses(p1, cfg1, tok[:, :6 + 1])
    assert float(abs(l1[0] - losses[0])) < 1e-12, "trunk + head 1 is not the n=1 model"
    msgs.append("parallel heads ok")

    # 6. Head variants: gradcheck, and which head's loss reaches which head's weights
    #    (causal: loss_k reaches heads 1..k; anticausal: heads k..n; linear: head k only).
    for ht, ho in (("linear", "parallel"), ("transformer", "causal"), ("transformer", "anticausal")):
        cfg = Config(vocab=7, dim=4, n_head=2, n_kv_head=1, ffn=6, n_layer=4, n_future=3,
                     head_type=ht, head_order=ho).validate()
        base = init_params(cfg, 5, std=0.5, norm_jitter=0.3)
        tok = torch.tensor(rng.integers(0, cfg.vocab, size=(2, 3 + cfg.n_future)))
        assert _gradcheck(cfg, base, tok), f"gradcheck {ht} {ho} failed"
        pg = to_torch(base, requires_grad=True)
        losses = head_losses(pg, cfg, tok)
        pres = head_prefixes(cfg)
        n = cfg.n_future
        for k, lk in enumerate(losses, start=1):
            gs = torch.autograd.grad(lk, [pg[m] for m in pg], retain_graph=True, allow_unused=True)
            reach = {"parallel": {k}, "causal": set(range(1, k + 1)),
                     "anticausal": set(range(k, n + 1))}[ho]
            for name, g in zip(pg, gs):
                for j, pre in enumerate(pres, start=1):
                    if name.startswith(pre):
                        nz = g is not None and float(g.abs().max()) > 0.0
                        assert nz == (j in reach), f"{ht} {ho}: loss_{k} vs {name}: {nz}"
    msgs.append("head variants ok")

    # 7. Schedule.
    assert lr_at(0, 10, 1.0, 2, 0.1) == 0.5 and lr_at(1, 10, 1.0, 2, 0.1) == 1.0
    assert abs(lr_at(2, 10, 1.0, 2, 0.1) - 1.0) < 1e-15
    assert abs(lr_at(6, 10, 1.0, 2, 0.1) - 0.55) < 1e-12
    msgs.append("schedule ok")
    if verbose:
        print("torch_model self test: " + ", ".join(msgs))
    return msgs


if __name__ == "__main__":
    self_test(verbose=True)
