/* Monotonic milliseconds, for deadlines (never the wall clock: a clock step must not
 * stretch or cut a bounded wait). Header-only, usable by every part and by tests. */
#ifndef UK_TIME_H
#define UK_TIME_H

#include <time.h>

static inline long long uk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
