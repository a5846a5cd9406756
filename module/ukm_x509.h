/* ukey module: the X.509 fields the certificate objects need, located with libtasn1
 * (module/pkix.asn). A separate unit because OpenSSL's and libtasn1's headers both
 * define asn1_node. */
#ifndef UKM_X509_H
#define UKM_X509_H

#include <stddef.h>
#include <stdint.h>

#define UKM_CERT_DER_MAX 4096u      /* the size limit of a certificate file C0 KR */

/* Offsets and lengths (whole TLVs) into the DER. */
typedef struct ukm_cert_info {
	size_t serial_off, serial_len, issuer_off, issuer_len, subject_off, subject_len;
	size_t spki_off, spki_len;
} ukm_cert_info;

/* 0 when der is exactly one Certificate (RFC 5280 §4.1), else -1. */
int ukm_cert_parse(const uint8_t *der, size_t n, ukm_cert_info *ci);

#endif
