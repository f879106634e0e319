// decode_attention.c: causal attention of decoding's few query rows against
// a KV cache, each query's result independent of the others in the call (a
// verification over K+1 rows reproduces K+1 single-token steps bit for bit).
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec16.h"
#include "ops/ops.h"

// Per (query row, head): scores against the visible keys in blocks of
// KEY_BLOCK (16 keys at a time through the same lane sums as the matrix
// product), exponentials and their sum per block, then the weighted sum of
// the values; blocks after the first rescale what came before (online
// softmax). Block edges sit at fixed key indices, so a query's result does not
// depend on how many other queries share the call.

enum { KEY_BLOCK = 256 };

// Software prefetch, one key's row of hd floats at a time (its cache lines
// into L2) as the arithmetic goes through the keys, so that memory never
// waits for a burst of it: a thread reads its heads' keys and values as one
// sequence of runs (a KV cache keeps each head's positions together), and each
// 16 keys of the run it scores or sums bring in the 16 keys AHEAD_KEYS further
// on in that sequence (past a head's keys, its values; past those, the next
// head's keys). With several rows the 16 keys' rows are shared out among the
// rows' passes, key j to row j % rows. The same bits as without: prefetches
// change no value. From DRAM (`bash bench/kernel_ab.sh decode_attention`, 120
// caches of 842 positions x 12 heads of 128, Intel Xeon model 167, 2 threads),
// against the cache as (position, head) with 16 keys' rows prefetched at a
// time: 1 row 1.09x, 2 rows 1.37x, 4 rows 1.36x faster (AVX2 build 1.23x,
// 1.37x, 1.39x); 4 rows now take 1.09x one row's time (1.37x before). Bursts
// of a block's 16 rows at once (128 lines) left DRAM idle through the several
// rows' arithmetic: a streaming read with arithmetic between its loads keeps
// its speed when the prefetches come a few lines at a time and loses a third
// with 256-line bursts (a test loop, 2 threads: 26 against 18 GB/s).
enum { AHEAD_KEYS = 32 };

// Prefetches `lines` cache lines (16 floats each) of the row of key j of the
// 16 at pf (stride ld) when j is this pass's share: *next == j; then the
// pass's next is j + stride. Callers pass `lines` as a constant where they can,
// so the loop unrolls (with a loop inside, GCC kept the values' accumulators
// in memory).
static inline __attribute__((always_inline)) void prefetch_key(const float *pf, size_t ld, int j,
                                                               const int lines, int *next, int stride) {
    if (!pf || j != *next) return;
    for (int l = 0; l < lines; l++) __builtin_prefetch(pf + (size_t)j * ld + l * LANES, 0, 2);
    *next += stride;
}

#if defined(__AVX2__) && !defined(__AVX512F__)
// AVX2: 16 accumulators of 16 floats would need 32 of the 16 registers, and
// compilers keep generic 16-lane vectors in memory. The same accumulators,
// 4 keys at a time on explicit 8-float halves (the same multiply-adds lane for
// lane, written as product and sum so they are fused exactly when the generic
// code's are), then the same lane tree.
static inline __attribute__((always_inline)) void score_keys(f32x16 *acc, const float *q, const float *k,
                                                             size_t ldk, int hd, const int n) {
    __m256 a[4][2];
    for (int j = 0; j < n; j++) a[j][0] = a[j][1] = _mm256_setzero_ps();
    int i = 0;
    for (; i + LANES <= hd; i += LANES) {
        const __m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
        for (int j = 0; j < n; j++) {
            a[j][0] = _mm256_add_ps(a[j][0], _mm256_mul_ps(q0, _mm256_loadu_ps(k + (size_t)j * ldk + i)));
            a[j][1] = _mm256_add_ps(a[j][1], _mm256_mul_ps(q1, _mm256_loadu_ps(k + (size_t)j * ldk + i + 8)));
        }
    }
    if (i < hd) {
        float qt[LANES] = {0}, kt[LANES] = {0};
        memcpy(qt, q + i, sizeof(float) * (size_t)(hd - i));
        const __m256 q0 = _mm256_loadu_ps(qt), q1 = _mm256_loadu_ps(qt + 8);
        for (int j = 0; j < n; j++) {
            memcpy(kt, k + (size_t)j * ldk + i, sizeof(float) * (size_t)(hd - i));
            a[j][0] = _mm256_add_ps(a[j][0], _mm256_mul_ps(q0, _mm256_loadu_ps(kt)));
            a[j][1] = _mm256_add_ps(a[j][1], _mm256_mul_ps(q1, _mm256_loadu_ps(kt + 8)));
        }
    }
    for (int j = 0; j < n; j++) {
        float *p = (float *)&acc[j];
        _mm256_storeu_ps(p, a[j][0]);
        _mm256_storeu_ps(p + 8, a[j][1]);
    }
}

