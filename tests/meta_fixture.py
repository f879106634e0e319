"""Tiny models in Meta's exact release format, for the converter's tests.

Meta's multi-token checkpoints are a directory holding params.json,
consolidated.NN.pth (torch.save of the state_dict, bfloat16) and, beside or
one directory up, SentencePiece's tokenizer.model. The reference forward
below follows Meta's llama/model.py as ../shared/paper-digest.md quotes it,
written here independently of mtp and of tests/torch_model.py: RoPE rotates
interleaved pairs (view_as_complex), heads read the trunk's raw residual
stream, one shared final norm and unembedding, keys/values repeated for
grouped-query attention. It runs in float64 on the weights as saved.
"""

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def ffn_hidden(dim, multiple_of, ffn_dim_multiplier):
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_freqs(head_dim, end, theta):
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].double() / head_dim))
    angles = torch.outer(torch.arange(end).double(), freqs)
    return torch.polar(torch.ones_like(angles), angles)  # (T, hd/2) complex


def rotate_pairs(x, freqs):
    """x (B, T, H, hd): consecutive pairs (2i, 2i+1) as complex numbers."""
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs[None, :, None, :]).flatten(3)


class Attention(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.h, self.hkv = p["n_heads"], p.get("n_kv_heads") or p["n_heads"]
        self.hd = p["dim"] // self.h
        self.wq = nn.Linear(p["dim"], self.h * self.hd, bias=False)
        self.wk = nn.Linear(p["dim"], self.hkv * self.hd, bias=False)
        self.wv = nn.Linear(p["dim"], self.hkv * self.hd, bias=False)
        self.wo = nn.Linear(self.h * self.hd, p["dim"], bias=False)

    def forward(self, x, freqs):
        B, T, _ = x.shape
        q = rotate_pairs(self.wq(x).view(B, T, self.h, self.hd), freqs)
        k = rotate_pairs(self.wk(x).view(B, T, self.hkv, self.hd), freqs)
        v = self.wv(x).view(B, T, self.hkv, self.hd)
        rep = self.h // self.hkv  # Meta's repeat_kv: query head j reads kv head j // rep
        k = k[:, :, :, None, :].expand(B, T, self.hkv, rep, self.hd).reshape(B, T, self.h, self.hd)
        v = v[:, :, :, None, :].expand(B, T, self.hkv, rep, self.hd).reshape(B, T, self.h, self.hd)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(2, 3) / math.sqrt(self.hd)
        mask = torch.full((T, T), float("-inf"), dtype=x.dtype).triu(1)
        out = F.softmax(scores + mask, dim=-1) @ v
        return self.wo(out.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, p):
        super().__init__()
        hidden = ffn_hidden(p["dim"], p["multiple_of"], p.get("ffn_dim_multiplier"))
        self.w1 = nn.Linear(p["dim"], hidden, bias=False)
        self.w2 = nn.Linear(hidden, p["dim"], bias=False)
        self.w3 = nn.Linear(p["dim"], hidden, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.attention = Attention(p)
        self.feed_forward = FeedForward(p)
        self.attention_norm = RMSNorm(p["dim"], p["norm_eps"])
        self.ffn_norm = RMSNorm(p["dim"], p["norm_eps"])

    def forward(self, x, freqs):
        h = x + self.attention(self.attention_norm(x), freqs)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, p, vocab):
        super().__init__()
        self.p, n = p, p.get("n_future_tokens", 1)
        self.tok_embeddings = nn.Embedding(vocab, p["dim"])
        self.layers = nn.ModuleList(Block(p) for _ in range(p["n_layers"] - n + 1))
        self.extra_heads = nn.ModuleList(Block(p) for _ in range(n - 1))
        self.norm = RMSNorm(p["dim"], p["norm_eps"])
        self.output = nn.Linear(p["dim"], vocab, bias=False)

    def forward(self, tokens):
        """tokens (B, T) -> logits (B, T, n, V), every head."""
        freqs = rope_freqs(self.p["dim"] // self.p["n_heads"], tokens.shape[1], self.p.get("rope_theta", 10000.0))
        h = self.tok_embeddings(tokens)
        for layer in self.layers[:-1]:
            h = layer(h, freqs)
        heads = [self.layers[-1]] + list(self.extra_heads)
        latents = torch.stack([head(h, freqs) for head in heads], dim=-2)
        return self.output(self.norm(latents))


# Meta's model-parallel split of each key (dimension; None: replicated).
def split_dim(key):
    if key.endswith("norm.weight"):
        return None
    if key == "tok_embeddings.weight" or key.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
        return 1
    return 0


def write_meta_model(out_dir, params, vocab, seed=0, shards=1, dtype=torch.bfloat16, std=0.08):
    """Writes params.json and consolidated.NN.pth; returns the float64
    reference model holding exactly the saved (rounded) weights."""
    torch.manual_seed(seed)
    model = Transformer(params, vocab)
    with torch.no_grad():
        for name, w in model.named_parameters():
            if name.endswith("norm.weight"):
                w.copy_(1.0 + 0.1 * torch.randn_like(w))
            else:
                w.normal_(0.0, std)
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "params.json"), "w") as f:
        json.dump(params, f)
    for s in range(shards):
        part = {}
        for k, v in state.items():
            d = split_dim(k)
            part[k] = v.clone() if d is None else v.chunk(shards, dim=d)[s].clone()
        torch.save(part, os.path.join(out_dir, f"consolidated.{s:02d}.pth"))
    model.load_state_dict({k: v.double() for k, v in state.items()})
    return model.double().eval(), state
