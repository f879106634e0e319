// flash_attention.cu: causal attention (grouped key/value heads) for bf16
// training, fused so the scores never leave the chip: tiles of 64 query rows
// and 64 keys in shared memory, bf16 products on the tensor cores (WMMA
// 16x16x16, float32 sums), an online softmax in float32. The backward
// recomputes the probabilities from the forward's log-sum-exp in two kernels,
// one per key tile (dk, dv: each sums its group's query heads in order) and
// one per query tile (dq), so no sum depends on the order threads finish in
// (no atomics: the same bits every run).
//
// Used in bf16 mode only, for head dimensions of 64 and 128, when switched on
// (cuda_set_flash_attention); other cases take attention_products.h's path.
// Layouts as ops.h: q, out, dq, dout (B, Tq, H, hd); k, v where an
// op_kv_layout says in the forward (a KV cache keeps each head's positions
// together), (B, Tk, Hkv, hd) in the backward, as dk, dv; lse, D (B, H, Tq); query i sees keys 0 .. Tk-Tq+i.
#include <cuda_bf16.h>
#include <math.h>
#include <mma.h>
#include <stdlib.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

using namespace nvcuda;
typedef __nv_bfloat16 bf16;

enum { TILE = 64, WARPS = 4, ROWS_PER_WARP = 16 };  // a warp owns 16 of a tile's 64 rows

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> frag_b_row;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> frag_b_col;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_acc;

static int flash_on = -1;  // -1: not chosen yet (MTP_FLASH_ATTENTION=1 in the environment turns it on)

extern "C" void cuda_set_flash_attention(int on) {
    flash_on = on;
}

extern "C" int cuda_flash_attention_on(void) {
    if (flash_on < 0) {
        const char *e = getenv("MTP_FLASH_ATTENTION");
        flash_on = e && e[0] == '1';
    }
    return flash_on;
}

// dst (TILE, HD) bf16 = rows r0.. of src (row stride ld floats), rows at or
// past `valid` zero. Every thread of the block takes part.
template <int HD>
__device__ void load_tile(bf16 *dst, const float *src, size_t ld, int valid) {
    for (int idx = threadIdx.x; idx < TILE * HD / 4; idx += blockDim.x) {
        const int r = idx / (HD / 4), c = (idx % (HD / 4)) * 4;
        float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (r < valid) x = *(const float4 *)(src + (size_t)r * ld + c);
        bf16 *d = dst + r * HD + c;
        d[0] = __float2bfloat16(x.x);
        d[1] = __float2bfloat16(x.y);
        d[2] = __float2bfloat16(x.z);
        d[3] = __float2bfloat16(x.w);
    }
}

// C (16 x 64, float, ld 64) = A (16 x HD, bf16 row-major, ld HD) B^T, where B
// is (64 x HD) bf16 row-major (ld HD): one warp.
template <int HD>
__device__ void product_abt(float *C, const bf16 *A, const bf16 *B) {
    for (int n = 0; n < TILE / 16; n++) {
        frag_acc acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int kk = 0; kk < HD / 16; kk++) {
            frag_a a;
            frag_b_col b;
            wmma::load_matrix_sync(a, A + kk * 16, HD);
            wmma::load_matrix_sync(b, B + n * 16 * HD + kk * 16, HD);
            wmma::mma_sync(acc, a, b, acc);
        }
        wmma::store_matrix_sync(C + n * 16, acc, TILE, wmma::mem_row_major);
    }
}

// acc (16 x 16) += A (16 x 64 bf16, row-major, ld TILE) B, where B is 64 rows
// of 16 columns of a (64 x HD) bf16 row-major tile: one warp.
template <int HD>
__device__ void product_ab(frag_acc &acc, const bf16 *A, const bf16 *B) {
    for (int kk = 0; kk < TILE / 16; kk++) {
        frag_a a;
        frag_b_row b;
        wmma::load_matrix_sync(a, A + kk * 16, TILE);
        wmma::load_matrix_sync(b, B + kk * 16 * HD, HD);
        wmma::mma_sync(acc, a, b, acc);
    }
}

