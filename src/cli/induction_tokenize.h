// induction_tokenize.h: the induction code's tokenize callback over a data/
// tokenizer, shared by `mtp task induction` and `mtp eval-induction` (eval/
// takes tokens through a callback and does not know data/).
#ifndef MTP_CLI_INDUCTION_TOKENIZE_H
#define MTP_CLI_INDUCTION_TOKENIZE_H

#include <stddef.h>

#include "eval/induction.h"

// induction_tokenize_fn with user = a const tokenizer *: the ids of text and
// where each token's bytes end (its decoded lengths added up). Fails if the
// tokenizer does not give back the text's length.
int induction_tokenize(void *user, const char *text, size_t len, induction_tokens *out);

#endif
