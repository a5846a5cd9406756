/* token_hash: PSO HASH, ISO 7816-8 §5.2 (docs/apdu.md "PSO: HASH"), in process.
 *
 * The three official SM3 vectors (gm-vectors.txt [sm3], GB/T 32905), each in one command and
 * streamed byte by byte; a 100 KiB message (over the 65,572-byte reassembly limit of other
 * chains) streamed in 4 KiB parts and in uneven parts with empty ones, and a 65,535-byte one
 * in a single extended command, all against OpenSSL EVP SM3 computed here. Plain, no PIN,
 * before any session. Refusals: secure-messaging bit (6882, chained too), other P1 P2
 * (6987 plain, the other PSO forms being secured; 6A86 secured), no application (6985), class 80 (6E00), Le below 32 (6C20 / 6700); a chain
 * broken by another command, another header (6883) or a reset leaves nothing behind: the
 * next hash is the vector. The state file never changes. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "token_util.h"
#include "ukt_envelope.h"

#define BIG_LEN (100u * 1024u)
#define ONE_CMD_MAX 65535u

static ukt_host h;

static void evp_sm3(const uint8_t *p, size_t n, uint8_t md[32])
{
	unsigned int len = 0;

	UK_CHECK_EQ(EVP_Digest(p, n, md, &len, EVP_sm3(), NULL), 1);
	UK_CHECK_EQ(len, 32);
}

static size_t vec(const char *name, uint8_t *out, size_t cap)
{
	long n = ukt_env_vector(UKEY_GM_VECTORS, "sm3", name, out, cap);

	UK_CHECK(n >= 0);
	return (size_t)n;
}

/* The card's hash of msg (in parts of part bytes; 0: one command) is md. */
static void check_hash(const uint8_t *msg, size_t n, size_t part, const uint8_t md[32])
{
	UK_CHECK_EQ(ukt_host_hash(&h, msg, n, part), 0x9000);
	UK_CHECK_EQ(h.rlen, 32);
	UK_CHECK_MEM(h.resp, md, 32);
}

static void test_vectors(void)
{
	static const char *const names[3][2] = {
		{ "msg_abc", "digest_abc" },
		{ "msg_abcd16", "digest_abcd16" },
		{ "msg_empty", "digest_empty" },
	};
	uint8_t msg[64], md[32], ref[32];
	size_t i, n;

	for (i = 0; i < 3; i++) {
		n = vec(names[i][0], msg, sizeof(msg));
		UK_CHECK_EQ(vec(names[i][1], md, sizeof(md)), 32);
		evp_sm3(msg, n, ref);
		UK_CHECK_MEM(ref, md, 32);              /* the vector file is what OpenSSL says */
		check_hash(msg, n, 0, md);
		check_hash(msg, n, 1, md);              /* streamed byte by byte */
	}
	/* the empty message as a case 1 command (no Lc, no Le) */
	UK_CHECK_EQ(ukt_host_hex(&h, "002A9080"), 0x9000);
	UK_CHECK_EQ(h.rlen, 32);
	UK_CHECK_MEM(h.resp, md, 32);
	/* and as a chain of empty parts, the first a case 1 command */
	UK_CHECK_EQ(ukt_host_hex(&h, "102A9080"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "102A908000"), 0x9000);   /* case 2, Le ignored */
	UK_CHECK_EQ(ukt_host_hex(&h, "002A908020"), 0x9000);
	UK_CHECK_MEM(h.resp, md, 32);
}

/* Uneven parts, empty ones among them: 1, 0, 4095, 0, then 7,000-byte parts. */
static void send_uneven(const uint8_t *msg, size_t n)
{
	static const size_t first[] = { 1, 0, 4095, 0 };
	size_t i, off = 0, k;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		UK_CHECK_EQ(ukt_host_plain(&h, 0x10, 0x2A, 0x90, 0x80, msg + off, first[i],
		                           UKT_HOST_NO_LE), 0x9000);
		UK_CHECK_EQ(h.rlen, 0);
		off += first[i];
	}
	while (n - off > 7000) {
		k = 7000;
		UK_CHECK_EQ(ukt_host_plain(&h, 0x10, 0x2A, 0x90, 0x80, msg + off, k, 256), 0x9000);
		off += k;
	}
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x2A, 0x90, 0x80, msg + off, n - off, 65536),
	            0x9000);
}

