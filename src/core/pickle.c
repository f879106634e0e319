// pickle.c: the restricted unpickler of pickle.h. A stack machine over a
// small value type; values live in one list and are freed together, so the
// memo and the stack may share them freely.
#include "core/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_VALUES (1 << 22)
#define MAX_STACK (1 << 20)
#define MAX_NEST 16

typedef enum {
    V_NONE,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STR,
    V_TUPLE,
    V_LIST,
    V_DICT,
    V_GLOBAL,
    V_STORAGE,
    V_TENSOR
} v_kind;

typedef struct value value;
struct value {
    v_kind kind;
    int64_t i;     // V_INT, V_BOOL; V_STORAGE: element count
    char *s;       // V_STR; V_GLOBAL "module.name"; V_STORAGE: key
    value **item;  // V_TUPLE, V_LIST; V_DICT: key, value, key, value...
    int n, cap;
    pt_dtype dtype;    // V_STORAGE, V_TENSOR
    pickle_tensor *t;  // V_TENSOR (name and storage_key unset)
    int visited;       // V_DICT: collect() has walked it
};

typedef struct {
    const uint8_t *start, *p, *end;
    const char *label;
    value **all;  // every value made, for freeing
    int nall, capall;
    value **stack;
    int sp, capstack;
    int *marks;
    int nmarks, capmarks;
    value **memo;
    size_t nmemo;     // slots allocated
    size_t memo_len;  // slots set (Python's len(memo), which MEMOIZE uses)
} unpickler;

static const struct {
    const char *global;
    pt_dtype dtype;
} STORAGES[] = {
    {"torch.FloatStorage", PT_F32},  {"torch.HalfStorage", PT_F16}, {"torch.BFloat16Storage", PT_BF16},
    {"torch.DoubleStorage", PT_F64}, {"torch.LongStorage", PT_I64}, {"torch.IntStorage", PT_I32},
    {"torch.ShortStorage", PT_I16},  {"torch.CharStorage", PT_I8},  {"torch.ByteStorage", PT_U8},
    {"torch.BoolStorage", PT_BOOL},
};
static const char *const CALLABLES[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                        "torch._utils._rebuild_parameter"};

size_t pickle_dtype_size(pt_dtype d) {
    static const size_t size[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
    return size[d];
}

const char *pickle_dtype_name(pt_dtype d) {
    static const char *const name[] = {"float32", "float16", "bfloat16", "float64", "int64",
                                       "int32",   "int16",   "int8",     "uint8",   "bool"};
    return name[d];
}

static value *make(unpickler *u, v_kind kind) {
    if (u->nall >= MAX_VALUES) {
        mtp_errorf("%s: the pickle makes more than %d values; not a state dict", u->label, MAX_VALUES);
        return NULL;
    }
    if (u->nall == u->capall) {
        int cap = u->capall ? 2 * u->capall : 256;
        value **all = realloc(u->all, (size_t)cap * sizeof *all);
        if (!all) {
            mtp_errorf("out of memory reading %s", u->label);
            return NULL;
        }
        u->all = all;
        u->capall = cap;
    }
    value *v = calloc(1, sizeof *v);
    if (!v) {
        mtp_errorf("out of memory reading %s", u->label);
        return NULL;
    }
    v->kind = kind;
    u->all[u->nall++] = v;
    return v;
}

static int add_item(unpickler *u, value *c, value *x) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 4;
        value **item = realloc(c->item, (size_t)cap * sizeof *item);
        if (!item) return mtp_errorf("out of memory reading %s", u->label);
        c->item = item;
        c->cap = cap;
    }
    c->item[c->n++] = x;
    return 0;
}

static int push(unpickler *u, value *v) {
    if (!v) return -1;
    if (u->sp >= MAX_STACK) return mtp_errorf("%s: pickle stack deeper than %d", u->label, MAX_STACK);
    if (u->sp == u->capstack) {
        int cap = u->capstack ? 2 * u->capstack : 64;
        value **s = realloc(u->stack, (size_t)cap * sizeof *s);
        if (!s) return mtp_errorf("out of memory reading %s", u->label);
        u->stack = s;
        u->capstack = cap;
    }
    u->stack[u->sp++] = v;
    return 0;
}

