// test_sandbox.c: hostile programs stay contained by eval/sandbox: an
// infinite loop is killed at the timeout, a fork bomb and a process that
// escapes with setsid() leave nothing running, an output flood is capped,
// files outside the sandbox survive os.remove, shutil.rmtree (and, with a
// read-only filesystem, rmtree('/')), a memory bomb and a huge file hit their
// limits, a connection to a port the test listens on fails (with a network
// namespace), the environment is scrubbed, no descriptor leaks in, and the
// sandbox directory is gone after every run. Skips (77) without python3.
// First, the pass@k estimator that turns the sandbox's verdicts into scores
// (eval/passk.h): hand-computed values and, for every n <= 10, c and k, the
// fraction of k-subsets holding a passing sample, counted one by one.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/timer.h"
#include "eval/passk.h"
#include "eval/sandbox.h"
#include "test_util.h"

static sandbox_config cfg;

// Runs program; checks it ends with `want` (-1: any) and that its directory
// is gone.
static sandbox_result run(const char *name, const char *program, double timeout, int want) {
    sandbox_config c = cfg;
    c.timeout = timeout;
    sandbox_result r;
    if (sandbox_run(&c, program, strlen(program), &r) != 0) {
        CHECK(0, "%s: sandbox_run failed: %s", name, mtp_last_error());
        memset(&r, 0, sizeof r);
        return r;
    }
    CHECK(want < 0 || (int)r.outcome == want, "%s: outcome %d, want %d (exit %d, signal %d, %.2fs): %.300s",
          name, r.outcome, want, r.exit_code, r.signal, r.seconds, r.output);
    if (getenv("TEST_SANDBOX_VERBOSE"))
        printf("%-20s outcome %d exit %d signal %d %.2fs output %zu/%zu: %.200s\n", name, r.outcome,
               r.exit_code, r.signal, r.seconds, r.output_len, r.output_total, r.output);
    struct stat st;
    CHECK(r.dir[0] && lstat(r.dir, &st) != 0 && errno == ENOENT, "%s: sandbox directory %s left behind", name,
          r.dir);
    return r;
}

static int file_has(const char *path, const char *text) {
    size_t len;
    char *s = fs_read_all(path, 1 << 20, &len);
    int ok = s && strcmp(s, text) == 0;
    free(s);
    return ok;
}

// Processes whose /proc entry is owned by uid, or whose command line is
// exactly argv0 arg1 (NULL: not checked).
static int count_processes(long uid, const char *argv0, const char *arg1, int kill_them) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        int hit = 0;
        struct stat st;
        if (uid >= 0 && fstatat(dirfd(d), e->d_name, &st, 0) == 0 && (long)st.st_uid == uid) hit = 1;
        if (argv0) {
            char path[300], cmd[256] = {0};
            snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
            int fd = open(path, O_RDONLY);
            if (fd >= 0) {
                ssize_t got = read(fd, cmd, sizeof cmd - 1);
                close(fd);
                size_t l0 = strlen(argv0);
                if (got > (ssize_t)l0 && !strcmp(cmd, argv0) && !strcmp(cmd + l0 + 1, arg1)) hit = 1;
            }
        }
        if (hit) {
            n++;
            if (kill_them) kill(atoi(e->d_name), SIGKILL);
        }
    }
    closedir(d);
    return n;
}

static int near(double a, double b) {
    return a - b < 1e-12 && b - a < 1e-12;
}