static inline __attribute__((always_inline)) void scores16(float *s, const float *q, const float *k,
                                                           size_t ldk, int hd, const int n, const float *pf,
                                                           int pf_first, int pf_stride) {
    f32x16 acc[LANES];
    for (int j = n; j < LANES; j++) acc[j] = (f32x16){0};
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        for (int i = j; i < j + 4; i++)
            prefetch_key(pf, ldk, i, (hd + LANES - 1) / LANES, &pf_first, pf_stride);
        score_keys(acc + j, q, k + (size_t)j * ldk, ldk, hd, 4);
    }
    for (; j < n; j++) {
        prefetch_key(pf, ldk, j, (hd + LANES - 1) / LANES, &pf_first, pf_stride);
        score_keys(acc + j, q, k + (size_t)j * ldk, ldk, hd, 1);
    }
    float sums[LANES];
    f32x16 v = sum16(acc);
    memcpy(sums, &v, sizeof sums);
    for (j = 0; j < n; j++) s[j] = sums[bitrev4[j]];
}
#else
// s[j] = q . k_j for the n <= 16 keys at k, HD (a constant) floats each: q in
// registers and one key at a time, its HD / 16 multiply-adds in order into its
// accumulator: the same chain as scores16's below, so the same bits. (Slices
// outer and keys inner, scores16 kept 16 key pointers, which do not fit the
// general registers: every multiply-add waited on a pointer reloaded from the
// stack.) `bash bench/kernel_ab.sh decode_attention` (40 caches of 842
// positions x 12 heads of 128 from DRAM, Intel Xeon model 167, 2 threads):
// 1 row 1.04-1.07x, 2 and 4 rows 1.01-1.03x. Unrolled over the keys (the
// accumulators then in registers) 1 row gained less and 2-4 rows lost 2%.
static inline __attribute__((always_inline)) void scores16_hd(float *s, const float *q, const float *k,
                                                              size_t ldk, const int HD, const int n,
                                                              const float *pf, int pf_first, int pf_stride) {
    f32x16 qv[HD / LANES], acc[LANES];
    for (int i = 0; i < HD / LANES; i++) qv[i] = load16(q + i * LANES);
    for (int j = 0; j < n; j++, k += ldk) {
        prefetch_key(pf, ldk, j, HD / LANES, &pf_first, pf_stride);
        f32x16 a = (f32x16){0};
        for (int i = 0; i < HD / LANES; i++) a += qv[i] * load16(k + i * LANES);
        acc[j] = a;
    }
    for (int j = n; j < LANES; j++) acc[j] = (f32x16){0};
    float sums[LANES];
    f32x16 v = sum16(acc);
    memcpy(sums, &v, sizeof sums);
    for (int j = 0; j < n; j++) s[j] = sums[bitrev4[j]];
}

