// gen_eval.c: see gen_eval.h.
#include "tasks/gen_eval.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int gen_eval_load(gen_eval_set *set, const char *path, long max_items, const tokenizer *tok, int context) {
    memset(set, 0, sizeof *set);
    set->path = path;
    if (exact_match_read(path, max_items, &set->items, &set->count) != 0) return -1;
    set->ids = mtp_calloc((size_t)set->count, sizeof *set->ids, "encoded prompts");
    set->n_ids = mtp_calloc((size_t)set->count, sizeof *set->n_ids, "encoded prompts");
    if (!set->ids || !set->n_ids) {
        gen_eval_free(set);
        return -1;
    }
    for (long i = 0; i < set->count; i++) {
        const exact_match_item *it = &set->items[i];
        size_t n = 0, cap = 0;
        int rc = tokenizer_encode_prompt(tok, it->prompt, strlen(it->prompt), &set->ids[i], &n, &cap);
        if (rc == 0 && n == 0 && (rc = tokenizer_reserve(&set->ids[i], n, &cap, 1)) == 0)
            set->ids[i][n++] = tokenizer_doc_start(tok);
        if (rc != 0) {
            mtp_error_context("%s:%ld", path, it->line);
        } else if (n >= (size_t)context) {
            rc = mtp_errorf(
                "%s:%ld: the prompt is %zu tokens, the model's context %d: shorten it or use a model with a "
                "longer context",
                path, it->line, n, context);
        }
        if (rc != 0) {
            gen_eval_free(set);
            return -1;
        }
        set->n_ids[i] = (int)n;
    }
    return 0;
}

void gen_eval_free(gen_eval_set *set) {
    for (long i = 0; set->ids && i < set->count; i++) free(set->ids[i]);
    free(set->ids);
    free(set->n_ids);
    exact_match_items_free(set->items, set->count);
    memset(set, 0, sizeof *set);
}

int gen_eval_run(const gen_eval_set *set, generator *g, int max_new, const char *stop,
                 const progress_sink *progress, exact_match_tally *tally) {
    const char *stops[2] = {stop, NULL};
    generate_options o = {.max_new = max_new, .stops = stop && stop[0] ? stops : NULL};
    generate_result r = {0};
    int rc = 0;
    for (long i = 0; i < set->count && rc == 0; i++) {
        const exact_match_item *it = &set->items[i];
        if (generate_tokens(g, set->ids[i], set->n_ids[i], &o, &r) != 0) {
            rc = mtp_error_context("%s:%ld", set->path, it->line);
            break;
        }
        rc = exact_match_tally_add(tally, it->group, exact_match_compare(r.text.s, r.text.len, it->answer));
        progress_tell(progress, (uint64_t)i + 1, (uint64_t)set->count);
    }
    generate_result_free(&r);
    return rc;
}
