// sandbox.h: runs one untrusted Python program (a model's code completion
// plus its tests) in a separate, limited process and reports whether it
// passed: exit status 0 within the limits.
//
// Linux only. What sandbox_run does, in order (docs/eval-code.md says what
// this contains and what it does not):
//   parent: a fresh directory mkdtemp(TMPDIR or /tmp, "mtp-sandbox-XXXXXX"),
//     0700, owned by the sandbox uid when run as root; the program written to
//     program.py in it; pipes for the output and for the child's setup report.
//   child: closes every inherited descriptor, starts a new session (its own
//     process group); when not root, a user namespace mapping only its own
//     uid/gid; then, each where the kernel allows it, a network namespace
//     (no interfaces but a down loopback: no network at all), IPC and UTS
//     namespaces (no shared SysV IPC or message queues), a mount
//     namespace (every mount made read-only and nosuid, the directory covered
//     by a private size-capped tmpfs holding a copy of program.py), and a pid
//     namespace (the program is its init: when it exits or is killed, the
//     kernel kills every process it left behind, even ones that called
//     setsid()). Then stdin from /dev/null, stdout and stderr into the output
//     pipe, chdir into the directory, rlimits (CPU, address space, processes,
//     file size, open files, no core files), when root: setgroups(0),
//     setgid/setuid to the sandbox uid (it owns no file outside the
//     directory), PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, and execve of
//     `python -B -s program.py` with a scrubbed environment.
//   parent: captures up to output_cap bytes of output and drains the rest;
//     at the wall-clock timeout kills the program's whole process group with
//     SIGKILL; reaps every child; removes the directory (never following a
//     symbolic link the program left there).
// Each containment actually in force is reported in sandbox_result.flags.
#ifndef MTP_EVAL_SANDBOX_H
#define MTP_EVAL_SANDBOX_H

#include <stddef.h>

typedef struct {
    const char *python;    // the interpreter: an absolute path (see sandbox_find_python)
    double timeout;        // wall-clock seconds; the CPU limit is ceil(timeout) + 1
    long memory_mb;        // RLIMIT_AS
    long file_mb;          // RLIMIT_FSIZE: the largest file the program may write
    long tmpfs_mb;         // size of the private tmpfs over the directory
    long max_procs;        // RLIMIT_NPROC: processes of the sandbox's uid
    long max_files;        // RLIMIT_NOFILE
    size_t output_cap;     // bytes of stdout + stderr kept; the rest is read and dropped
    unsigned uid;          // uid and gid to run as when the caller is root
    const char *tmp_base;  // where the directory is made; NULL: $TMPDIR, else /tmp
    // NULL, or text the program must also write to its stdout or stderr (anywhere in
    // its output, kept or dropped) to pass: a program that exits with status 0
    // before its last line (sys.exit(0) in a completion, before the tests) fails
    const char *done_marker;
} sandbox_config;

// The defaults: timeout 10 s, 1024 MB address space, 10 MB files, 64 MB
// tmpfs, 16 processes, 64 files, 64 kB of output, uid 60000, python NULL.
// RLIMIT_AS is per process: a program that forks may use up to max_procs
// times memory_mb (there is no cgroup here), so max_procs stays small.
void sandbox_config_default(sandbox_config *c);

typedef enum { SANDBOX_PASSED, SANDBOX_FAILED, SANDBOX_TIMEOUT } sandbox_outcome;

// sandbox_result.flags: the containment that was in force.
enum {
    SANDBOX_UID = 1 << 0,     // ran as the configured uid/gid (the caller was root)
    SANDBOX_USERNS = 1 << 1,  // own user namespace (the caller was not root)
    SANDBOX_NET = 1 << 2,     // own network namespace: no network
    SANDBOX_PID = 1 << 3,     // own pid namespace: nothing survives the program
    SANDBOX_ROFS = 1 << 4,    // every mount read-only outside the directory
    SANDBOX_TMPFS = 1 << 5,   // the directory is a private tmpfs of tmpfs_mb
    SANDBOX_IPC = 1 << 6,     // own IPC and UTS namespaces: no SysV IPC or message queues shared
};

typedef struct {
    sandbox_outcome outcome;
    int exit_code;        // the program's exit status, -1 if a signal ended it
    int signal;           // the signal that ended it, 0 if none
    int flags;            // SANDBOX_* in force
    double seconds;       // wall-clock time from fork to reaping
    char *output;         // stdout and stderr interleaved, NUL-terminated (malloc'd)
    size_t output_len;    // bytes kept (<= output_cap)
    size_t output_total;  // bytes the program wrote in all
    int marker_seen;      // config.done_marker was in the output
    long pgid;            // the process group killed at the end (for tests)
    char dir[256];        // the directory the program ran in (removed by now)
} sandbox_result;

// Runs `program` (len bytes of Python source). Returns 0 with the outcome in
// *r (free with sandbox_result_free), or -1 with mtp_errorf when the sandbox
// itself could not run it (no temporary directory, fork failed, the
// interpreter cannot be executed): that is not the program's failure.
int sandbox_run(const sandbox_config *c, const char *program, size_t len, sandbox_result *r);
void sandbox_result_free(sandbox_result *r);

// Finds the interpreter the sandbox will run: `name` if it contains a '/',
// else the first file called `name` on $PATH that runs inside the sandbox
// (as the sandbox uid: a python3 under /root does not). It is probed with
// a program printing sys.executable and the version; out gets that
// sys.executable (so a pyenv shim resolves to the real interpreter),
// version the version ("3.11.2"), *flags the containment in force. Returns
// 0, or -1 with mtp_errorf saying why each candidate failed.
int sandbox_find_python(const sandbox_config *c, const char *name, char *out, size_t cap, char *version,
                        size_t vcap, int *flags);

// One line describing flags for a log ("uid 60000, no network, pid
// namespace, read-only filesystem, 64 MB tmpfs"), into buf; returns buf.
const char *sandbox_describe(const sandbox_config *c, int flags, char *buf, size_t cap);

#endif