// ---- forward ----

template <int HD>
struct fwd_smem {
    static constexpr size_t q = 0, k = q + TILE * HD * 2, v = k + TILE * HD * 2, s = v + TILE * HD * 2,
                            p = s + TILE * TILE * 4, o = p + TILE * TILE * 2, tmp = o + TILE * HD * 4,
                            row = tmp + WARPS * 256 * 4, bytes = row + TILE * 3 * 4;
};

// Block (query tile, b * H + h); 4 warps of 16 query rows.
template <int HD>
__global__ void __launch_bounds__(128)
    flash_forward_kernel(float *out, float *lse, const float *q, const float *k, const float *v, int Tq,
                         int Tk, int H, int Hkv, op_kv_layout kv, float scale) {
    CUDA_DYNAMIC_SHARED(smem);
    typedef fwd_smem<HD> L;
    bf16 *sQ = (bf16 *)(smem + L::q), *sK = (bf16 *)(smem + L::k), *sV = (bf16 *)(smem + L::v);
    float *sS = (float *)(smem + L::s), *sO = (float *)(smem + L::o), *sTmp = (float *)(smem + L::tmp);
    bf16 *sP = (bf16 *)(smem + L::p);
    float *sRow = (float *)(smem + L::row);  // per row: m, l, the last rescale
    const int q0 = blockIdx.x * TILE, b = blockIdx.y / H, h = blockIdx.y % H, g = h / (H / Hkv);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, offset = Tk - Tq;
    const int qvalid = Tq - q0 < TILE ? Tq - q0 : TILE;
    const size_t qld = (size_t)H * HD, kvld = kv.position;
    const float *kb = k + (size_t)b * kv.batch + (size_t)g * kv.head,
                *vb = v + (size_t)b * kv.batch + (size_t)g * kv.head;
    load_tile<HD>(sQ, q + ((size_t)b * Tq + q0) * qld + (size_t)h * HD, qld, qvalid);
    for (int i = threadIdx.x; i < TILE * HD; i += blockDim.x) sO[i] = 0.0f;
    for (int r = threadIdx.x; r < TILE; r += blockDim.x) {
        sRow[3 * r] = -INFINITY;
        sRow[3 * r + 1] = 0.0f;
        sRow[3 * r + 2] = 0.0f;
    }
    const int last_key = offset + q0 + qvalid - 1, tiles = last_key / TILE + 1;
    float *S = sS + warp * ROWS_PER_WARP * TILE, *tmp = sTmp + warp * 256;
    bf16 *P = sP + warp * ROWS_PER_WARP * TILE;
    for (int kt = 0; kt < tiles; kt++) {
        const int k0 = kt * TILE, kvalid = Tk - k0 < TILE ? Tk - k0 : TILE;
        __syncthreads();  // every warp is done with the previous tile
        load_tile<HD>(sK, kb + (size_t)k0 * kvld, kvld, kvalid);
        load_tile<HD>(sV, vb + (size_t)k0 * kvld, kvld, kvalid);
        __syncthreads();
        product_abt<HD>(S, sQ + warp * ROWS_PER_WARP * HD, sK);
        __syncwarp();
        {  // online softmax: two lanes per row, 32 keys each
            const int r = lane >> 1, c0 = (lane & 1) * 32, row = warp * ROWS_PER_WARP + r;
            const int sees = offset + q0 + row;  // the row's last visible key
            float *s = S + r * TILE;
            float mx = -INFINITY;
            for (int c = c0; c < c0 + 32; c++) {
                const int j = k0 + c;
                const float x = j <= sees && j < Tk ? s[c] * scale : -INFINITY;
                s[c] = x;
                mx = fmaxf(mx, x);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            const float m_old = sRow[3 * row], m_new = fmaxf(m_old, mx);
            // a row that sees no key yet keeps m = -inf; its probabilities are 0
            const float corr = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
            float sum = 0.0f;
            for (int c = c0; c < c0 + 32; c++) {
                const float p = m_new == -INFINITY ? 0.0f : expf(s[c] - m_new);
                P[r * TILE + c] = __float2bfloat16(p);
                sum += p;
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            __syncwarp();
            if ((lane & 1) == 0) {
                sRow[3 * row] = m_new;
                sRow[3 * row + 1] = sRow[3 * row + 1] * corr + sum;
                sRow[3 * row + 2] = corr;
            }
        }
        __syncwarp();
        // O (16 x HD) = O * corr + P (16 x 64) V (64 x HD), 16 columns at a time
        for (int c = 0; c < HD / 16; c++) {
            frag_acc acc;
            wmma::fill_fragment(acc, 0.0f);
            product_ab<HD>(acc, P, sV + c * 16);
            wmma::store_matrix_sync(tmp, acc, 16, wmma::mem_row_major);
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                const int row = warp * ROWS_PER_WARP + e / 16;
                float *o = sO + row * HD + c * 16 + e % 16;
                *o = *o * sRow[3 * row + 2] + tmp[e];
            }
            __syncwarp();
        }
    }
    __syncwarp();
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        const int row = warp * ROWS_PER_WARP + r, i = q0 + row;
        if (i >= Tq) break;
        const float l = sRow[3 * row + 1], inv = 1.0f / l;
        float *o = out + ((size_t)b * Tq + i) * qld + (size_t)h * HD;
        for (int e = lane; e < HD; e += 32) o[e] = sO[row * HD + e] * inv;
        if (lse && lane == 0) lse[((size_t)b * H + h) * Tq + i] = sRow[3 * row] + logf(l);
    }
}