// s[j] = q . k_j for the n <= 16 keys at k (rows at stride ldk), q of hd floats.
static inline __attribute__((always_inline)) void scores16(float *s, const float *q, const float *k,
                                                           size_t ldk, int hd, const int n, const float *pf,
                                                           int pf_first, int pf_stride) {
    if (hd == 128) {
        scores16_hd(s, q, k, ldk, 128, n, pf, pf_first, pf_stride);
        return;
    }
    if (hd == 64) {
        scores16_hd(s, q, k, ldk, 64, n, pf, pf_first, pf_stride);
        return;
    }
    for (int j = 0; j < n; j++) prefetch_key(pf, ldk, j, (hd + LANES - 1) / LANES, &pf_first, pf_stride);
    f32x16 acc[LANES];
    for (int j = 0; j < LANES; j++) acc[j] = (f32x16){0};
    int i = 0;
    for (; i + LANES <= hd; i += LANES) {
        f32x16 qv = load16(q + i);
        for (int j = 0; j < n; j++) acc[j] += qv * load16(k + (size_t)j * ldk + i);
    }
    if (i < hd) {
        f32x16 qv = load_tail(q + i, hd - i);
        for (int j = 0; j < n; j++) acc[j] += qv * load_tail(k + (size_t)j * ldk + i, hd - i);
    }
    float sums[LANES];
    f32x16 v = sum16(acc);
    memcpy(sums, &v, sizeof sums);
    for (int j = 0; j < n; j++) s[j] = sums[bitrev4[j]];
}

#endif

// pf: the 16 keys whose rows this pass prefetches, those from pf_first on
// every pf_stride (prefetch_key), or NULL.
static void scores16_full(float *s, const float *q, const float *k, size_t ldk, int hd, const float *pf,
                          int pf_first, int pf_stride) {
    scores16(s, q, k, ldk, hd, LANES, pf, pf_first, pf_stride);
}

static void scores16_part(float *s, const float *q, const float *k, size_t ldk, int hd, int n,
                          const float *pf, int pf_first, int pf_stride) {
    scores16(s, q, k, ldk, hd, n, pf, pf_first, pf_stride);
}

// The weighted sum of values keeps two chains per value, even keys in one and
// odd keys in the other (independent additions), over a whole key block:
// a (c0 .. c0 + 16 V), which starts as the output, and b, which starts at zero
// and is added to the output once the block is done. A block's keys may come
// in several calls, each a run of 16 keys (an even count) but the last: a
// value's two chains see the same additions in the same order however the
// block is split.
#if defined(__AVX2__) && !defined(__AVX512F__)
// a, b (c0 .. c0 + 16 V) += the n keys' e[j] v_j, even and odd keys; on AVX2
// two 16-value slices at a time on explicit halves (the slices' sums are
// independent): 8 accumulators and the broadcast score of 16 registers. One
// slice at a time walked each key's row 8 times at hd 128 and was 6-14%
// slower (40 caches of 842 positions x 12 heads, 1 to 4 rows, in L3 and from
// DRAM, alternating; a third slice gained nothing more).
static inline __attribute__((always_inline)) void weighted_slices(float *a, float *b, const float *e,
                                                                  const float *v, size_t ld, int n,
                                                                  const int S, const float *pf, int pf_first,
                                                                  int pf_stride) {
    // S (1 or 2) slices of 16 values: acc[parity][slice][half], 8 registers at most
    __m256 acc[2][2][2];
    for (int c = 0; c < S; c++)
        for (int h = 0; h < 2; h++) {
            acc[0][c][h] = _mm256_loadu_ps(a + c * LANES + 8 * h);
            acc[1][c][h] = _mm256_loadu_ps(b + c * LANES + 8 * h);
        }
    int j = 0;
    for (; j + 2 <= n; j += 2)
        for (int p = 0; p < 2; p++) {
            prefetch_key(pf, ld, j + p, S, &pf_first, pf_stride);
            const __m256 ev = _mm256_set1_ps(e[j + p]);
            const float *vj = v + (size_t)(j + p) * ld;
            for (int c = 0; c < S; c++)
                for (int h = 0; h < 2; h++)
                    acc[p][c][h] = _mm256_add_ps(acc[p][c][h],
                                                 _mm256_mul_ps(ev, _mm256_loadu_ps(vj + c * LANES + 8 * h)));
        }
    if (j < n) {
        prefetch_key(pf, ld, j, S, &pf_first, pf_stride);
        const __m256 ev = _mm256_set1_ps(e[j]);
        const float *vj = v + (size_t)j * ld;
        for (int c = 0; c < S; c++)
            for (int h = 0; h < 2; h++)
                acc[0][c][h] =
                    _mm256_add_ps(acc[0][c][h], _mm256_mul_ps(ev, _mm256_loadu_ps(vj + c * LANES + 8 * h)));
    }
    for (int c = 0; c < S; c++)
        for (int h = 0; h < 2; h++) {
            _mm256_storeu_ps(a + c * LANES + 8 * h, acc[0][c][h]);
            _mm256_storeu_ps(b + c * LANES + 8 * h, acc[1][c][h]);
        }
}

