// sandbox_python.c: finding the interpreter the sandbox runs, and saying
// what containment is in force (sandbox.h).
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "eval/sandbox.h"

static const char probe_program[] = "import sys\nprint(sys.executable)\nprint(sys.version.split()[0])\n";

// Runs the probe with interpreter `python`; fills exe/version/flags or
// writes why it failed into why.
static int probe(const sandbox_config *c, const char *python, char *exe, size_t cap, char *version,
                 size_t vcap, int *flags, char *why, size_t why_cap) {
    sandbox_config pc = *c;
    pc.python = python;
    if (pc.timeout < 10) pc.timeout = 10;
    sandbox_result r;
    if (sandbox_run(&pc, probe_program, sizeof probe_program - 1, &r) != 0) {
        snprintf(why, why_cap, "%s", mtp_last_error());
        return -1;
    }
    int rc = -1;
    char *nl = r.output ? strchr(r.output, '\n') : NULL;
    if (r.outcome != SANDBOX_PASSED || !nl || r.output[0] != '/') {
        // The last line of output says most (a Python error, a shim's complaint).
        char *end = r.output + r.output_len;
        while (end > r.output && (end[-1] == '\n' || end[-1] == ' ')) end--;
        char *start = end;
        while (start > r.output && start[-1] != '\n') start--;
        snprintf(why, why_cap, "%s: exit %d%s%.*s", python, r.exit_code, start < end ? ": " : "",
                 (int)(end - start > 200 ? 200 : end - start), start);
    } else {
        *nl = '\0';
        char *v = nl + 1, *vend = strchr(v, '\n');
        if (vend) *vend = '\0';
        snprintf(exe, cap, "%s", r.output);
        snprintf(version, vcap, "%s", v);
        *flags = r.flags;
        rc = 0;
    }
    sandbox_result_free(&r);
    return rc;
}

int sandbox_find_python(const sandbox_config *c, const char *name, char *out, size_t cap, char *version,
                        size_t vcap, int *flags) {
    char reasons[1024] = "", why[512];
    char cand[4096];
    const char *path = strchr(name, '/') ? "" : getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *s = path;;) {
        const char *colon = strchr(s, ':');
        size_t dl = colon ? (size_t)(colon - s) : strlen(s);
        if (strchr(name, '/'))
            snprintf(cand, sizeof cand, "%s", name);
        else
            snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, dl ? s : ".", name);
        if (strchr(name, '/') || (cand[0] == '/' && access(cand, X_OK) == 0)) {
            char exe[4096], again[4096];
            // The interpreter as Python reports it must itself run directly.
            if (probe(c, cand, exe, sizeof exe, version, vcap, flags, why, sizeof why) == 0 &&
                (strcmp(exe, cand) == 0 ||
                 probe(c, exe, again, sizeof again, version, vcap, flags, why, sizeof why) == 0)) {
                snprintf(out, cap, "%s", exe);
                return 0;
            }
            size_t rl = strlen(reasons);
            snprintf(reasons + rl, sizeof reasons - rl, "%s%s", rl ? "; " : "", why);
        }
        if (strchr(name, '/') || !colon) break;
        s = colon + 1;
    }
    if (!reasons[0]) return mtp_errorf("no '%s' on PATH: install Python 3 or give --python PATH", name);
    return mtp_errorf(
        "no Python interpreter runs in the sandbox (%s): give --python PATH to one that uid %u can run",
        reasons, geteuid() == 0 ? c->uid : (unsigned)getuid());
}

const char *sandbox_describe(const sandbox_config *c, int flags, char *buf, size_t cap) {
    char who[64];
    if (flags & SANDBOX_UID)
        snprintf(who, sizeof who, "uid %u", c->uid);
    else
        snprintf(who, sizeof who, "your uid%s", flags & SANDBOX_USERNS ? " (user namespace)" : "");
    char files[96];
    if (flags & SANDBOX_ROFS)
        snprintf(files, sizeof files, "read-only filesystem but %s",
                 flags & SANDBOX_TMPFS ? "a private tmpfs" : "its directory");
    else
        snprintf(files, sizeof files, "files writable as %s", who);
    if (flags & SANDBOX_TMPFS) {
        size_t l = strlen(files);
        snprintf(files + l, sizeof files - l, " of %ld MB", c->tmpfs_mb);
    }
    snprintf(buf, cap, "%s, %s, %s, %s", who, flags & SANDBOX_NET ? "no network" : "NETWORK NOT ISOLATED",
             flags & SANDBOX_PID ? "own pid namespace" : "process group only", files);
    return buf;
}
