/* Helpers shared by the sandbox tests that drive the module and the emulator together
 * (module/tests, reliability/): monotonic time, ukey-emu's control socket, and an
 * independent OpenSSL check of a CKM_UKEY_SM2 signature. Header-only. */
#ifndef E2E_UTIL_H
#define E2E_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

static inline double e2e_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline void e2e_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* `ukey-emu ctl CMD` on the sandbox's emulator ($UKEY_EMU, $UKEY_EMU_CONTROL); system()'s
 * status, 0 when the emulator answered ok. */
static inline int e2e_emu_ctl(const char *cmd)
{
	char line[1024];

	snprintf(line, sizeof(line), "'%s' ctl --control '%s' %s >/dev/null", getenv("UKEY_EMU"),
	         getenv("UKEY_EMU_CONTROL"), cmd);
	return system(line);
}

/* OpenSSL verifies an SM2 signature r||s over the 32-byte e (CKM_UKEY_SM2: no Z) with the
 * public point 04||X||Y. 1 valid, 0 not. */
static inline int e2e_sm2_verify_e(const uint8_t pub[65], const uint8_t e[32],
                                   const uint8_t rs[64])
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL), *vc = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM *p = NULL;
	uint8_t *der = NULL;
	int derlen, ok = 0;

	if (b == NULL || kc == NULL || sig == NULL || r == NULL || s == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) != 1 ||
	    (p = OSSL_PARAM_BLD_to_param(b)) == NULL || EVP_PKEY_fromdata_init(kc) != 1 ||
	    EVP_PKEY_fromdata(kc, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL;                           /* owned by sig now */
	if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0 ||
	    (vc = EVP_PKEY_CTX_new(k, NULL)) == NULL || EVP_PKEY_verify_init(vc) != 1)
		goto out;
	ok = EVP_PKEY_verify(vc, der, (size_t)derlen, e, 32) == 1;
out:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	EVP_PKEY_CTX_free(vc);
	EVP_PKEY_free(k);
	OSSL_PARAM_free(p);
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(kc);
	OSSL_PARAM_BLD_free(b);
	return ok;
}

#endif