static inline __attribute__((always_inline)) void weighted_values(float *a, float *b, const float *e,
                                                                  const float *v, size_t ld, int n,
                                                                  const int V, const float *pf, int pf_first,
                                                                  int pf_stride) {
    // each pair of slices prefetches its own lines of the keys' rows
    int c = 0;
    for (; c + 2 <= V; c += 2)
        weighted_slices(a + c * LANES, b + c * LANES, e, v + c * LANES, ld, n, 2, pf ? pf + c * LANES : NULL,
                        pf_first, pf_stride);
    if (c < V)
        weighted_slices(a + c * LANES, b + c * LANES, e, v + c * LANES, ld, n, 1, pf ? pf + c * LANES : NULL,
                        pf_first, pf_stride);
}
#else
// a, b (c0 .. c0 + 16 V) += the n keys' e[j] v_j, even and odd keys, V <= 8
// vectors of 16 values per chain held in registers; the same V lines of the
// keys' rows at pf prefetched as prefetch_key says.
static inline __attribute__((always_inline)) void weighted_values(float *a, float *b, const float *e,
                                                                  const float *v, size_t ld, int n,
                                                                  const int V, const float *pf, int pf_first,
                                                                  int pf_stride) {
    f32x16 acc[2][8];
    for (int c = 0; c < V; c++) {
        acc[0][c] = load16(a + c * LANES);
        acc[1][c] = load16(b + c * LANES);
    }
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        prefetch_key(pf, ld, j, V, &pf_first, pf_stride);
        prefetch_key(pf, ld, j + 1, V, &pf_first, pf_stride);
        const f32x16 e0 = splat16(e[j]), e1 = splat16(e[j + 1]);
        for (int c = 0; c < V; c++) {
            acc[0][c] += e0 * load16(v + (size_t)j * ld + c * LANES);
            acc[1][c] += e1 * load16(v + (size_t)(j + 1) * ld + c * LANES);
        }
    }
    if (j < n) {
        prefetch_key(pf, ld, j, V, &pf_first, pf_stride);
        const f32x16 ev = splat16(e[j]);
        for (int c = 0; c < V; c++) acc[0][c] += ev * load16(v + (size_t)j * ld + c * LANES);
    }
    for (int c = 0; c < V; c++) {
        memcpy(a + c * LANES, &acc[0][c], sizeof(f32x16));
        memcpy(b + c * LANES, &acc[1][c], sizeof(f32x16));
    }
}

#endif