static void test_long(void)
{
	static uint8_t big[BIG_LEN];
	uint8_t md[32];

	UK_CHECK_EQ(RAND_bytes(big, sizeof(big)), 1);
	evp_sm3(big, sizeof(big), md);
	check_hash(big, sizeof(big), 4096, md);
	send_uneven(big, sizeof(big));
	UK_CHECK_EQ(h.rlen, 32);
	UK_CHECK_MEM(h.resp, md, 32);
	big[BIG_LEN / 2] ^= 1;                  /* the check can fail */
	UK_CHECK_EQ(ukt_host_hash(&h, big, sizeof(big), 4096), 0x9000);
	UK_CHECK(memcmp(h.resp, md, 32) != 0);
	evp_sm3(big, ONE_CMD_MAX, md);          /* the largest single (extended) command */
	check_hash(big, ONE_CMD_MAX, 0, md);
}

static void check_abc(void)
{
	uint8_t md[32];

	UK_CHECK_EQ(vec("digest_abc", md, sizeof(md)), 32);
	check_hash((const uint8_t *)"abc", 3, 0, md);
}

static void test_refusals(ukt_card *card)
{
	uint8_t md[32];

	/* secure-messaging bit, plain and chained (the data is not looked at) */
	UK_CHECK_EQ(ukt_host_hex(&h, "042A908003616263"), 0x6882);
	UK_CHECK_EQ(ukt_host_hex(&h, "142A908003616263"), 0x6882);
	/* another P1 P2 is another PSO form: the row's policy (secured, step 4) comes first */
	UK_CHECK_EQ(ukt_host_hex(&h, "002A908103616263"), 0x6987);
	UK_CHECK_EQ(ukt_host_hex(&h, "042A908103616263"), 0x6A86);
	UK_CHECK_EQ(ukt_host_hex(&h, "042A90A003616263"), 0x6A86);
	UK_CHECK_EQ(ukt_host_hex(&h, "142A918003616263"), 0x6A86);
	UK_CHECK_EQ(ukt_host_hex(&h, "802A908003616263"), 0x6E00);
	/* Le below the 32-byte answer: short 6C20, extended 6700 */
	UK_CHECK_EQ(ukt_host_hex(&h, "002A90800361626310"), 0x6C20);
	UK_CHECK_EQ(ukt_host_hex(&h, "002A9080000003616263000010"), 0x6700);
	/* a streamed chain whose last part has a short Le is over: 6C20, then a fresh hash */
	UK_CHECK_EQ(ukt_host_hex(&h, "102A90800378787800"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "002A90800361626310"), 0x6C20);
	check_abc();
	/* broken chains leave no trace in the next hash */
	UK_CHECK_EQ(ukt_host_hex(&h, "102A908003787878"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);    /* another INS: dropped */
	check_abc();
	UK_CHECK_EQ(ukt_host_hex(&h, "102A908003787878"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "002A9E9A03616263"), 0x6883);
	check_abc();
	UK_CHECK_EQ(ukt_host_hex(&h, "102A908003787878"), 0x9000);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "002A908003616263"), 0x6985);     /* not selected */
	UK_CHECK_EQ(ukt_host_hex(&h, "102A908003616263"), 0x6985);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	check_abc();
	/* a secured PSO HASH is refused even inside a secure session */
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x90, 0x80, (const uint8_t *)"abc", 3, 0,
	                             256), 0x6882);
	UK_CHECK_EQ(vec("digest_abc", md, sizeof(md)), 32);
	check_hash((const uint8_t *)"abc", 3, 0, md);
}

int main(void)
{
	char *dir = tu_tmpdir();
	unsigned char *snap;
	size_t snaplen;
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	snap = tu_state_bytes(dir, &snaplen);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);       /* no session, no PIN */
	test_vectors();
	test_long();
	test_refusals(card);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	free(snap);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_hash");
}