// ---- backward ----

// For a warp's 16 rows x 64 columns: P = exp(scale * S - lse) where visible,
// and dS = P * (dP - D) * scale, both bf16. S and dP are float (16 x 64, ld
// 64), indexed [row][col]; `transposed` says rows are keys and columns queries
// (the dk, dv kernel) instead of the other way round.
__device__ void probs_and_dscores(bf16 *P, bf16 *dS, const float *S, const float *dP, const float *lse,
                                  const float *D, int qbase, int kbase, int T, int transposed, float scale) {
    const int lane = threadIdx.x & 31;
    for (int e = lane; e < ROWS_PER_WARP * TILE; e += 32) {
        const int r = e / TILE, c = e % TILE;
        const int i = transposed ? qbase + c : qbase + r, j = transposed ? kbase + r : kbase + c;
        float p = 0.0f, ds = 0.0f;
        if (i < T && j <= i) {                  // causal: query i sees keys 0..i (so j < T too)
            const int at = transposed ? c : r;  // the query's index in the tile
            p = expf(S[e] * scale - lse[at]);
            ds = p * (dP[e] - D[at]) * scale;
        }
        P[e] = __float2bfloat16(p);
        dS[e] = __float2bfloat16(ds);
    }
}

// The query side of a backward tile: q and dout rows q0.. of head h (bf16),
// their log-sum-exp in stat[0..TILE) and row dots D in stat[TILE..2 TILE).
template <int HD>
__device__ void load_query_side(bf16 *sQ, bf16 *sDO, float *stat, const float *q, const float *dout,
                                const float *lse, const float *D, int b, int h, int q0, int T, int H) {
    const size_t qld = (size_t)H * HD, first = ((size_t)b * T + q0) * qld + (size_t)h * HD;
    const int valid = T - q0 < TILE ? T - q0 : TILE;
    load_tile<HD>(sQ, q + first, qld, valid);
    load_tile<HD>(sDO, dout + first, qld, valid);
    for (int r = threadIdx.x; r < TILE; r += blockDim.x) {
        const size_t at = ((size_t)b * H + h) * T + q0 + r;
        stat[r] = r < valid ? lse[at] : 0.0f;
        stat[TILE + r] = r < valid ? D[at] : 0.0f;
    }
}

