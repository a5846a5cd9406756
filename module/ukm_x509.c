/* ukey module: X.509 parsing with libtasn1 for the certificate objects (PKCS#11 3.0
 * §4.6.4 CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER; CKA_PUBLIC_KEY_INFO). */
#include <libtasn1.h>

#include "ukm_x509.h"

extern const asn1_static_node ukm_pkix_asn1_tab[];   /* generated from pkix.asn */

static int ukm_cert_range(asn1_node c, const uint8_t *der, size_t n, const char *name,
                          size_t *off, size_t *len)
{
	int start = 0, end = 0;

	if (asn1_der_decoding_startEnd(c, der, (int)n, name, &start, &end) != ASN1_SUCCESS ||
	    start < 0 || end < start || (size_t)end >= n)
		return -1;
	*off = (size_t)start;
	*len = (size_t)(end - start + 1);
	return 0;
}

/* RFC 5280 §4.1: the whole DER must be one Certificate (no trailing bytes). */
int ukm_cert_parse(const uint8_t *der, size_t n, ukm_cert_info *ci)
{
	char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	asn1_node defs = NULL, cert = NULL;
	int len = (int)n, rc = -1;

	if (n == 0 || n > UKM_CERT_DER_MAX)
		return -1;
	if (asn1_array2tree(ukm_pkix_asn1_tab, &defs, err) != ASN1_SUCCESS ||
	    asn1_create_element(defs, "UKEY-PKIX.Certificate", &cert) != ASN1_SUCCESS)
		goto out;
	if (asn1_der_decoding2(&cert, der, &len, 0, err) != ASN1_SUCCESS || (size_t)len != n)
		goto out;
	if (ukm_cert_range(cert, der, n, "tbsCertificate.serialNumber", &ci->serial_off,
	                   &ci->serial_len) != 0 ||
	    ukm_cert_range(cert, der, n, "tbsCertificate.issuer", &ci->issuer_off,
	                   &ci->issuer_len) != 0 ||
	    ukm_cert_range(cert, der, n, "tbsCertificate.subject", &ci->subject_off,
	                   &ci->subject_len) != 0 ||
	    ukm_cert_range(cert, der, n, "tbsCertificate.subjectPublicKeyInfo", &ci->spki_off,
	                   &ci->spki_len) != 0)
		goto out;
	rc = 0;
out:
	asn1_delete_structure(&cert);
	asn1_delete_structure(&defs);
	return rc;
}
