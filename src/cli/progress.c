// progress.c: see progress.h.
#define _POSIX_C_SOURCE 200809L
#include "cli/progress.h"

#include <string.h>
#include <unistd.h>

#include "libmtp.h"

#define BAR_WIDTH 20

const char *progress_format(char *buf, size_t cap, double n, const char *unit) {
    int bytes = unit && !strcmp(unit, "B");
    const char *suffix = unit ? unit : "";
    static const char *const byte_units[] = {"B", "kB", "MB", "GB", "TB"};
    static const char *const count_units[] = {"", "k", "M", "G", "T"};
    int k = 0;
    while (n >= 1000 && k < 4) {
        n /= 1000;
        k++;
    }
    if (bytes)
        snprintf(buf, cap, k ? "%.1f %s" : "%.0f %s", n, byte_units[k]);
    else
        snprintf(buf, cap, k ? "%.1f%s%s%s" : "%.0f%s%s%s", n, count_units[k], *suffix ? " " : "", suffix);
    return buf;
}

static void format_duration(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 99 * 3600.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void draw(progress *p, double now, int final) {
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char done[32], total[32], rate_s[40], time_s[32];
    progress_format(done, sizeof done, (double)p->done, p->unit);
    progress_format(total, sizeof total, (double)p->total, p->unit);
    if (rate > 0 && rate < 1) {  // "0/s" says nothing: the time each one takes instead
        if (p->unit && *p->unit && strcmp(p->unit, "B") != 0)
            snprintf(rate_s, sizeof rate_s, "%.1f s per %s", 1 / rate, p->unit);
        else
            snprintf(rate_s, sizeof rate_s, "%.1f s each", 1 / rate);
    } else {
        progress_format(rate_s, sizeof rate_s - 2, rate, p->unit);
        strcat(rate_s, "/s");
    }
    if (final)
        format_duration(time_s, sizeof time_s, elapsed);
    else
        format_duration(time_s, sizeof time_s,
                        rate > 0 && p->total >= p->done ? (double)(p->total - p->done) / rate : -1);
    double frac = p->total ? (double)p->done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    if (p->tty) {
        char bar[BAR_WIDTH + 1];
        int fill = (int)(frac * BAR_WIDTH);
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        // \033[K clears what a longer previous line left behind.
        fprintf(p->out, "\r%s %5.1f%% [%s] %s / %s  %s  %s %s\033[K", p->label, 100 * frac, bar, done, total,
                rate_s, final ? "in" : "ETA", time_s);
        p->drawn = 1;
    } else {
        fprintf(p->out, "%s %5.1f%%  %s / %s  %s  %s %s\n", p->label, 100 * frac, done, total, rate_s,
                final ? "in" : "ETA", time_s);
    }
    fflush(p->out);
    p->last_draw = now;
}

void progress_start(progress *p, const char *label, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->out = stderr;
    p->tty = isatty(fileno(stderr));
    p->start = mtp_now();
    p->last_draw = -1e30;
    p->last_step = -1;
}

void progress_update(progress *p, uint64_t done) {
    p->done = done;
    double now = mtp_now();
    if (p->delay > 0 && !p->shown) {
        if (now - p->start < p->delay || (p->total && done >= p->total)) return;
        p->shown = 1;
    }
    if (p->tty) {
        if (now - p->last_draw >= 0.1) draw(p, now, 0);
        return;
    }
    // One plain line per 5% step reached (steps 0..19; 100% is progress_finish's).
    int step = p->total ? (int)(20.0 * (double)done / (double)p->total) : 0;
    if (step > 19) step = 19;
    if (step > p->last_step && step > 0) {
        p->last_step = step;
        draw(p, now, 0);
    }
}

void progress_finish(progress *p) {
    if (p->delay > 0 && !p->shown) return;
    draw(p, mtp_now(), 1);
    if (p->tty) fputc('\n', p->out);
    fflush(p->out);
}

void progress_report(void *user, uint64_t done, uint64_t total) {
    progress *p = user;
    p->total = total;
    if (total && done >= total) {
        p->done = done;
        progress_finish(p);
    } else {
        progress_update(p, done);
    }
}

progress_sink progress_bar(progress *p, const char *label, uint64_t total, const char *unit, double delay) {
    progress_start(p, label, total);
    p->unit = unit;
    p->delay = delay;
    return (progress_sink){progress_report, p};
}