template <int HD>
struct bwd_smem {
    static constexpr size_t a = 0, b = a + TILE * HD * 2, c = b + TILE * HD * 2, d = c + TILE * HD * 2,
                            s = d + TILE * HD * 2, dp = s + TILE * TILE * 4, p = dp + TILE * TILE * 4,
                            ds = p + TILE * TILE * 2, stat = ds + TILE * TILE * 2,
                            bytes = stat + 2 * TILE * 4;
};

// Block (key tile, b * Hkv + g); warp w owns keys k0 + 16w ..: dk, dv of
// those keys summed over the group's query heads, in head order, and the
// query tiles from the diagonal on, in order.
template <int HD>
__global__ void __launch_bounds__(128)
    flash_dkv_kernel(float *dk, float *dv, const float *dout, const float *lse, const float *D,
                     const float *q, const float *k, const float *v, int T, int H, int Hkv, float scale) {
    CUDA_DYNAMIC_SHARED(smem);
    typedef bwd_smem<HD> L;
    bf16 *sK = (bf16 *)(smem + L::a), *sV = (bf16 *)(smem + L::b), *sQ = (bf16 *)(smem + L::c),
         *sDO = (bf16 *)(smem + L::d), *sP = (bf16 *)(smem + L::p), *sDS = (bf16 *)(smem + L::ds);
    float *sS = (float *)(smem + L::s), *sDP = (float *)(smem + L::dp), *sStat = (float *)(smem + L::stat);
    const int k0 = blockIdx.x * TILE, b = blockIdx.y / Hkv, g = blockIdx.y % Hkv, group = H / Hkv;
    const int warp = threadIdx.x >> 5, kvalid = T - k0 < TILE ? T - k0 : TILE;
    const size_t kvld = (size_t)Hkv * HD;
    load_tile<HD>(sK, k + ((size_t)b * T + k0) * kvld + (size_t)g * HD, kvld, kvalid);
    load_tile<HD>(sV, v + ((size_t)b * T + k0) * kvld + (size_t)g * HD, kvld, kvalid);
    frag_acc dk_acc[HD / 16], dv_acc[HD / 16];
    for (int c = 0; c < HD / 16; c++) {
        wmma::fill_fragment(dk_acc[c], 0.0f);
        wmma::fill_fragment(dv_acc[c], 0.0f);
    }
    float *S = sS + warp * ROWS_PER_WARP * TILE, *dP = sDP + warp * ROWS_PER_WARP * TILE;
    bf16 *P = sP + warp * ROWS_PER_WARP * TILE, *dS = sDS + warp * ROWS_PER_WARP * TILE;
    const bf16 *Kw = sK + warp * ROWS_PER_WARP * HD, *Vw = sV + warp * ROWS_PER_WARP * HD;
    for (int h = g * group; h < (g + 1) * group; h++)
        for (int q0 = k0 / TILE * TILE; q0 < T; q0 += TILE) {
            __syncthreads();  // the previous query tile is no longer read
            load_query_side<HD>(sQ, sDO, sStat, q, dout, lse, D, b, h, q0, T, H);
            __syncthreads();
            // S^T (16 keys x 64 queries) = K_w Q^T; dP^T = V_w dout^T
            product_abt<HD>(S, Kw, sQ);
            product_abt<HD>(dP, Vw, sDO);
            __syncwarp();
            probs_and_dscores(P, dS, S, dP, sStat, sStat + TILE, q0, k0 + warp * ROWS_PER_WARP, T, 1, scale);
            __syncwarp();
            // dv_w += P^T (16 x 64) dout (64 x HD); dk_w += dS^T (16 x 64) q (64 x HD)
            for (int c = 0; c < HD / 16; c++) {
                product_ab<HD>(dv_acc[c], P, sDO + c * 16);
                product_ab<HD>(dk_acc[c], dS, sQ + c * 16);
            }
        }
    // the warp's 16 keys; the rows past T are never stored
    __syncthreads();
    float *stage = sS + warp * ROWS_PER_WARP * TILE;  // 16 x 16 floats at a time
    for (int c = 0; c < HD / 16; c++) {
        for (int which = 0; which < 2; which++) {
            wmma::store_matrix_sync(stage, which ? dv_acc[c] : dk_acc[c], 16, wmma::mem_row_major);
            __syncwarp();
            float *dst = which ? dv : dk;
            for (int e = threadIdx.x & 31; e < 256; e += 32) {
                const int j = k0 + warp * ROWS_PER_WARP + e / 16;
                if (j < T) dst[((size_t)b * T + j) * kvld + (size_t)g * HD + c * 16 + e % 16] = stage[e];
            }
            __syncwarp();
        }
    }
}

