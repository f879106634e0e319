#!/usr/bin/env python3
"""PyTorch baseline for bench/bench_train.sh: the same multi-token model and
training step written the way a PyTorch user would (nn.Module, autograd,
torch.optim.AdamW), timed on the same config and thread count.

usage: torch_train.py --vocab V --dim d --heads H --layers L --future n
                      --seq T --batch B --steps S --threads N --schedule sequential|naive
Prints one JSON line: {"ms_per_step": ..., "tokens_per_sec": ..., "peak_rss_mb": ...}
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope(x, cos, sin):  # x (B, H, T, hd), rotate-half layout
    h = x.shape[-1] // 2
    rot = torch.cat((-x[..., h:], x[..., :h]), dim=-1)
    return x * cos + rot * sin


class Block(nn.Module):
    def __init__(self, d, H, f):
        super().__init__()
        self.H = H
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, f, bias=False)
        self.up = nn.Linear(d, f, bias=False)
        self.down = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, d = x.shape
        q, k, v = self.qkv(self.n1(x)).split(d, dim=-1)
        q, k, v = (t.view(B, T, self.H, d // self.H).transpose(1, 2) for t in (q, k, v))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.H)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.o(y)
        y = self.n2(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class MTP(nn.Module):
    def __init__(self, V, d, H, L, n, T):
        super().__init__()
        f = (8 * d + 2) // 3
        f = (f + 63) // 64 * 64
        self.n = n
        self.emb = nn.Embedding(V, d)
        self.trunk = nn.ModuleList(Block(d, H, f) for _ in range(L - n))
        self.heads = nn.ModuleList(Block(d, H, f) for _ in range(n))
        self.norm = RMSNorm(d)
        self.lm_head = nn.Linear(d, V, bias=False)
        hd = d // H
        inv = 10000.0 ** (-torch.arange(0, hd, 2).float() / hd)
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cat((ang.cos(), ang.cos()), -1))
        self.register_buffer("sin", torch.cat((ang.sin(), ang.sin()), -1))
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def trunk_forward(self, idx):
        x = self.emb(idx)
        for b in self.trunk:
            x = b(x, self.cos, self.sin, self.mask)
        return x

    def head_loss(self, z, k, targets):
        y = self.norm(self.heads[k](z, self.cos, self.sin, self.mask))
        logits = self.lm_head(y)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def step(model, opt, rows, T, schedule):
    opt.zero_grad(set_to_none=True)
    idx = rows[:, :T]
    if schedule == "naive":
        z = model.trunk_forward(idx)
        loss = sum(model.head_loss(z, k, rows[:, k + 1:k + 1 + T]) for k in range(model.n))
        loss.backward()
    else:  # the paper's Figure 2: heads one at a time, one trunk backward
        z = model.trunk_forward(idx)
        d = z.detach().requires_grad_(True)
        for k in range(model.n):
            model.head_loss(d, k, rows[:, k + 1:k + 1 + T]).backward()
        z.backward(d.grad)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def main():
    ap = argparse.ArgumentParser()
    for a in ("vocab", "dim", "heads", "layers", "future", "seq", "batch", "steps", "threads"):
        ap.add_argument("--" + a, type=int, required=True)
    ap.add_argument("--schedule", default="sequential", choices=["sequential", "naive"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = MTP(a.vocab, a.dim, a.heads, a.layers, a.future, a.seq)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    rows = torch.randint(0, a.vocab, (a.batch, a.seq + a.future), generator=g)
    times = []
    for s in range(a.steps + 1):  # the first step warms up and is not timed
        t0 = time.perf_counter()
        step(model, opt, rows, a.seq, a.schedule)
        if s:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({"ms_per_step": med * 1e3, "tokens_per_sec": a.batch * a.seq / med,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
