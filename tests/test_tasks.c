// test_tasks.c: the library's task layer, each against an independent
// recomputation. (1) train/val_loss: batched validation with a short tail
// batch equals the mean over windows scored one at a time, and counts each
// window once. (2) tasks/gen_eval: prompts are encoded and checked before any
// model runs (errors name FILE:LINE); the tally equals generating each item
// by hand and comparing. (3) tasks/bench_decode: prompts cut to the newest
// tokens. (4) tasks/code_eval: a samples file grouped by task in evaluation
// order, other tasks' completions counted as ignored.
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libmtp.h"
#include "tasks/bench_decode.h"
#include "tasks/code_eval.h"
#include "tasks/gen_eval.h"
#include "test_util.h"
#include "train/val_loss.h"

enum { V = 257, T = 8, NF = 2 };

static int make_model(mtp_model *m) {
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = V, c.dim = 32, c.n_head = 4, c.n_kv_head = 4, c.ffn_dim = 64;
    c.n_layer = 3, c.n_future = NF, c.max_seq_len = 32;
    if (model_create(m, &c) != 0) return -1;
    params_init(&m->params, &c, 11);
    return 0;
}

static void write_file(const char *name, const char *text) {
    char path[512];
    path_in_tmp(path, sizeof path, name);
    CHECK(fs_write_all(path, text, strlen(text)) == 0, "writing %s", name);
}

static void test_val_loss(const mtp_model *m) {
    char dir[512];
    path_in_tmp(dir, sizeof dir, "data");
    fs_mkdir_p(dir);
    char path[600];
    fs_join(path, sizeof path, dir, "val_000000.bin");
    int32_t ids[83];  // (83 - NF) / T = 10 windows
    for (int i = 0; i < 83; i++) ids[i] = (int32_t)((i * 37 + 5) % V);
    shard_writer *w = shard_writer_open(path, 2);
    CHECK(w && shard_writer_append(w, ids, 83) == 0 && shard_writer_close(w) == 0, "shard");
    data_loader L;
    CHECK(loader_open(&L, dir, "val", T, NF, V) == 0, "loader: %s", mtp_last_error());
    size_t windows = loader_num_windows(&L);
    CHECK(windows == 10, "%zu windows", windows);
    // one window at a time
    model_work one, batched;
    model_work_alloc(&one, m, 1, T, SCHEDULE_SEQUENTIAL, 0);
    model_work_alloc(&batched, m, 4, T, SCHEDULE_SEQUENTIAL, 0);
    double want[NF] = {0}, head[NF];
    int32_t row[T + NF];
    for (size_t i = 0; i < 7; i++) {  // the first 7 windows: batches of 4 and a tail of 3
        loader_window(&L, i, row);
        model_forward_loss(&one, row, 1, T, head, NULL);
        for (int k = 0; k < NF; k++) want[k] += head[k] / 7;
    }
    val_result r;
    CHECK(val_loss(&batched, &L, 7, 4, T, NULL, &r) == 0, "val_loss: %s", mtp_last_error());
    CHECK(r.windows == 7 && r.tokens == 7 * T && r.n == NF, "counts %zu %zu", r.windows, r.tokens);
    for (int k = 0; k < NF; k++)
        CHECK(fabs(r.loss[k] - want[k]) < 1e-5 * want[k], "head %d: batched %.8f, one by one %.8f", k + 1,
              r.loss[k], want[k]);
    CHECK(fabs(r.total - (r.loss[0] + r.loss[1])) < 1e-12, "total is the heads' sum");
    CHECK(val_windows(&L, 2, 4) == 8 && val_windows(&L, 0, 4) == 10 && val_windows(&L, 5, 4) == 10,
          "val_windows");
    model_work_free(&one);
    model_work_free(&batched);
    loader_close(&L);
}

static void test_gen_eval(const mtp_model *m, const tokenizer *tok) {
    char path[512];
    write_file("items.jsonl",
               "{\"prompt\": \"ab\", \"answer\": \"x\", \"group\": \"g1\"}\n"
               "\n"
               "{\"prompt\": \"\", \"answer\": \"y\"}\n"
               "{\"prompt\": \"cd\", \"answer\": \"\", \"group\": \"g2\"}\n");
    path_in_tmp(path, sizeof path, "items.jsonl");
    gen_eval_set set;
    CHECK(gen_eval_load(&set, path, 0, tok, 32) == 0 && set.count == 3, "load: %s", mtp_last_error());
    CHECK(set.n_ids[1] == 1 && set.ids[1][0] == tokenizer_eot(tok), "an empty prompt is [end-of-text]");
    generator g;
    generator_config gc = {1, 0.0f, 0, 1.0f, 1};
    CHECK(generator_init(&g, m, tok, &gc) == 0, "generator: %s", mtp_last_error());
    exact_match_tally tally;
    exact_match_tally_init(&tally);
    CHECK(gen_eval_run(&set, &g, 5, "\n", NULL, &tally) == 0, "run: %s", mtp_last_error());
    // by hand: each item's greedy text up to the stop, compared with its answer
    long correct = 0;
    const char *stops[2] = {"\n", NULL};
    generate_options o = {.max_new = 5, .stops = stops};
    generate_result r = {0};
    for (long i = 0; i < set.count; i++) {
        generate_tokens(&g, set.ids[i], set.n_ids[i], &o, &r);
        correct += exact_match_compare(r.text.s, r.text.len, set.items[i].answer);
    }
    CHECK(tally.n == 3 && tally.correct == correct && tally.n_groups == 2, "tally %ld/%ld, %d groups vs %ld",
          tally.correct, tally.n, tally.n_groups, correct);
    generate_result_free(&r);
    exact_match_tally_free(&tally);
    generator_free(&g);
    gen_eval_free(&set);
    // a prompt that fills the context fails before any model runs, naming its line
    char long_item[200];
    snprintf(long_item, sizeof long_item,
             "{\"prompt\": \"x\", \"answer\": \"a\"}\n{\"prompt\": \"%040d\", \"answer\": \"a\"}\n", 0);
    write_file("long.jsonl", long_item);
    path_in_tmp(path, sizeof path, "long.jsonl");
    CHECK(gen_eval_load(&set, path, 0, tok, 32) == -1 && strstr(mtp_last_error(), "long.jsonl:2"),
          "long prompt: %s", mtp_last_error());
    CHECK(gen_eval_load(&set, path, 1, tok, 32) == 0 && set.count == 1, "max_items 1 reads the first only");
    gen_eval_free(&set);
}

