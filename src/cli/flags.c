// flags.c: see flags.h.
#include "cli/flags.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/error.h"

#define HELP_COLUMN 22  // where a flag's help text starts
#define HELP_WIDTH 100  // a default that would pass this column goes on a line of its own

// 1 if f belongs to g's subset.
static int in_group(const flag_group *g, const flag *f) {
    if (!g->only) return 1;
    size_t n = strlen(f->name);
    for (const char *s = g->only; (s = strstr(s, f->name)) != NULL; s += n)
        if ((s == g->only || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0')) return 1;
    return 0;
}

static void *dest_of(const void *args, const flag_group *g, const flag *f) {
    return (char *)args + g->offset + f->offset;
}

// The flag named `name` (or its alias) and its group.
static const flag *find(const command_spec *spec, const char *name, const flag_group **group) {
    for (int i = 0; i < FLAGS_MAX_GROUPS && spec->groups[i].flags; i++)
        for (const flag *f = spec->groups[i].flags; f->name; f++)
            if (in_group(&spec->groups[i], f) &&
                (!strcmp(f->name, name) || (f->alias && !strcmp(f->alias, name)))) {
                *group = &spec->groups[i];
                return f;
            }
    return NULL;
}

static int list_push(flag_list *l, const char *v, int cap) {
    if (!l->v && !(l->v = calloc((size_t)cap, sizeof *l->v))) return -1;
    l->v[l->n++] = v;
    return 0;
}

static int bad_value(const command_spec *spec, const char *what, const char *v, const char *expected) {
    fprintf(stderr, "mtp %s: %s '%s': %s\n", spec->name, what, v, expected);
    return FLAGS_USAGE;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Digits, after a '-' if `sign` allows one: no blanks, no '+', no 0x (which
// strtol and strtoull would skip or take).
static int plain_integer(const char *v, int sign) {
    if (sign && *v == '-') v++;
    if (!is_digit(*v)) return 0;
    while (is_digit(*v)) v++;
    return *v == '\0';
}

// An ordinary decimal number, [-]digits[.digits][e[+|-]digits] (".5" and
// "5." too): no blanks, no leading '+', no hexadecimal, inf or nan, which
// strtod would take.
static int plain_decimal(const char *v) {
    int digits = 0;
    if (*v == '-') v++;
    for (; is_digit(*v); v++) digits++;
    if (*v == '.')
        for (v++; is_digit(*v); v++) digits++;
    if (!digits) return 0;
    if (*v == 'e' || *v == 'E') {
        v++;
        if (*v == '+' || *v == '-') v++;
        if (!is_digit(*v)) return 0;
        while (is_digit(*v)) v++;
    }
    return *v == '\0';
}

// Stores value v of flag f; FLAGS_OK or FLAGS_USAGE (printed, naming the
// value as `what`: the flag, or where it was read from).
static int set_value(const command_spec *spec, const flag *f, const char *what, void *dest, const char *v,
                     int argc) {
    char *end = NULL, msg[160];
    errno = 0;
    switch (f->kind) {
        case FLAG_BOOL:
            *(int *)dest = 1;
            return FLAGS_OK;
        case FLAG_STRING:
            *(const char **)dest = v;
            return FLAGS_OK;
        case FLAG_LIST:
            if (list_push(dest, v, argc) != 0) return bad_value(spec, what, v, "out of memory");
            return FLAGS_OK;
        case FLAG_INT:
        case FLAG_LONG: {
            long x = strtol(v, &end, 10);
            if (!plain_integer(v, 1) || errno || end == v || *end || x < (long)f->min || x > (long)f->max) {
                snprintf(msg, sizeof msg, "expected an integer in [%ld, %ld]", (long)f->min, (long)f->max);
                return bad_value(spec, what, v, msg);
            }
            if (f->kind == FLAG_INT)
                *(int *)dest = (int)x;
            else
                *(long *)dest = x;
            return FLAGS_OK;
        }
        case FLAG_U64: {
            unsigned long long x = strtoull(v, &end, 10);
            int ranged = f->max > 0;
            if (!plain_integer(v, 0) || errno || end == v || *end ||
                (ranged && ((double)x < f->min || (double)x > f->max))) {
                if (ranged) snprintf(msg, sizeof msg, "expected an integer in [%.0f, %.0f]", f->min, f->max);
                return bad_value(spec, what, v, ranged ? msg : "expected a non-negative integer");
            }
            *(uint64_t *)dest = (uint64_t)x;
            return FLAGS_OK;
        }
        case FLAG_DOUBLE: {
            double x = strtod(v, &end);
            if (!plain_decimal(v) || errno || end == v || *end || !isfinite(x) || x < f->min || x > f->max) {
                snprintf(msg, sizeof msg, "expected a number in [%g, %g]", f->min, f->max);
                return bad_value(spec, what, v, msg);
            }
            *(double *)dest = x;
            return FLAGS_OK;
        }
        case FLAG_CHOICE: {
            int n = 0;
            for (; f->choices[n]; n++)
                if (!strcmp(f->choices[n], v)) {
                    *(int *)dest = n;
                    return FLAGS_OK;
                }
            size_t at = (size_t)snprintf(msg, sizeof msg, "expected ");
            for (int i = 0; i < n && at < sizeof msg; i++)
                at += (size_t)snprintf(msg + at, sizeof msg - at, "%s%s",
                                       i == 0       ? ""
                                       : i + 1 == n ? " or "
                                                    : ", ",
                                       f->choices[i]);
            return bad_value(spec, what, v, msg);
        }
        case FLAG_PARSE:
            if (f->parse(v, dest) != 0) return bad_value(spec, what, v, mtp_last_error());
            return FLAGS_OK;
    }
    return FLAGS_USAGE;
}

static int check_required(const command_line *cl) {
    const command_spec *spec = cl->spec;
    char missing[8][64];
    int n = 0;
    for (const char *s = spec->required; s && *s && n < 8;) {
        size_t len = strcspn(s, " ");
        snprintf(missing[n], sizeof missing[n], "%.*s", (int)len, s);
        if (len && !flags_given(cl, missing[n])) n++;
        s += len + (s[len] == ' ');
    }
    if (n == 0) return FLAGS_OK;
    fprintf(stderr, "mtp %s: ", spec->name);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", missing[i]);
    fprintf(stderr, " %s required (see mtp %s --help)\n", n == 1 ? "is" : "are", spec->name);
    return FLAGS_USAGE;
}

int flags_parse(command_line *cl, const command_spec *spec, void *args, int argc, char **argv) {
    cl->spec = spec;
    cl->args = args;
    cl->n_seen = 0;
    int only_inputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_inputs && (!strcmp(arg, "-h") || !strcmp(arg, "--help"))) {
            flags_print_help(spec, args);
            return FLAGS_HELP;
        }
        if (!only_inputs && !strcmp(arg, "--") && spec->positional) {
            only_inputs = 1;
            continue;
        }
        if (only_inputs || arg[0] != '-' || !strcmp(arg, "-")) {
            if (!spec->positional) {
                fprintf(stderr, "mtp %s: unexpected argument '%s' (see mtp %s --help)\n", spec->name, arg,
                        spec->name);
                return FLAGS_USAGE;
            }
            if (list_push((flag_list *)((char *)args + spec->inputs), arg, argc) != 0) {
                fprintf(stderr, "mtp %s: out of memory\n", spec->name);
                return FLAGS_USAGE;
            }
            continue;
        }
        // --name=value
        char name[64];
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL, *value = NULL;
        if (eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        const flag_group *g = NULL;
        const flag *f = find(spec, name, &g);
        if (!f) {
            fprintf(stderr, "mtp %s: unknown flag '%s' (see mtp %s --help)\n", spec->name, name, spec->name);
            return FLAGS_USAGE;
        }
        if (f->kind == FLAG_BOOL && value) {
            fprintf(stderr, "mtp %s: %s takes no value\n", spec->name, f->name);
            return FLAGS_USAGE;
        }
        if (f->kind != FLAG_BOOL && !value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mtp %s: %s needs a value (see mtp %s --help)\n", spec->name, f->name,
                        spec->name);
                return FLAGS_USAGE;
            }
            value = argv[++i];
            // `--out --quiet`: the value left out, the next flag taken for it (a file named --quiet)
            char next[64];
            const char *neq = strncmp(value, "--", 2) == 0 ? strchr(value, '=') : NULL;
            snprintf(next, sizeof next, "%.*s", neq ? (int)(neq - value) : 63, value);
            const flag_group *ng = NULL;
            if (strncmp(value, "--", 2) == 0 && find(spec, next, &ng)) {
                fprintf(stderr,
                        "mtp %s: %s needs a value, not the flag %s (a value of that text goes as %s=%s)\n",
                        spec->name, f->name, next, f->name, value);
                return FLAGS_USAGE;
            }
        }
        int rc = set_value(spec, f, f->name, dest_of(args, g, f), value, argc);
        if (rc != FLAGS_OK) return rc;
        if (f->apply) f->apply(dest_of(args, g, f));
        // each flag once (a flag given again keeps its last value): 96 entries hold every flag of
        // a command, however often they are repeated (the 97th given was forgotten, and on --resume
        // replaced by the checkpoint's value)
        if (!flags_given(cl, f->name)) {
            if (cl->n_seen == FLAGS_MAX_SEEN) {
                fprintf(stderr, "mtp %s: more than %d different flags\n", spec->name, FLAGS_MAX_SEEN);
                return FLAGS_USAGE;
            }
            cl->seen[cl->n_seen++] = f;
        }
    }
    int rc = check_required(cl);
    if (rc == FLAGS_OK && spec->no_inputs && ((flag_list *)((char *)args + spec->inputs))->n == 0)
        rc = flags_usage_error(cl, "%s", spec->no_inputs);
    return rc;
}

// 1 if name is one of the space-separated names of list.
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *s = list; s && (s = strstr(s, name)) != NULL; s += n)
        if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0')) return 1;
    return 0;
}