// The weighted sum of n keys' values (rows of v at stride ld) into the two
// chains a (the output) and b, all hd values: 128 at a time (16 accumulators
// and a broadcast score: each score broadcast once per 128 values), then what
// is left in 64, 48, 32 or 16; head dimensions that are not a multiple of 16
// end in one scalar chain per value, in a. Each run of values prefetches its
// lines of the keys' rows at pf (prefetch_key; NULL: none).
static void values_step(float *a, float *b, const float *e, const float *v, size_t ld, int n, int hd,
                        const float *pf, int pf_first, int pf_stride) {
    const int vec_hd = hd / LANES * LANES;
    int c0 = 0;
#define VALUES(V) \
    weighted_values(a + c0, b + c0, e, v + c0, ld, n, V, pf ? pf + c0 : NULL, pf_first, pf_stride)
    for (; c0 + 8 * LANES <= vec_hd; c0 += 8 * LANES) VALUES(8);
    for (; c0 + 4 * LANES <= vec_hd; c0 += 4 * LANES) VALUES(4);
    switch ((vec_hd - c0) / LANES) {
        case 3:
            VALUES(3);
            break;
        case 2:
            VALUES(2);
            break;
        case 1:
            VALUES(1);
            break;
        default:
            break;
    }
#undef VALUES
    // fmaf: one fused step per key whatever the compiler makes of the loop (left to contraction,
    // one inlined copy of it rounded the product apart from the sum: other bits for some rows)
    for (int c = vec_hd; c < hd; c++) {
        float acc = a[c];
        for (int j = 0; j < n; j++) acc = fmaf(e[j], v[(size_t)j * ld + c], acc);
        a[c] = acc;
    }
}

// The running softmax of one (query, head): the largest score so far and the
// sum of exp(score - m) over the keys seen.
typedef struct {
    float m, sum;
} softmax_state;

// The scores of one (query, head) over a block's n keys, s[0..n) (scaled
// and exponentiated here): raises the running maximum, rescaling out (hd) and
// the sum when it does, leaves exp(score - max) in s, zero up to the next
// multiple of 16, and adds them to the running sum.
static void block_softmax(float *out, softmax_state *st, float *s, int n, int hd, float scale) {
    const int padded = (n + LANES - 1) / LANES * LANES;
    // scaled scores and their maximum, VN lanes at a time (a scalar max is a chain of
    // dependent compares); the maximum is the same whatever the order
    vfn lane_max = splatn(-INFINITY);
    int j = 0;
    for (; j + VN <= n; j += VN) {
        vfn x = loadn(s + j) * scale;
        storen(s + j, x);
        lane_max = maxn(x, lane_max);
    }
    float bm = -INFINITY, lm[VN];
    storen(lm, lane_max);
    for (int l = 0; l < VN; l++) bm = lm[l] > bm ? lm[l] : bm;
    for (; j < n; j++) {
        s[j] *= scale;
        bm = s[j] > bm ? s[j] : bm;
    }
    if (bm > st->m) {  // rescale what earlier blocks summed (nothing for the first block, m = -inf)
        const float corr = fast_expf_or_zero(st->m - bm);  // 0 far below: no subnormal sums
        st->sum *= corr;
        for (int c = 0; c < hd; c++) out[c] *= corr;
        st->m = bm;
    }
    // exponentials, zero past the last key; the block's sum over 16 lanes, then a fixed pairwise sum
    f32x16 lanes = (f32x16){0};
    for (j = 0; j < padded; j += LANES) {
        f32x16 x = load16(s + j) - splat16(st->m), e = exp16_or_zero(&x);
        memcpy(s + j, &e, sizeof e);
        if (j + LANES > n)
            for (int l = n - j; l < LANES; l++) s[j + l] = 0.0f;
        lanes += load16(s + j);
    }
    float lane[LANES];
    memcpy(lane, &lanes, sizeof lane);
    for (int half = LANES / 2; half >= 1; half /= 2)
        for (int l = 0; l < half; l++) lane[l] += lane[l + half];
    st->sum += lane[0];
}

// Query rows handled together per head: each key block is read from memory
// once and served to every row from cache (the KV cache of a long context is
// far larger than the caches; verifying K+1 rows must not read it K+1 times).
enum { ROW_CHUNK = 16 };

// Where the prefetches of 16 keys' work go: the 16 keys AHEAD_KEYS further on
// in the thread's sequence of runs, this block's keys (keys_in of them, in 16s),
// then its values, then `next` (the next run's keys, or NULL).
static const float *ahead_of(int j, const float *kb, const float *vb, const float *next, int keys_in,
                             size_t ld, int in_values) {
    int t = j + AHEAD_KEYS;
    if (!in_values) {
        if (t < keys_in) return kb + (size_t)t * ld;
        t -= keys_in;
    }
    if (t < keys_in) return vb + (size_t)t * ld;
    return next ? next + (size_t)(t - keys_in) * ld : NULL;
}

