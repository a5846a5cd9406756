/* ukey conformance: harness (see conf.h). */
#include "conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_pcsc.h"
#include "uk_apdu.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukt_test_access.h"

/* Defaults of a fresh emulated key (DESIGN.md "Emulated key defaults"). */
static const char default_user_pin[] = "user1234";
static const char default_so_pin[] = "admin1234";

void conf_say(const conf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	printf("%s [%s]: ", c->name, c->pcsc ? "pcsc" : "in-process");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* The capturing transport: every command and response is appended to the capture. */
static int conf_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	conf_ctx *c = ctx;
	int r;

	if (c->pcsc)
		r = conf_pcsc_transmit(c->pc, cmd, n, resp, rlen);
	else
		r = ukt_card_transmit(c->card, cmd, n, resp, rlen);
	uk_buf_put(&c->cmds, cmd, n);
	if (r == 0)
		uk_buf_put(&c->resps, resp, *rlen);
	c->napdu++;
	return r;
}

void conf_host_init(conf_ctx *c, ukt_host *h)
{
	ukt_host_init(h, conf_xfer, c);
}

void conf_capture_reset(conf_ctx *c)
{
	uk_buf_reset(&c->cmds);
	uk_buf_reset(&c->resps);
	c->napdu = 0;
}

static int mem_has(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
	size_t i;

	if (n == 0 || hn < n)
		return 0;
	for (i = 0; i + n <= hn; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

int conf_capture_has(const conf_ctx *c, int resp, const uint8_t *needle, size_t n)
{
	const uk_buf *b = resp ? &c->resps : &c->cmds;

	return mem_has(b->data, b->len, needle, n);
}

int conf_capture_has_window(const conf_ctx *c, const uint8_t *needle, size_t n, size_t w)
{
	size_t i;

	for (i = 0; i + w <= n; i++)
		if (conf_capture_has(c, 0, needle + i, w) || conf_capture_has(c, 1, needle + i, w))
			return 1;
	return 0;
}

static void set_pin(uint8_t *dst, size_t *len, const char *src)
{
	size_t n = strlen(src);

	UK_CHECK(n > 0 && n <= CONF_PIN_MAX);
	memcpy(dst, src, n);
	*len = n;
}

static char *make_tmpdir(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512];

	snprintf(path, sizeof(path), "%s/ukey-conf-XXXXXX", base);
	UK_CHECK(mkdtemp(path) != NULL);
	return strdup(path);
}

static int open_in_process(conf_ctx *c, const ukt_provision *prov)
{
	c->dir = make_tmpdir();
	c->card = ukt_card_open(c->dir, prov);
	UK_CHECK(c->card != NULL);
	set_pin(c->user_pin, &c->user_pin_len, default_user_pin);
	set_pin(c->so_pin, &c->so_pin_len, default_so_pin);
	if (prov != NULL && prov->user_pin != NULL) {
		UK_CHECK(prov->user_pin_len <= CONF_PIN_MAX);
		memcpy(c->user_pin, prov->user_pin, prov->user_pin_len);
		c->user_pin_len = prov->user_pin_len;
	}
	return 0;
}

static int open_pcsc(conf_ctx *c)
{
	const char *user = getenv("UKEY_USER_PIN"), *so = getenv("UKEY_SO_PIN");

	if (getenv("PCSCLITE_CSOCK_NAME") == NULL) {
		printf("%s: PCSCLITE_CSOCK_NAME unset: run under `ukey-sandbox -- %s --pcsc`\n",
		       c->name, c->name);
		return UK_TEST_SKIP;
	}
	c->pc = conf_pcsc_open();
	UK_CHECK(c->pc != NULL);
	set_pin(c->user_pin, &c->user_pin_len, user ? user : default_user_pin);
	set_pin(c->so_pin, &c->so_pin_len, so ? so : default_so_pin);
	return 0;
}

int conf_open(conf_ctx *c, const char *name, int argc, char **argv, const ukt_provision *prov)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->name = name;
	uk_buf_init(&c->cmds, 0, 1);
	uk_buf_init(&c->resps, 0, 1);
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--pcsc") != 0)) {
		fprintf(stderr, "usage: %s [--pcsc]\n", name);
		exit(2);
	}
	c->pcsc = argc == 2;
	r = c->pcsc ? open_pcsc(c) : open_in_process(c, prov);
	if (r != 0)
		return r;
	ukt_host_init(&c->h, conf_xfer, c);
	conf_say(c, "card open%s", c->pcsc ? " (first PC/SC reader with a card)" : "");
	return 0;
}

