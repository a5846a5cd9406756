/* ukey token: persistence of the card state (docs/apdu.md "Persistence").
 *
 * One file, DIR/state:
 *   magic "UKEYSTAT" (8) || version (2, BE) || 00 00 || content length (4, BE) || content
 *   || SHA-256 of everything before it (32)
 * The content is a BER-TLV sequence (tags below). Version 3: no PIN and no private key in
 * clear; each PIN record holds the token key sealed under the PIN, each key pair its
 * private encoding sealed under the token key (ukt_keystore.c), of variable length, with
 * a public encoding of variable length (ukt_alg.c: SM2, P-256, RSA-2048). Older files are
 * refused with a message (1: clear private scalars; 2: SM2-only fixed-size key records);
 * nothing was deployed with them. A new state is written to DIR/state.tmp,
 * fsync'ed, renamed over DIR/state, and DIR is fsync'ed, so a crash leaves either the old or
 * the new state; a file that fails its checks is refused, never replaced by defaults. */
#include "ukt_internal.h"
#include "ukt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

#define STATE_MAGIC "UKEYSTAT"
#define STATE_VERSION 3
#define STATE_VERSION_CLEAR_KEYS 1     /* refused */
#define STATE_VERSION_SM2_ONLY 2       /* refused */
#define STATE_HDR_LEN 16
#define STATE_MAX (1u << 20)

/* Content tags (private to this file format). */
enum {
	T_SERIAL = 0xC0, T_LABEL = 0xC1, T_ZONE = 0xC2, T_PIN_USER = 0xC3, T_PIN_SO = 0xC4,
	T_SWEEP = 0xC5,        /* present: files predate the application (REINITIALISE) */
	T_CONTAINER = 0xE0,
	/* inside a container */
	T_C_INDEX = 0x80, T_C_NAME = 0x81, T_C_PAIR0 = 0xA0, T_C_PAIR1 = 0xA1,
	/* inside a pair */
	T_K_ALG = 0x80, T_K_SEALED = 0x82, T_K_FLAGS = 0x83, T_K_PUB = 0x86, /* v1: 81 clear */
};

#define PIN_REC_LEN (3 + 4 + UKT_SALT_LEN + UKT_WRAPPED_TK_LEN)

