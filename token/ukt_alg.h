/* ukey token: the algorithm and mechanism tables (docs/apdu.md "Algorithms", GENERATE, PSO).
 *
 * An algorithm entry says how a key pair of that identifier is generated inside the card,
 * how its public key is stored and answered (the 7F49 template, ISO 7816-8 §5.1 table 3),
 * and how the sealed private encoding becomes an EVP_PKEY again. A mechanism entry says
 * which PSO operation it belongs to, which algorithm its key must have, what data length it
 * takes and what it computes. Everything is OpenSSL 3 EVP. */
#ifndef UKT_ALG_H
#define UKT_ALG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "uk_buf.h"

#define UKT_PUB_MAX 260         /* RSA-2048: n (256) || e (1..4 bytes, big endian) */
#define UKT_PRIV_MAX 1280       /* RSA-2048 RSAPrivateKey DER is about 1,190 bytes */
#define UKT_RSA_K 256           /* modulus length in bytes of RSA-2048 */

typedef struct ukt_alg {
	uint8_t id;             /* docs/apdu.md algorithm identifier */
	uint16_t mask;          /* bit of GET DATA 00 tag 87 */
	size_t tpl_len;         /* length of the whole 7F49 template answered by GENERATE */
	size_t sig_len;         /* signature length of every signing mechanism of the key */
	/* New pair made inside the card: pub gets the stored public encoding (EC: 04||X||Y;
	 * RSA: n || e), priv the private one (EC: the 32-byte scalar; RSA: RSAPrivateKey
	 * DER), at most UKT_PRIV_MAX bytes. 0 or -1; priv is the caller's to wipe. */
	int (*generate)(uint8_t pub[UKT_PUB_MAX], size_t *publen, uint8_t priv[UKT_PRIV_MAX],
	                size_t *privlen);
	int (*pub_valid)(const uint8_t *pub, size_t n);                 /* 1 or 0 */
	EVP_PKEY *(*load)(const uint8_t *priv, size_t n, const uint8_t *pub, size_t publen);
	int (*put_public)(uk_buf *r, const uint8_t *pub, size_t n);     /* inside of 7F49 */
} ukt_alg;

const ukt_alg *ukt_alg_find(uint8_t id);
/* OR of the mask bits of every algorithm in the table (GET DATA 00 tag 87). */
uint16_t ukt_alg_mask(void);
/* Append 7F49 { ... } for a stored public key; 0 or -1 (r->failed set). */
int ukt_alg_put_public(uk_buf *r, uint8_t alg, const uint8_t *pub, size_t n);

enum { UKT_PSO_SIGN = 0, UKT_PSO_DECIPHER = 1 };

/* Result of a mechanism: done, input refused (6A80), internal failure (6F00). */
enum { UKT_MECH_OK = 0, UKT_MECH_BAD_INPUT = 1, UKT_MECH_FAIL = -1 };

typedef struct ukt_mech {
	uint8_t id;             /* docs/apdu.md mechanism byte */
	uint8_t op;             /* UKT_PSO_SIGN or UKT_PSO_DECIPHER */
	uint8_t alg;            /* the key must have this algorithm, else 6A80 */
	size_t min, max;        /* data length accepted, else 6700 */
	int (*len_ok)(size_t n);/* extra length rule (NULL: min..max is all) */
	int (*run)(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out);
} ukt_mech;

/* The mechanism with that byte for that operation, or NULL. */
const ukt_mech *ukt_mech_find(uint8_t id, uint8_t op);

#endif
