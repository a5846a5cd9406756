/* ukey module: encryption (host, public key), decryption (card, PSO: DECIPHER), digests
 * (host), random numbers (card, GET CHALLENGE) and the secured PSO exchange they share
 * with signing (docs/apdu.md).
 *
 * SM2 ciphertexts (GM/T 0003.4 §6.1: C1 point, C3 = SM3 hash, C2 masked text) travel in one
 * of three forms, chosen by CKM_UKEY_SM2_ENCRYPT's CK_ULONG parameter: the GM/T 0009 §7.2
 * DER SEQUENCE { x INTEGER, y INTEGER, C3 OCTET STRING, C2 OCTET STRING } (the default, what
 * OpenSSL produces), raw C1 || C3 || C2 (GM/T 0003-2012), raw C1 || C2 || C3 (legacy). The
 * card takes raw C1 || C3 || C2, so the host converts. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "uk_apdu.h"
#include "uk_wipe.h"
#include "ukm.h"
#include "ukm_mech_def.h"

#define UKM_SM2_C1 UK_SM2_POINT_LEN
#define UKM_SM2_OVER (UKM_SM2_C1 + UK_SM3_LEN)         /* raw ciphertext = plaintext + 97 */
#define UKM_SM2_DER_OVER 120                            /* DER ciphertext <= plaintext + 120 */
/* The whole secured DECIPHER payload fits one command: KR, mech, SM wrapper (21). */
#define UKM_SM2_MAX_RAW (UK_APDU_MAX_NC - 2 - 21 - 16)

static ukm_rapdu ukm_crypt_resp;        /* 64 KiB; the library lock serialises its use */

/* ---- keys ---- */

static EVP_PKEY *ukm_pkey_from(const char *type, OSSL_PARAM_BLD *b)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	OSSL_PARAM *p = OSSL_PARAM_BLD_to_param(b);
	EVP_PKEY *k = NULL;

	if (c == NULL || p == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
		k = NULL;
	OSSL_PARAM_free(p);
	EVP_PKEY_CTX_free(c);
	return k;
}

EVP_PKEY *ukm_kp_pkey(const ukm_keypair *kp)
{
	OSSL_PARAM_BLD *b;
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *k = NULL;

	if (kp->alg == UKM_ALG_SM2)
		return uk_sm2_from_public(kp->point);
	if ((b = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (kp->alg == UKM_ALG_P256) {
		if (OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
		                                    0) == 1 &&
		    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, kp->point,
		                                     UK_SM2_POINT_LEN) == 1)
			k = ukm_pkey_from("EC", b);
	} else if (kp->alg == UKM_ALG_RSA) {
		n = BN_bin2bn(kp->n, UKM_RSA_LEN, NULL);
		e = BN_bin2bn(kp->e, sizeof(kp->e), NULL);
		if (n != NULL && e != NULL &&
		    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
		    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e) == 1)
			k = ukm_pkey_from("RSA", b);
	}
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_BLD_free(b);
	return k;
}

/* ---- the secured exchange ---- */

