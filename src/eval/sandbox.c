// sandbox.c: see sandbox.h. Linux: namespaces, mount_setattr, pidfd.
//
// The processes: the caller forks A. A sets up the session, the namespaces
// and the mounts, then either execs the program itself (no pid namespace) or
// forks B, the first process of the new pid namespace, and waits for it,
// exiting as B did. B (or A) applies the rlimits, drops to the sandbox uid
// and execs Python. Between fork and exec the children call only
// async-signal-safe functions (the caller may be multi-threaded: the CLI runs
// several sandboxes from OpenMP threads), so everything they need is built
// beforehand in a `plan`. They report how far they got through a
// close-on-exec pipe: the containment in force, the process group to kill,
// or the step that failed and its errno.
#define _GNU_SOURCE
#include "eval/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timer.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif

// fork() without the pthread_atfork handlers: those of an OpenMP runtime are
// not async-signal-safe, and LLVM's registers the child in /dev/shm, which
// fails once the mounts are read-only and leaves a file behind otherwise.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define plain_fork _Fork
#else
#define plain_fork fork
#endif

// struct mount_attr of <linux/mount.h>, first version.
typedef struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
} mount_attr_v0;

void sandbox_config_default(sandbox_config *c) {
    memset(c, 0, sizeof *c);
    c->timeout = 10.0;
    c->memory_mb = 1024;
    c->file_mb = 10;
    c->tmpfs_mb = 64;
    c->max_procs = 16;
    c->max_files = 64;
    c->output_cap = 64 * 1024;
    c->uid = 60000;
}

// ---- the child side: async-signal-safe only ----

enum { REPORT_FLAGS, REPORT_TARGET, REPORT_FAIL };
typedef struct {
    int type, value, err;  // REPORT_FAIL: value is the step
} report;

enum {
    STEP_SETSID,
    STEP_USERNS,
    STEP_FORK,
    STEP_DEVNULL,
    STEP_DUP,
    STEP_CHDIR,
    STEP_RLIMIT,
    STEP_SETUID,
    STEP_PRCTL,
    STEP_EXEC
};
static const char *const step_names[] = {"setsid", "user namespace", "fork",   "open /dev/null", "dup2",
                                         "chdir",  "setrlimit",      "setuid", "prctl",          "exec"};

typedef struct {
    int status_fd, out_fd, prog_fd;  // write end of the report pipe, of the output pipe; program.py
    pid_t parent;
    int root;
    uid_t uid;
    gid_t gid;
    const char *dir, *program_path, *python;
    char uid_map[64], gid_map[64], tmpfs_opts[128];
    struct rlimit cpu, as, nproc, fsize, nofile;
    rlim_t user_procs;  // processes the caller's uid runs now (for the no-namespace case)
    char *argv[5], *envp[24];
    char home[300], tmpdir[300];
} plan;

static void send_report(int fd, int type, int value, int err) {
    report m = {type, value, err};
    ssize_t w;
    do w = write(fd, &m, sizeof m);
    while (w < 0 && errno == EINTR);
}

static _Noreturn void child_fail(const plan *p, int step) {
    send_report(p->status_fd, REPORT_FAIL, step, errno);
    _exit(127);
}

// Writes all n bytes (async-signal-safe); 0 or -1.
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w, n -= (size_t)w;
    }
    return 0;
}

static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

// Closes every descriptor >= 3 but the ones in keep (ascending, >= 3): the
// caller's other files and other sandboxes' pipes must not leak into this
// one (a leaked write end would keep another run's output open).
static void close_fds_except(const int *keep, int n) {
    unsigned lo = 3;
    for (int i = 0; i <= n; i++) {
        unsigned hi = i < n ? (unsigned)keep[i] - 1 : ~0U;
        if (lo <= hi && syscall(SYS_close_range, lo, hi, 0) != 0)
            for (unsigned fd = lo; fd <= hi && fd < 65536; fd++) close((int)fd);
        if (i < n) lo = (unsigned)keep[i] + 1;
    }
}

static int mount_setattr_v0(const char *path, unsigned flags, uint64_t set, uint64_t clr) {
    mount_attr_v0 a = {set, clr, 0, 0};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
}