int flags_from_json(command_line *cl, const cJSON *obj, const char *label, const char *skip) {
    const command_spec *spec = cl->spec;
    for (int i = 0; i < FLAGS_MAX_GROUPS && spec->groups[i].flags; i++)
        for (const flag *f = spec->groups[i].flags; f->name; f++) {
            char key[64], what[4200], num[64];
            snprintf(key, sizeof key, "%s", f->name + 2);
            for (char *p = key; *p; p++)
                if (*p == '-') *p = '_';
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
            if (!v || f->kind == FLAG_LIST || !in_group(&spec->groups[i], f) || flags_given(cl, f->name) ||
                listed(skip, key))
                continue;
            const char *text = NULL;
            if (cJSON_IsString(v) && v->valuestring[0])
                text = v->valuestring;
            else if (cJSON_IsNumber(v))
                snprintf(num, sizeof num, "%.17g", v->valuedouble), text = num;
            else if (cJSON_IsBool(v) && f->kind == FLAG_BOOL && cJSON_IsTrue(v))
                text = "";
            if (!text) continue;
            snprintf(what, sizeof what, "%s: args.%s", label, key);
            if (set_value(spec, f, what, dest_of(cl->args, &spec->groups[i], f), text, 1) != FLAGS_OK)
                return FLAGS_USAGE;
        }
    return FLAGS_OK;
}