// One key block (keys k0.. of kb, vb, rows at stride ld) for rows 0..R-1 of a
// chunk, row r seeing n[r] of its keys (non-decreasing in r): first every
// row's scores, 16 keys at a time for all rows, then each row's softmax, then
// the weighted values, 16 keys at a time for all rows. Each row's arithmetic
// is the same as alone. s: R x KEY_BLOCK scores; b: R x hd second chains, or
// NULL where they do not fit (then each row sums its values alone). next: the
// keys the thread reads after this block's values (prefetched), or NULL.
static void attend_block_rows(float *const out[], softmax_state *st, const float *const q[], const int *n,
                              int R, const float *kb, const float *vb, size_t ld, int hd, float scale,
                              float *s, float *b, const float *next) {
    const int most = n[R - 1], keys_in = (most + LANES - 1) / LANES * LANES;
    for (int j = 0; j < most; j += LANES) {
        const float *pf = ahead_of(j, kb, vb, next, keys_in, ld, 0);
        for (int r = 0; r < R; r++) {  // the rows share out the prefetches, key j to row j % R
            if (j + LANES <= n[r])
                scores16_full(s + (size_t)r * KEY_BLOCK + j, q[r], kb + (size_t)j * ld, ld, hd, pf, r, R);
            else if (j < n[r])
                scores16_part(s + (size_t)r * KEY_BLOCK + j, q[r], kb + (size_t)j * ld, ld, hd, n[r] - j, pf,
                              r, R);
        }
    }
    for (int r = 0; r < R; r++) block_softmax(out[r], &st[r], s + (size_t)r * KEY_BLOCK, n[r], hd, scale);
    if (!b) {  // no room for every row's second chains: one row and 128 values at a time
        for (int r = 0; r < R; r++)
            for (int c0 = 0; c0 < hd; c0 += 8 * LANES) {
                const int w = hd - c0 < 8 * LANES ? hd - c0 : 8 * LANES;
                float chain[8 * LANES] = {0};
                values_step(out[r] + c0, chain, s + (size_t)r * KEY_BLOCK, vb + c0, ld, n[r], w, NULL, 0, 1);
                for (int c = 0; c < w / LANES * LANES; c++) out[r][c0 + c] += chain[c];
            }
        return;
    }
    memset(b, 0, sizeof(float) * (size_t)R * hd);
    for (int j = 0; j < most; j += LANES) {
        const float *pf = ahead_of(j, kb, vb, next, keys_in, ld, 1);
        for (int r = 0; r < R; r++)
            if (j < n[r])
                values_step(out[r], b + (size_t)r * hd, s + (size_t)r * KEY_BLOCK + j, vb + (size_t)j * ld,
                            ld, n[r] - j < LANES ? n[r] - j : LANES, hd, pf, r, R);
    }
    const int vec_hd = hd / LANES * LANES;  // the two chains meet (the scalar tail has one)
    for (int r = 0; r < R; r++)
        for (int c = 0; c < vec_hd; c++) out[r][c] += b[(size_t)r * hd + c];
}

// Room for the second chains of a chunk's rows (heads up to 256 floats).
enum { CHAIN_FLOATS = ROW_CHUNK * 256 };
// Heads a thread goes through the key blocks with at once.
enum { HEAD_RUN = 32 };

