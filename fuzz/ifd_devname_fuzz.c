/* ifd_devname fuzz target: uki_devname_parse (ifd/uki_devname.c) on arbitrary strings, the
 * reader.conf DEVICENAME that pcscd hands the driver. The input becomes a NUL-terminated
 * copy (an embedded NUL simply ends the string early, as in C). Whatever the text, the
 * parser must return a status without reading past the string, and a success must give a
 * value inside the documented ranges (uki.h). The "tcp:" and "usb:" address checks run
 * inside uki_devname_parse; uki_devname_tcp is also fed the raw text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "uki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uki_devname *d)
{
	size_t scheme = strnlen(d->scheme, sizeof(d->scheme));
	size_t addr = strnlen(d->address, sizeof(d->address));

	if (scheme == 0 || scheme == sizeof(d->scheme) || addr == sizeof(d->address))
		abort();
	if (addr == 0 && strcmp(d->scheme, "usb") != 0)        /* "usb:" alone: any known key */
		abort();
	if (d->slots < 1 || d->slots > UKI_MAX_SLOTS)
		abort();
	if (d->timeout_ms < 100 || d->timeout_ms > 600000)
		abort();
	if (d->owner < -1)
		abort();
	if (strcmp(d->scheme, "unix") == 0 && d->address[0] != '/')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct sockaddr_storage ss;
	size_t ss_len = 0;
	uki_devname d;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&d, 0xA5, sizeof(d));
	if (uki_devname_parse(text, &d) == UKI_OK)
		check(&d);
	if (uki_devname_tcp(text, &ss, &ss_len) == UKI_OK && (ss_len == 0 || ss_len > sizeof(ss)))
		abort();
	uki_devname_parse(NULL, &d);
	uki_devname_parse(text, NULL);
	free(text);
	return 0;
}
