// flags.h: command-line flags declared once, as tables. A command lists its
// flags (name, kind, destination, range, help) in groups; one parser reads
// argv into the destinations, checks every value, and prints --help from the
// same tables, with each default read from its destination before parsing,
// so the help cannot disagree with the code. Groups shared by several
// commands (cli/flag_groups.h) keep names, ranges and texts the same
// everywhere.
//
// Errors are one line on stderr, "mtp CMD: --batch 'x': expected an integer
// in [1, 65536]", and the command exits 2.
#ifndef MTP_CLI_FLAGS_H
#define MTP_CLI_FLAGS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FLAG_BOOL,    // int: set to 1; takes no value
    FLAG_STRING,  // const char *
    FLAG_INT,     // int in [min, max]
    FLAG_LONG,    // long in [min, max]
    FLAG_U64,     // uint64_t, in [min, max] when max > 0
    FLAG_DOUBLE,  // double in [min, max]
    FLAG_CHOICE,  // int: the index of the value in `choices`
    FLAG_LIST,    // flag_list: every value of a flag that may be repeated
    FLAG_PARSE,   // parse(value, dest): 0, or -1 with mtp_errorf saying what is expected
} flag_kind;

// The values of a repeated flag, or a command's positional arguments.
typedef struct {
    const char **v;
    int n;
} flag_list;

typedef struct {
    const char *name;  // "--max-new"
    flag_kind kind;
    size_t offset;               // of the destination in the group's struct (offsetof)
    const char *meta;            // the value's placeholder in the help ("N"); NULL for FLAG_BOOL
    const char *help;            // one line, or several separated by '\n'
    double min, max;             // FLAG_INT, FLAG_LONG, FLAG_DOUBLE
    const char *const *choices;  // FLAG_CHOICE: NULL-terminated
    // The default shown when the destination holds a value outside [min, max]
    // (a sentinel that the command resolves later: "all cores", "n-1").
    const char *unset;
    int (*parse)(const char *value, void *dest);            // FLAG_PARSE
    void (*show)(const void *dest, char *buf, size_t cap);  // FLAG_PARSE: the value as typed
    const char *alias;                                      // e.g. "-q"
    void (*apply)(const void *dest);                        // called once the value is set (--threads)
} flag;

// Flags whose destinations are fields of a struct that sits `offset` bytes
// into the command's arguments. `only` picks a subset of a shared table:
// space-separated names (NULL: all of them).
typedef struct {
    const char *title;  // heading in the help ("model:"), or NULL
    const flag *flags;  // terminated by an entry with name NULL
    size_t offset;
    const char *only;
} flag_group;

#define FLAGS_MAX_GROUPS 8
#define FLAGS_MAX_SEEN 96

// A command's flags and help, a constant table: the destinations are
// offsets into the command's argument struct.
typedef struct command_line command_line;

typedef struct {
    const char *name;     // "eval-gen", "tokenizer encode": messages read "mtp NAME: ..."
    const char *summary;  // one line for `mtp --help`
    const char *usage;    // the usage line(s), without a final newline
    const char *about;    // what the command does (paragraphs), or NULL
    flag_group groups[FLAGS_MAX_GROUPS];
    const char *epilog;      // text after the flags, or NULL
    const char *positional;  // e.g. "INPUT": the command takes arguments that are not flags
    size_t inputs;           // offset of the flag_list they go to (all of argv after "--" too)
    const char *required;    // space-separated names of the flags that must be given
    const char *no_inputs;   // with positional: the usage error when none is given (NULL: none needed)
    // The command: run gets the parsed arguments, a copy of *defaults (size
    // bytes), and returns the exit status: 0 done, 1 failed (flags_run then
    // prints mtp_last_error(), if set), 2 bad usage (run printed why).
    int (*run)(command_line *cl);
    const void *defaults;
    size_t size;
} command_spec;

// One parse: the spec, the arguments it filled, and which flags were given.
struct command_line {
    const command_spec *spec;
    void *args;
    const flag *seen[FLAGS_MAX_SEEN];
    int n_seen;
};

enum { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_USAGE = 2 };

// Parses argv[1..argc) (argv[0] is the command's name) into the groups'
// destinations in args, which hold the defaults. Returns FLAGS_OK;
// FLAGS_HELP after printing the help to stdout (-h, --help); FLAGS_USAGE
// after printing one error line to stderr. `--flag=value` is accepted for
// flags that take a value.
int flags_parse(command_line *cl, const command_spec *spec, void *args, int argc, char **argv);
// Prints the help: usage, about, each group's flags with their defaults (the
// values in args), epilog.
void flags_print_help(const command_spec *spec, const void *args);
// Takes the value of every flag that was not given from obj[key] (key: the
// flag's name without "--", '-' as '_'), except the keys listed in `skip`
// (space-separated): how a resumed run gets the arguments it was started
// with. Values are checked as on the command line; errors name label and key.
struct cJSON;
int flags_from_json(command_line *cl, const struct cJSON *obj, const char *label, const char *skip);
// Frees what parsing allocated: the arrays of FLAG_LIST destinations and inputs.
void flags_free(command_line *cl);
// 1 if the flag named `name` was on the command line.
int flags_given(const command_line *cl, const char *name);
// The exit status of a usage error found after parsing: prints "mtp NAME: "
// + the formatted message + " (see mtp NAME --help)" and returns FLAGS_USAGE.
int flags_usage_error(const command_line *cl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// The run function and argument defaults of a command_spec initializer.
#define COMMAND_RUN(run_fn, defaults_value) \
    .run = run_fn, .defaults = &defaults_value, .size = sizeof defaults_value

// Runs a command: its defaults, argv parsed over them, spec->run. Returns
// the exit status: 0 after --help, 2 after a usage error, else run's (with
// the error printed as "mtp NAME: message" when run returns 1).
int flags_run(const command_spec *spec, int argc, char **argv);
// Maps FLAGS_* to a process exit status: -1 means "go on" (FLAGS_OK).
static inline int flags_exit(int rc) {
    return rc == FLAGS_OK ? -1 : rc == FLAGS_HELP ? 0 : 2;
}

#endif
