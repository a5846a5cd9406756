/* ukm-asn1gen: build-time generator turning an ASN.1 description (module/pkix.asn) into a
 * C array for asn1_array2tree, what libtasn1's asn1Parser does (that tool is in a separate
 * Debian package; the library call is in libtasn1-6-dev). Usage: in.asn out.c name */
#include <stdio.h>

#include <libtasn1.h>

int main(int argc, char **argv)
{
	char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s in.asn out.c vector-name\n", argv[0]);
		return 2;
	}
	rc = asn1_parser2array(argv[1], argv[2], argv[3], err);
	if (rc != ASN1_SUCCESS) {
		fprintf(stderr, "%s: %s (%s)\n", argv[1], asn1_strerror(rc), err);
		return 1;
	}
	return 0;
}