static value *pop(unpickler *u) {
    int floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    if (u->sp <= floor) {
        mtp_errorf("%s: damaged pickle (pops an empty stack)", u->label);
        return NULL;
    }
    return u->stack[--u->sp];
}

static value *top(unpickler *u) {
    int floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    if (u->sp <= floor) {
        mtp_errorf("%s: damaged pickle (reads an empty stack)", u->label);
        return NULL;
    }
    return u->stack[u->sp - 1];
}

// Pops everything above the last mark, and the mark: the items are
// u->stack[*from .. u->sp) until the next push.
static int pop_mark(unpickler *u, int *from) {
    if (!u->nmarks) return mtp_errorf("%s: damaged pickle (no mark)", u->label);
    *from = u->marks[--u->nmarks];
    return 0;
}

static int need(unpickler *u, size_t n) {
    if ((size_t)(u->end - u->p) < n) return mtp_errorf("%s: the pickle is truncated", u->label);
    return 0;
}

static uint64_t read_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static value *make_str(unpickler *u, const uint8_t *s, size_t n) {
    value *v = make(u, V_STR);
    if (!v) return NULL;
    v->s = malloc(n + 1);
    if (!v->s) {
        mtp_errorf("out of memory reading %s", u->label);
        return NULL;
    }
    memcpy(v->s, s, n);
    v->s[n] = '\0';
    v->i = (int64_t)n;
    return v;
}

static value *make_global(unpickler *u, const char *module, size_t ml, const char *name, size_t nl) {
    char full[256];
    if (ml + nl + 2 > sizeof full) {
        mtp_errorf("%s: refuses a global with a %zu-byte name: loading never imports anything from a file",
                   u->label, ml + nl);
        return NULL;
    }
    memcpy(full, module, ml);
    full[ml] = '.';
    memcpy(full + ml + 1, name, nl);
    full[ml + 1 + nl] = '\0';
    int known = 0;
    for (size_t i = 0; i < sizeof STORAGES / sizeof *STORAGES; i++)
        known |= !strcmp(full, STORAGES[i].global);
    for (size_t i = 0; i < sizeof CALLABLES / sizeof *CALLABLES; i++) known |= !strcmp(full, CALLABLES[i]);
    if (!known || memchr(full, '\0', ml + nl + 1)) {
        mtp_errorf(
            "%s: refuses the global '%s': only the globals torch.save writes for a dict of tensors are "
            "accepted, and loading never runs code from a file",
            u->label, full);
        return NULL;
    }
    value *v = make_str(u, (const uint8_t *)full, strlen(full));
    if (v) v->kind = V_GLOBAL;
    return v;
}

static value *make_tuple(unpickler *u, value **items, int n) {
    value *t = make(u, V_TUPLE);
    for (int i = 0; t && i < n; i++)
        if (add_item(u, t, items[i]) != 0) return NULL;
    return t;
}

static int as_int(unpickler *u, const value *v, const char *what, int64_t *out) {
    if (!v || v->kind != V_INT) return mtp_errorf("%s: %s is not an integer", u->label, what);
    *out = v->i;
    return 0;
}

// ('storage', torch.<Type>Storage, key, location, numel)
static value *persistent_load(unpickler *u, value *pid) {
    if (pid->kind != V_TUPLE || pid->n != 5 || pid->item[0]->kind != V_STR ||
        strcmp(pid->item[0]->s, "storage") || pid->item[1]->kind != V_GLOBAL || pid->item[2]->kind != V_STR) {
        mtp_errorf("%s: a persistent id that is not a torch storage reference", u->label);
        return NULL;
    }
    value *s = make(u, V_STORAGE);
    if (!s) return NULL;
    int found = 0;
    for (size_t i = 0; i < sizeof STORAGES / sizeof *STORAGES; i++)
        if (!strcmp(pid->item[1]->s, STORAGES[i].global)) {
            s->dtype = STORAGES[i].dtype;
            found = 1;
        }
    if (!found) {
        mtp_errorf("%s: '%s' is not a storage type", u->label, pid->item[1]->s);
        return NULL;
    }
    s->s = pid->item[2]->s;  // owned by the key's value
    if (as_int(u, pid->item[4], "a storage's element count", &s->i) != 0) return NULL;
    if (s->i < 0) {
        mtp_errorf("%s: storage '%s' has a negative size", u->label, s->s);
        return NULL;
    }
    return s;
}

