/* ukey-tool: what the key-pair, certificate and listing files share (ukey-tool-keys.c). */
#ifndef UKEY_TOOL_KEYS_H
#define UKEY_TOOL_KEYS_H

#include <openssl/evp.h>

#include "ukey-tool.h"

enum ut_alg { UT_ALG_SM2, UT_ALG_P256, UT_ALG_RSA, UT_ALG_OTHER };

/* One key pair of a container: its public key (readable without login), its private key
 * (after login), CKA_ID and algorithm. */
struct ut_pair {
	CK_OBJECT_HANDLE pub, priv;
	uint8_t id[UT_ID_MAX];
	size_t idlen;
	enum ut_alg alg;
	enum ut_usage usage;
};

const char *ut_usage_name(enum ut_usage u);
const char *ut_usage_word(enum ut_usage u);
const char *ut_alg_name(enum ut_alg a);
int ut_opt_usage(struct ut *t, enum ut_usage *u);
int ut_container_exists(struct ut *t, const char *label, int *exists);
int ut_find_pair(struct ut *t, const char *label, enum ut_usage u, int want_priv,
                 struct ut_pair *p);
int ut_find_cert(struct ut *t, const char *label, const struct ut_pair *p,
                 CK_OBJECT_HANDLE *cert);
int ut_attr_alloc(struct ut *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                  unsigned char **val, size_t *len);
EVP_PKEY *ut_pubkey_load(struct ut *t, CK_OBJECT_HANDLE obj);
int ut_sign(struct ut *t, const struct ut_pair *p, const unsigned char *msg, size_t len,
            uint8_t *sig, size_t *siglen);
enum ut_alg ut_key_alg(struct ut *t, CK_OBJECT_HANDLE obj);
int ut_base64(const unsigned char *in, size_t n, char **out);

#endif