static void test_bench_prompts(const tokenizer *tok) {
    char path[512];
    write_file("prompts.txt", "abcdef\n\n{\"prompt\": \"xy\"}\n\n");
    path_in_tmp(path, sizeof path, "prompts.txt");
    bench_prompts p;
    CHECK(bench_prompts_read(&p, path, tok, 0) == 0 && p.count == 2, "read: %s", mtp_last_error());
    CHECK(p.v[0].n == 6 && p.v[1].n == 2 && p.v[1].line == 3, "prompt lengths %d %d, line %d", p.v[0].n,
          p.v[1].n, p.v[1].line);
    CHECK(bench_prompts_fit(&p, 4) == 1 && p.v[0].n == 4 && p.v[0].ids[0] == 'c' && p.v[0].ids[3] == 'f',
          "fit keeps the newest tokens");
    bench_prompts_free(&p);
    write_file("bad.txt", "ok\n{\"text\": 1}\n");
    path_in_tmp(path, sizeof path, "bad.txt");
    CHECK(bench_prompts_read(&p, path, tok, 0) == -1 && strstr(mtp_last_error(), "bad.txt:2"), "bad line: %s",
          mtp_last_error());
}

static void test_code_samples(void) {
    char data[512], samples[512];
    write_file(
        "toy.jsonl",
        "{\"task_id\": \"Toy/0\", \"prompt\": \"def f():\\n\", \"canonical_solution\": \"    return 1\\n\", "
        "\"test\": \"def check(c):\\n    assert c() == 1\\n\", \"entry_point\": \"f\"}\n"
        "{\"task_id\": \"Toy/1\", \"prompt\": \"def g():\\n\", \"canonical_solution\": \"    return 2\\n\", "
        "\"test\": \"def check(c):\\n    assert c() == 2\\n\", \"entry_point\": \"g\"}\n"
        "{\"task_id\": \"Toy/2\", \"prompt\": \"def h():\\n\", \"canonical_solution\": \"    return 3\\n\", "
        "\"test\": \"def check(c):\\n    assert c() == 3\\n\", \"entry_point\": \"h\"}\n");
    write_file(
        "samples.jsonl",
        "{\"task_id\": \"Toy/1\", \"completion\": \"a\"}\n{\"task_id\": \"Toy/0\", \"completion\": \"b\"}\n"
        "{\"task_id\": \"Toy/2\", \"completion\": \"c\"}\n{\"task_id\": \"Toy/1\", \"completion\": \"d\"}\n");
    path_in_tmp(data, sizeof data, "toy.jsonl");
    path_in_tmp(samples, sizeof samples, "samples.jsonl");
    code_eval e;
    CHECK(code_eval_open(&e, data, CODE_HUMANEVAL, "test", 2) == 0 && e.n_eval == 2, "open: %s",
          mtp_last_error());
    CHECK(code_eval_read_samples(&e, samples) == 0, "samples: %s", mtp_last_error());
    // evaluated tasks Toy/0, Toy/1 in file order; Toy/2's completion ignored
    CHECK(e.n == 3 && e.ignored == 1 && e.nper[0] == 1 && e.nper[1] == 2, "n %ld ignored %ld nper %ld %ld",
          e.n, e.ignored, e.nper[0], e.nper[1]);
    CHECK(e.c[0].task == 0 && !strcmp(e.c[0].text, "b") && e.c[1].task == 1 && !strcmp(e.c[1].text, "a") &&
              !strcmp(e.c[2].text, "d"),
          "grouping: %s %s %s", e.c[0].text, e.c[1].text, e.c[2].text);
    code_eval_free(&e);
    CHECK(code_eval_open(&e, data, CODE_HUMANEVAL, "test", 0) == 0, "open all");
    write_file("partial.jsonl", "{\"task_id\": \"Toy/1\", \"completion\": \"a\"}\n");
    path_in_tmp(samples, sizeof samples, "partial.jsonl");
    CHECK(
        code_eval_read_samples(&e, samples) == -1 && strstr(mtp_last_error(), "no completion for task Toy/0"),
        "a task without completions: %s", mtp_last_error());
    code_eval_free(&e);
}

int main(void) {
    if (make_tmpdir("tasks") != 0) return 1;
    mtp_model m;
    tokenizer *tok = tokenizer_bytes();
    if (!tok || make_model(&m) != 0) return 1;
    test_val_loss(&m);
    test_gen_eval(&m, tok);
    test_bench_prompts(tok);
    test_code_samples();
    model_free(&m);
    tokenizer_free(tok);
    remove_tmpdir();
    return test_finish("tasks");
}
