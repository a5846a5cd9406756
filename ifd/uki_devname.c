/* ukey ifd: DEVICENAME parsing (syntax in uki.h). */
#include "uki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct devname_option {
	const char *name;
	long min, max;
	void (*store)(uki_devname *d, long v);
} devname_option;

static void store_slots(uki_devname *d, long v) { d->slots = (unsigned)v; }
static void store_timeout(uki_devname *d, long v) { d->timeout_ms = (int)v; }
static void store_owner(uki_devname *d, long v) { d->owner = v; }

static const devname_option devname_options[] = {
	{ "slots", 1, UKI_MAX_SLOTS, store_slots },
	{ "timeout", 100, 600000, store_timeout },
	{ "owner", 0, 0x7fffffffL, store_owner },
};

static int parse_long(const char *s, size_t n, long *out)
{
	char tmp[16];
	char *end;

	if (n == 0 || n >= sizeof(tmp) || s[0] == '-' || s[0] == '+')
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtol(tmp, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

/* One "name=value" item of n bytes. */
static uki_status parse_option(const char *s, size_t n, uki_devname *d)
{
	const char *eq = memchr(s, '=', n);
	size_t i, name_len;
	long v;

	if (eq == NULL)
		return UKI_ERR_PARAM;
	name_len = (size_t)(eq - s);
	for (i = 0; i < sizeof(devname_options) / sizeof(devname_options[0]); i++) {
		const devname_option *o = &devname_options[i];
		if (strlen(o->name) != name_len || memcmp(o->name, s, name_len) != 0)
			continue;
		if (parse_long(eq + 1, n - name_len - 1, &v) != 0 || v < o->min || v > o->max)
			return UKI_ERR_PARAM;
		o->store(d, v);
		return UKI_OK;
	}
	return UKI_ERR_PARAM;
}

static uki_status parse_head(const char *s, size_t n, uki_devname *d)
{
	const char *colon = memchr(s, ':', n);
	size_t scheme_len, addr_len;

	if (colon == NULL)
		return UKI_ERR_PARAM;
	scheme_len = (size_t)(colon - s);
	addr_len = n - scheme_len - 1;
	if (scheme_len == 0 || scheme_len >= sizeof(d->scheme) || addr_len == 0 ||
	    addr_len >= sizeof(d->address))
		return UKI_ERR_PARAM;
	memcpy(d->scheme, s, scheme_len);
	d->scheme[scheme_len] = '\0';
	if (strspn(d->scheme, "abcdefghijklmnopqrstuvwxyz0123456789") != scheme_len)
		return UKI_ERR_PARAM;
	memcpy(d->address, colon + 1, addr_len);
	d->address[addr_len] = '\0';
	return UKI_OK;
}

/* pcscd's reader.conf lexer (configfile.l) takes unquoted values made of letters, digits
 * and \/-._@: only, so a DEVICENAME with ";slots=N" must be quoted there, and pcscd hands
 * it over with its quotes: strip one matching pair. */
static const char *unquote(const char *text, char *buf, size_t cap)
{
	size_t n = strlen(text);

	if (n < 2 || (text[0] != '"' && text[0] != '\'') || text[n - 1] != text[0] || n - 1 > cap)
		return text;
	memcpy(buf, text + 1, n - 2);
	buf[n - 2] = '\0';
	return buf;
}

uki_status uki_devname_parse(const char *quoted, uki_devname *out)
{
	uki_devname d = { .slots = 1, .timeout_ms = UKI_DEFAULT_TIMEOUT_MS, .owner = -1 };
	char buf[512];
	const char *text, *p, *semi;
	uki_status st = UKI_ERR_PARAM;

	if (quoted == NULL || out == NULL)
		goto out;
	text = unquote(quoted, buf, sizeof(buf));
	semi = strchr(text, ';');
	st = parse_head(text, semi != NULL ? (size_t)(semi - text) : strlen(text), &d);
	while (st == UKI_OK && semi != NULL) {
		p = semi + 1;
		semi = strchr(p, ';');
		st = parse_option(p, semi != NULL ? (size_t)(semi - p) : strlen(p), &d);
	}
	if (st == UKI_OK && strcmp(d.scheme, "unix") == 0 && d.address[0] != '/')
		st = UKI_ERR_PARAM;     /* a relative path would depend on pcscd's cwd */
	if (st == UKI_OK)
		*out = d;
out:
	return st;
}