// Block (query tile, b * H + h): dq of 64 query rows over the key tiles up to
// the diagonal, in order.
template <int HD>
__global__ void __launch_bounds__(128)
    flash_dq_kernel(float *dq, const float *dout, const float *lse, const float *D, const float *q,
                    const float *k, const float *v, int T, int H, int Hkv, float scale) {
    CUDA_DYNAMIC_SHARED(smem);
    typedef bwd_smem<HD> L;
    bf16 *sQ = (bf16 *)(smem + L::a), *sDO = (bf16 *)(smem + L::b), *sK = (bf16 *)(smem + L::c),
         *sV = (bf16 *)(smem + L::d), *sP = (bf16 *)(smem + L::p), *sDS = (bf16 *)(smem + L::ds);
    float *sS = (float *)(smem + L::s), *sDP = (float *)(smem + L::dp), *sStat = (float *)(smem + L::stat);
    const int q0 = blockIdx.x * TILE, b = blockIdx.y / H, h = blockIdx.y % H, g = h / (H / Hkv);
    const int warp = threadIdx.x >> 5, qvalid = T - q0 < TILE ? T - q0 : TILE;
    const size_t qld = (size_t)H * HD, kvld = (size_t)Hkv * HD;
    load_query_side<HD>(sQ, sDO, sStat, q, dout, lse, D, b, h, q0, T, H);
    frag_acc dq_acc[HD / 16];
    for (int c = 0; c < HD / 16; c++) wmma::fill_fragment(dq_acc[c], 0.0f);
    float *S = sS + warp * ROWS_PER_WARP * TILE, *dP = sDP + warp * ROWS_PER_WARP * TILE;
    bf16 *P = sP + warp * ROWS_PER_WARP * TILE, *dS = sDS + warp * ROWS_PER_WARP * TILE;
    const bf16 *Qw = sQ + warp * ROWS_PER_WARP * HD, *DOw = sDO + warp * ROWS_PER_WARP * HD;
    const int last = q0 + qvalid - 1;
    for (int k0 = 0; k0 <= last; k0 += TILE) {
        const int kvalid = T - k0 < TILE ? T - k0 : TILE;
        __syncthreads();
        load_tile<HD>(sK, k + ((size_t)b * T + k0) * kvld + (size_t)g * HD, kvld, kvalid);
        load_tile<HD>(sV, v + ((size_t)b * T + k0) * kvld + (size_t)g * HD, kvld, kvalid);
        __syncthreads();
        product_abt<HD>(S, Qw, sK);    // S (16 queries x 64 keys)
        product_abt<HD>(dP, DOw, sV);  // dP = dout V^T
        __syncwarp();
        probs_and_dscores(P, dS, S, dP, sStat + warp * ROWS_PER_WARP, sStat + TILE + warp * ROWS_PER_WARP,
                          q0 + warp * ROWS_PER_WARP, k0, T, 0, scale);
        __syncwarp();
        // dq_w += dS (16 x 64) K (64 x HD)
        for (int c = 0; c < HD / 16; c++) product_ab<HD>(dq_acc[c], dS, sK + c * 16);
    }
    __syncwarp();
    float *stage = S;  // 16 x 16 at a time
    for (int c = 0; c < HD / 16; c++) {
        wmma::store_matrix_sync(stage, dq_acc[c], 16, wmma::mem_row_major);
        __syncwarp();
        for (int e = threadIdx.x & 31; e < 256; e += 32) {
            const int i = q0 + warp * ROWS_PER_WARP + e / 16;
            if (i < T) dq[((size_t)b * T + i) * qld + (size_t)h * HD + c * 16 + e % 16] = stage[e];
        }
        __syncwarp();
    }
}