void cpu_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                                int H, int Hkv, int hd, op_kv_layout kv) {
    // one sequence: q (Tq, H, hd); k, v: Tk keys of Hkv heads, as kv says; query i at position
    // Tk - Tq + i, seeing keys 0..Tk-Tq+i
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, offset = Tk - Tq;
    const size_t ld = kv.position;
    // Each thread takes a run of heads and goes through the key blocks with
    // all of them, block after block, each block's keys and values one head
    // after the other. Each (row, head) sees the same blocks in the same order
    // as alone, so the bits do not change. (With the cache as (position,
    // head), the run read a contiguous part of every position: from DRAM, 40
    // caches of 842 tokens x 12 heads of 128, 2 threads, Intel Xeon, 1 row
    // 651-683 us per cache against 726-807 one head at a time; the cache as
    // (head, position) read the same way is 1.08-1.10x faster again, before
    // the prefetches above.)
#pragma omp parallel if ((size_t)Tq * H * Tk * hd >= OP_PARALLEL_MIN_WORK)
    {
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
        const int h0 = (int)((long)H * t / T), h1 = (int)((long)H * (t + 1) / T);
        float s[ROW_CHUNK * KEY_BLOCK] __attribute__((aligned(64))), chains[CHAIN_FLOATS];
        for (int i0 = 0; i0 < Tq && h0 < h1; i0 += ROW_CHUNK) {
            const int rows = Tq - i0 < ROW_CHUNK ? Tq - i0 : ROW_CHUNK;
            float *b = (size_t)rows * hd <= CHAIN_FLOATS ? chains : NULL;
            int n[ROW_CHUNK];
            for (int h = h0; h < h1; h++)
                for (int r = 0; r < rows; r++)
                    memset(out + ((size_t)(i0 + r) * H + h) * hd, 0, sizeof(float) * hd);
            // per head of the run: its rows' running softmax, outputs and queries
            softmax_state st[HEAD_RUN][ROW_CHUNK];
            float *o[HEAD_RUN][ROW_CHUNK];
            const float *qr[HEAD_RUN][ROW_CHUNK];
            for (int hr0 = h0; hr0 < h1; hr0 += HEAD_RUN) {  // runs of at most HEAD_RUN heads
                const int nh = h1 - hr0 < HEAD_RUN ? h1 - hr0 : HEAD_RUN;
                for (int x = 0; x < nh; x++)
                    for (int r = 0; r < rows; r++) {
                        const size_t row = (size_t)(i0 + r) * H + hr0 + x;
                        st[x][r] = (softmax_state){-INFINITY, 0.0f};
                        o[x][r] = out + row * hd;
                        qr[x][r] = q + row * hd;
                    }
                // key blocks outer, heads then rows inner; rows that see none of a block sit it out
                for (int k0 = 0; k0 < offset + i0 + rows; k0 += KEY_BLOCK) {
                    // row r sees keys 0 .. offset + i0 + r: those from k0 on if r >= k0 - offset - i0
                    const int first = k0 - offset - i0 > 0 ? k0 - offset - i0 : 0;
                    for (int r = first; r < rows; r++) {
                        const int keys = offset + i0 + r + 1;
                        n[r] = keys - k0 < KEY_BLOCK ? keys - k0 : KEY_BLOCK;
                    }
                    const int end = offset + i0 + rows;  // keys the chunk's last row sees
                    for (int x = 0; x < nh; x++) {
                        const size_t at = (size_t)((hr0 + x) / group) * kv.head + (size_t)k0 * ld;
                        // what the thread reads next: the next head's keys of the block, or the
                        // first head's of the next block
                        const float *next =
                            x + 1 < nh ? k + (size_t)((hr0 + x + 1) / group) * kv.head + (size_t)k0 * ld
                            : k0 + KEY_BLOCK < end
                                ? k + (size_t)(hr0 / group) * kv.head + (size_t)(k0 + KEY_BLOCK) * ld
                                : NULL;
                        attend_block_rows(o[x] + first, st[x] + first, qr[x] + first, n + first, rows - first,
                                          k + at, v + at, ld, hd, scale, s, b, next);
                    }
                }
                for (int x = 0; x < nh; x++)
                    for (int r = 0; r < rows; r++) {
                        const float inv = 1.0f / st[x][r].sum;
                        for (int c = 0; c < hd; c++) o[x][r][c] *= inv;
                    }
            }
        }
    }
}