// _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
static value *rebuild_tensor(unpickler *u, value *args) {
    if (args->kind != V_TUPLE || args->n < 4 || args->item[0]->kind != V_STORAGE ||
        args->item[2]->kind != V_TUPLE || args->item[3]->kind != V_TUPLE ||
        args->item[2]->n != args->item[3]->n) {
        mtp_errorf("%s: _rebuild_tensor_v2 with arguments that are not (storage, offset, size, stride, ...)",
                   u->label);
        return NULL;
    }
    const value *size = args->item[2], *stride = args->item[3];
    if (size->n > PICKLE_MAX_DIMS) {
        mtp_errorf("%s: a tensor with %d dimensions (at most %d are read)", u->label, size->n,
                   PICKLE_MAX_DIMS);
        return NULL;
    }
    value *v = make(u, V_TENSOR);
    if (!v) return NULL;
    v->t = calloc(1, sizeof *v->t);
    if (!v->t) {
        mtp_errorf("out of memory reading %s", u->label);
        return NULL;
    }
    pickle_tensor *t = v->t;
    t->dtype = args->item[0]->dtype;
    t->storage_numel = args->item[0]->i;
    v->s = args->item[0]->s;  // the storage key, owned by the persistent id
    t->ndim = size->n;
    if (as_int(u, args->item[1], "a tensor's storage offset", &t->offset) != 0) return NULL;
    for (int d = 0; d < size->n; d++)
        if (as_int(u, size->item[d], "a tensor dimension", &t->shape[d]) != 0 ||
            as_int(u, stride->item[d], "a tensor stride", &t->stride[d]) != 0)
            return NULL;
    return v;
}

static value *call(unpickler *u, value *fn, value *args) {
    if (fn->kind != V_GLOBAL || args->kind != V_TUPLE) {
        mtp_errorf("%s: damaged pickle (REDUCE on something that is not a known global)", u->label);
        return NULL;
    }
    if (!strcmp(fn->s, "collections.OrderedDict")) {
        if (args->n != 0) {
            mtp_errorf("%s: OrderedDict built from arguments; torch.save writes it empty", u->label);
            return NULL;
        }
        return make(u, V_DICT);
    }
    if (!strcmp(fn->s, "torch._utils._rebuild_tensor_v2")) return rebuild_tensor(u, args);
    if (!strcmp(fn->s, "torch._utils._rebuild_parameter")) {
        if (args->n < 1 || args->item[0]->kind != V_TENSOR) {
            mtp_errorf("%s: _rebuild_parameter without a tensor", u->label);
            return NULL;
        }
        return args->item[0];
    }
    mtp_errorf("%s: refuses to call '%s'", u->label, fn->s);
    return NULL;
}

static int set_items(unpickler *u, int from) {
    int n = u->sp - from;
    if (n % 2) return mtp_errorf("%s: damaged pickle (odd number of dict items)", u->label);
    u->sp = from;
    value *d = top(u);
    if (!d) return -1;
    if (d->kind != V_DICT) return mtp_errorf("%s: damaged pickle (SETITEMS on a non-dict)", u->label);
    for (int i = 0; i < n; i++)
        if (add_item(u, d, u->stack[from + i]) != 0) return -1;
    return 0;
}

static int append_items(unpickler *u, int from) {
    int n = u->sp - from;
    u->sp = from;
    value *l = top(u);
    if (!l) return -1;
    if (l->kind != V_LIST) return mtp_errorf("%s: damaged pickle (APPENDS on a non-list)", u->label);
    for (int i = 0; i < n; i++)
        if (add_item(u, l, u->stack[from + i]) != 0) return -1;
    return 0;
}

static int memo_put(unpickler *u, size_t idx) {
    value *v = top(u);
    if (!v) return -1;
    // Picklers number memo entries 0, 1, 2...: an index past the pickle's size
    // cannot come from one (bounded by the size, not the memo's own: each
    // LONG_BINPUT could double it, 2 GB of memory for a 249-byte file).
    if (idx > (size_t)(u->end - u->start) + 16)
        return mtp_errorf("%s: pickle memo index %zu out of range", u->label, idx);
    if (idx >= u->nmemo) {
        size_t n = idx + 1 > 2 * u->nmemo ? idx + 1 : 2 * u->nmemo;
        value **m = realloc(u->memo, n * sizeof *m);
        if (!m) return mtp_errorf("out of memory reading %s", u->label);
        memset(m + u->nmemo, 0, (n - u->nmemo) * sizeof *m);
        u->memo = m;
        u->nmemo = n;
    }
    if (!u->memo[idx]) u->memo_len++;
    u->memo[idx] = v;
    return 0;
}

