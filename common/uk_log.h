/* ukey common: logging. Off unless UKEY_DEBUG is set (1 = errors/warnings, 2 = info,
 * 3 = debug) or uk_log_set_level() is called; goes to stderr, or to the callback
 * installed with uk_log_set_sink (the ifd handler routes to pcscd's log).
 * Never pass PINs, keys or the data of PIN and key-import APDUs: use uk_log_apdu(),
 * which redacts them. */
#ifndef UK_LOG_H
#define UK_LOG_H

#include <stddef.h>
#include <stdint.h>

enum { UK_LOG_ERROR = 1, UK_LOG_INFO = 2, UK_LOG_DEBUG = 3 };

typedef void (*uk_log_sink)(int level, const char *line);

void uk_log_set_level(int level);
void uk_log_set_sink(uk_log_sink sink);
int uk_log_enabled(int level);
void uk_log(int level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Log a command APDU header and length; the data is shown only for instructions
 * that carry no secret. */
void uk_log_apdu(int level, const char *component, const char *dir,
                 const uint8_t *apdu, size_t len);

#endif