void conf_close(conf_ctx *c)
{
	char cmd[1024];

	if (c->card != NULL)
		ukt_card_close(c->card);
	if (c->pc != NULL)
		conf_pcsc_close(c->pc);
	if (c->dir != NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", c->dir);
		free(c->dir);
	}
	uk_buf_free(&c->cmds);
	uk_buf_free(&c->resps);
	uk_wipe(c->user_pin, sizeof(c->user_pin));
	uk_wipe(c->so_pin, sizeof(c->so_pin));
	uk_wipe(&c->h, sizeof(c->h));
}

void conf_reset(conf_ctx *c, int reload)
{
	if (c->pcsc) {
		UK_CHECK(conf_pcsc_reset(c->pc) == 0);
		return;
	}
	if (reload) {
		ukt_card_close(c->card);
		c->card = ukt_card_open(c->dir, NULL);
		UK_CHECK(c->card != NULL);
		return;
	}
	UK_CHECK_EQ(ukt_card_power(c->card, UKT_POWER_RESET), 0);
}

void conf_start(conf_ctx *c, int login)
{
	UK_CHECK_EQ(ukt_host_select(&c->h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&c->h), 0x9000);
	if (login)
		UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, c->user_pin, c->user_pin_len), 0x9000);
}

uint16_t conf_get_data(conf_ctx *c, uint8_t p2, uk_buf *out)
{
	long le = p2 == 0x02 ? (long)UK_APDU_MAX_NE : 256;
	uint16_t sw = ukt_host_plain(&c->h, 0x00, 0xCA, 0x01, p2, NULL, 0, le);

	if ((sw & 0xFF00) == 0x6C00)    /* ISO 7816-4 §5.6: wrong Le, xx = exact length */
		sw = ukt_host_plain(&c->h, 0x00, 0xCA, 0x01, p2, NULL, 0,
		                    (sw & 0xFF) ? (long)(sw & 0xFF) : 256);
	uk_buf_reset(out);
	uk_buf_put(out, c->h.resp, c->h.rlen);
	return sw;
}

void conf_get_all(conf_ctx *c, uk_buf *out)
{
	uk_buf one;
	uint8_t p2;

	uk_buf_init(&one, 0, 0);
	uk_buf_reset(out);
	for (p2 = 0; p2 <= 2; p2++) {
		UK_CHECK_EQ(conf_get_data(c, p2, &one), 0x9000);
		uk_buf_put_u8(out, p2);
		uk_buf_put_u32(out, (uint32_t)one.len);
		uk_buf_put(out, one.data, one.len);
	}
	UK_CHECK(!out->failed);
	uk_buf_free(&one);
}

void conf_pin_status_get(conf_ctx *c, uint8_t which, conf_pin_status *st)
{
	uk_buf b;
	uk_tlv t;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x01, &b), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(b.data, b.len, which, &t), 1);
	UK_CHECK_EQ(t.len, 3);
	st->left = t.value[0];
	st->max = t.value[1];
	st->flags = t.value[2];
	uk_buf_free(&b);
}

/* ---- the state file (token/ukt_state.c format), read to know what must never leak ---- */

const char *conf_state_dir(const conf_ctx *c)
{
	static char path[1024];
	const char *st = getenv("UKEY_STATE"), *sb = getenv("UKEY_SANDBOX_DIR");

	if (!c->pcsc)
		return c->dir;
	/* ukey-emu keeps key i in STATE/key-<i>/ (token/ukey_emu.c); the first card is key 0 */
	if (st != NULL)
		snprintf(path, sizeof(path), "%s/key-0", st);
	else if (sb != NULL)
		snprintf(path, sizeof(path), "%s/state/key-0", sb);
	else
		return NULL;
	return access(path, R_OK) == 0 ? path : NULL;
}