static int memo_get(unpickler *u, size_t idx) {
    if (idx >= u->nmemo || !u->memo[idx])
        return mtp_errorf("%s: pickle memo entry %zu was never set", u->label, idx);
    return push(u, u->memo[idx]);
}

// One opcode. Returns 1 at STOP, 0 to go on, -1 on error.
static int step(unpickler *u) {
    if (need(u, 1) != 0) return -1;
    uint8_t op = *u->p++;
    int from = 0;
    uint64_t n;
    value *a, *b;
    switch (op) {
        case 0x80:  // PROTO
            if (need(u, 1) != 0) return -1;
            if (*u->p > 5) return mtp_errorf("%s: pickle protocol %d is not supported", u->label, *u->p);
            u->p++;
            return 0;
        case 0x95:  // FRAME: a length hint
            if (need(u, 8) != 0) return -1;
            u->p += 8;
            return 0;
        case '.':  // STOP
            return 1;
        case '(':  // MARK
            if (u->nmarks == u->capmarks) {
                int cap = u->capmarks ? 2 * u->capmarks : 16;
                if (cap > MAX_STACK) return mtp_errorf("%s: too many pickle marks", u->label);
                int *m = realloc(u->marks, (size_t)cap * sizeof *m);
                if (!m) return mtp_errorf("out of memory reading %s", u->label);
                u->marks = m;
                u->capmarks = cap;
            }
            u->marks[u->nmarks++] = u->sp;
            return 0;
        case '}':
            return push(u, make(u, V_DICT));
        case ']':
            return push(u, make(u, V_LIST));
        case ')':
            return push(u, make(u, V_TUPLE));
        case 'N':
            return push(u, make(u, V_NONE));
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
            a = make(u, V_BOOL);
            if (a) a->i = op == 0x88;
            return push(u, a);
        case 'K':  // BININT1
        case 'M':  // BININT2
        case 'J':  // BININT
        {
            int w = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if (need(u, (size_t)w) != 0) return -1;
            a = make(u, V_INT);
            if (a)
                a->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)read_le(u->p, 4) : (int64_t)read_le(u->p, w);
            u->p += w;
            return push(u, a);
        }
        case 0x8a:  // LONG1: n-byte little-endian two's complement
            if (need(u, 1) != 0) return -1;
            n = *u->p++;
            if (n > 8) return mtp_errorf("%s: an integer of %d bytes is out of range", u->label, (int)n);
            if (need(u, n) != 0) return -1;
            a = make(u, V_INT);
            if (a) {
                uint64_t x = n ? read_le(u->p, (int)n) : 0;
                if (n && n < 8 && (u->p[n - 1] & 0x80)) x |= ~(uint64_t)0 << (8 * n);  // sign-extend
                a->i = (int64_t)x;
            }
            u->p += n;
            return push(u, a);
        case 'G':  // BINFLOAT (big-endian double; kept only as a value)
            if (need(u, 8) != 0) return -1;
            u->p += 8;
            return push(u, make(u, V_FLOAT));
        case 'X':    // BINUNICODE
        case 0x8c:   // SHORT_BINUNICODE
        case 0x8d:   // BINUNICODE8
        case 'U':    // SHORT_BINSTRING
        case 'T': {  // BINSTRING
            int w = op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4;
            if (need(u, (size_t)w) != 0) return -1;
            n = read_le(u->p, w);
            u->p += w;
            if (need(u, n) != 0) return -1;
            a = make_str(u, u->p, n);
            u->p += n;
            return push(u, a);
        }
        case 'c': {  // GLOBAL module\nname\n
            const uint8_t *m = u->p, *nl1 = memchr(m, '\n', (size_t)(u->end - m));
            if (!nl1) return mtp_errorf("%s: the pickle is truncated", u->label);
            const uint8_t *nm = nl1 + 1, *nl2 = memchr(nm, '\n', (size_t)(u->end - nm));
            if (!nl2) return mtp_errorf("%s: the pickle is truncated", u->label);
            u->p = nl2 + 1;
            return push(
                u, make_global(u, (const char *)m, (size_t)(nl1 - m), (const char *)nm, (size_t)(nl2 - nm)));
        }
        case 0x93:  // STACK_GLOBAL
            if (!(b = pop(u)) || !(a = pop(u))) return -1;
            if (a->kind != V_STR || b->kind != V_STR)
                return mtp_errorf("%s: STACK_GLOBAL of non-strings", u->label);
            return push(u, make_global(u, a->s, (size_t)a->i, b->s, (size_t)b->i));
        case 't':  // TUPLE
            if (pop_mark(u, &from) != 0) return -1;
            a = make_tuple(u, u->sp > from ? u->stack + from : NULL, u->sp - from);  // () before any push
            u->sp = from;
            return push(u, a);
        case 0x85:    // TUPLE1
        case 0x86:    // TUPLE2
        case 0x87: {  // TUPLE3
            int k = op - 0x84;
            value *it[3];
            for (int i = k - 1; i >= 0; i--)
                if (!(it[i] = pop(u))) return -1;
            return push(u, make_tuple(u, it, k));
        }
        case 'l':  // LIST
            if (pop_mark(u, &from) != 0) return -1;
            a = make(u, V_LIST);
            for (int i = from; a && i < u->sp; i++)
                if (add_item(u, a, u->stack[i]) != 0) return -1;
            u->sp = from;
            return push(u, a);
        case 'd':  // DICT
            if (pop_mark(u, &from) != 0) return -1;
            if ((u->sp - from) % 2)
                return mtp_errorf("%s: damaged pickle (odd number of dict items)", u->label);
            a = make(u, V_DICT);
            for (int i = from; a && i < u->sp; i++)
                if (add_item(u, a, u->stack[i]) != 0) return -1;
            u->sp = from;
            return push(u, a);
        case 's':  // SETITEM
            if (!(b = pop(u)) || !(a = pop(u))) return -1;
            if (push(u, a) != 0 || push(u, b) != 0) return -1;
            return set_items(u, u->sp - 2);
        case 'u':  // SETITEMS
            if (pop_mark(u, &from) != 0) return -1;
            return set_items(u, from);
        case 'a':  // APPEND
            if (!(a = pop(u))) return -1;
            if (push(u, a) != 0) return -1;
            return append_items(u, u->sp - 1);
        case 'e':  // APPENDS
            if (pop_mark(u, &from) != 0) return -1;
            return append_items(u, from);
        case 'R':  // REDUCE
            if (!(b = pop(u)) || !(a = pop(u))) return -1;
            return push(u, call(u, a, b));
        case 'Q':  // BINPERSID
            if (!(a = pop(u))) return -1;
            return push(u, persistent_load(u, a));
        case 'b':  // BUILD: a state_dict's _metadata on an OrderedDict; discarded
            if (!(b = pop(u)) || !(a = top(u))) return -1;
            if (a->kind != V_DICT)
                return mtp_errorf("%s: refuses BUILD on an object that is not a dict", u->label);
            return 0;
        case 'q':  // BINPUT
        case 'r':  // LONG_BINPUT
            n = op == 'q' ? 1 : 4;
            if (need(u, n) != 0) return -1;
            {
                size_t idx = (size_t)read_le(u->p, (int)n);
                u->p += n;
                return memo_put(u, idx);
            }
        case 0x94:  // MEMOIZE
            return memo_put(u, u->memo_len);
        case 'h':  // BINGET
        case 'j':  // LONG_BINGET
            n = op == 'h' ? 1 : 4;
            if (need(u, n) != 0) return -1;
            {
                size_t idx = (size_t)read_le(u->p, (int)n);
                u->p += n;
                return memo_get(u, idx);
            }
        default:
            return mtp_errorf(
                "%s: refuses pickle opcode 0x%02x at byte %zu: not one torch.save writes for a dict of "
                "tensors",
                u->label, op, (size_t)(u->p - 1 - u->start));
    }
}

