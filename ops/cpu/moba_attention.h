#pragma once
// The CPU MoBA kernels behind CpuBackend's moba_route, moba_forward and moba_backward (ops/moba.cpp validates the
// inputs and records autograd; this file only computes).
//
// Routing (moba_route): for each (batch, head, query t) the past blocks it selects. The gate of block n for query t
// is the unscaled dot product of q_t with the mean of the block's keys (over the block's actual length), computed
// in float32 (float64 for float64 inputs) per head, with the kv head h / (H / Hkv) under grouped-query attention.
// Candidates are the blocks that end at or before t (every block before t's own); the top_k - 1 highest are kept
// (ties go to the later block). The query's own block is always attended to (causally) and is not stored here.
// The result is kept both per query (`selected`) and transposed, as FlashMoBA's CSC index: for each (batch, head)
// and key block, the ascending list of queries that selected it as a past block.
//
// Forward (moba_forward) and backward (moba_backward) follow FlashMoBA's gather-and-densify scheme: for each key
// block, the query rows attending to it (its own rows, causally masked, then the rows listed in the CSC index) are
// gathered into small dense tiles and multiplied against the contiguous K/V block (oneDNN sgemm for float32, plain
// loops for float64). The forward keeps an online-softmax state per query row (running max, sum and the
// unnormalised output in `out`) and writes the log-sum-exp; the backward recomputes P = exp(S * scale - LSE) with
// the final LSE and D = rowsum(dO * O), accumulates dK and dV per key block and scatters dQ to the query rows. Extra
// memory is O(N) per worker; the Lq x Lk score matrix is never formed. Parallel over (batch, head) and runs of
// query blocks (forward), and over (batch, kv head) and interleaved key blocks (backward; when there are fewer kv
// heads than threads, each part adds dQ into a private buffer, summed at the end).
//
// Layout: q [B, H, N, D], k [B, Hkv, N, D], v [B, Hkv, N, Dv], out and dout [B, H, N, Dv], lse [B, H, N]; all
// contiguous, T = float or double.
#include <cstdint>

namespace tangent::cpu {

// A raw view of the routing tensors (core/backend.h, MobaRouting), read by the kernels below.
struct MobaRoutingView {
  int64_t batch = 0, heads = 0, kv_heads = 0, length = 0, block = 1, nblocks = 0;
  int64_t past = 0;  // most past blocks a query selects: min(top_k - 1, nblocks - 1), >= 0
  // selected[((b * H + h) * N + t) * past + s]: the s-th past block of query t (descending gate), -1 when fewer.
  int64_t* selected = nullptr;
  // CSC index per (b, h) = bh: queries selecting key block n as a past block are
  // rows[bh * N * past + col_offsets[bh * (nblocks + 1) + n] ...  + col_offsets[... + n + 1]), ascending.
  int64_t* col_offsets = nullptr;
  int64_t* rows = nullptr;
};

// Fills r's arrays; r's sizes (batch ... past) are set by the caller.
template <typename T>
void moba_route(const T* q, const T* k, int64_t D, const MobaRoutingView& r);

template <typename T>
void moba_forward(const T* q, const T* k, const T* v, T* out, T* lse, const MobaRoutingView& r, int64_t D, int64_t Dv,
                  T scale);

// dq, dk, dv are overwritten.
template <typename T>
void moba_backward(const T* q, const T* k, const T* v, const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv,
                   const MobaRoutingView& r, int64_t D, int64_t Dv, T scale);

}  // namespace tangent::cpu
