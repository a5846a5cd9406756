#include "uk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int log_level = -1;
static uk_log_sink log_sink;

void uk_log_set_level(int level)
{
	log_level = level;
}

void uk_log_set_sink(uk_log_sink sink)
{
	log_sink = sink;
}

int uk_log_enabled(int level)
{
	if (log_level < 0) {
		const char *e = getenv("UKEY_DEBUG");
		log_level = e != NULL ? atoi(e) : 0;
	}
	return level <= log_level;
}

void uk_log(int level, const char *component, const char *fmt, ...)
{
	char line[512];
	int n;
	va_list ap;

	if (!uk_log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "ukey %s: ", component);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (log_sink != NULL)
		log_sink(level, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* Instructions whose data is shown: everything else (VERIFY, CHANGE REFERENCE DATA,
 * RESET RETRY COUNTER, key import, secured commands) is logged by header only. */
static int apdu_data_is_public(const uint8_t *apdu)
{
	if (apdu[0] & 0x04)     /* secure messaging */
		return 0;
	switch (apdu[1]) {
	case 0xA4:              /* SELECT */
	case 0xCA:              /* GET DATA */
	case 0xB0:              /* READ BINARY */
	case 0xC0:              /* GET RESPONSE */
		return 1;
	default:
		return 0;
	}
}

void uk_log_apdu(int level, const char *component, const char *dir,
                 const uint8_t *apdu, size_t len)
{
	char hex[2 * 64 + 1];
	size_t i, n;

	if (!uk_log_enabled(level) || apdu == NULL)
		return;
	if (len < 4 || !apdu_data_is_public(apdu)) {
		uk_log(level, component, "%s %zu bytes%s%02X %02X %02X %02X", dir, len,
		       len >= 4 ? ": " : "", len >= 4 ? apdu[0] : 0, len >= 4 ? apdu[1] : 0,
		       len >= 4 ? apdu[2] : 0, len >= 4 ? apdu[3] : 0);
		return;
	}
	n = len < 64 ? len : 64;
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02X", apdu[i]);
	uk_log(level, component, "%s %zu bytes: %s%s", dir, len, hex, len > n ? "..." : "");
}