void flags_free(command_line *cl) {
    const command_spec *spec = cl->spec;
    if (spec->positional) {
        flag_list *l = (flag_list *)((char *)cl->args + spec->inputs);
        free(l->v);
        l->v = NULL;
        l->n = 0;
    }
    for (int i = 0; i < FLAGS_MAX_GROUPS && spec->groups[i].flags; i++)
        for (const flag *f = spec->groups[i].flags; f->name; f++)
            if (f->kind == FLAG_LIST) {
                flag_list *l = dest_of(cl->args, &spec->groups[i], f);
                free(l->v);
                l->v = NULL;
                l->n = 0;
            }
}

int flags_run(const command_spec *spec, int argc, char **argv) {
    void *args = malloc(spec->size);
    if (!args) {
        fprintf(stderr, "mtp %s: out of memory\n", spec->name);
        return 1;
    }
    memcpy(args, spec->defaults, spec->size);
    command_line cl;
    int rc = flags_exit(flags_parse(&cl, spec, args, argc, argv));
    if (rc < 0) {
        mtp_clear_error();
        rc = spec->run(&cl);
        if (rc == 1 && mtp_last_error()[0]) fprintf(stderr, "mtp %s: %s\n", spec->name, mtp_last_error());
    }
    flags_free(&cl);
    free(args);
    return rc;
}

int flags_given(const command_line *cl, const char *name) {
    for (int i = 0; i < cl->n_seen; i++)
        if (!strcmp(cl->seen[i]->name, name)) return 1;
    return 0;
}

int flags_usage_error(const command_line *cl, const char *fmt, ...) {
    const command_spec *spec = cl->spec;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mtp %s: ", spec->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see mtp %s --help)\n", spec->name);
    va_end(ap);
    return FLAGS_USAGE;
}

// ---- help ---------------------------------------------------------------------

