/* ukey module: operations with secret-key session objects (ukm_skey.c).
 *
 * SM4 (GB/T 32907) runs on the card with a session key: PSO ENCIPHER 04 2A 84 80 / DECIPHER
 * 04 2A 80 84 (docs/apdu.md), payload handle || mode || [IV] || data, data a multiple of 16.
 * The host pads and buffers:
 *   CKM_UKEY_SM4_ECB, _CBC    no padding; data a multiple of 16 (PKCS#11 3.0 mechanisms
 *                             §2.10 rules of CKM_AES_ECB/CBC, which these follow);
 *   CKM_UKEY_SM4_CBC_PAD      PKCS #7 padding (RFC 5652 §6.3), as CKM_AES_CBC_PAD;
 *   CKM_UKEY_SM4_MAC          CBC-MAC with a zero IV over the data padded by ISO/IEC 9797-1
 *                             padding method 2 (80 00 .., always at least one byte), the MAC
 *                             the whole last block (16 bytes; ISO/IEC 9797-1 MAC algorithm 1).
 * Each card call carries up to UKM_SM4_CHUNK bytes; the CBC chaining value travels in the
 * operation between calls and parts. Multi-part operations keep at most one block (two for
 * CBC_PAD decryption, whose last block may be padding).
 * CKM_UKEY_SM3_HMAC (RFC 2104 with SM3) runs on the host with OpenSSL's EVP_MAC: its key is a
 * caller's generic secret, which the card never sees (no CKF_HW). */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "uk_wipe.h"
#include "ukm.h"
#include "ukm_mech_def.h"

#define UKM_SM4_BLOCK 16
#define UKM_SM4_CHUNK 0xFC00u           /* 64,512 bytes: one extended APDU with its wrapper */
#define UKM_HMAC_LEN 32

int ukm_kind_secret(enum ukm_kind k)
{
	return k == UKM_K_SM4_ECB || k == UKM_K_SM4_CBC || k == UKM_K_SM4_CBC_PAD ||
	       k == UKM_K_SM4_MAC || k == UKM_K_HMAC;
}

static enum ukm_kind ukm_op_kind(const ukm_sign_op *op)
{
	return ((const struct ukm_mech_def *)op->def)->kind;
}

int ukm_crypt_multipart(const ukm_sign_op *op)
{
	return op->def != NULL && ukm_kind_secret(ukm_op_kind(op));
}

/* ---- C_*Init ---- */

static CK_RV ukm_hmac_start(ukm_sign_op *op, const ukm_skey *k)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM p[2];
	CK_RV rv = CKR_FUNCTION_FAILED;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SM3", 0);
	p[1] = OSSL_PARAM_construct_end();
	if (mac != NULL && (op->mac = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(op->mac, k->value, k->len, p) == 1)
		rv = CKR_OK;
	EVP_MAC_free(mac);
	return rv;
}

/* The key's usage attribute for the operation (§5.8.1 etc.: CKR_KEY_FUNCTION_NOT_PERMITTED). */
static int ukm_skey_allows(const ukm_skey *k, CK_ATTRIBUTE_TYPE use)
{
	return use == CKA_ENCRYPT ? k->enc : use == CKA_DECRYPT ? k->dec :
	       use == CKA_SIGN ? k->sign : k->verify;
}

