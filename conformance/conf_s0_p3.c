/* SPEC S0-P3: the PIN is stored securely in the device and can never be exported. No
 * instruction returns PIN material: a session runs every instruction of the profile that
 * answers data (SELECT, GET DATA 00-03, GENERAL AUTHENTICATE, VERIFY right and wrong, CHANGE
 * REFERENCE DATA, RESET RETRY COUNTER, CREATE CONTAINER, GENERATE, read public key, PSO
 * sign and decipher, GET CHALLENGE, CREATE FILE, UPDATE/READ BINARY, GET RESPONSE paging)
 * with every PIN the card has had (factory user and SO PIN, changed, SO-set), and then
 * every captured response and every file of the key's state directory is searched for:
 * each PIN's bytes, any 6-byte window of them, their hex spelling, and their unsalted
 * SHA-256 and SM3 (a stored PIN hash is PIN material too). Through PC/SC the state
 * directory is the sandbox's (UKEY_SANDBOX_DIR); without it only the responses are
 * searched, and the test says so. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "conf.h"
#include "conf_ops.h"
#include "uk_apdu.h"

#define NPINS 5

typedef struct pin {
	const uint8_t *p;
	size_t n;
} pin;

static const uint8_t user2[] = "holder2024", user3[] = "unlock2024", so2[] = "officer2024";

static void exercise(conf_ctx *c)
{
	static const uint8_t wrong[] = "wrong12345";
	uint8_t pub[65], enc[65], e[32], ct[200], buf[600];
	size_t n;
	uk_buf b;

	uk_buf_init(&b, 0, 0);
	conf_start(c, 1);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, wrong, sizeof(wrong) - 1), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, c->user_pin, c->user_pin_len), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x82, c->so_pin, c->so_pin_len), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00200081"), 0x63CA);
	conf_create_container(c, "s0-p3");
	conf_generate(c, 0x00, pub);
	conf_generate(c, 0x01, enc);
	UK_CHECK_EQ(conf_read_public(c, 0x00, pub), 0x9000);
	conf_sm2_e(pub, "m", 1, e);
	UK_CHECK_EQ(ukt_host_sign(&c->h, 0x00, e, NULL), 0x9000);
	n = conf_sm2_encrypt_raw(enc, (const uint8_t *)"p3", 2, ct);
	UK_CHECK_EQ(conf_decipher(c, 0x01, 0x11, ct, n), 0x9000);
	UK_CHECK_EQ(conf_challenge(c, buf, 256), 0x9000);
	UK_CHECK_EQ(conf_file_create(c, 0xD001, sizeof(buf), "p3"), 0x9000);
	memset(buf, 0x5A, sizeof(buf));
	UK_CHECK_EQ(conf_file_update(c, 0, buf, sizeof(buf)), 0x9000);
	UK_CHECK_EQ(conf_file_read(c, 0, UK_APDU_MAX_NE), 0x9000);
	UK_CHECK_EQ(c->h.rlen, sizeof(buf));
	/* a short-Le read of more than 256 bytes: 61xx, then GET RESPONSE */
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00B00000") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00C0000000"), 0x6158);  /* 600 = 256 + 256 + 88 */
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00C0000058"), 0x9000);
	UK_CHECK_EQ(conf_change_pin(c, 0x81, c->user_pin, c->user_pin_len, user2,
	                            sizeof(user2) - 1), 0x9000);
	UK_CHECK_EQ(conf_change_pin(c, 0x82, c->so_pin, c->so_pin_len, so2, sizeof(so2) - 1),
	            0x9000);
	UK_CHECK_EQ(conf_reset_retry(c, NULL, user3, sizeof(user3) - 1), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, user3, sizeof(user3) - 1), 0x9000);
	conf_get_all(c, &b);
	UK_CHECK_EQ(conf_get_data(c, 0x03, &b), 0x9000);
	uk_buf_free(&b);
	conf_say(c, "%u APDUs: every data-answering instruction, with 5 different PINs", c->napdu);
}