static void test_passk(void) {
    // 1 - C(n-c, k) / C(n, k) by hand.
    CHECK(near(passk_estimate(1, 1, 1), 1) && near(passk_estimate(1, 0, 1), 0), "pass@1 of one sample");
    CHECK(near(passk_estimate(5, 2, 1), 0.4), "n=5 c=2 k=1: %.17g", passk_estimate(5, 2, 1));
    CHECK(near(passk_estimate(5, 2, 2), 1 - 3.0 / 10), "n=5 c=2 k=2: %.17g", passk_estimate(5, 2, 2));
    CHECK(near(passk_estimate(10, 3, 5), 1 - 21.0 / 252), "n=10 c=3 k=5: %.17g", passk_estimate(10, 3, 5));
    CHECK(near(passk_estimate(4, 2, 3), 1), "n-c < k is certain: %.17g", passk_estimate(4, 2, 3));
    CHECK(near(passk_estimate(200, 0, 100), 0) && near(passk_estimate(200, 200, 1), 1),
          "all fail / all pass");
    // C(199, 100) / C(200, 100) = 100/200, far beyond what binomials in doubles hold exactly
    CHECK(near(passk_estimate(200, 1, 100), 0.5), "n=200 c=1 k=100: %.17g", passk_estimate(200, 1, 100));
    CHECK(near(passk_estimate(100000, 1, 1), 1e-5), "n=1e5 c=1 k=1: %.17g", passk_estimate(100000, 1, 1));
    CHECK(passk_estimate(3, 1, 4) < 0 && passk_estimate(3, 4, 1) < 0 && passk_estimate(3, 1, 0) < 0,
          "k > n, c > n and k = 0 are refused");
    // Brute force: samples 0..c-1 pass; count the k-subsets of n holding one.
    for (int n = 1; n <= 10; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++) {
                long subsets = 0, hit = 0;
                for (unsigned mask = 0; mask < 1u << n; mask++) {
                    if (__builtin_popcount(mask) != k) continue;
                    subsets++;
                    hit += (mask & ((1u << c) - 1)) != 0;
                }
                double want = (double)hit / (double)subsets, got = passk_estimate(n, c, k);
                CHECK(near(got, want), "n=%d c=%d k=%d: %.17g, enumeration %.17g", n, c, k, got, want);
            }
    // The mean over tasks, and k above some task's n refused.
    long n[3] = {5, 5, 10}, c[3] = {2, 0, 3};
    double mean;
    CHECK(passk_mean(n, c, 3, 2, &mean) == 0 && near(mean, (0.7 + 0 + (1 - 21.0 / 45)) / 3),
          "mean pass@2 %.17g", mean);
    CHECK(passk_mean(n, c, 3, 6, &mean) != 0 && strstr(mtp_last_error(), "only 5 samples"), "k > n: %s",
          mtp_last_error());
    CHECK(passk_min_samples(n, 3) == 5, "min samples");
}