// Copies program.py into the fresh tmpfs that now covers the directory.
static int copy_program(const plan *p) {
    int out = open(p->program_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0) return -1;
    char buf[4096];
    ssize_t n = lseek(p->prog_fd, 0, SEEK_SET) == 0 ? 1 : -1;
    while (n > 0) {
        n = read(p->prog_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            n = 1;
        else if (n > 0 && write_all(out, buf, (size_t)n) != 0)
            n = -1;
    }
    close(out);
    return n == 0 ? 0 : -1;
}

// In a fresh mount namespace: the directory becomes a private tmpfs (or a
// bind mount of itself if tmpfs fails), every other mount read-only and
// nosuid. Returns the SANDBOX_* flags achieved; a step that fails leaves
// things as permissive as before it, never less usable.
static int setup_mounts(const plan *p) {
    int flags = 0;
    // Private first, so nothing done here propagates back to the caller's mounts.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 0;
    if (mount("tmpfs", p->dir, "tmpfs", MS_NOSUID | MS_NODEV, p->tmpfs_opts) == 0) {
        if (copy_program(p) == 0)
            flags |= SANDBOX_TMPFS;
        else
            umount2(p->dir, MNT_DETACH);
    }
    if (!(flags & SANDBOX_TMPFS) && mount(p->dir, p->dir, NULL, MS_BIND, NULL) != 0) return flags;
    if (mount_setattr_v0("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) != 0) return flags;
    if (mount_setattr_v0(p->dir, 0, 0, MOUNT_ATTR_RDONLY) != 0) {
        mount_setattr_v0("/", AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY);
        return flags;
    }
    return flags | SANDBOX_ROFS;
}

static _Noreturn void exec_program(const plan *p, int flags) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0) child_fail(p, STEP_DEVNULL);
    if (dup2(null, 0) < 0 || dup2(p->out_fd, 1) < 0 || dup2(p->out_fd, 2) < 0) child_fail(p, STEP_DUP);
    if (chdir(p->dir) != 0) child_fail(p, STEP_CHDIR);
    // Dispositions the caller ignored would stay ignored across exec.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
    struct rlimit nproc = p->nproc;
    // Without a uid or user namespace of its own, RLIMIT_NPROC counts every
    // process of the caller's uid: allow what already runs plus max_procs.
    if (!(flags & (SANDBOX_UID | SANDBOX_USERNS)))
        nproc.rlim_cur = nproc.rlim_max = p->user_procs + p->nproc.rlim_cur;
    // NPROC before setuid: the kernel checks the new uid's count against it
    // at setuid and again at execve.
    if (setrlimit(RLIMIT_NPROC, &nproc) != 0 || setrlimit(RLIMIT_CPU, &p->cpu) != 0 ||
        setrlimit(RLIMIT_FSIZE, &p->fsize) != 0 || setrlimit(RLIMIT_NOFILE, &p->nofile) != 0)
        child_fail(p, STEP_RLIMIT);
    // Raw system calls: glibc's wrappers would signal the caller's other
    // threads, which do not exist in this child, and wait for them forever.
    if (p->root && (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setgid, p->gid) != 0 ||
                    syscall(SYS_setuid, p->uid) != 0))
        child_fail(p, STEP_SETUID);
    if (p->root && (syscall(SYS_setuid, 0) == 0 || getuid() != p->uid)) {  // the drop must be irreversible
        errno = EPERM;
        child_fail(p, STEP_SETUID);
    }
    // After setuid, which clears the parent-death signal.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_fail(p, STEP_PRCTL);
    // Last: nothing between here and execve maps memory.
    if (setrlimit(RLIMIT_AS, &p->as) != 0) child_fail(p, STEP_RLIMIT);
    execve(p->python, p->argv, p->envp);
    child_fail(p, STEP_EXEC);
}