void ukt_state_wipe(ukt_state *st)
{
	uk_wipe(st, sizeof(*st));
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned len = 0;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

/* ---- encoding ---- */

static void put_pin(uk_buf *b, unsigned tag, const ukt_pin *pin)
{
	uint8_t rec[PIN_REC_LEN];

	rec[0] = pin->tries;
	rec[1] = pin->max;
	rec[2] = pin->flags;
	uk_set_u32(rec + 3, pin->iter);
	memcpy(rec + 7, pin->salt, UKT_SALT_LEN);
	memcpy(rec + 7 + UKT_SALT_LEN, pin->wrapped_tk, UKT_WRAPPED_TK_LEN);
	uk_tlv_put(b, tag, rec, sizeof(rec));
	uk_wipe(rec, sizeof(rec));
}

static void put_pair(uk_buf *b, unsigned tag, const ukt_keypair *k)
{
	uk_buf in;

	if (!k->present)
		return;
	uk_buf_init(&in, 0, 1);
	uk_tlv_put(&in, T_K_ALG, &k->alg, 1);
	uk_tlv_put(&in, T_K_SEALED, k->wrapped, k->wrapped_len);
	uk_tlv_put(&in, T_K_PUB, k->pub, k->pub_len);
	if (k->always_auth)
		uk_tlv_put(&in, T_K_FLAGS, &k->always_auth, 1);
	if (in.failed)
		b->failed = 1;
	else
		uk_tlv_put(b, tag, in.data, in.len);
	uk_buf_free(&in);
}

static void put_container(uk_buf *b, uint8_t idx, const ukt_container *c)
{
	uk_buf in;

	uk_buf_init(&in, 0, 1);
	uk_tlv_put(&in, T_C_INDEX, &idx, 1);
	uk_tlv_put(&in, T_C_NAME, c->name, c->name_len);
	put_pair(&in, T_C_PAIR0, &c->pair[0]);
	put_pair(&in, T_C_PAIR1, &c->pair[1]);
	if (in.failed)
		b->failed = 1;
	else
		uk_tlv_put(b, T_CONTAINER, in.data, in.len);
	uk_buf_free(&in);
}

/* Serialise st into the complete file image. b must be a secret buffer (private keys). */
static int state_encode(const ukt_state *st, uk_buf *b)
{
	uint8_t *hdr, digest[32];
	size_t start;
	uint8_t i;

	hdr = uk_buf_extend(b, STATE_HDR_LEN);
	if (hdr == NULL)
		return -1;
	memcpy(hdr, STATE_MAGIC, 8);
	uk_set_u16(hdr + 8, STATE_VERSION);
	uk_set_u16(hdr + 10, 0);
	start = b->len;
	uk_tlv_put(b, T_SERIAL, st->serial, UKT_SERIAL_LEN);
	uk_tlv_put(b, T_LABEL, st->label, st->label_len);
	uk_tlv_put(b, T_ZONE, &st->zone, 1);
	put_pin(b, T_PIN_USER, &st->pin[UKT_PIN_USER]);
	put_pin(b, T_PIN_SO, &st->pin[UKT_PIN_SO]);
	for (i = 0; i < UKT_MAX_CONTAINERS; i++)
		if (st->cont[i].present)
			put_container(b, i, &st->cont[i]);
	if (st->sweep_files)
		uk_tlv_put(b, T_SWEEP, &st->sweep_files, 1);
	if (b->failed)
		return -1;
	uk_set_u32(b->data + 12, (uint32_t)(b->len - start));
	if (sha256(b->data, b->len, digest) != 0)
		return -1;
	return uk_buf_put(b, digest, sizeof(digest));
}

/* ---- decoding ---- */

static int get_pin(const uk_tlv *t, ukt_pin *pin)
{
	if (t->len != PIN_REC_LEN)
		return -1;
	pin->tries = t->value[0];
	pin->max = t->value[1];
	pin->flags = t->value[2];
	pin->iter = uk_get_u32(t->value + 3);
	memcpy(pin->salt, t->value + 7, UKT_SALT_LEN);
	memcpy(pin->wrapped_tk, t->value + 7 + UKT_SALT_LEN, UKT_WRAPPED_TK_LEN);
	return pin->max >= UKT_PIN_TRIES_MIN && pin->max <= UKT_PIN_TRIES_MAX &&
	       pin->tries <= pin->max && pin->iter > 0 ? 0 : -1;
}

/* A pair of a known algorithm, its public encoding well formed for it (ukt_alg.c), a
 * sealed blob longer than the AEAD overhead. */
static int get_pair(const uk_tlv *t, ukt_keypair *k)
{
	const ukt_alg *a;
	uk_tlv alg, sealed, pub, flags;
	int r;

	if (uk_tlv_find(t->value, t->len, T_K_ALG, &alg) != 1 || alg.len != 1 ||
	    (a = ukt_alg_find(alg.value[0])) == NULL ||
	    uk_tlv_find(t->value, t->len, T_K_SEALED, &sealed) != 1 ||
	    sealed.len <= UKT_AEAD_OVERHEAD || sealed.len > sizeof(k->wrapped) ||
	    uk_tlv_find(t->value, t->len, T_K_PUB, &pub) != 1 || pub.len > sizeof(k->pub) ||
	    !a->pub_valid(pub.value, pub.len))
		return -1;
	r = uk_tlv_find(t->value, t->len, T_K_FLAGS, &flags);
	if (r < 0 || (r == 1 && (flags.len != 1 || flags.value[0] != 0x01)))
		return -1;
	k->always_auth = (uint8_t)r;
	k->present = 1;
	k->alg = alg.value[0];
	k->wrapped_len = (uint16_t)sealed.len;
	memcpy(k->wrapped, sealed.value, sealed.len);
	k->pub_len = (uint16_t)pub.len;
	memcpy(k->pub, pub.value, pub.len);
	return 0;
}

static int get_container(const uk_tlv *t, ukt_state *st)
{
	uk_tlv idx, name, pair;
	ukt_container *c;
	int r;

	if (uk_tlv_find(t->value, t->len, T_C_INDEX, &idx) != 1 || idx.len != 1 ||
	    idx.value[0] >= UKT_MAX_CONTAINERS ||
	    uk_tlv_find(t->value, t->len, T_C_NAME, &name) != 1 || name.len == 0 ||
	    name.len > UKT_NAME_MAX)
		return -1;
	c = &st->cont[idx.value[0]];
	if (c->present)
		return -1;
	c->present = 1;
	c->name_len = (uint8_t)name.len;
	memcpy(c->name, name.value, name.len);
	r = uk_tlv_find(t->value, t->len, T_C_PAIR0, &pair);
	if (r < 0 || (r == 1 && get_pair(&pair, &c->pair[0]) != 0))
		return -1;
	r = uk_tlv_find(t->value, t->len, T_C_PAIR1, &pair);
	if (r < 0 || (r == 1 && get_pair(&pair, &c->pair[1]) != 0))
		return -1;
	return 0;
}

static int get_item(const uk_tlv *t, ukt_state *st, unsigned *seen)
{
	switch (t->tag) {
	case T_SERIAL:
		if (t->len != UKT_SERIAL_LEN)
			return -1;
		memcpy(st->serial, t->value, UKT_SERIAL_LEN);
		st->serial[UKT_SERIAL_LEN] = '\0';
		*seen |= 1;
		return 0;
	case T_LABEL:
		if (t->len == 0 || t->len > UKT_LABEL_MAX)
			return -1;
		st->label_len = (uint8_t)t->len;
		memcpy(st->label, t->value, t->len);
		*seen |= 2;
		return 0;
	case T_ZONE:
		if (t->len != 1)
			return -1;
		st->zone = t->value[0];
		*seen |= 4;
		return 0;
	case T_PIN_USER:
		*seen |= 8;
		return get_pin(t, &st->pin[UKT_PIN_USER]);
	case T_PIN_SO:
		*seen |= 16;
		return get_pin(t, &st->pin[UKT_PIN_SO]);
	case T_CONTAINER:
		return get_container(t, st);
	case T_SWEEP:
		if (t->len != 1 || t->value[0] != 1)
			return -1;
		st->sweep_files = 1;
		return 0;
	default:
		return 0;       /* unknown items are skipped (forward compatibility) */
	}
}

static int state_decode(const uint8_t *img, size_t n, ukt_state *st)
{
	uint8_t digest[32];
	const uint8_t *p, *end;
	unsigned seen = 0;
	uk_tlv t;
	int r;

	if (n < STATE_HDR_LEN + 32 || memcmp(img, STATE_MAGIC, 8) != 0 ||
	    uk_get_u16(img + 8) != STATE_VERSION ||
	    uk_get_u32(img + 12) != n - STATE_HDR_LEN - 32)
		return -1;
	if (sha256(img, n - 32, digest) != 0 || !uk_ct_equal(digest, img + n - 32, 32))
		return -1;
	memset(st, 0, sizeof(*st));
	p = img + STATE_HDR_LEN;
	end = img + n - 32;
	while ((r = uk_tlv_next(&p, end, &t)) == 1)
		if (get_item(&t, st, &seen) != 0)
			return -1;
	return r == 0 && seen == 31 ? 0 : -1;
}

/* ---- files ---- */

static char *state_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Why a state file was refused, for the log. */
static const char *state_refusal(const uk_buf *img)
{
	unsigned v = img->len >= STATE_HDR_LEN && memcmp(img->data, STATE_MAGIC, 8) == 0 ?
	             uk_get_u16(img->data + 8) : 0;

	if (v == STATE_VERSION_CLEAR_KEYS)
		return "state file version 1 (private keys in clear) is no longer supported; "
		       "move it away to provision a new key";
	if (v == STATE_VERSION_SM2_ONLY)
		return "state file version 2 (SM2-only key records) is no longer supported; "
		       "move it away to provision a new key";
	return "state file damaged, refusing it";
}

int ukt_state_load(const char *dir, ukt_state *st)
{
	char *path = state_path(dir, "state");
	uk_buf img;
	int ret = -1, r;

	uk_buf_init(&img, STATE_MAX + 4096, 1);
	if (path == NULL)
		goto out;
	r = ukt_fs_read(path, &img);
	if (r <= 0) {
		ret = r;
		goto out;
	}
	if (state_decode(img.data, img.len, st) != 0) {
		uk_log(UK_LOG_ERROR, "token", "%s: %s", path, state_refusal(&img));
		goto out;
	}
	ret = 1;
out:
	uk_buf_free(&img);
	free(path);
	return ret;
}

/* Atomic replace (ukt_fs.h). */
static int state_write(const char *dir, const uk_buf *img)
{
	char *tmp = state_path(dir, "state.tmp"), *path = state_path(dir, "state");
	int ret = -1;

	if (tmp != NULL && path != NULL)
		ret = ukt_fs_replace(dir, tmp, path, img->data, img->len);
	free(tmp);
	free(path);
	return ret;
}

uint16_t ukt_state_commit(ukt_card *card, const ukt_state *next)
{
	uk_buf img;
	uint16_t sw = UK_SW_MEMORY_FAILURE;

	uk_buf_init(&img, STATE_MAX, 1);
	if (card->hook != NULL && card->hook(card->hook_arg) != 0)
		goto out;
	if (state_encode(next, &img) != 0 || state_write(card->dir, &img) != 0) {
		uk_log(UK_LOG_ERROR, "token", "%s: state write failed", card->dir);
		goto out;
	}
	if (next != &card->st)
		memcpy(&card->st, next, sizeof(card->st));
	sw = UK_SW_OK;
out:
	uk_buf_free(&img);
	return sw;
}