// ---- launchers ----

// Whether the device gives a block the shared memory of both passes at head
// dim HD (an H100 or A100 does; cards with about 99 KB, such as sm_86 and
// sm_89 ones, not at 128): else the caller takes attention_products.h's path,
// forward and backward alike.
template <int HD>
static int fits_device() {
    const size_t most = fwd_smem<HD>::bytes > bwd_smem<HD>::bytes ? fwd_smem<HD>::bytes : bwd_smem<HD>::bytes;
    return most <= cuda_shared_optin;
}

template <int HD>
static int forward_hd(float *out, float *lse, const float *q, const float *k, const float *v, int B, int Tq,
                      int Tk, int H, int Hkv, op_kv_layout kv) {
    if (!fits_device<HD>()) return -1;
    const size_t bytes = fwd_smem<HD>::bytes;
    static size_t allowed = 0;
    cuda_allow_shared(flash_forward_kernel<HD>, bytes, 0, &allowed);  // (fits_device: it can)
    const dim3 grid((unsigned)((Tq + TILE - 1) / TILE), (unsigned)(B * H));
    CUDA_LAUNCH(flash_forward_kernel<HD>, grid, 32 * WARPS, bytes)
    (out, lse, q, k, v, Tq, Tk, H, Hkv, kv, 1.0f / sqrtf((float)HD));
    CUDA_LAUNCHED("flash_forward_kernel");
    return 0;
}

template <int HD>
static int backward_hd(float *dq, float *dk, float *dv, const float *dout, const float *lse, const float *D,
                       const float *q, const float *k, const float *v, int B, int T, int H, int Hkv) {
    if (!fits_device<HD>()) return -1;
    const size_t bytes = bwd_smem<HD>::bytes;
    const float scale = 1.0f / sqrtf((float)HD);
    const unsigned tiles = (unsigned)((T + TILE - 1) / TILE);
    static size_t allowed_dkv = 0, allowed_dq = 0;
    cuda_allow_shared(flash_dkv_kernel<HD>, bytes, 0, &allowed_dkv);  // (fits_device: they can)
    cuda_allow_shared(flash_dq_kernel<HD>, bytes, 0, &allowed_dq);
    CUDA_LAUNCH(flash_dkv_kernel<HD>, dim3(tiles, (unsigned)(B * Hkv)), 32 * WARPS, bytes)
    (dk, dv, dout, lse, D, q, k, v, T, H, Hkv, scale);
    CUDA_LAUNCHED("flash_dkv_kernel");
    CUDA_LAUNCH(flash_dq_kernel<HD>, dim3(tiles, (unsigned)(B * H)), 32 * WARPS, bytes)
    (dq, dout, lse, D, q, k, v, T, H, Hkv, scale);
    CUDA_LAUNCHED("flash_dq_kernel");
    return 0;
}

extern "C" int cuda_flash_attention_forward(float *out, float *lse, const float *q, const float *k,
                                            const float *v, int B, int Tq, int Tk, int H, int Hkv, int hd,
                                            op_kv_layout kv) {
    // rows of 16-byte loads (load_tile)
    if (Tq > Tk || kv.batch % 4 || kv.head % 4 || kv.position % 4) return -1;
    if (hd == 64) return forward_hd<64>(out, lse, q, k, v, B, Tq, Tk, H, Hkv, kv);
    if (hd == 128) return forward_hd<128>(out, lse, q, k, v, B, Tq, Tk, H, Hkv, kv);
    return -1;
}

extern "C" int cuda_flash_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                                             const float *lse, const float *D, const float *q, const float *k,
                                             const float *v, int B, int T, int H, int Hkv, int hd) {
    if (hd == 64) return backward_hd<64>(dq, dk, dv, dout, lse, D, q, k, v, B, T, H, Hkv);
    if (hd == 128) return backward_hd<128>(dq, dk, dv, dout, lse, D, q, k, v, B, T, H, Hkv);
    return -1;
}
