// test_progress.c: the CLI's progress line (src/cli/progress.c, compiled into
// this test: the CLI's objects are not in libmtp.a): the rate, the ETA and the
// final line, for fast work and for work slower than one unit a second (it
// printed "0/s" and said nothing of the speed).
// first: it sets the feature macros before any system header
#include "../src/cli/progress.c"
// (the rest after it)
#include <stdio.h>
#include <string.h>

#include "check.h"

// The plain (not a terminal) line of a bar begun `elapsed` seconds ago at
// `done` of `total`, into line.
static void line_at(char *line, size_t cap, const char *unit, uint64_t done, uint64_t total, double elapsed,
                    int final) {
    progress p;
    progress_start(&p, "work", total);
    p.unit = unit;
    p.tty = 0;
    p.out = tmpfile();
    p.done = done;
    p.start = mtp_now() - elapsed;
    draw(&p, mtp_now(), final);
    rewind(p.out);
    if (!fgets(line, (int)cap, p.out)) line[0] = '\0';
    fclose(p.out);
}

int main(void) {
    char line[256];
    line_at(line, sizeof line, NULL, 2, 8, 60.0, 0);  // 30 s each, 6 left: 3 minutes
    CHECK(strstr(line, "30.0 s each") && strstr(line, "ETA 3:00") && !strstr(line, "0/s"), "slow counts: %s",
          line);
    line_at(line, sizeof line, "tok", 1, 4, 4.0, 0);
    CHECK(strstr(line, "4.0 s per tok") && strstr(line, "ETA 0:12"), "slow tokens: %s", line);
    line_at(line, sizeof line, "B", 1000, 10000, 2000.0, 0);  // 0.5 B/s: seconds per byte mean little
    CHECK(strstr(line, "2.0 s each") && strstr(line, "1.0 kB / 10.0 kB"), "slow bytes: %s", line);
    line_at(line, sizeof line, "B", 50000000, 100000000, 2.0, 0);
    CHECK(strstr(line, "25.0 MB/s") && strstr(line, "ETA 0:02"), "fast bytes: %s", line);
    line_at(line, sizeof line, NULL, 300, 1000, 10.0, 0);
    CHECK(strstr(line, " 30/s") && strstr(line, "30.0%"), "fast counts: %s", line);
    line_at(line, sizeof line, NULL, 8, 8, 80.0, 1);
    CHECK(strstr(line, "100.0%") && strstr(line, "in 1:20") && strstr(line, "10.0 s each"), "final: %s",
          line);
    line_at(line, sizeof line, NULL, 0, 8, 5.0, 0);  // nothing done yet: no rate, no ETA
    CHECK(strstr(line, " 0/s") && strstr(line, "ETA --:--"), "nothing done: %s", line);
    return test_finish("progress");
}