// A string default as the user would type it: bare if plain, else quoted with escapes.
static void quote_string(char *buf, size_t cap, const char *s) {
    int plain = *s != '\0';
    for (const char *p = s; *p; p++) plain &= *p > ' ' && *p != '"' && *p != '\\' && *p != 0x7f;
    if (plain) {
        snprintf(buf, cap, "%s", s);
        return;
    }
    size_t at = 0;
    buf[at++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && at + 6 < cap; p++) {
        if (*p == '\n')
            at += (size_t)snprintf(buf + at, cap - at, "\\n");
        else if (*p == '\t')
            at += (size_t)snprintf(buf + at, cap - at, "\\t");
        else if (*p == '"' || *p == '\\')
            at += (size_t)snprintf(buf + at, cap - at, "\\%c", *p);
        else if (*p < ' ')
            at += (size_t)snprintf(buf + at, cap - at, "\\x%02x", *p);
        else
            buf[at++] = (char)*p;
    }
    buf[at++] = '"';
    buf[at] = '\0';
}

// "default: X" from the destination's current value into buf, or "".
static void format_default(char *buf, size_t cap, const flag *f, const void *dest) {
    double x = 0;
    buf[0] = '\0';
    switch (f->kind) {
        case FLAG_INT:
            x = *(const int *)dest;
            break;
        case FLAG_LONG:
            x = (double)*(const long *)dest;
            break;
        case FLAG_DOUBLE:
            x = *(const double *)dest;
            break;
        case FLAG_U64:
            snprintf(buf, cap, "default: %llu", (unsigned long long)*(const uint64_t *)dest);
            return;
        case FLAG_CHOICE: {
            int v = *(const int *)dest, n = 0;
            while (f->choices[n]) n++;
            if (v >= 0 && v < n)
                snprintf(buf, cap, "default: %s", f->choices[v]);
            else if (f->unset)
                snprintf(buf, cap, "default: %s", f->unset);
            return;
        }
        case FLAG_STRING: {
            const char *s = *(const char *const *)dest;
            if (s) {
                char q[128];
                quote_string(q, sizeof q, s);
                snprintf(buf, cap, "default: %s", q);
            } else if (f->unset) {
                snprintf(buf, cap, "default: %s", f->unset);
            }
            return;
        }
        case FLAG_LIST:
            if (f->unset) snprintf(buf, cap, "default: %s", f->unset);
            return;
        case FLAG_PARSE:
            if (f->show) {
                char v[128];
                f->show(dest, v, sizeof v);
                snprintf(buf, cap, "default: %s", v);
            }
            return;
        default:
            return;
    }
    if (x >= f->min && x <= f->max)
        snprintf(buf, cap, "default: %.10g", x);
    else if (f->unset)
        snprintf(buf, cap, "default: %s", f->unset);
}

static void print_flag(FILE *out, const command_spec *spec, const void *args, const flag_group *g,
                       const flag *f) {
    char head[96], dflt[256];
    int n = snprintf(head, sizeof head, "  %s%s%s%s%s", f->alias ? f->alias : "", f->alias ? ", " : "",
                     f->name, f->meta ? " " : "", f->meta ? f->meta : "");
    fputs(head, out);
    if (n + 2 > HELP_COLUMN) {
        fputc('\n', out);
        n = 0;
    }
    fprintf(out, "%*s", HELP_COLUMN - n, "");
    size_t last = 0;  // length of the help's last line
    for (const char *s = f->help;;) {
        const char *nl = strchr(s, '\n');
        last = nl ? (size_t)(nl - s) : strlen(s);
        fwrite(s, 1, last, out);
        if (!nl) break;
        fprintf(out, "\n%*s", HELP_COLUMN, "");
        s = nl + 1;
    }
    // a flag that must be given has no default, whatever its destination holds
    if (listed(spec->required, f->name))
        snprintf(dflt, sizeof dflt, "required");
    else
        format_default(dflt, sizeof dflt, f, dest_of(args, g, f));
    if (dflt[0] && HELP_COLUMN + last + strlen(dflt) + 3 > HELP_WIDTH)
        fprintf(out, "\n%*s(%s)", HELP_COLUMN, "", dflt);
    else if (dflt[0])
        fprintf(out, " (%s)", dflt);
    fputc('\n', out);
}

void flags_print_help(const command_spec *spec, const void *args) {
    FILE *out = stdout;
    fprintf(out, "%s\n", spec->usage);
    if (spec->about) fprintf(out, "\n%s\n", spec->about);
    int first = 1;
    for (int i = 0; i < FLAGS_MAX_GROUPS && spec->groups[i].flags; i++) {
        const flag_group *g = &spec->groups[i];
        if (first || g->title) fputc('\n', out);
        if (g->title) fprintf(out, "%s\n", g->title);
        first = 0;
        for (const flag *f = g->flags; f->name; f++)
            if (in_group(g, f)) print_flag(out, spec, args, g, f);
    }
    if (spec->epilog) fprintf(out, "\n%s\n", spec->epilog);
}