// Ends this process the way status st says the program ended.
static _Noreturn void exit_like(int st) {
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    int sig = WTERMSIG(st);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

static _Noreturn void child_main(const plan *p) {
    int keep[3] = {p->status_fd, p->out_fd, p->prog_fd};
    for (int i = 0; i < 3; i++)  // sort three
        for (int j = i + 1; j < 3; j++)
            if (keep[j] < keep[i]) {
                int t = keep[i];
                keep[i] = keep[j];
                keep[j] = t;
            }
    close_fds_except(keep, 3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (setsid() < 0) child_fail(p, STEP_SETSID);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != p->parent) _exit(127);
    int flags = p->root ? SANDBOX_UID : 0;
    if (!p->root && unshare(CLONE_NEWUSER) == 0) {
        if (write_text("/proc/self/setgroups", "deny") != 0 ||
            write_text("/proc/self/uid_map", p->uid_map) != 0 ||
            write_text("/proc/self/gid_map", p->gid_map) != 0)
            child_fail(p, STEP_USERNS);
        flags |= SANDBOX_USERNS;
    }
    // Each needs CAP_SYS_ADMIN here: root's, the new user namespace's, or
    // that of a root inside a container's namespace; else each fails alone.
    if (unshare(CLONE_NEWNET) == 0) flags |= SANDBOX_NET;
    if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) == 0) flags |= SANDBOX_IPC;
    if (unshare(CLONE_NEWNS) == 0) flags |= setup_mounts(p);
    if (unshare(CLONE_NEWPID) == 0) flags |= SANDBOX_PID;
    send_report(p->status_fd, REPORT_FLAGS, flags, 0);
    if (!(flags & SANDBOX_PID)) {
        send_report(p->status_fd, REPORT_TARGET, (int)getpid(), 0);
        exec_program(p, flags);
    }
    pid_t b = plain_fork();
    if (b < 0) child_fail(p, STEP_FORK);
    if (b == 0) {
        setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(127);
        exec_program(p, flags);
    }
    setpgid(b, b);  // on both sides, so the group exists before the caller hears of it
    send_report(p->status_fd, REPORT_TARGET, (int)b, 0);
    close(p->status_fd);
    close(p->out_fd);
    close(p->prog_fd);
    int st;
    while (waitpid(b, &st, 0) < 0)
        if (errno != EINTR) _exit(127);
    exit_like(st);
}

// ---- the caller's side ----

// 1 if this process's user namespace maps `uid` (a root inside a container
// may not be able to become it). Unreadable map: assume it does.
static int uid_mapped(unsigned uid) {
    FILE *f = fopen("/proc/self/uid_map", "re");
    if (!f) return 1;
    unsigned long inner, outer, count;
    int found = 0;
    while (fscanf(f, "%lu %lu %lu", &inner, &outer, &count) == 3)
        if (uid >= inner && uid - inner < count) found = 1;
    fclose(f);
    return found;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// Without a pid namespace the killed processes of the program's group are
// orphans that init reaps in its own time, and until it does they count
// against the uid's RLIMIT_NPROC (the next run's fork could fail). Waits up
// to 2 s until the group is empty, zombies included.
static void wait_group_gone(pid_t pgid) {
    for (int i = 0; i < 400 && kill(-pgid, 0) == 0; i++) sleep_ms(5);
}

// Processes (zombies included) whose real uid is `uid`, from /proc/*/status.
static rlim_t count_processes_of(uid_t uid) {
    DIR *d = opendir("/proc");
    if (!d) return 256;
    rlim_t n = 0;
    struct dirent *e;
    char path[288], text[2048];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t got = read(fd, text, sizeof text - 1);
        close(fd);
        if (got <= 0) continue;
        text[got] = '\0';
        char *u = strstr(text, "\nUid:");
        if (u && strtoul(u + 5, NULL, 10) == (unsigned long)uid) n++;
    }
    closedir(d);
    return n;
}

// Without a pid namespace, a process that left the program's group with
// setsid() survives the group kill. Running as the sandbox uid (one per job),
// kill(-1, SIGKILL) reaches every process of that uid and nothing else. It
// is repeated until /proc shows none left (zombies included, as above), for
// up to 2 s.
static void kill_uid(unsigned uid) {
    for (int i = 0; i < 400; i++) {
        pid_t k = plain_fork();
        if (k == 0) {
            if (syscall(SYS_setgid, uid) == 0 && syscall(SYS_setuid, uid) == 0 && getuid() == uid)
                kill(-1, SIGKILL);
            _exit(0);
        }
        if (k > 0)
            while (waitpid(k, NULL, 0) < 0 && errno == EINTR) {
            }
        if (count_processes_of(uid) == 0) break;
        sleep_ms(5);
    }
}

