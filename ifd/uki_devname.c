/* ukey ifd: DEVICENAME parsing (syntax in uki.h; the usb form in uki_usb.h and
 * docs/ccid.md "DEVICENAME for USB keys"). */
#include "uki.h"
#include "uki_usb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
	if (scheme_len == 0 || scheme_len >= sizeof(d->scheme) || addr_len >= sizeof(d->address))
		return UKI_ERR_PARAM;
	/* "usb:" alone means any known key; every other scheme names an address */
	if (addr_len == 0 && (scheme_len != 3 || memcmp(s, "usb", 3) != 0))
		return UKI_ERR_PARAM;
	memcpy(d->scheme, s, scheme_len);
	d->scheme[scheme_len] = '\0';
	if (strspn(d->scheme, "abcdefghijklmnopqrstuvwxyz0123456789") != scheme_len)
		return UKI_ERR_PARAM;
	memcpy(d->address, colon + 1, addr_len);
	d->address[addr_len] = '\0';
	return UKI_OK;
}

/* tcp:HOST:PORT. TCP carries no peer credentials (SO_PEERCRED is AF_UNIX only), so the
 * driver listens on loopback only: HOST is an IPv4 address in 127.0.0.0/8, ::1 (bare or
 * as [::1]) or "localhost" (= 127.0.0.1, no resolver: vsmartcard's vicc connects over
 * IPv4). The last ':' separates the port, 1..65535. No DNS lookup ever happens here. */
uki_status uki_devname_tcp(const char *address, struct sockaddr_storage *ss, size_t *ss_len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(address, ':');
	char host[64];
	size_t n;
	long port;

	if (colon == NULL || parse_long(colon + 1, strlen(colon + 1), &port) != 0 ||
	    port < 1 || port > 65535)
		return UKI_ERR_PARAM;
	n = (size_t)(colon - address);
	if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
		address++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return UKI_ERR_PARAM;
	memcpy(host, address, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1 &&
	    (ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*ss_len = sizeof(*v4);
		return UKI_OK;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*ss_len = sizeof(*v6);
		return UKI_OK;
	}
	return UKI_ERR_PARAM;
}

/* owner= names a uid to let in, which TCP cannot check: refused with tcp. */
static uki_status check_tcp(const uki_devname *d)
{
	struct sockaddr_storage ss;
	size_t len;

	if (d->owner >= 0)
		return UKI_ERR_PARAM;
	return uki_devname_tcp(d->address, &ss, &len);
}

/* ---- usb:[VVVV/PPPP[:libudev:N:/dev/bus/usb/BBB/DDD]] (docs/ccid.md) ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly four hex digits (pcscd writes the IDs with "%04x"). */
static int parse_hex4(const char *s, uint16_t *out)
{
	unsigned v = 0;
	int i, h;

	for (i = 0; i < 4; i++) {
		h = hex_digit(s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = (uint16_t)v;
	return 0;
}

/* 1..3 decimal digits up to max, ending at s[n]; the end is returned in *end. */
static int parse_dec(const char *s, unsigned max, const char **end, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < 3 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (i == 0 || v > max)
		return -1;
	*end = s + i;
	*out = v;
	return 0;
}

/* ":libudev:N:/dev/bus/usb/BBB/DDD", what pcscd's hotplug_libudev.c passes for a device
 * it matched through the Info.plist bundle. Bus and address are 1..255 (USB 2.0 §9.4.6:
 * address 0 is the default address, never an enumerated device's). */
static int parse_libudev(const char *s, uki_usb_filter *f)
{
	static const char pre[] = ":libudev:", dir[] = ":/dev/bus/usb/";
	unsigned n, bus, addr;

	if (strncmp(s, pre, sizeof(pre) - 1) != 0)
		return -1;
	s += sizeof(pre) - 1;
	if (parse_dec(s, 255, &s, &n) != 0 || strncmp(s, dir, sizeof(dir) - 1) != 0)
		return -1;
	s += sizeof(dir) - 1;
	if (parse_dec(s, 255, &s, &bus) != 0 || *s != '/' ||
	    parse_dec(s + 1, 127, &s, &addr) != 0 || *s != '\0' || bus == 0 || addr == 0)
		return -1;
	f->exact = 1;
	f->iface = (uint8_t)n;
	f->bus = (uint8_t)bus;
	f->address = (uint8_t)addr;
	return 0;
}

uki_status uki_usb_filter_parse(const char *a, uki_usb_filter *out)
{
	uki_usb_filter f = { 0 };

	if (a == NULL || out == NULL)
		return UKI_ERR_PARAM;
	if (a[0] != '\0') {
		if (strlen(a) < 9 || parse_hex4(a, &f.vid) != 0 || a[4] != '/' ||
		    parse_hex4(a + 5, &f.pid) != 0)
			return UKI_ERR_PARAM;
		f.by_id = 1;
		if (a[9] != '\0' && parse_libudev(a + 9, &f) != 0)
			return UKI_ERR_PARAM;
	}
	*out = f;
	return UKI_OK;
}

/* The libudev form names one device: one key, so one slot. */
static uki_status check_usb(const uki_devname *d)
{
	uki_usb_filter f;
	uki_status st = uki_usb_filter_parse(d->address, &f);

	if (st == UKI_OK && f.exact && d->slots != 1)
		st = UKI_ERR_PARAM;
	return st;
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
	if (st == UKI_OK && strcmp(d.scheme, "usb") == 0)
		st = check_usb(&d);
	if (st == UKI_OK && strcmp(d.scheme, "tcp") == 0)
		st = check_tcp(&d);
	if (st == UKI_OK)
		*out = d;
out:
	return st;
}