typedef struct {
    pickle_tensor *t;
    int n, cap;
    const char *label;
} tensor_list;

// A dict is walked once: reached again (memo references let a 24 KB file name
// 10^9 tensors through shared dicts), the pickle is refused; a state_dict's
// dicts are each under one key.
static int collect(tensor_list *out, value *dict, const char *prefix, int depth) {
    if (depth > MAX_NEST) return mtp_errorf("%s: dicts nested deeper than %d", out->label, MAX_NEST);
    if (dict->visited)
        return mtp_errorf("%s: one dict appears under two keys (at '%s'): not a state_dict", out->label,
                          prefix[0] ? prefix : "the top");
    dict->visited = 1;
    for (int i = 0; i + 1 < dict->n; i += 2) {
        const value *k = dict->item[i];
        value *v = dict->item[i + 1];
        if (k->kind != V_STR) continue;  // e.g. integer keys of optimizer state
        size_t len = strlen(prefix) + strlen(k->s) + 2;
        char *name = malloc(len);
        if (!name) return mtp_errorf("out of memory reading %s", out->label);
        snprintf(name, len, "%s%s%s", prefix, prefix[0] ? "." : "", k->s);
        int rc = 0;
        if (v->kind == V_DICT) {
            rc = collect(out, v, name, depth + 1);
            free(name);
        } else if (v->kind == V_TENSOR) {
            if (out->n == out->cap) {
                int cap = out->cap ? 2 * out->cap : 64;
                pickle_tensor *t = realloc(out->t, (size_t)cap * sizeof *t);
                if (!t) {
                    free(name);
                    return mtp_errorf("out of memory reading %s", out->label);
                }
                out->t = t;
                out->cap = cap;
            }
            pickle_tensor *t = &out->t[out->n];
            *t = *v->t;
            t->name = name;
            t->storage_key = malloc(strlen(v->s) + 1);
            if (!t->storage_key) {
                free(name);
                return mtp_errorf("out of memory reading %s", out->label);
            }
            strcpy(t->storage_key, v->s);
            out->n++;
        } else {
            free(name);
        }
        if (rc != 0) return rc;
    }
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const pickle_tensor *const *)a)->name, (*(const pickle_tensor *const *)b)->name);
}

