/* SPEC S0-K9: deleting a container destroys its key pairs and certificates. DELETE CONTAINER
 * (84 E4 01 00, secured, user PIN; docs/apdu.md, GM/T 0016 SKF_DeleteContainer) of a
 * container holding a signing pair, an encryption pair and a signing certificate:
 *  - before: the key signs (checked with OpenSSL), GET DATA 02 lists the container with
 *    86 = the certificate's length, the certificate reads back;
 *  - without the user PIN the deletion is refused (6982) and changes nothing;
 *  - after: PSO with its key reference answers 6A88, the public key is gone (6A88), GET DATA
 *    02 no longer lists it, its certificate cannot be selected (6A82) — also after a power
 *    cycle; where the state directory is reachable (always in-process, through PC/SC when
 *    the sandbox exposes it), the test-only accessor no longer finds either private key in
 *    the state file and the certificate file is gone from the directory. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

static const char msg[] = "S0-K9 message";

static uint16_t delete_container(conf_ctx *c, uint8_t idx)
{
	uint8_t p[3] = { 0x80, 0x01, idx };

	return ukt_host_secured(&c->h, 0x80, 0xE4, 0x01, 0x00, p, sizeof(p), 0, UKT_HOST_NO_LE);
}

static uint16_t select_file(conf_ctx *c, uint16_t fid)
{
	uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };

	return ukt_host_plain(&c->h, 0x00, 0xA4, 0x02, 0x0C, f, 2, UKT_HOST_NO_LE);
}

static void put_cert(conf_ctx *c, uint16_t fid, const uint8_t *cert, size_t n)
{
	uint8_t p[10] = { 0x83, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid, 0x80, 0x04 };

	uk_set_u32(p + 6, (uint32_t)n);
	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x80, 0xE0, 0x01, 0x00, p, sizeof(p), 0,
	                             UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x00, 0xD6, 0x00, 0x00, cert, n, 0, UKT_HOST_NO_LE),
	            0x9000);
}

/* GET DATA 02: the A0 template of container idx, 1 when listed (*cert_len = its tag 86,
 * 0 when absent). */
static int container_listed(conf_ctx *c, uint8_t idx, size_t *cert_len)
{
	const uint8_t *p, *end;
	uk_buf b;
	uk_tlv t, v;
	int found = 0;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x02, &b), 0x9000);
	p = b.data;
	end = b.data + b.len;
	while (uk_tlv_next(&p, end, &t) == 1) {
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &v), 1);
		if (v.value[0] != idx)
			continue;
		found = 1;
		*cert_len = uk_tlv_find(t.value, t.len, 0x86, &v) == 1 ? uk_get_u16(v.value) : 0;
	}
	UK_CHECK(p == end);
	uk_buf_free(&b);
	return found;
}

static int cert_file_exists(const conf_ctx *c, uint16_t fid)
{
	char path[1200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/file-%04X", conf_state_dir(c), fid);
	return stat(path, &st) == 0;
}

static void check_gone(conf_ctx *c, uint8_t idx, const uint8_t e[32])
{
	uint8_t sig[64], rd[65];
	size_t len = 0;

	UK_CHECK_EQ(ukt_host_sign(&c->h, (uint8_t)(idx * 2), e, sig), 0x6A88);
	UK_CHECK_EQ(conf_read_public(c, (uint8_t)(idx * 2), rd), 0x6A88);
	UK_CHECK_EQ(conf_read_public(c, (uint8_t)(idx * 2 + 1), rd), 0x6A88);
	UK_CHECK_EQ(container_listed(c, idx, &len), 0);
	UK_CHECK_EQ(select_file(c, (uint16_t)(0xC000 + idx * 2)), 0x6A82);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K9_delete_container";
	static conf_ctx c;
	uint8_t pub[65], pub_enc[65], cert[1200], e[32], sig[64], d[32];
	size_t i, len = 0;
	uint16_t fid;
	uint8_t idx;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	for (i = 0; i < sizeof(cert); i++)
		cert[i] = (uint8_t)(0x30 + i * 13);
	conf_start(&c, 1);
	idx = conf_create_container(&c, "s0-k9");
	fid = (uint16_t)(0xC000 + idx * 2);
	conf_generate(&c, (uint8_t)(idx * 2), pub);
	conf_generate(&c, (uint8_t)(idx * 2 + 1), pub_enc);
	put_cert(&c, fid, cert, sizeof(cert));
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	UK_CHECK_EQ(ukt_host_sign(&c.h, (uint8_t)(idx * 2), e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	UK_CHECK_EQ(container_listed(&c, idx, &len), 1);
	UK_CHECK_EQ(len, sizeof(cert));
	UK_CHECK_EQ(select_file(&c, fid), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&c.h, 0x00, 0xB0, 0x00, 0x00, NULL, 0, 65536), 0x9000);
	UK_CHECK_EQ(c.h.rlen, sizeof(cert));
	UK_CHECK_MEM(c.h.resp, cert, sizeof(cert));
	conf_say(&c, "container %u: two SM2 pairs, a %zu-byte signing certificate (GET DATA 02 "
	         "tag 86, READ BINARY in one APDU), a signature OpenSSL verifies", idx, len);
	if (conf_state_dir(&c) != NULL) {
		UK_CHECK_EQ(conf_state_private(&c, pub, d), 1);
		UK_CHECK(conf_sm2_pair_matches(d, pub));
		UK_CHECK_EQ(conf_state_private(&c, pub_enc, d), 1);
		UK_CHECK(cert_file_exists(&c, fid));
	}

	/* not without the user PIN of the securing session */
	UK_CHECK_EQ(ukt_host_open_session(&c.h), 0x9000);
	UK_CHECK_EQ(delete_container(&c, idx), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	UK_CHECK_EQ(container_listed(&c, idx, &len), 1);
	UK_CHECK_EQ(ukt_host_sign(&c.h, (uint8_t)(idx * 2), e, sig), 0x9000);
	conf_say(&c, "DELETE CONTAINER without the user PIN: 6982, the key still signs");

	UK_CHECK_EQ(delete_container(&c, idx), 0x9000);
	check_gone(&c, idx, e);
	UK_CHECK_EQ(delete_container(&c, idx), 0x6A88);
	conf_say(&c, "DELETE CONTAINER: PSO with its KR 6A88, public keys 6A88, not in GET DATA 02,"
	         " certificate 6A82");
	if (conf_state_dir(&c) != NULL) {
		UK_CHECK_EQ(conf_state_private(&c, pub, d), 0);
		UK_CHECK_EQ(conf_state_private(&c, pub_enc, d), 0);
		UK_CHECK(!cert_file_exists(&c, fid));
		conf_say(&c, "state file: neither private key is there any more; the certificate "
		         "file is gone from the state directory");
	} else {
		conf_say(&c, "state directory not reachable: on-disk checks skipped");
	}
	conf_reset(&c, 1);
	conf_start(&c, 1);
	check_gone(&c, idx, e);
	conf_say(&c, "after a power cycle: still gone");
	uk_wipe(d, sizeof(d));
	conf_close(&c);
	return uk_test_done(name);
}