CK_RV ukm_skey_op_init(ukm_slot *s, ukm_sign_op *op, const struct ukm_mech_def *d,
                       CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key, CK_ATTRIBUTE_TYPE use)
{
	int cbc = d->kind == UKM_K_SM4_CBC || d->kind == UKM_K_SM4_CBC_PAD;
	ukm_object o;

	if (ukm_object_find(s, key, &o) != CKR_OK)
		return CKR_KEY_HANDLE_INVALID;
	if (o.cls != CKO_SECRET_KEY ||
	    o.sk->type != (d->kind == UKM_K_HMAC ? CKK_GENERIC_SECRET : CKK_UKEY_SM4))
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!ukm_skey_allows(o.sk, use))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (cbc ? m->pParameter == NULL || m->ulParameterLen != UKM_SM4_BLOCK
	        : m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	memset(op, 0, sizeof(*op));
	op->mech = d->type;
	op->def = d;
	op->key = key;
	op->slot = s;
	op->card_handle = o.sk->card_handle;
	if (cbc)
		memcpy(op->iv, m->pParameter, UKM_SM4_BLOCK);
	if (d->kind == UKM_K_HMAC && ukm_hmac_start(op, o.sk) != CKR_OK) {
		ukm_sign_op_clear(op);
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
}

/* ---- the card ---- */

/* n bytes (a multiple of 16) through PSO ENCIPHER / DECIPHER, chunk by chunk; in and out
 * may be the same buffer. CBC: op->iv is the chaining value, updated. */
static CK_RV ukm_sm4_card(ukm_slot *s, ukm_sign_op *op, int encrypt, const uint8_t *in,
                          size_t n, uint8_t *out)
{
	int cbc = ukm_op_kind(op) != UKM_K_SM4_ECB;
	uint8_t *payload = malloc(2 + UKM_SM4_BLOCK + UKM_SM4_CHUNK), last[UKM_SM4_BLOCK];
	size_t chunk, head, got = 0;
	CK_RV rv = CKR_OK;

	if (payload == NULL)
		return CKR_HOST_MEMORY;
	while (n > 0 && rv == CKR_OK) {
		chunk = n < UKM_SM4_CHUNK ? n : UKM_SM4_CHUNK;
		payload[0] = op->card_handle;
		payload[1] = cbc ? 0x02 : 0x01;
		head = 2;
		if (cbc) {
			memcpy(payload + 2, op->iv, UKM_SM4_BLOCK);
			head += UKM_SM4_BLOCK;
		}
		memcpy(payload + head, in, chunk);
		memcpy(last, in + chunk - UKM_SM4_BLOCK, UKM_SM4_BLOCK);
		rv = ukm_secured(s, 0x04, 0x2A, encrypt ? 0x84 : 0x80, encrypt ? 0x80 : 0x84,
		                 payload, head + chunk, 65536, out, chunk, &got);
		if (rv == CKR_OK && got != chunk)
			rv = CKR_DEVICE_ERROR;
		if (rv == CKR_OK && cbc)
			memcpy(op->iv, encrypt ? out + chunk - UKM_SM4_BLOCK : last, UKM_SM4_BLOCK);
		in += chunk;
		out += chunk;
		n -= chunk;
	}
	uk_wipe(last, sizeof(last));
	OPENSSL_clear_free(payload, 2 + UKM_SM4_BLOCK + UKM_SM4_CHUNK);
	/* 6A88: the card no longer holds the key (its session or login ended) */
	return rv;
}

/* PKCS #7 padding: the pad length 1-16, every pad byte equal to it. Returns the plaintext
 * length, or -1 (CKR_ENCRYPTED_DATA_INVALID). */
static long ukm_unpad(const uint8_t *p, size_t n)
{
	uint8_t k = n > 0 ? p[n - 1] : 0, bad = 0;
	size_t i;

	if (k == 0 || k > UKM_SM4_BLOCK || k > n)
		return -1;
	for (i = n - k; i < n; i++)
		bad |= (uint8_t)(p[i] ^ k);
	return bad ? -1 : (long)(n - k);
}

/* ---- multi-part encryption and decryption ---- */

/* The bytes an update can process now out of total buffered + new bytes. */
static size_t ukm_sm4_ready(const ukm_sign_op *op, size_t total)
{
	size_t hold = total % UKM_SM4_BLOCK;

	/* CBC_PAD decryption keeps a whole last block: it may be the padding */
	if (op->verify && ukm_op_kind(op) == UKM_K_SM4_CBC_PAD && hold == 0 && total > 0)
		hold = UKM_SM4_BLOCK;
	return total - hold;
}

CK_RV ukm_sm4_update(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                     CK_ULONG_PTR out_len, int *keep)
{
	size_t total = op->len + n, ready = ukm_sm4_ready(op, total), from_in;
	uint8_t *tmp;
	CK_RV rv;

	*keep = 1;
	op->multipart = 1;
	if (out == NULL || *out_len < ready) {
		rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*out_len = ready;
		return rv;
	}
	*out_len = ready;
	if (ready == 0) {
		memcpy(op->buf + op->len, in, n);
		op->len = total;
		return CKR_OK;
	}
	from_in = ready - op->len;      /* ready > 0 holds every buffered byte (under a block,
	                                 * or one block for CBC_PAD decryption) */
	if ((tmp = malloc(ready)) == NULL) {
		*keep = 0;
		return CKR_HOST_MEMORY;
	}
	memcpy(tmp, op->buf, op->len);
	memcpy(tmp + op->len, in, from_in);
	rv = ukm_sm4_card(s, op, !op->verify, tmp, ready, out);
	OPENSSL_clear_free(tmp, ready);
	if (rv != CKR_OK) {
		*keep = 0;
		return rv;
	}
	op->len = n - from_in;
	memcpy(op->buf, in + from_in, op->len);
	return CKR_OK;
}

/* C_EncryptFinal / C_DecryptFinal (§5.8.4, §5.9.4). */
CK_RV ukm_sm4_final(ukm_slot *s, ukm_sign_op *op, uint8_t *out, CK_ULONG_PTR out_len,
                    int *keep)
{
	int pad = ukm_op_kind(op) == UKM_K_SM4_CBC_PAD;
	uint8_t blk[UKM_SM4_BLOCK];
	size_t want;
	long plain;
	CK_RV rv;

	*keep = 0;
	if (!pad || (op->verify && op->len != UKM_SM4_BLOCK)) {
		if (op->len != 0 || pad)
			return op->verify ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
		*out_len = 0;
		return CKR_OK;
	}
	want = UKM_SM4_BLOCK;           /* decryption: an upper bound (§5.2) until decrypted */
	if (out == NULL || *out_len < (op->verify ? 0 : want)) {
		*keep = 1;
		*out_len = want;
		return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	memcpy(blk, op->buf, op->len);
	if (!op->verify)                /* PKCS #7: 16 - len bytes of value 16 - len */
		memset(blk + op->len, (int)(UKM_SM4_BLOCK - op->len), UKM_SM4_BLOCK - op->len);
	rv = ukm_sm4_card(s, op, !op->verify, blk, UKM_SM4_BLOCK, blk);
	if (rv == CKR_OK && op->verify) {
		plain = ukm_unpad(blk, UKM_SM4_BLOCK);
		if (plain < 0) {
			rv = CKR_ENCRYPTED_DATA_INVALID;
		} else if (*out_len < (size_t)plain) {
			/* the card has moved on (op->iv): the block cannot be decrypted again */
			*out_len = (CK_ULONG)plain;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(out, blk, (size_t)plain);
			*out_len = (CK_ULONG)plain;
		}
	} else if (rv == CKR_OK) {
		memcpy(out, blk, UKM_SM4_BLOCK);
		*out_len = UKM_SM4_BLOCK;
	}
	uk_wipe(blk, sizeof(blk));
	return rv;
}

/* Single-part C_Encrypt / C_Decrypt: the §5.2 convention; a CBC_PAD decryption's length is
 * known after the card answered, so a short buffer then costs the APDU again. */
static CK_RV ukm_sm4_lengths(const ukm_sign_op *op, size_t n, size_t *want)
{
	int pad = ukm_op_kind(op) == UKM_K_SM4_CBC_PAD;

	if (op->verify && (n % UKM_SM4_BLOCK != 0 || (pad && n == 0)))
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if (!op->verify && !pad && n % UKM_SM4_BLOCK != 0)
		return CKR_DATA_LEN_RANGE;
	*want = !op->verify && pad ? n - n % UKM_SM4_BLOCK + UKM_SM4_BLOCK : n;
	return CKR_OK;
}

CK_RV ukm_sm4_single(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                     CK_ULONG_PTR out_len, int *keep)
{
	int pad = ukm_op_kind(op) == UKM_K_SM4_CBC_PAD;
	uint8_t iv[UKM_SM4_BLOCK], *tmp = NULL;
	size_t want = 0;
	long plain;
	CK_RV rv;

	*keep = 0;
	if ((rv = ukm_sm4_lengths(op, n, &want)) != CKR_OK)
		return rv;
	*keep = 1;
	if (out == NULL || (*out_len < want && !(op->verify && pad))) {
		*out_len = want;
		return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	*keep = 0;
	if (want == 0) {
		*out_len = 0;
		return CKR_OK;
	}
	if ((tmp = malloc(want)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy(tmp, in, n);
	if (want > n)
		memset(tmp + n, (int)(want - n), want - n);
	memcpy(iv, op->iv, sizeof(iv));
	if ((rv = ukm_sm4_card(s, op, !op->verify, tmp, want, tmp)) != CKR_OK)
		goto out;
	plain = op->verify && pad ? ukm_unpad(tmp, want) : (long)want;
	if (plain < 0) {
		rv = CKR_ENCRYPTED_DATA_INVALID;
	} else if (*out_len < (size_t)plain) {
		memcpy(op->iv, iv, sizeof(iv));         /* run again with a larger buffer */
		*keep = 1;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		memcpy(out, tmp, (size_t)plain);
	}
	if (plain >= 0)
		*out_len = (CK_ULONG)plain;
out:
	OPENSSL_clear_free(tmp, want);
	uk_wipe(iv, sizeof(iv));
	return rv;
}

/* ---- MACs: CKM_UKEY_SM4_MAC (card), CKM_UKEY_SM3_HMAC (host) ---- */

/* CBC-MAC: whole blocks go through the card now (the padding always adds a block, so no
 * block is the last one before C_SignFinal); op->iv is the running MAC. */
CK_RV ukm_mac_update(ukm_sign_op *op, const uint8_t *p, size_t n)
{
	size_t total = op->len + n, ready = total - total % UKM_SM4_BLOCK, from_in;
	uint8_t *tmp;
	CK_RV rv;

	op->multipart = 1;
	if (ukm_op_kind(op) == UKM_K_HMAC)
		return EVP_MAC_update(op->mac, p, n) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
	if (ready == 0) {
		memcpy(op->buf + op->len, p, n);
		op->len = total;
		return CKR_OK;
	}
	if ((tmp = malloc(ready)) == NULL)
		return CKR_HOST_MEMORY;
	from_in = ready - op->len;
	memcpy(tmp, op->buf, op->len);
	memcpy(tmp + op->len, p, from_in);
	rv = ukm_sm4_card(op->slot, op, 1, tmp, ready, tmp);
	OPENSSL_clear_free(tmp, ready);
	if (rv != CKR_OK)
		return rv;
	op->len = n - from_in;
	memcpy(op->buf, p + from_in, op->len);
	return CKR_OK;
}

/* The MAC into out (16 bytes for SM4, 32 for HMAC-SM3); the operation is spent. */
CK_RV ukm_mac_final(ukm_sign_op *op, uint8_t out[32], size_t *len)
{
	uint8_t blk[UKM_SM4_BLOCK];
	size_t got = 0;
	CK_RV rv;

	if (ukm_op_kind(op) == UKM_K_HMAC) {
		if (EVP_MAC_final(op->mac, out, &got, UKM_HMAC_LEN) != 1 || got != UKM_HMAC_LEN)
			return CKR_FUNCTION_FAILED;
		*len = got;
		return CKR_OK;
	}
	/* ISO/IEC 9797-1 padding method 2: 80, then zeros to the block */
	memset(blk, 0, sizeof(blk));
	memcpy(blk, op->buf, op->len);
	blk[op->len] = 0x80;
	rv = ukm_sm4_card(op->slot, op, 1, blk, UKM_SM4_BLOCK, blk);
	if (rv == CKR_OK) {
		memcpy(out, blk, UKM_SM4_BLOCK);
		*len = UKM_SM4_BLOCK;
	}
	uk_wipe(blk, sizeof(blk));
	return rv;
}