#define REMOVE_BATCH 64
#define REMOVE_DEPTH 512

// Removes directory `name` in parent_fd and everything under it, never
// following a symbolic link (the program may have planted some) and, when not
// root, restoring the permissions it may have taken away.
static int remove_tree_at(int parent_fd, const char *name, int depth) {
    if (depth > REMOVE_DEPTH)
        return mtp_errorf("sandbox directory nested deeper than %d levels", REMOVE_DEPTH);
    if (geteuid() != 0) fchmodat(parent_fd, name, 0700, 0);
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return mtp_errorf("cannot open '%s' to remove it: %s", name, strerror(errno));
    // Names are read in batches with the listing closed before descending,
    // so a deep tree holds one descriptor per level.
    char(*names)[256] = malloc(REMOVE_BATCH * sizeof *names);
    if (!names) {
        close(fd);
        return mtp_errorf("out of memory removing '%s'", name);
    }
    int rc = 0;
    for (;;) {
        int n = 0;
        int dup_fd = dup(fd);
        DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (!d) {
            if (dup_fd >= 0) close(dup_fd);
            rc = mtp_errorf("cannot list '%s': %s", name, strerror(errno));
            break;
        }
        rewinddir(d);
        struct dirent *e;
        while (n < REMOVE_BATCH && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(names[n++], 256, "%s", e->d_name);
        }
        closedir(d);
        if (n == 0) break;
        for (int i = 0; i < n && rc == 0; i++) {
            if (unlinkat(fd, names[i], 0) == 0 || errno == ENOENT) continue;
            if (errno == EISDIR || errno == EPERM)
                rc = remove_tree_at(fd, names[i], depth + 1);
            else
                rc = mtp_errorf("cannot remove '%s': %s", names[i], strerror(errno));
        }
        if (rc) break;
    }
    free(names);
    close(fd);
    if (rc == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = mtp_errorf("cannot remove directory '%s': %s", name, strerror(errno));
    return rc;
}

static int remove_dir(const char *dir) {
    if (remove_tree_at(AT_FDCWD, dir, 0) != 0)
        return mtp_error_context("cannot remove the sandbox directory %s", dir);
    return 0;
}

static int write_program(const char *path, const char *program, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return mtp_errorf("cannot create %s: %s", path, strerror(errno));
    int rc = write_all(fd, program, len);
    if (close(fd) != 0 || rc != 0) return mtp_errorf("cannot write %s: %s", path, strerror(errno));
    return 0;
}

// A close-on-exec descriptor numbered >= 3 (so the child's dup2 onto 0..2
// never clobbers it).
static int high_fd(int fd) {
    if (fd >= 3) return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return h;
}

static int make_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) != 0)
        return mtp_errorf("cannot make a pipe for the sandbox: %s", strerror(errno));
    fds[0] = high_fd(fds[0]);
    fds[1] = high_fd(fds[1]);
    return fds[0] < 0 || fds[1] < 0 ? mtp_errorf("cannot make a pipe for the sandbox: %s", strerror(errno))
                                    : 0;
}

// Whether config.done_marker occurs in the output read so far, dropped output
// included: in each read, and across reads in the previous read's last
// (marker length - 1) bytes joined to this one's first.
typedef struct {
    char tail[128];
    size_t tail_len;
} marker_scan;

