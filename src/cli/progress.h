// progress.h: a progress line on stderr for long CLI work.
//
// On a terminal it redraws one line in place (at most ~10 times a second):
//   prepare  42.0% [########............]  12.3 MB / 29.3 MB  8.1 MB/s  ETA 0:02
// When stderr is not a terminal (a log file, CI) it prints a plain line at
// most every 5%, so logs stay short.
#ifndef MTP_CLI_PROGRESS_H
#define MTP_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "core/progress.h"

typedef struct {
    const char *label;
    const char *unit;  // NULL: plain counts; "B": bytes (kB, MB, ...); else a suffix ("tok").
                       // Set it after progress_start.
    uint64_t total, done;
    double start, last_draw;
    int tty;
    int last_step;  // last 5% step printed (non-TTY)
    int drawn;      // something is on the current line (TTY)
    double delay;   // seconds before anything is shown: quick work prints no line (set after start)
    int shown;      // the delay passed before the work was done
    FILE *out;
} progress;

// Starts a bar for `total` units (0: unknown).
void progress_start(progress *p, const char *label, uint64_t total);
void progress_update(progress *p, uint64_t done);
// Draws the final state (with the elapsed time) and ends the line; with a
// delay, only if the bar was shown.
void progress_finish(progress *p);
// Starts bar p (see progress_start) that shows `unit` after `delay` seconds,
// and returns the sink that reports into it.
progress_sink progress_bar(progress *p, const char *label, uint64_t total, const char *unit, double delay);
// A core/progress.h callback over a bar (user = the progress): sets the total
// and updates; the work's last report finishes the bar.
void progress_report(void *user, uint64_t done, uint64_t total);

// Formats n into buf as "12.3 MB" (unit "B") or "1.2M tok" style; returns buf.
const char *progress_format(char *buf, size_t cap, double n, const char *unit);

#endif
