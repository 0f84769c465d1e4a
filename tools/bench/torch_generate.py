#!/usr/bin/env python3
"""PyTorch baseline of tools/bench/bench_generate.cpp: the same GPT (models/gpt.cpp with bench_generate's options:
4 pre-norm layers, width 128, 4 heads of 32, a 96-token vocabulary, context 1088, rotary positions in the
"rotate half" layout with base 10000, softmax attention, LayerNorm (eps 1e-5), biased q/k/v/out projections, a GELU
(erf) MLP of ratio 4, a final LayerNorm and an LM head tied to the token embedding), float32, eager, one thread,
under torch.inference_mode, generating greedily with a KV cache (F.scaled_dot_product_attention for the prefill and
for every step).

    token/<cache|no_cache>/N:     one new token after N tokens of context (forward + greedy pick); with the cache one
                                  step against a cache filled with N positions, without it the forward of all N + 1
                                  positions. Per-token microseconds and tokens/s (bench_generate's BM_token).
    generate/<cache|no_cache>/N:  32 greedy tokens after an N-token prompt, prefill included; milliseconds per call
                                  and tokens/s (bench_generate's BM_generate, items_per_second).

The cache is preallocated [B, H, context, D] and written in place (--cache prealloc, the default) or grown with
torch.cat every step (--cache cat); a step's attention is SDPA, or with --step-attention matmul
softmax(q k^T / sqrt(D)) v written out (slower here: SDPA is the default). Each figure is the median over --repeats timed repeats of a loop that runs at
least --min-time seconds: CPU time of this process (which a loaded machine disturbs less than wall time) and wall
time beside it.

    /opt/torch-venv/bin/python tools/bench/torch_generate.py [--repeats 5] [--sizes 64 256 1024] [--cache cat]
        [--step-attention matmul] [--only token|generate] [--no-uncached]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, CONTEXT, LAYERS, DIM, HEADS, NEW_TOKENS = 96, 1024 + 64, 4, 128, 4, 32
HEAD_DIM = DIM // HEADS
STEP_ATTENTION = "sdpa"  # --step-attention


def rotary_tables(context, d, base=10000.0):
    # nn/rotary.cpp: pair i of position p is rotated by p * base^(-2i/d); each half of the head dim repeats the angles.
    inv_freq = base ** (-torch.arange(0, d // 2, dtype=torch.float64) * 2.0 / d)
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class KVCache:
    """Per-layer keys and values [B, H, L, D] after rotary; `prealloc` writes into [B, H, context, D] buffers."""

    def __init__(self, prealloc):
        self.prealloc = prealloc
        self.k = self.v = None
        self.length = 0

    def append(self, k, v):
        t = k.shape[2]
        if self.prealloc:
            if self.k is None:
                shape = (k.shape[0], k.shape[1], CONTEXT, k.shape[3])
                self.k, self.v = k.new_empty(shape), v.new_empty(shape)
            self.k[:, :, self.length : self.length + t] = k
            self.v[:, :, self.length : self.length + t] = v
            self.length += t
            return self.k[:, :, : self.length], self.v[:, :, : self.length]
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        self.length += t
        return self.k, self.v

    def copy(self):
        # What the timed step may change: the length (prealloc, rewritten in place) or the tensors (cat, new ones).
        c = KVCache(self.prealloc)
        c.k, c.v, c.length = self.k, self.v, self.length
        return c


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj, self.k_proj = nn.Linear(DIM, DIM), nn.Linear(DIM, DIM)
        self.v_proj, self.out_proj = nn.Linear(DIM, DIM), nn.Linear(DIM, DIM)

    def forward(self, x, cos, sin, cache):
        b, t, _ = x.shape
        q, k, v = (p(x).view(b, t, HEADS, HEAD_DIM).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        pos = cache.length if cache is not None else 0
        c, s = cos[pos : pos + t], sin[pos : pos + t]
        q, k = rope(q, c, s), rope(k, c, s)
        if cache is not None:
            k, v = cache.append(k, v)
        # One query attends to every cached key (no mask); a prefill or a full forward is causal from position 0.
        if t == 1 and STEP_ATTENTION == "matmul":
            o = torch.softmax((q @ k.transpose(-2, -1)) * HEAD_DIM**-0.5, dim=-1) @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
        return self.out_proj(o.transpose(1, 2).reshape(b, t, DIM))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.attention, self.norm2 = nn.LayerNorm(DIM), Attention(), nn.LayerNorm(DIM)
        self.fc1, self.fc2 = nn.Linear(DIM, 4 * DIM), nn.Linear(4 * DIM, DIM)

    def forward(self, x, cos, sin, cache):
        h = x + self.attention(self.norm1(x), cos, sin, cache)
        return h + self.fc2(F.gelu(self.fc1(self.norm2(h))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, DIM)
        nn.init.normal_(self.token_embedding.weight, 0.0, 0.02)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.final_norm = nn.LayerNorm(DIM)
        cos, sin = rotary_tables(CONTEXT, HEAD_DIM)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, ids, caches=None):
        h = self.token_embedding(ids)
        for i, block in enumerate(self.blocks):
            h = block(h, self.cos, self.sin, caches[i] if caches is not None else None)
        return F.linear(self.final_norm(h), self.token_embedding.weight)  # tied head


def prompt(n):
    return torch.tensor([[(i * 37 + 11) % VOCAB for i in range(n)]], dtype=torch.int64)


def generate(model, ids, cache, prealloc):
    # GPT::generate at temperature 0 within one window: prefill, then one step (or one full forward) per token.
    out = []
    caches = [KVCache(prealloc) for _ in range(LAYERS)] if cache else None
    x = ids
    for _ in range(NEW_TOKENS):
        logits = model(x, caches)
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        step = torch.tensor([[nxt]], dtype=torch.int64)
        x = step if cache else torch.cat([x, step], dim=1)
    return out


def measure(run, repeats, min_time):
    run()
    run()  # warm up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time / 4 or n < 1:  # calibrate the loop like Google Benchmark does
        run()
        n += 1
    per = (time.perf_counter() - t0) / n
    iters = max(1, math.ceil(min_time / per))
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(iters):
            run()
        cpu.append((time.process_time() - c0) / iters)
        wall.append((time.perf_counter() - w0) / iters)
    return statistics.median(cpu), statistics.median(wall), iters


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per timed repeat (at least one call)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--cache", choices=["prealloc", "cat"], default="prealloc")
    ap.add_argument("--step-attention", choices=["sdpa", "matmul"], default="sdpa",
                    help="a cached step's attention: F.scaled_dot_product_attention, or softmax(q k^T / sqrt(D)) v")
    ap.add_argument("--only", choices=["token", "generate"], help="one of the two benchmarks")
    ap.add_argument("--no-uncached", action="store_true", help="skip the runs without a cache")
    args = ap.parse_args()
    global STEP_ATTENTION
    STEP_ATTENTION = args.step_attention
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = GPT().eval()
    prealloc = args.cache == "prealloc"
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, GPT layers={LAYERS} dim={DIM} "
          f"heads={HEADS} vocab={VOCAB} context={CONTEXT}, float32, cache {args.cache}, "
          f"step attention {args.step_attention}")
    print(f"{'benchmark':<26} {'cpu':>10} {'wall':>10} {'tokens/s':>9} {'iters':>6}")
    with torch.inference_mode():
        for cached in (True, False):
            if not cached and args.no_uncached:
                continue
            mode = "cache" if cached else "no_cache"
            for n in args.sizes:
                if n + NEW_TOKENS > CONTEXT:
                    raise SystemExit(f"--sizes: {n} + {NEW_TOKENS} new tokens exceed the context {CONTEXT}")
                ids = prompt(n + 1)
                if args.only != "generate":
                    if cached:
                        filled = [KVCache(prealloc) for _ in range(LAYERS)]
                        model(ids[:, :n], filled)
                        step = ids[:, n:]

                        def run():
                            return int(model(step, [c.copy() for c in filled])[0, -1].argmax())

                    else:

                        def run():
                            return int(model(ids)[0, -1].argmax())

                    cpu, wall, iters = measure(run, args.repeats, args.min_time)
                    print(f"{f'token/{mode}/{n}':<26} {cpu * 1e6:>7.1f} us {wall * 1e6:>7.1f} us "
                          f"{1 / cpu:>9.0f} {iters:>6}", flush=True)
                if args.only != "token":
                    p = ids[:, :n]
                    cpu, wall, iters = measure(lambda: generate(model, p, cached, prealloc), args.repeats,
                                               args.min_time)
                    print(f"{f'generate/{mode}/{n}':<26} {cpu * 1e3:>7.2f} ms {wall * 1e3:>7.2f} ms "
                          f"{NEW_TOKENS / cpu:>9.0f} {iters:>6}", flush=True)


if __name__ == "__main__":
    main()