static void scan_marker(sandbox_result *r, const char *marker, marker_scan *s, const char *buf, size_t n) {
    const size_t m = marker ? strlen(marker) : 0;
    if (!m || r->marker_seen) return;
    const size_t keep = m - 1, head = n < keep ? n : keep;
    char edge[2 * sizeof s->tail];  // tail + this read's first bytes
    memcpy(edge, s->tail, s->tail_len);
    memcpy(edge + s->tail_len, buf, head);
    const size_t edge_len = s->tail_len + head;
    r->marker_seen = memmem(edge, edge_len, marker, m) || memmem(buf, n, marker, m);
    // the new tail: the last `keep` bytes read
    if (n >= keep) {
        memcpy(s->tail, buf + n - keep, keep);
        s->tail_len = keep;
    } else {
        const size_t from = edge_len > keep ? edge_len - keep : 0;
        memcpy(s->tail, edge + from, edge_len - from);
        s->tail_len = edge_len - from;
    }
}

static void keep_output(sandbox_result *r, size_t cap, const char *buf, size_t n) {
    r->output_total += n;
    size_t room = cap - r->output_len;
    if (n > room) n = room;
    memcpy(r->output + r->output_len, buf, n);
    r->output_len += n;
    r->output[r->output_len] = '\0';
}

// A scrubbed environment: nothing of the caller's, a fixed hash seed so a
// program's set iteration order (and so its verdict) is reproducible, and
// proxies pointing nowhere for the case without a network namespace.
static const char *const fixed_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                        "LANG=C.UTF-8",
                                        "LC_ALL=C.UTF-8",
                                        "PYTHONDONTWRITEBYTECODE=1",
                                        "PYTHONHASHSEED=0",
                                        "PYTHONIOENCODING=utf-8",
                                        "PYTHONNOUSERSITE=1",
                                        "OMP_NUM_THREADS=1",
                                        "OPENBLAS_NUM_THREADS=1",
                                        "http_proxy=http://127.0.0.1:9",
                                        "https_proxy=http://127.0.0.1:9",
                                        "HTTP_PROXY=http://127.0.0.1:9",
                                        "HTTPS_PROXY=http://127.0.0.1:9",
                                        "all_proxy=http://127.0.0.1:9",
                                        "ALL_PROXY=http://127.0.0.1:9",
                                        NULL};

// Fills everything of the plan but its descriptors.
static void plan_init(plan *p, const sandbox_config *c, int root, const char *dir, const char *program_path) {
    memset(p, 0, sizeof *p);
    p->parent = getpid();
    p->root = root;
    p->uid = root ? c->uid : getuid();
    p->gid = root ? c->uid : getgid();
    p->dir = dir;
    p->program_path = program_path;
    p->python = c->python;
    snprintf(p->uid_map, sizeof p->uid_map, "%u %u 1\n", (unsigned)getuid(), (unsigned)getuid());
    snprintf(p->gid_map, sizeof p->gid_map, "%u %u 1\n", (unsigned)getgid(), (unsigned)getgid());
    snprintf(p->tmpfs_opts, sizeof p->tmpfs_opts, "size=%ldm,mode=0700,uid=%u,gid=%u", c->tmpfs_mb,
             (unsigned)p->uid, (unsigned)p->gid);
    rlim_t cpu = (rlim_t)ceil(c->timeout) + 1;
    p->cpu = (struct rlimit){cpu, cpu + 1};
    p->as = (struct rlimit){(rlim_t)c->memory_mb << 20, (rlim_t)c->memory_mb << 20};
    p->nproc = (struct rlimit){(rlim_t)c->max_procs, (rlim_t)c->max_procs};
    p->fsize = (struct rlimit){(rlim_t)c->file_mb << 20, (rlim_t)c->file_mb << 20};
    p->nofile = (struct rlimit){(rlim_t)c->max_files, (rlim_t)c->max_files};
    p->user_procs = root ? 0 : count_processes_of(getuid());
    p->argv[0] = (char *)c->python;
    p->argv[1] = "-B";
    p->argv[2] = "-s";
    p->argv[3] = "program.py";
    int ne = 0;
    for (int i = 0; fixed_env[i]; i++) p->envp[ne++] = (char *)fixed_env[i];
    snprintf(p->home, sizeof p->home, "HOME=%s", dir);
    snprintf(p->tmpdir, sizeof p->tmpdir, "TMPDIR=%s", dir);
    p->envp[ne++] = p->home;
    p->envp[ne++] = p->tmpdir;
}

