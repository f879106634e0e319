// meminfo.h: how much memory the machine can still give, so a run that
// cannot fit is refused with a clear message instead of being killed by the
// kernel half-way through its first step.
#ifndef MTP_CORE_MEMINFO_H
#define MTP_CORE_MEMINFO_H

#include <stdint.h>

// MemAvailable (what can be had now without swapping) and MemTotal (or the
// process's cgroup memory limit, if lower) in bytes; 0 if unknown.
uint64_t mtp_available_memory(void);
uint64_t mtp_total_memory(void);

#endif
