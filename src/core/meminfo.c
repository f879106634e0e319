// meminfo.c: reads /proc/meminfo (Linux); 0 elsewhere.
#include "core/meminfo.h"

#include <stdio.h>
#include <string.h>

static uint64_t meminfo_field(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t klen = strlen(key);
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':' && sscanf(line + klen + 1, "%llu", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t mtp_available_memory(void) {
    return meminfo_field("MemAvailable");
}

// The memory limit of this process's cgroup (v2, then v1), or 0 if none.
static uint64_t cgroup_limit(void) {
    const char *files[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) continue;
        unsigned long long v = 0;
        int ok = fscanf(f, "%llu", &v) == 1;  // "max" (no limit) does not parse
        fclose(f);
        if (ok && v > 0) return (uint64_t)v;
    }
    return 0;
}

uint64_t mtp_total_memory(void) {
    uint64_t total = meminfo_field("MemTotal"), limit = cgroup_limit();
    return limit && (limit < total || !total) ? limit : total;
}