// Collects the output of A (pid) until it has exited and the pipe is
// closed, killing process group `target` at the deadline (*killed = 1), and
// reaps A. Returns A's wait status.
static int supervise(pid_t pid, pid_t target, int out_fd, double deadline, const sandbox_config *c,
                     sandbox_result *r, int *killed) {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    double stop_reading = deadline;
    int out_open = 1, exited = 0, reaped = 0, st = 0;
    char buf[16384];
    marker_scan scan = {.tail_len = 0};
    while (out_open || !exited) {
        double now = mtp_now();
        if (!exited && !*killed && now >= deadline) {
            // The whole group; with a pid namespace the group leader is its
            // init, whose death takes every process in the namespace along.
            // (B is unreaped while A lives, so its group id is not reused.)
            kill(-target, SIGKILL);
            *killed = 1;
            stop_reading = now + 1.0;
        } else if (*killed && !exited && now >= stop_reading + 5.0) {
            kill(pid, SIGKILL);  // cannot happen: A exits once B is dead
        }
        if (exited && now >= stop_reading) break;  // a process that escaped the group holds the pipe
        double until = !exited && !*killed ? deadline : stop_reading + (exited ? 0 : 5.0);
        int ms = (int)ceil((until - now) * 1000);
        if (ms < 0) ms = 0;
        if (!exited && pidfd < 0 && ms > 10) ms = 10;
        struct pollfd fds[2];
        int nf = 0, out_i = -1;
        if (out_open) {
            out_i = nf;
            fds[nf++] = (struct pollfd){out_fd, POLLIN, 0};
        }
        if (!exited && pidfd >= 0) fds[nf++] = (struct pollfd){pidfd, POLLIN, 0};
        if (poll(fds, (nfds_t)nf, ms) < 0 && errno != EINTR) {
            kill(-target, SIGKILL);
            kill(pid, SIGKILL);
            *killed = 1;
            break;
        }
        if (out_i >= 0 && fds[out_i].revents) {
            ssize_t n = read(out_fd, buf, sizeof buf);
            if (n > 0) {
                keep_output(r, c->output_cap, buf, (size_t)n);
                scan_marker(r, c->done_marker, &scan, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR)
                out_open = 0;
        }
        if (!exited) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
                exited = 1;
                if (!(r->flags & SANDBOX_PID)) {
                    // No pid namespace: kill what the program left in its
                    // group (A is unreaped, so the group id is still
                    // reserved), then what escaped it, so that nothing holds
                    // the output pipe or counts against the next run's
                    // RLIMIT_NPROC. A writer still left is given 0.5 s.
                    kill(-target, SIGKILL);
                    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
                    }
                    reaped = 1;
                    if (r->flags & SANDBOX_UID)
                        kill_uid(c->uid);
                    else
                        wait_group_gone(target);
                    double soon = mtp_now() + 0.5;
                    if (soon < stop_reading) stop_reading = soon;
                }
            }
        }
    }
    if (pidfd >= 0) close(pidfd);
    while (!reaped && waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

int sandbox_run(const sandbox_config *c, const char *program, size_t len, sandbox_result *r) {
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    if (!c->python || c->python[0] != '/')
        return mtp_errorf("sandbox: the interpreter must be an absolute path, got '%s'",
                          c->python ? c->python : "(none)");
    if (!(c->timeout > 0) || c->memory_mb < 1 || c->file_mb < 0 || c->max_procs < 1 || c->max_files < 4)
        return mtp_errorf("sandbox: invalid limits");
    if (c->done_marker && (!c->done_marker[0] || strlen(c->done_marker) >= sizeof((marker_scan *)0)->tail))
        return mtp_errorf("sandbox: a done marker of 1..127 bytes");
    double t0 = mtp_now();
    // "root" here means: able to run the program as the sandbox uid.
    int root = geteuid() == 0 && uid_mapped(c->uid);
    const char *base = c->tmp_base ? c->tmp_base : getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    int w = snprintf(r->dir, sizeof r->dir, "%s/mtp-sandbox-XXXXXX", base);
    if (w < 0 || (size_t)w >= sizeof r->dir) return mtp_errorf("sandbox: TMPDIR '%s' is too long", base);
    if (!mkdtemp(r->dir)) {
        int e = errno;
        r->dir[0] = '\0';
        return mtp_errorf("cannot make a sandbox directory in %s: %s (set TMPDIR to a writable directory)",
                          base, strerror(e));
    }
    char program_path[320];
    snprintf(program_path, sizeof program_path, "%s/program.py", r->dir);
    int prog_fd = -1, sp[2] = {-1, -1}, op[2] = {-1, -1};
    if (write_program(program_path, program, len) != 0) goto fail;
    if (root && chown(r->dir, c->uid, c->uid) != 0) {
        mtp_errorf("cannot give %s to uid %u: %s", r->dir, c->uid, strerror(errno));
        goto fail;
    }
    if ((prog_fd = high_fd(open(program_path, O_RDONLY | O_CLOEXEC))) < 0) {
        mtp_errorf("cannot open %s: %s", program_path, strerror(errno));
        goto fail;
    }
    if (make_pipe(sp) != 0 || make_pipe(op) != 0) goto fail;
    if (!(r->output = malloc(c->output_cap + 1))) {
        mtp_errorf("out of memory for the sandbox output");
        goto fail;
    }
    r->output[0] = '\0';

    // Everything the children need, made before fork.
    plan p;
    plan_init(&p, c, root, r->dir, program_path);
    p.status_fd = sp[1];
    p.out_fd = op[1];
    p.prog_fd = prog_fd;

    pid_t pid = plain_fork();
    if (pid < 0) {
        mtp_errorf("sandbox: fork failed: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) child_main(&p);
    close(sp[1]);
    close(op[1]);
    close(prog_fd);
    sp[1] = op[1] = prog_fd = -1;

    // The setup report, until the pipe closes at exec (or the child's exit).
    pid_t target = 0;
    int fail_step = -1, fail_err = 0;
    report m;
    for (;;) {
        ssize_t n = read(sp[0], &m, sizeof m);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof m) break;  // EOF; reports are atomic pipe writes
        if (m.type == REPORT_FLAGS) r->flags = m.value;
        if (m.type == REPORT_TARGET) target = m.value;
        if (m.type == REPORT_FAIL) fail_step = m.value, fail_err = m.err;
    }
    close(sp[0]);
    sp[0] = -1;
    if (fail_step >= 0 || target <= 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (fail_step == STEP_EXEC)
            mtp_errorf("cannot run %s in the sandbox (as uid %u): %s", c->python, (unsigned)p.uid,
                       strerror(fail_err));
        else if (fail_step >= 0)
            mtp_errorf("sandbox setup failed at %s: %s", step_names[fail_step], strerror(fail_err));
        else
            mtp_errorf("sandbox: the child process ended before it started the program");
        goto fail;
    }
    r->pgid = target;

    int killed = 0, st = supervise(pid, target, op[0], t0 + c->timeout, c, r, &killed);
    close(op[0]);
    op[0] = -1;
    r->seconds = mtp_now() - t0;
    if (WIFEXITED(st)) r->exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) r->signal = WTERMSIG(st);
    if (killed || r->signal == SIGXCPU)
        r->outcome = SANDBOX_TIMEOUT;
    else
        r->outcome =
            r->exit_code == 0 && (!c->done_marker || r->marker_seen) ? SANDBOX_PASSED : SANDBOX_FAILED;
    if (remove_dir(r->dir) != 0) {
        sandbox_result_free(r);
        return -1;
    }
    return 0;

fail:
    if (prog_fd >= 0) close(prog_fd);
    for (int i = 0; i < 2; i++) {
        if (sp[i] >= 0) close(sp[i]);
        if (op[i] >= 0) close(op[i]);
    }
    free(r->output);
    r->output = NULL;
    if (r->dir[0]) {
        char saved[512];
        snprintf(saved, sizeof saved, "%s", mtp_last_error());
        remove_dir(r->dir);
        mtp_errorf("%s", saved);
    }
    return -1;
}

void sandbox_result_free(sandbox_result *r) {
    free(r->output);
    r->output = NULL;
    r->output_len = 0;
}