int conf_state_read(const conf_ctx *c, uk_buf *out)
{
	const char *dir = conf_state_dir(c);
	char path[1100];
	uint8_t chunk[4096];
	size_t n;
	FILE *f;

	uk_buf_reset(out);
	if (dir == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		uk_buf_put(out, chunk, n);
	fclose(f);
	uk_wipe(chunk, sizeof(chunk));
	return out->failed ? -1 : 0;
}

/* The state file seals private keys under a token key wrapped by the PINs (format 3,
 * token/ukt_keystore.c): the scalar is unsealed with the user PIN by the test-only accessor
 * of the token's test library, which never touches the card's try counter. */
int conf_state_private(const conf_ctx *c, const uint8_t pub[65], uint8_t d[32])
{
	const char *dir = conf_state_dir(c);

	if (dir == NULL)
		return -1;
	return ukt_test_private_scalar(dir, c->user_pin, c->user_pin_len, pub, d);
}

/* ---- key pairs ---- */

uint8_t conf_create_container(conf_ctx *c, const char *name)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_create_container(&c->h, name), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(c->h.resp, c->h.rlen, 0x80, &t), 1);
	UK_CHECK_EQ(t.len, 1);
	return t.value[0];
}

/* The response is exactly one 7F49 template holding exactly one 86 object of 65 bytes. */
static void check_pub_template(const uint8_t *p, size_t n, uint8_t pub[65])
{
	const uint8_t *q = p, *end = p + n;
	uk_tlv t, pt;

	UK_CHECK_EQ(uk_tlv_next(&q, end, &t), 1);
	UK_CHECK_EQ(t.tag, 0x7F49);
	UK_CHECK(q == end);
	q = t.value;
	UK_CHECK_EQ(uk_tlv_next(&q, t.value + t.len, &pt), 1);
	UK_CHECK_EQ(pt.tag, 0x86);
	UK_CHECK_EQ(pt.len, 65);
	UK_CHECK(q == t.value + t.len);
	memcpy(pub, pt.value, 65);
}

void conf_generate(conf_ctx *c, uint8_t kr, uint8_t pub[65])
{
	static const uint8_t payload[3] = { 0x80, 0x01, 0x01 };     /* algorithm 01: SM2 */

	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x00, 0x46, 0x80, kr, payload, sizeof(payload), 0,
	                             256), 0x9000);
	check_pub_template(c->h.resp, c->h.rlen, pub);
}

uint16_t conf_read_public(conf_ctx *c, uint8_t kr, uint8_t pub[65])
{
	uint16_t sw = ukt_host_plain(&c->h, 0x00, 0x46, 0x81, kr, NULL, 0, 256);

	if (sw == 0x9000)
		check_pub_template(c->h.resp, c->h.rlen, pub);
	return sw;
}

/* GET DATA 02 lists A0 { 80 index, 81 name, A4 sign pair, A5 encryption pair }, a pair being
 * { 80 01 alg, 7F49 { 86 point } } (docs/apdu.md). */
static int listed_container(const uk_buf *b, uint8_t idx, uk_tlv *out)
{
	const uint8_t *p = b->data, *end = b->data + b->len;
	uk_tlv t, i;
	int r;

	while ((r = uk_tlv_next(&p, end, &t)) == 1) {
		UK_CHECK_EQ(t.tag, 0xA0);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &i), 1);
		if (i.len == 1 && i.value[0] == idx) {
			*out = t;
			return 1;
		}
	}
	UK_CHECK_EQ(r, 0);
	return 0;
}

int conf_listed_pair(conf_ctx *c, uint8_t idx, int usage, uint8_t *alg, uint8_t pub[65])
{
	uk_buf b;
	uk_tlv cont, pair, t, pt;
	int r;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x02, &b), 0x9000);
	UK_CHECK_EQ(listed_container(&b, idx, &cont), 1);
	r = uk_tlv_find(cont.value, cont.len, usage ? 0xA5 : 0xA4, &pair);
	UK_CHECK(r >= 0);
	if (r == 1) {
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x80, &t), 1);
		UK_CHECK_EQ(t.len, 1);
		*alg = t.value[0];
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x7F49, &t), 1);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &pt), 1);
		UK_CHECK_EQ(pt.len, 65);
		memcpy(pub, pt.value, 65);
	}
	uk_buf_free(&b);
	return r;
}