int main(void) {
    test_passk();
    sandbox_config_default(&cfg);
    char python[4096], version[64];
    int flags = 0;
    if (sandbox_find_python(&cfg, "python3", python, sizeof python, version, sizeof version, &flags) != 0) {
        if (failures) return 1;
        printf("pass@k checks passed; skip the sandbox: %s\n", mtp_last_error());
        return 77;
    }
    cfg.python = python;
    char desc[256];
    printf("python %s (%s); sandbox: %s\n", python, version,
           sandbox_describe(&cfg, flags, desc, sizeof desc));
    if (make_tmpdir("sandbox")) return 1;
    chmod(tmpdir, 0755);
    setenv("MTP_SANDBOX_TEST_SECRET", "leaked", 1);
    double t;
    char prog[4096];

    // Plain runs: pass, fail, the directory, the environment, descriptors, stdin.
    sandbox_result r = run("print", "print('hello')", 10, SANDBOX_PASSED);
    CHECK(r.output && !strcmp(r.output, "hello\n"), "print: output '%s'", r.output);
    sandbox_result_free(&r);
    r = run("exit 3", "raise SystemExit(3)", 10, SANDBOX_FAILED);
    CHECK(r.exit_code == 3, "exit 3: exit code %d", r.exit_code);
    sandbox_result_free(&r);
    // A done marker: status 0 passes only with the marker in the output, found across two writes
    // (and so, often, two reads), and past what is kept of the output
    cfg.done_marker = "mtp-done-3f9a";
    r = run("exit 0, no marker", "import sys\nsys.exit(0)", 10, SANDBOX_FAILED);
    CHECK(r.exit_code == 0 && !r.marker_seen, "exit 0, no marker: exit %d, seen %d", r.exit_code,
          r.marker_seen);
    sandbox_result_free(&r);
    r = run(
        "marker in two writes",
        "import os, time\nos.write(1, b'x' * 70000 + b'mtp-do')\ntime.sleep(0.2)\nos.write(2, b'ne-3f9a')",
        10, SANDBOX_PASSED);
    CHECK(r.marker_seen && r.output_total == 70000 + 13 && r.output_len < r.output_total,
          "marker in two writes: seen %d, %zu of %zu bytes kept", r.marker_seen, r.output_len,
          r.output_total);
    sandbox_result_free(&r);
    r = run("marker, then exit 1", "print('mtp-done-3f9a')\nraise SystemExit(1)", 10, SANDBOX_FAILED);
    sandbox_result_free(&r);
    r = run("a marker's prefix twice", "print('mtp-done-3fmtp-done-3f9')", 10, SANDBOX_FAILED);
    sandbox_result_free(&r);
    cfg.done_marker = NULL;
    r = run("assert", "assert 1 + 1 == 3", 10, SANDBOX_FAILED);
    CHECK(r.output && strstr(r.output, "AssertionError"), "assert: output '%s'", r.output);
    sandbox_result_free(&r);
    r = run("environment",
            "import os, sys\n"
            "print(os.getcwd())\n"
            "print(os.environ.get('HOME'))\n"
            "print('MTP_SANDBOX_TEST_SECRET' in os.environ)\n"
            "print(sorted(int(f) for f in os.listdir('/proc/self/fd')))\n"
            "print(repr(sys.stdin.read()))\n"
            "print(os.getuid(), os.getgroups())\n",
            10, SANDBOX_PASSED);
    if (r.output) {
        char want[1024];
        snprintf(want, sizeof want, "%s\n%s\nFalse\n[0, 1, 2, 3]\n''\n", r.dir, r.dir);
        CHECK(!strncmp(r.output, want, strlen(want)), "environment: got\n%s\nwant\n%s", r.output, want);
        if (flags & SANDBOX_UID) {
            char ids[64];
            snprintf(ids, sizeof ids, "\n%u []\n", cfg.uid);
            CHECK(strstr(r.output, ids) != NULL, "environment: not uid %u without groups: %s", cfg.uid,
                  r.output);
        }
    }
    sandbox_result_free(&r);

    // An infinite loop ends at the timeout, promptly.
    t = mtp_now();
    r = run("infinite loop", "while True:\n    pass\n", 1.0, SANDBOX_TIMEOUT);
    CHECK(mtp_now() - t < 2.5, "infinite loop: took %.2fs with a 1s timeout", mtp_now() - t);
    sandbox_result_free(&r);

    // A fork bomb: the test survives, nothing of the bomb is left, and the
    // next run still starts (its uid's process count is back to zero).
    t = mtp_now();
    r = run("fork bomb",
            "import os, time\n"
            "while True:\n"
            "    try:\n"
            "        os.fork()\n"
            "    except OSError:\n"
            "        time.sleep(0.01)\n",
            2.0, SANDBOX_TIMEOUT);
    // Without a pid namespace the sandbox also waits (up to 2 s) for init to
    // reap the killed processes.
    double bound = flags & SANDBOX_PID ? 4.0 : 6.0;
    CHECK(mtp_now() - t < bound, "fork bomb: took %.2fs with a 2s timeout", mtp_now() - t);
    if (r.pgid > 0)
        CHECK(kill(-(pid_t)r.pgid, 0) != 0 && errno == ESRCH, "fork bomb: group %ld still exists", r.pgid);
    if (flags & SANDBOX_UID) {
        int left = count_processes(cfg.uid, NULL, NULL, 1);
        CHECK(left == 0, "fork bomb: %d processes of uid %u left", left, cfg.uid);
    }
    sandbox_result_free(&r);
    r = run("after the fork bomb", "print('ok')", 10, SANDBOX_PASSED);
    sandbox_result_free(&r);

    // A child that leaves the process group with setsid() and outlives the
    // program: the pid namespace takes it down with the program.
    r = run("setsid escape",
            "import os\n"
            "r, w = os.pipe()\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    os.write(w, b'x')\n"
            "    os.execv('/bin/sleep', ['sleep', '987'])\n"
            "os.read(r, 1)\n",
            10, SANDBOX_PASSED);
    sandbox_result_free(&r);
    int escaped = count_processes(-1, "sleep", "987", 1);
    if (flags & (SANDBOX_PID | SANDBOX_UID))  // the namespace's end, or kill(-1) as the sandbox uid
        CHECK(escaped == 0, "setsid escape: %d escaped processes still running", escaped);
    else
        printf("note: no pid namespace or uid: %d process(es) escaped with setsid() (killed by the test)\n",
               escaped);

    // Output: a flood is capped and does not block; a large finite output is
    // kept in part and the program passes.
    t = mtp_now();
    r = run("output flood", "while True:\n    print('x' * 1000)\n", 1.0, SANDBOX_TIMEOUT);
    CHECK(r.output_len == cfg.output_cap && r.output_total > cfg.output_cap, "output flood: kept %zu of %zu",
          r.output_len, r.output_total);
    CHECK(mtp_now() - t < 2.5, "output flood: took %.2fs", mtp_now() - t);
    sandbox_result_free(&r);
    r = run("large output", "import sys\nsys.stdout.write('y' * 10000000)\n", 10, SANDBOX_PASSED);
    CHECK(r.output_len == cfg.output_cap && r.output_total == 10000000, "large output: kept %zu of %zu",
          r.output_len, r.output_total);
    sandbox_result_free(&r);

    // Files outside the sandbox survive attempts to remove or overwrite them.
    char keep[512], subdir[512], keep2[512];
    path_in_tmp(keep, sizeof keep, "keep.txt");
    path_in_tmp(subdir, sizeof subdir, "sub");
    path_in_tmp(keep2, sizeof keep2, "sub/keep2.txt");
    fs_mkdir_p(subdir);
    chmod(subdir, 0755);
    fs_write_all(keep, "precious", 8);
    fs_write_all(keep2, "precious", 8);
    if (flags & (SANDBOX_UID | SANDBOX_ROFS)) {
        snprintf(
            prog, sizeof prog,
            "import os, shutil\n"
            "try:\n    os.remove('%s')\nexcept OSError as e:\n    print('remove:', e)\n"
            "shutil.rmtree('%s', ignore_errors=True)\n"
            "try:\n    open('%s', 'w').write('clobbered')\nexcept OSError as e:\n    print('write:', e)\n",
            keep, subdir, keep);
        r = run("remove files", prog, 10, SANDBOX_PASSED);
        sandbox_result_free(&r);
        CHECK(file_has(keep, "precious"), "remove files: %s was removed or changed", keep);
        CHECK(file_has(keep2, "precious"), "remove files: %s was removed or changed", keep2);
    } else {
        printf("skip file checks: neither a uid of its own nor a read-only filesystem\n");
    }
    if (flags & SANDBOX_ROFS) {
        // Guarded inside too: it only starts if the filesystem is read-only.
        snprintf(prog, sizeof prog,
                 "import os, shutil\n"
                 "if os.access('/', os.W_OK) or os.access('%s', os.W_OK) or os.access('/tmp', os.W_OK):\n"
                 "    raise SystemExit('writable: not trying rmtree')\n"
                 "shutil.rmtree('/', ignore_errors=True)\n",
                 tmpdir);
        r = run("rmtree /", prog, 2.0, -1);  // the walk may finish or time out
        CHECK(r.outcome != SANDBOX_FAILED, "rmtree /: %s", r.output);
        sandbox_result_free(&r);
        CHECK(file_has(keep, "precious") && file_has(keep2, "precious"),
              "rmtree /: files outside were removed");
        CHECK(fs_is_file("/bin/sh") || fs_is_file("/usr/bin/sh"), "rmtree /: /bin/sh is gone");
    } else {
        printf("skip rmtree('/'): no read-only filesystem\n");
    }

    // Memory: a huge allocation and a growing list both fail at RLIMIT_AS.
    r = run("memory bomb", "x = bytearray(8 << 30)\n", 10, SANDBOX_FAILED);
    CHECK(r.output && strstr(r.output, "MemoryError"), "memory bomb: %s", r.output);
    sandbox_result_free(&r);
    t = mtp_now();
    r = run("growing list", "a = []\nwhile True:\n    a.append(' ' * 1000000)\n", 10, SANDBOX_FAILED);
    CHECK(r.output && strstr(r.output, "MemoryError"), "growing list: %s", r.output);
    sandbox_result_free(&r);

    // Files: one over RLIMIT_FSIZE fails; the tmpfs caps the total.
    r = run("huge file", "open('big', 'wb').write(b'0' * (50 << 20))\n", 10, SANDBOX_FAILED);
    CHECK(r.output && strstr(r.output, "File too large"), "huge file: %s", r.output);
    sandbox_result_free(&r);
    if (flags & SANDBOX_TMPFS) {
        r = run("many files", "for i in range(20):\n    open('f%d' % i, 'wb').write(b'0' * (9 << 20))\n", 10,
                SANDBOX_FAILED);
        CHECK(r.output && strstr(r.output, "No space left"), "many files: %s", r.output);
        sandbox_result_free(&r);
    }

    // Network: a connection to a port this test listens on.
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (ls >= 0 && bind(ls, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(ls, 4) == 0 &&
        getsockname(ls, (struct sockaddr *)&addr, &alen) == 0) {
        snprintf(
            prog, sizeof prog,
            "import socket\ns = socket.create_connection(('127.0.0.1', %d), timeout=2)\nprint('connected')\n",
            ntohs(addr.sin_port));
        if (flags & SANDBOX_NET) {
            r = run("network", prog, 10, SANDBOX_FAILED);
            sandbox_result_free(&r);
            struct pollfd pf = {ls, POLLIN, 0};
            CHECK(poll(&pf, 1, 0) == 0, "network: the sandbox connected to port %d", ntohs(addr.sin_port));
        } else {
            printf("skip network check: no network namespace (the program could connect)\n");
        }
    } else {
        printf("skip network check: cannot listen on 127.0.0.1\n");
    }
    if (ls >= 0) close(ls);

    // An interpreter that cannot run is the sandbox's error, not a failure.
    sandbox_config bad = cfg;
    bad.python = "/nonexistent/python3";
    r.dir[0] = '\0';
    CHECK(sandbox_run(&bad, "pass", 4, &r) != 0 && strstr(mtp_last_error(), "/nonexistent/python3"),
          "missing interpreter: %s", mtp_last_error());
    struct stat st;
    CHECK(r.dir[0] && lstat(r.dir, &st) != 0, "missing interpreter: %s left behind", r.dir);

    remove_tmpdir();
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("test_sandbox: all checks passed\n");
    return 0;
}