// A name given twice (torch.load keeps the last, a reader taking the first
// would load other weights): refused.
static int refuse_duplicates(const tensor_list *list) {
    if (list->n < 2) return 0;
    const pickle_tensor **sorted = malloc(sizeof *sorted * (size_t)list->n);
    if (!sorted) return mtp_errorf("out of memory reading %s", list->label);
    for (int i = 0; i < list->n; i++) sorted[i] = &list->t[i];
    qsort(sorted, (size_t)list->n, sizeof *sorted, by_name);
    int rc = 0;
    for (int i = 1; i < list->n && rc == 0; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            rc = mtp_errorf("%s: tensor '%s' appears twice: the file is damaged", list->label, sorted[i]->name);
    free(sorted);
    return rc;
}

int pickle_read_tensors(const uint8_t *buf, size_t len, const char *label, pickle_tensor **out, int *count) {
    unpickler u = {.start = buf, .p = buf, .end = buf + len, .label = label};
    *out = NULL;
    *count = 0;
    int rc;
    while ((rc = step(&u)) == 0) {
    }
    tensor_list list = {.label = label};
    if (rc == 1) {
        value *root = u.sp == 1 && u.nmarks == 0 ? u.stack[0] : NULL;
        if (!root || root->kind != V_DICT)
            rc = mtp_errorf("%s: the pickle does not hold a dict of tensors (a state_dict)", label);
        else
            rc = collect(&list, root, "", 0);
    }
    if (rc == 0) rc = refuse_duplicates(&list);
    for (int i = 0; i < u.nall; i++) {
        free(u.all[i]->item);
        free(u.all[i]->t);
        if (u.all[i]->kind == V_STR || u.all[i]->kind == V_GLOBAL) free(u.all[i]->s);
        free(u.all[i]);
    }
    free(u.all);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    if (rc != 0) {
        pickle_tensors_free(list.t, list.n);
        return -1;
    }
    *out = list.t;
    *count = list.n;
    return 0;
}

void pickle_tensors_free(pickle_tensor *t, int count) {
    for (int i = 0; i < count; i++) {
        free(t[i].name);
        free(t[i].storage_key);
    }
    free(t);
}
