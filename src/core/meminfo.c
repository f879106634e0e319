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
        if (!strncmp(line, key, klen) && line[klen] == ':' && sscanf(line + klen + 1, "%llu", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t mtp_available_memory(void) { return meminfo_field("MemAvailable"); }

uint64_t mtp_total_memory(void) { return meminfo_field("MemTotal"); }
