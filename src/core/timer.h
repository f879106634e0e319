// timer.h: monotonic wall-clock time in seconds.
#ifndef MTP_CORE_TIMER_H
#define MTP_CORE_TIMER_H

double mtp_now(void);

#endif
