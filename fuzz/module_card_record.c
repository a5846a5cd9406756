/* module_card_record: seeds for the module_card fuzz target, recorded from a real card.
 *
 *   module_card_record OUTDIR [CERT.der]
 *
 * Puts an in-process token (libukey-token, state in a temporary directory) behind the fake
 * reader (fake_winscard.c, recording mode), provisions it as a used key would be (container
 * "fz" with SM2 signing and encryption pairs KR 0 and 1, the certificate CERT.der in file
 * C0 00; container "rsa" with RSA-2048 pairs KR 2 and 3; container "p256" with a P-256
 * signing pair KR 4), then runs module_card_fuzz.c's PKCS#11
 * sequence once per flags value and writes flags || the card's answers as OUTDIR/rec-FF.
 * The secure session's answers replay as they are: the card's answers are not MACed, and the
 * module derives its keys from whatever point the script gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_winscard.h"
#include "ukt_card.h"
#include "ukt_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ukt_host host;

static int card_backend(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	return ukt_card_transmit(ctx, cmd, n, resp, rlen);
}

static long read_cert(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n > 0 && n < cap ? (long)n : -1;
}

static int put_cert(const uint8_t *der, size_t n)
{
	uint8_t fcp[] = { 0x83, 0x02, 0xC0, 0x00, 0x80, 0x02, (uint8_t)(n >> 8), (uint8_t)n };

	return ukt_host_secured(&host, 0x80, 0xE0, 0x01, 0x00, fcp, sizeof(fcp), 0,
	                        UKT_HOST_NO_LE) == 0x9000 &&
	       ukt_host_secured(&host, 0x00, 0xD6, 0x00, 0x00, der, n, 0, UKT_HOST_NO_LE) ==
	       0x9000 ? 0 : -1;
}

static int provision(ukt_card *card, const char *cert)
{
	static const uint8_t sm2[] = { 0x80, 0x01, 0x01 }, p256[] = { 0x80, 0x01, 0x02 },
	                     rsa[] = { 0x80, 0x01, 0x03 };
	uint8_t der[4096];
	long n;

	ukt_host_init_card(&host, card);
	if (ukt_host_select(&host) != 0x9000 || ukt_host_open_session(&host) != 0x9000 ||
	    ukt_host_verify(&host, 0x81, "user1234", 8) != 0x9000 ||
	    ukt_host_create_container(&host, "fz") != 0x9000 ||
	    ukt_host_secured(&host, 0, 0x46, 0x80, 0, sm2, 3, 0, 65536) != 0x9000 ||
	    ukt_host_secured(&host, 0, 0x46, 0x80, 1, sm2, 3, 0, 65536) != 0x9000 ||
	    ukt_host_create_container(&host, "rsa") != 0x9000 ||
	    ukt_host_secured(&host, 0, 0x46, 0x80, 2, rsa, 3, 0, 65536) != 0x9000 ||
	    ukt_host_secured(&host, 0, 0x46, 0x80, 3, rsa, 3, 0, 65536) != 0x9000 ||
	    ukt_host_create_container(&host, "p256") != 0x9000 ||
	    ukt_host_secured(&host, 0, 0x46, 0x80, 4, p256, 3, 0, 65536) != 0x9000)
		return -1;
	if (cert != NULL && ((n = read_cert(cert, der, sizeof(der))) < 0 ||
	                     ukt_host_select(&host) != 0x9000 || put_cert(der, (size_t)n) != 0))
		return -1;
	return 0;
}

static int record(ukt_card *card, const char *outdir, uint8_t flags)
{
	const uint8_t *rec;
	char path[4096];
	size_t n;
	FILE *f;
	int rc;

	ukt_card_power(card, UKT_POWER_RESET);
	fake_card_record(card_backend, card);
	LLVMFuzzerTestOneInput(&flags, 1);
	rec = fake_card_recorded(&n);
	snprintf(path, sizeof(path), "%s/rec-%02X", outdir, flags);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	rc = fwrite(&flags, 1, 1, f) == 1 && fwrite(rec, 1, n, f) == n ? 0 : -1;
	rc |= fclose(f);
	printf("%s: %zu bytes of answers\n", path, n);
	return rc;
}

int main(int argc, char **argv)
{
	static const uint8_t flags[] = { 0x00, 0x01, 0x02, 0x04, 0x08, 0x0C, 0x10 };
	char dir[] = "/tmp/ukey-card-record.XXXXXX", cmd[128];
	ukt_card *card;
	size_t i;
	int rc = 1;

	if (argc < 2 || mkdtemp(dir) == NULL) {
		fprintf(stderr, "usage: module_card_record OUTDIR [CERT.der]\n");
		return 2;
	}
	card = ukt_card_open(dir, NULL);
	if (card == NULL || provision(card, argc > 2 ? argv[2] : NULL) != 0) {
		fprintf(stderr, "module_card_record: cannot provision the card\n");
		goto out;
	}
	rc = 0;
	for (i = 0; i < sizeof(flags); i++)
		rc |= record(card, argv[1], flags[i]);
out:
	fake_card_record(NULL, NULL);
	ukt_card_close(card);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
