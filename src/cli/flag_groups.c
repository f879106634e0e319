// flag_groups.c: see flag_groups.h.
#include "cli/flag_groups.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#include "model/config.h"
#include "ops/ops.h"

static void apply_threads(const void *dest) {
    op_set_threads(*(const int *)dest);
}

// --device: the name, then the device itself, so a missing GPU is reported as the flag's error.
static int parse_device(const char *v, void *dest) {
    op_device d;
    if (op_device_parse(v, &d) != 0) return mtp_errorf("expected cpu, cuda or cpu-check");
    if (op_use_device(d) != 0) return -1;
    *(int *)dest = (int)d;
    return 0;
}

static void show_device(const void *dest, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", op_device_name((op_device) * (const int *)dest));
}

static int parse_precision(const char *v, void *dest) {
    op_precision p;
    if (op_precision_parse(v, &p) != 0) return mtp_errorf("expected fp32, tf32 or bf16");
    *(int *)dest = (int)p;
    return 0;
}

static void show_precision(const void *dest, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", op_precision_name((op_precision) * (const int *)dest));
}

int model_flags_ready(const model_flags *m) {
    if (op_set_precision((op_precision)m->precision) != 0)
        return mtp_error_context("--precision %s (give --device cuda, or leave --precision at fp32)",
                                 op_precision_name((op_precision)m->precision));
    return 0;
}

const flag MODEL_FLAGS[] = {
    {"--model", FLAG_STRING, offsetof(model_flags, model), "PATH",
     "checkpoint directory, or run directory (its latest checkpoint)"},
    {"--threads", FLAG_INT, offsetof(model_flags, threads), "N", "CPU threads", 1, 1024, .unset = "all cores",
     .apply = apply_threads},
    {"--device", FLAG_PARSE, offsetof(model_flags, device), "D",
     "where the model runs: cpu, cuda (an NVIDIA GPU; needs a build with make CUDA=1)\n"
     "or cpu-check (the CPU kernels on memory the host may not touch directly: a test\n"
     "that the code keeps to the device interface, with the CPU's results)",
     .parse = parse_device, .show = show_device},
    {"--precision", FLAG_PARSE, offsetof(model_flags, precision), "P",
     "the training products on a GPU: fp32, or tf32 / bf16 (tensor cores round their\n"
     "inputs; weights, sums and the optimizer stay float32). The CPU runs fp32",
     .parse = parse_precision, .show = show_precision},
    {0},
};

// --speculative: "auto" (-1), "all" (-2) or a number of drafting heads.
static int parse_speculative(const char *v, void *dest) {
    int *k = dest;
    if (strcmp(v, "auto") == 0 || strcmp(v, "all") == 0) {
        *k = v[1] == 'u' ? -1 : -2;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || end == v || *end || n < 0 || n > MTP_MAX_FUTURE - 1)  // digits only
        return mtp_errorf("expected auto, all or a number of drafting heads in [0, %d]", MTP_MAX_FUTURE - 1);
    *k = (int)n;
    return 0;
}

static void show_speculative(const void *dest, char *buf, size_t cap) {
    int k = *(const int *)dest;
    if (k < 0)
        snprintf(buf, cap, "%s", k == -1 ? "auto" : "all");
    else
        snprintf(buf, cap, "%d", k);
}

const flag DECODE_FLAGS[] = {
    {"--max-new", FLAG_INT, offsetof(decode_flags, max_new), "N", "tokens to generate at most", 1, 1 << 24},
    {"--speculative", FLAG_PARSE, offsetof(decode_flags, speculative), "K",
     "drafting heads for self-speculative decoding: 0 = plain, all = n-1, auto =\n"
     "chosen step by step (0 included) from the measured acceptance and step time.\n"
     "Greedy output is the same for every K; sampled output has the same\n"
     "distribution, and a fixed K (not auto, which follows timing) repeats it per seed",
     .parse = parse_speculative, .show = show_speculative},
    {"--temperature", FLAG_DOUBLE, offsetof(decode_flags, temperature), "T",
     "0 = greedy; > 0 samples (speculative sampling keeps the distribution exact)", 0, 100},
    {"--top-k", FLAG_INT, offsetof(decode_flags, top_k), "K",
     "sample among the K most likely tokens, 0 = all", 0, 1 << 30},
    {"--top-p", FLAG_DOUBLE, offsetof(decode_flags, top_p), "P",
     "nucleus sampling: the smallest set of the most likely tokens whose probability\n"
     "reaches P (0: the most likely token alone; 1: all tokens)",
     0, 1},
    {"--seed", FLAG_U64, offsetof(decode_flags, seed), "S", "sampling seed"},
    {"--stop", FLAG_STRING, offsetof(decode_flags, stop), "STRING",
     "stop when the text contains STRING, which is not part of the output ('' = none)"},
    {0},
};

static const char *const schedules[] = {"sequential", "naive", NULL};
// in the order of mtp_head_type and mtp_head_order
static const char *const head_types[] = {"transformer", "linear", NULL};
static const char *const head_orders[] = {"parallel", "causal", "anticausal", NULL};

const flag SHAPE_FLAGS[] = {
    {"--vocab-size", FLAG_INT, offsetof(shape_flags, vocab_size), "V", "vocabulary size", 2, 1 << 30,
     .unset = "the data's tokenizer (needed for bare llm.c shards)"},
    {"--n-layer", FLAG_INT, offsetof(shape_flags, n_layer), "L", "total blocks, trunk + heads", 2, 4096},
    {"--n-future", FLAG_INT, offsetof(shape_flags, n_future), "n",
     "heads / future tokens predicted, 1 <= n < L (linear heads: any n up to 64)", 1, MTP_MAX_FUTURE},
    {"--dim", FLAG_INT, offsetof(shape_flags, dim), "d", "width", 2, 65536},
    {"--n-head", FLAG_INT, offsetof(shape_flags, n_head), "H", "attention heads", 1, 4096},
    {"--n-kv-head", FLAG_INT, offsetof(shape_flags, n_kv_head), "Hkv", "key/value heads for GQA, divides H",
     1, 4096, .unset = "H"},
    {"--ffn-dim", FLAG_INT, offsetof(shape_flags, ffn_dim), "f", "MLP width", 1, 1 << 20,
     .unset = "8d/3 rounded up to a multiple of 64"},
    {"--seq-len", FLAG_INT, offsetof(shape_flags, seq_len), "T", "training context", 1, 1 << 20},
    {"--max-context", FLAG_INT, offsetof(shape_flags, max_context), "N", "longest context the model supports",
     1, 1 << 20, .unset = "T"},
    {"--batch", FLAG_INT, offsetof(shape_flags, batch), "B", "rows per micro-batch", 1, 1 << 16},
    {"--schedule", FLAG_CHOICE, offsetof(shape_flags, schedule), "S",
     "head schedule: sequential (one head's logits alive at a time)\n"
     "or naive (all heads' logits, one backward)",
     .choices = schedules},
    {"--head-type", FLAG_CHOICE, offsetof(shape_flags, head_type), "TYPE",
     "transformer: each head is a block; linear: one d x d matrix per head\n"
     "and all L blocks are the trunk",
     .choices = head_types},
    {"--head-order", FLAG_CHOICE, offsetof(shape_flags, head_order), "ORDER",
     "parallel: every head reads the trunk; causal: head k reads head k-1;\n"
     "anticausal: head k reads head k+1 (the farthest first)",
     .choices = head_orders},
    {0},
};
