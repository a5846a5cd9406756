/* ukey conformance: the harness shared by the SPEC clause tests (SPEC.md tags).
 *
 * One test program per clause; each runs the same checks two ways:
 *   (no argument)  in-process against libukey-token (transport = ukt_card_transmit) on a
 *                  fresh card in a temporary state directory;
 *   --pcsc         through the real stack: libpcsclite (the first reader with a card),
 *                  pcscd, the ukey ifd driver, ukey-emu. Meant to run under
 *                  `ukey-sandbox -- PROGRAM --pcsc`; skips (77) when PCSCLITE_CSOCK_NAME is
 *                  unset, so it never talks to the system's pcscd by accident.
 * Every APDU exchanged is captured (command and response) so a test can search the traffic
 * (no PIN, no private key). Crypto is checked with OpenSSL EVP only (conf_crypto.c), never
 * with the code under test. */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "uk_buf.h"
#include "uk_test.h"
#include "ukt_card.h"
#include "ukt_host.h"

#define CONF_PIN_MAX 32

typedef struct conf_pcsc conf_pcsc;

typedef struct conf_ctx {
	const char *name;       /* test name, for the report lines */
	int pcsc;               /* 1: through PC/SC */
	ukt_host h;             /* host helper; its transport is conf's capturing wrapper */
	/* in-process */
	char *dir;              /* state directory of the in-process card */
	ukt_card *card;
	/* PC/SC */
	conf_pcsc *pc;
	/* capture of every APDU since the last conf_capture_reset */
	uk_buf cmds, resps;
	unsigned napdu;
	/* PINs of the card under test (pointer + length; never printed) */
	uint8_t user_pin[CONF_PIN_MAX], so_pin[CONF_PIN_MAX];
	size_t user_pin_len, so_pin_len;
} conf_ctx;

/* Parse argv (--pcsc), open the card (in-process: fresh, with prov or defaults) and return 0;
 * returns 77 when the requested mode cannot run here (the caller exits with it). */
int conf_open(conf_ctx *c, const char *name, int argc, char **argv, const ukt_provision *prov);
void conf_close(conf_ctx *c);
/* Print one line of what was checked ("name [mode]: text"). */
void conf_say(const conf_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A second host helper on the same transport (another client of the same card). */
void conf_host_init(conf_ctx *c, ukt_host *h);

/* Reset the card (ISO 7816-3 warm reset: deselects, closes secure sessions). With reload
 * set, the in-process card is closed and reopened from its state directory (a power cycle
 * that proves persistence); through PC/SC both are SCardReconnect(SCARD_RESET_CARD). */
void conf_reset(conf_ctx *c, int reload);

/* SELECT + open a secure session; with login, VERIFY the user PIN too. */
void conf_start(conf_ctx *c, int login);

void conf_capture_reset(conf_ctx *c);
/* 1 when needle occurs in any captured command (resp = 0) or response (resp = 1). */
int conf_capture_has(const conf_ctx *c, int resp, const uint8_t *needle, size_t n);
/* 1 when any w-byte window of needle occurs in the captured commands or responses. */
int conf_capture_has_window(const conf_ctx *c, const uint8_t *needle, size_t n, size_t w);

/* GET DATA 00 CA 01 p2 with an Le that fits (6Cxx honoured, extended Le for p2 = 02).
 * Returns the SW; the data is copied to out (reset first). */
uint16_t conf_get_data(conf_ctx *c, uint8_t p2, uk_buf *out);
/* The three GET DATA objects concatenated (00, 01, 02), for before/after comparisons. */
void conf_get_all(conf_ctx *c, uk_buf *out);

/* From GET DATA 01: tries left, maximum tries and flags of PIN p2 (0x81 user, 0x82 SO). */
typedef struct conf_pin_status {
	uint8_t left, max, flags;
} conf_pin_status;
void conf_pin_status_get(conf_ctx *c, uint8_t which, conf_pin_status *st);

/* CREATE CONTAINER name (user PIN verified); returns its index. */
uint8_t conf_create_container(conf_ctx *c, const char *name);
/* GENERATE an SM2 pair at kr (user PIN verified) and check the response is exactly
 * 7F49 { 86 41 <04||X||Y> } (ISO 7816-8 §5.1, docs/apdu.md); pub gets the point. */
void conf_generate(conf_ctx *c, uint8_t kr, uint8_t pub[65]);
/* GET DATA 02: the pair of container idx and usage (0 signing, 1 encryption) as listed:
 * 1 present (alg and pub filled), 0 absent (the container must be listed). */
int conf_listed_pair(conf_ctx *c, uint8_t idx, int usage, uint8_t *alg, uint8_t pub[65]);
/* Read public key 00 46 81 kr: 9000 and pub, or the SW. */
uint16_t conf_read_public(conf_ctx *c, uint8_t kr, uint8_t pub[65]);

/* The state directory and file of the card under test, or NULL when not reachable
 * (PC/SC without UKEY_STATE / UKEY_SANDBOX_DIR). index = key index (ukey-emu key-<i>). */
const char *conf_state_dir(const conf_ctx *c);
/* Whole state file into out; 0, or -1 when unavailable. */
int conf_state_read(const conf_ctx *c, uk_buf *out);
/* Unseal, with the user PIN, the private scalar of the pair whose public point is pub from
 * the state file (test-only accessor, token/tests/ukt_test_access.h).
 * 1 found, 0 not found, -1 state unavailable, malformed, or PIN wrong. */
int conf_state_private(const conf_ctx *c, const uint8_t pub[65], uint8_t d[32]);

/* ---- conf_crypto.c: independent checks with OpenSSL ---- */
/* 1 when pub (04||X||Y) is a valid point on the SM2 curve (EVP public check). */
int conf_sm2_point_valid(const uint8_t pub[65]);
/* 1 when d * G == pub on the SM2 curve. */
int conf_sm2_pair_matches(const uint8_t d[32], const uint8_t pub[65]);
/* 1 valid, 0 invalid: SM2 signature r||s over msg with ID "1234567812345678"
 * (EVP_DigestVerify with SM3 and the distinguishing ID; GM/T 0003.2 / GM/T 0009). */
/* An SM2 public key for OpenSSL from the point 04||X||Y (NULL if not on the curve). */
EVP_PKEY *conf_sm2_public(const uint8_t pub[65]);
int conf_sm2_verify_msg(const uint8_t pub[65], const void *msg, size_t n, const uint8_t sig[64]);
/* e = SM3(Z || M) for the card to sign, computed with OpenSSL (Z per GM/T 0003.2 §5.5). */
void conf_sm2_e(const uint8_t pub[65], const void *msg, size_t n, uint8_t e[32]);

#endif