CK_RV ukm_secured(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                  const uint8_t *payload, size_t n, int le, uint8_t *out, size_t cap,
                  size_t *out_len)
{
	ukm_rapdu *r = &ukm_crypt_resp;
	uk_buf data;
	CK_RV rv;

	*out_len = 0;
	uk_buf_init(&data, UK_APDU_MAX_NC, 1);
	if (!s->sm_open) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	if (uk_sm_wrap(&s->sm, cla, ins, p1, p2, payload, n, 0, &data) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	if ((rv = ukm_card_command(s, cla, ins, p1, p2, data.data, data.len, le, r)) != CKR_OK)
		goto out;
	if (r->sw == UK_SW_SM_INCORRECT)
		ukm_secure_drop(s);     /* evicted or refused: this session and its login are gone */
	if (r->sw == UK_SW_SECURITY_STATUS)
		s->login = UKM_LOGIN_NONE;
	if ((rv = ukm_sw_to_rv(r->sw)) != CKR_OK)
		goto out;
	if (r->len > cap) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (r->len > 0)
		memcpy(out, r->data, r->len);
	*out_len = r->len;
out:
	uk_buf_free(&data);
	ukm_rapdu_wipe(r);
	return rv;
}

/* ---- SM2 ciphertext forms ---- */

/* One DER TLV (X.690 §8.1, definite lengths up to 3 bytes) with the expected tag. */
static int ukm_der_next(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **v,
                        size_t *len)
{
	const uint8_t *q = *p;
	size_t n, k;

	if (end - q < 2 || q[0] != tag)
		return -1;
	n = q[1];
	q += 2;
	if (n & 0x80) {
		k = n & 0x7F;
		if (k == 0 || k > 3 || (size_t)(end - q) < k)
			return -1;
		for (n = 0; k > 0; k--)
			n = (n << 8) | *q++;
	}
	if ((size_t)(end - q) < n)
		return -1;
	*v = q;
	*len = n;
	*p = q + n;
	return 0;
}

/* A non-negative INTEGER of at most 32 significant bytes, right-aligned into 32. */
static int ukm_der_coord(const uint8_t *v, size_t n, uint8_t out[32])
{
	while (n > 0 && v[0] == 0)
		v++, n--;
	if (n > 32)
		return -1;
	memset(out, 0, 32);
	memcpy(out + 32 - n, v, n);
	return 0;
}

/* GM/T 0009 DER -> raw C1 || C3 || C2 (raw holds n bytes at least). */
static int ukm_sm2_der_to_raw(const uint8_t *der, size_t n, uint8_t *raw, size_t *raw_len)
{
	const uint8_t *p = der, *end = der + n, *seq, *x, *y, *c3, *c2;
	size_t sl, xl, yl, c3l, c2l;

	if (ukm_der_next(&p, end, 0x30, &seq, &sl) != 0 || p != end)
		return -1;
	p = seq;
	end = seq + sl;
	if (ukm_der_next(&p, end, 0x02, &x, &xl) != 0 || ukm_der_next(&p, end, 0x02, &y, &yl) != 0 ||
	    ukm_der_next(&p, end, 0x04, &c3, &c3l) != 0 ||
	    ukm_der_next(&p, end, 0x04, &c2, &c2l) != 0 || p != end || c3l != UK_SM3_LEN ||
	    c2l == 0)
		return -1;
	raw[0] = 0x04;
	if (ukm_der_coord(x, xl, raw + 1) != 0 || ukm_der_coord(y, yl, raw + 33) != 0)
		return -1;
	memcpy(raw + UKM_SM2_C1, c3, UK_SM3_LEN);
	memcpy(raw + UKM_SM2_OVER, c2, c2l);
	*raw_len = UKM_SM2_OVER + c2l;
	return 0;
}

/* Swap C3 and C2 between the 2012 order (C1 C3 C2) and the legacy one (C1 C2 C3). */
static void ukm_sm2_reorder(const uint8_t *in, size_t n, uint8_t *out, int to_legacy)
{
	size_t c2l = n - UKM_SM2_OVER;

	memcpy(out, in, UKM_SM2_C1);
	if (to_legacy) {
		memcpy(out + UKM_SM2_C1, in + UKM_SM2_OVER, c2l);
		memcpy(out + UKM_SM2_C1 + c2l, in + UKM_SM2_C1, UK_SM3_LEN);
	} else {
		memcpy(out + UKM_SM2_C1, in + UKM_SM2_C1 + c2l, UK_SM3_LEN);
		memcpy(out + UKM_SM2_OVER, in + UKM_SM2_C1, c2l);
	}
}

/* ---- C_EncryptInit / C_DecryptInit ---- */

CK_RV ukm_sm2_param_format(CK_MECHANISM_PTR m, CK_ULONG *fmt)
{
	*fmt = CKD_UKEY_SM2_CIPHER_DER;
	if (m->pParameter != NULL && m->ulParameterLen != sizeof(CK_ULONG))
		return CKR_MECHANISM_PARAM_INVALID;
	if (m->pParameter != NULL)
		memcpy(fmt, m->pParameter, sizeof(*fmt));
	if (m->pParameter == NULL && m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	return *fmt > CKD_UKEY_SM2_CIPHER_C1C2C3 ? CKR_MECHANISM_PARAM_INVALID : CKR_OK;
}

static CK_RV ukm_crypt_params(ukm_sign_op *op, const struct ukm_mech_def *d, CK_MECHANISM_PTR m)
{
	const CK_RSA_PKCS_OAEP_PARAMS *o = m->pParameter;
	const struct ukm_hash_def *h;

	if (d->kind == UKM_K_SM2_ENC)
		return ukm_sm2_param_format(m, &op->fmt);
	if (d->kind != UKM_K_OAEP)
		return m->pParameter == NULL && m->ulParameterLen == 0 ?
		               CKR_OK : CKR_MECHANISM_PARAM_INVALID;
	/* PKCS#11 3.0 mechanisms §2.1.8: the card does SHA-1 and SHA-256 OAEP, MGF1 with the
	 * same hash, empty label (source data). */
	if (o == NULL || m->ulParameterLen != sizeof(*o))
		return CKR_MECHANISM_PARAM_INVALID;
	h = ukm_hash_def_get(o->hashAlg);
	if (h == NULL || h->oaep == 0 || o->mgf != h->mgf ||
	    (o->source != 0 && o->source != CKZ_DATA_SPECIFIED) || o->ulSourceDataLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	op->fmt = h->oaep;
	return CKR_OK;
}

/* PKCS#11 2.40 §5.8.1 C_EncryptInit (public key of an encryption pair), §5.9.1
 * C_DecryptInit (private key of an encryption pair). */
CK_RV ukm_crypt_init(ukm_slot *s, ukm_sign_op *op, int decrypt, CK_MECHANISM_PTR m,
                     CK_OBJECT_HANDLE key)
{
	const struct ukm_mech_def *d = ukm_mech_def_get(m->mechanism);
	CK_RV rv;

	if (d == NULL || !(d->flags & (decrypt ? CKF_DECRYPT : CKF_ENCRYPT)))
		return CKR_MECHANISM_INVALID;
	if (ukm_kind_secret(d->kind)) {                 /* SM4 with a session key */
		rv = ukm_skey_op_init(s, op, d, m, key, decrypt ? CKA_DECRYPT : CKA_ENCRYPT);
		op->verify = decrypt;
		op->active = rv == CKR_OK;
		return rv;
	}
	rv = ukm_op_key(s, op, d, key, decrypt ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, UKM_USAGE_ENC);
	if (rv != CKR_OK)
		return rv;
	op->verify = decrypt;
	if ((rv = ukm_crypt_params(op, d, m)) != CKR_OK) {
		ukm_sign_op_clear(op);
		return rv;
	}
	op->active = 1;
	return CKR_OK;
}

/* ---- encryption (host) ---- */

static int ukm_rsa_setup(EVP_PKEY_CTX *c, const ukm_sign_op *op)
{
	const EVP_MD *md;

	if (op->fmt == 0)
		return EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 ? 0 : -1;
	md = op->fmt == 0x13 ? EVP_sha1() : EVP_sha256();
	return EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
	                       EVP_PKEY_CTX_set_rsa_oaep_md(c, md) == 1 &&
	                       EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) == 1 ?
	               0 : -1;
}

/* The plaintext limit of RSA-2048 (PKCS #1 v2.2 §7.1.1, §7.2.1). */
static size_t ukm_rsa_max_plain(const ukm_sign_op *op)
{
	return op->fmt == 0 ? UKM_RSA_LEN - 11 : op->fmt == 0x13 ? UKM_RSA_LEN - 42 : UKM_RSA_LEN - 66;
}

/* OpenSSL encrypts to a new buffer (*ct, OPENSSL_free): DER for SM2, 256 bytes for RSA. */
static CK_RV ukm_encrypt_host(ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t **ct,
                              size_t *ct_len)
{
	EVP_PKEY *k = ukm_kp_pkey(&op->kp);
	EVP_PKEY_CTX *c = k != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	CK_RV rv = CKR_FUNCTION_FAILED;

	*ct = NULL;
	if (c == NULL || EVP_PKEY_encrypt_init(c) != 1 ||
	    (op->kp.alg == UKM_ALG_RSA && ukm_rsa_setup(c, op) != 0) ||
	    EVP_PKEY_encrypt(c, NULL, ct_len, in, n) != 1 ||
	    (*ct = OPENSSL_malloc(*ct_len)) == NULL ||
	    EVP_PKEY_encrypt(c, *ct, ct_len, in, n) != 1)
		goto out;
	rv = CKR_OK;
out:
	if (rv != CKR_OK) {
		OPENSSL_free(*ct);
		*ct = NULL;
	}
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	return rv;
}

/* Convert OpenSSL's DER to the operation's form, into out (cap bytes). */
static CK_RV ukm_sm2_out_form(const ukm_sign_op *op, const uint8_t *der, size_t n, uint8_t *out,
                              size_t cap, size_t *out_len)
{
	uint8_t *raw = OPENSSL_malloc(n + UKM_SM2_OVER);
	size_t rl = 0;
	CK_RV rv = CKR_OK;

	if (raw == NULL)
		return CKR_HOST_MEMORY;
	if (op->fmt == CKD_UKEY_SM2_CIPHER_DER) {
		*out_len = n;
		if (n <= cap)
			memcpy(out, der, n);
	} else if (ukm_sm2_der_to_raw(der, n, raw, &rl) != 0) {
		rv = CKR_FUNCTION_FAILED;
	} else {
		*out_len = rl;
		if (rl <= cap && op->fmt == CKD_UKEY_SM2_CIPHER_C1C3C2)
			memcpy(out, raw, rl);
		else if (rl <= cap)
			ukm_sm2_reorder(raw, rl, out, 1);
	}
	if (rv == CKR_OK && *out_len > cap)
		rv = CKR_BUFFER_TOO_SMALL;
	OPENSSL_free(raw);
	return rv;
}

/* §5.8.2 C_Encrypt: the query answers an upper bound (§5.2 allows "somewhat larger"). */
static CK_RV ukm_encrypt(ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                         CK_ULONG_PTR out_len, int *keep)
{
	size_t bound, got = 0, ct_len = 0;
	uint8_t *ct = NULL;
	CK_RV rv;

	if (op->kp.alg == UKM_ALG_RSA) {
		if (n > ukm_rsa_max_plain(op))
			return CKR_DATA_LEN_RANGE;
		bound = UKM_RSA_LEN;
	} else {
		if (n == 0 || n > UKM_SM2_MAX_RAW - UKM_SM2_OVER)
			return CKR_DATA_LEN_RANGE;
		bound = n + (op->fmt == CKD_UKEY_SM2_CIPHER_DER ? UKM_SM2_DER_OVER : UKM_SM2_OVER);
	}
	*keep = 1;
	if (out == NULL) {
		*out_len = bound;
		return CKR_OK;
	}
	if ((rv = ukm_encrypt_host(op, in, n, &ct, &ct_len)) != CKR_OK)
		goto out;
	if (op->kp.alg == UKM_ALG_RSA) {
		got = ct_len;
		rv = ct_len <= *out_len ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		if (rv == CKR_OK)
			memcpy(out, ct, ct_len);
	} else {
		rv = ukm_sm2_out_form(op, ct, ct_len, out, *out_len, &got);
	}
	*out_len = got;
out:
	if (rv != CKR_BUFFER_TOO_SMALL)
		*keep = 0;
	OPENSSL_free(ct);
	return rv;
}

/* ---- decryption (card) ---- */

/* The caller's ciphertext as raw C1 || C3 || C2 (raw holds n + 97 bytes). */
static CK_RV ukm_sm2_in_raw(const ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *raw,
                            size_t *rl)
{
	if (op->fmt == CKD_UKEY_SM2_CIPHER_DER) {
		if (ukm_sm2_der_to_raw(in, n, raw, rl) != 0)
			return CKR_ENCRYPTED_DATA_INVALID;
	} else {
		if (n <= UKM_SM2_OVER)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		if (op->fmt == CKD_UKEY_SM2_CIPHER_C1C3C2)
			memcpy(raw, in, n);
		else
			ukm_sm2_reorder(in, n, raw, 0);
		*rl = n;
	}
	if (*rl > UKM_SM2_MAX_RAW)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	return CKR_OK;
}

CK_RV ukm_sm2_to_raw(CK_ULONG fmt, const uint8_t *in, size_t n, uint8_t *raw, size_t *rl)
{
	ukm_sign_op op;

	memset(&op, 0, sizeof(op));
	op.fmt = fmt;
	return ukm_sm2_in_raw(&op, in, n, raw, rl);
}

/* PSO: DECIPHER (04 2A 80 86) KR || mech || ciphertext; the plaintext into out. */
static CK_RV ukm_decipher(ukm_slot *s, ukm_sign_op *op, uint8_t mech, const uint8_t *ct,
                          size_t n, uint8_t *out, size_t cap, size_t *got)
{
	uint8_t *payload;
	CK_RV rv;

	/* CKA_ALWAYS_AUTHENTICATE (PKCS#11 3.0 §4.9): as ukm_sign_final */
	if (op->kp.always_auth && !op->ctx_auth)
		return CKR_USER_NOT_LOGGED_IN;
	op->ctx_auth = 0;
	payload = OPENSSL_malloc(n + 2);
	if (payload == NULL)
		return CKR_HOST_MEMORY;
	payload[0] = op->kr;
	payload[1] = mech;
	memcpy(payload + 2, ct, n);
	rv = ukm_secured(s, 0x04, 0x2A, 0x80, 0x86, payload, n + 2, 65536, out, cap, got);
	if (rv == CKR_DATA_INVALID)
		rv = CKR_ENCRYPTED_DATA_INVALID;        /* 6A80: does not decrypt */
	OPENSSL_clear_free(payload, n + 2);
	return rv;
}

static CK_RV ukm_decrypt_sm2(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n,
                             uint8_t *out, CK_ULONG_PTR out_len, int *keep)
{
	uint8_t *raw = OPENSSL_malloc(n + UKM_SM2_OVER);
	size_t rl = 0, got = 0;
	CK_RV rv;

	*keep = 0;
	if (raw == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = ukm_sm2_in_raw(op, in, n, raw, &rl)) != CKR_OK)
		goto out;
	*keep = 1;                      /* the plaintext is exactly as long as C2 */
	if (out == NULL || *out_len < rl - UKM_SM2_OVER) {
		rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*out_len = rl - UKM_SM2_OVER;
		goto out;
	}
	*keep = 0;
	rv = ukm_decipher(s, op, 0x11, raw, rl, out, *out_len, &got);
	if (rv == CKR_OK)
		*out_len = got;
out:
	OPENSSL_clear_free(raw, n + UKM_SM2_OVER);
	return rv;
}

/* RSA: the plaintext length is known only after the card answers; it is kept in the
 * operation for a caller whose buffer was too short (§5.2). */
static CK_RV ukm_decrypt_rsa(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n,
                             uint8_t *out, CK_ULONG_PTR out_len, int *keep)
{
	const struct ukm_mech_def *d = op->def;
	CK_RV rv = CKR_OK;

	*keep = 1;
	if (!op->have_out && n != UKM_RSA_LEN) {
		*keep = 0;
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	}
	if (out == NULL) {
		*out_len = op->have_out ? op->len : UKM_RSA_LEN;
		return CKR_OK;
	}
	if (!op->have_out) {
		rv = ukm_decipher(s, op, d->kind == UKM_K_OAEP ? (uint8_t)op->fmt : d->dec, in, n,
		                  op->buf, sizeof(op->buf), &op->len);
		if (rv != CKR_OK) {
			*keep = 0;
			return rv;
		}
		op->have_out = 1;
	}
	if (*out_len < op->len) {
		*out_len = op->len;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, op->buf, op->len);
	*out_len = op->len;
	*keep = 0;
	return CKR_OK;
}

CK_RV ukm_crypt_run(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                    CK_ULONG_PTR out_len, int *keep)
{
	if (ukm_crypt_multipart(op))
		return ukm_sm4_single(s, op, in, n, out, out_len, keep);
	if (!op->verify)
		return ukm_encrypt(op, in, n, out, out_len, keep);
	if (op->kp.alg == UKM_ALG_RSA)
		return ukm_decrypt_rsa(s, op, in, n, out, out_len, keep);
	return ukm_decrypt_sm2(s, op, in, n, out, out_len, keep);
}

/* ---- digests (host) ---- */

/* §5.10.1 C_DigestInit. */
CK_RV ukm_digest_init(ukm_sign_op *op, CK_MECHANISM_PTR m)
{
	const struct ukm_mech_def *d = ukm_mech_def_get(m->mechanism);
	const struct ukm_hash_def *h = ukm_hash_def_get(m->mechanism);

	if (d == NULL || d->kind != UKM_K_DIGEST || h == NULL)
		return CKR_MECHANISM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	memset(op, 0, sizeof(*op));
	op->mech = m->mechanism;
	op->def = d;
	op->fmt = h->len;
	op->md = EVP_MD_CTX_new();
	if (op->md == NULL || EVP_DigestInit_ex(op->md, EVP_get_digestbyname(h->name), NULL) != 1) {
		ukm_sign_op_clear(op);
		return CKR_FUNCTION_FAILED;
	}
	op->active = 1;
	return CKR_OK;
}

CK_RV ukm_digest_update(ukm_sign_op *op, const uint8_t *p, size_t n)
{
	op->multipart = 1;
	return EVP_DigestUpdate(op->md, p, n) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
}

size_t ukm_digest_len(const ukm_sign_op *op)
{
	return op->fmt;
}

CK_RV ukm_digest_final(ukm_sign_op *op, uint8_t *out, CK_ULONG_PTR out_len, int *keep)
{
	CK_ULONG have = *out_len;
	unsigned int n = 0;

	*out_len = op->fmt;
	*keep = 1;
	if (out == NULL)
		return CKR_OK;
	if (have < op->fmt)
		return CKR_BUFFER_TOO_SMALL;
	*keep = 0;
	if (EVP_DigestFinal_ex(op->md, out, &n) != 1 || n != op->fmt)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

/* ---- random (card) ---- */

/* ISO 7816-4 §11.5.3 GET CHALLENGE, 00 84 00 00 Le: at most 256 bytes per command. */
CK_RV ukm_random(ukm_slot *s, uint8_t *out, size_t n)
{
	ukm_rapdu *r = &ukm_crypt_resp;
	size_t chunk;
	CK_RV rv = CKR_OK;

	while (n > 0 && rv == CKR_OK) {
		chunk = n < 256 ? n : 256;
		rv = ukm_card_command(s, 0x00, 0x84, 0x00, 0x00, NULL, 0, (int)chunk, r);
		if (rv == CKR_OK && (rv = ukm_sw_to_rv(r->sw)) == CKR_OK && r->len != chunk)
			rv = CKR_DEVICE_ERROR;
		if (rv == CKR_OK) {
			memcpy(out, r->data, chunk);
			out += chunk;
			n -= chunk;
		}
		ukm_rapdu_wipe(r);
	}
	return rv;
}