static int find_exact(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
	size_t j;

	for (j = 0; j + n <= hn; j++)
		if (memcmp(hay + j, needle, n) == 0)
			return 1;
	return 0;
}

/* The forms of a PIN searched for: its bytes (find: whole, or windows), and exactly its
 * hex spelling, SHA-256 and SM3. */
static int has_pin_form(const uint8_t *hay, size_t hn, const pin *p,
                        int (*find)(const uint8_t *, size_t, const uint8_t *, size_t))
{
	uint8_t md[EVP_MAX_MD_SIZE];
	char hex[2 * CONF_PIN_MAX + 1];
	unsigned mdlen, i;

	if (find(hay, hn, p->p, p->n))
		return 1;
	for (i = 0; i < p->n; i++)
		snprintf(hex + 2 * i, 3, "%02x", p->p[i]);
	if (find_exact(hay, hn, (const uint8_t *)hex, 2 * p->n))
		return 1;
	UK_CHECK_EQ(EVP_Digest(p->p, p->n, md, &mdlen, EVP_sha256(), NULL), 1);
	if (find_exact(hay, hn, md, mdlen))
		return 1;
	UK_CHECK_EQ(EVP_Digest(p->p, p->n, md, &mdlen, EVP_sm3(), NULL), 1);
	return find_exact(hay, hn, md, mdlen);
}

/* needle or any 6-byte window of it */
static int find_window(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
	size_t i, j, w = n < 6 ? n : 6;

	for (i = 0; i + w <= n; i++)
		for (j = 0; j + w <= hn; j++)
			if (memcmp(hay + j, needle + i, w) == 0)
				return 1;
	return 0;
}

static size_t search_dir(const char *dir, const pin *pins)
{
	char path[1400];
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t files = 0, i;
	uk_buf b;

	UK_CHECK(d != NULL);
	uk_buf_init(&b, 0, 0);
	while ((de = readdir(d)) != NULL) {
		uint8_t chunk[4096];
		size_t n;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		UK_CHECK(f != NULL);
		uk_buf_reset(&b);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			uk_buf_put(&b, chunk, n);
		fclose(f);
		for (i = 0; i < NPINS; i++)
			UK_CHECK(!has_pin_form(b.data, b.len, &pins[i], find_window));
		files++;
	}
	closedir(d);
	uk_buf_free(&b);
	return files;
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-P3_pin_not_exported";
	static conf_ctx c;
	pin pins[NPINS];
	const char *dir;
	size_t i;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	pins[0] = (pin){ c.user_pin, c.user_pin_len };
	pins[1] = (pin){ c.so_pin, c.so_pin_len };
	pins[2] = (pin){ user2, sizeof(user2) - 1 };
	pins[3] = (pin){ user3, sizeof(user3) - 1 };
	pins[4] = (pin){ so2, sizeof(so2) - 1 };
	conf_capture_reset(&c);
	exercise(&c);
	for (i = 0; i < NPINS; i++)
		UK_CHECK(!has_pin_form(c.resps.data, c.resps.len, &pins[i], find_window));
	/* the search can fail: the PIN is found where it is (the commands of a plain query
	 * carry none, so search a buffer that holds it) */
	UK_CHECK(has_pin_form(pins[2].p, pins[2].n, &pins[2], find_window));
	conf_say(&c, "%zu response bytes: no PIN, no 6-byte window of one, no hex, SHA-256 or "
	         "SM3 of one", c.resps.len);
	dir = conf_state_dir(&c);
	if (dir == NULL) {
		conf_say(&c, "state directory not reachable here: responses only");
	} else {
		conf_reset(&c, 1);      /* in-process: everything written and reloaded */
		conf_say(&c, "state directory: %zu files, none holds any form of the 5 PINs",
		         search_dir(dir, pins));
	}
	conf_close(&c);
	return uk_test_done(name);
}
