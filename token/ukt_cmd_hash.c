/* ukey token: PSO HASH, ISO 7816-8 §5.2 (docs/apdu.md "PSO: HASH"): 00 2A 90 80 [Lc data]
 * [Le] answers SM3 (GB/T 32905) of the message, 32 bytes. P1 90: the hash code is returned;
 * P2 80: the data field is the plain message. Hashing carries no secret: plain, no PIN.
 *
 * A message longer than one command goes in a streamed chain (ISO 7816-4 §5.1.1.1 CLA b5):
 * each non-final part is hashed as it arrives (ukt_hash_feed, called by the transport for
 * the forms of ukt_card.c form_table) and the last part finishes the digest, so the message
 * has no length limit and nothing is reassembled. The digest in progress lives in
 * card->sm3; it is not card state (an abandoned chain's digest is never used: only the last
 * part of an uninterrupted chain continues it, ukt_cmd.streamed) and goes with power off. */
#include "ukt_internal.h"

#include "uk_crypto.h"
#include "uk_log.h"

uint16_t ukt_hash_feed(ukt_card *card, int first, const uint8_t *data, size_t n)
{
	if (card->sm3 == NULL && (card->sm3 = EVP_MD_CTX_new()) == NULL)
		return UK_SW_UNKNOWN;
	if (first && EVP_DigestInit_ex(card->sm3, EVP_sm3(), NULL) != 1)
		return UK_SW_UNKNOWN;
	if (n > 0 && EVP_DigestUpdate(card->sm3, data, n) != 1)
		return UK_SW_UNKNOWN;
	return UK_SW_OK;
}

/* The whole message (unchained), or the last part of a streamed chain. Le: the dispatcher
 * checked it against the 32-byte answer (6C20 for a short Le below it). */
uint16_t ukt_cmd_pso_hash(ukt_card *card, ukt_cmd *c)
{
	unsigned int n = 0;
	uint8_t *md;
	uint16_t sw;

	sw = ukt_hash_feed(card, !c->streamed, c->data, c->len);
	if (sw != UK_SW_OK)
		return sw;
	md = uk_buf_extend(c->resp, UK_SM3_LEN);
	if (md == NULL || EVP_DigestFinal_ex(card->sm3, md, &n) != 1 || n != UK_SM3_LEN) {
		uk_log(UK_LOG_ERROR, "token", "PSO HASH: SM3 failed");
		uk_buf_reset(c->resp);
		return UK_SW_UNKNOWN;
	}
	return UK_SW_OK;
}

void ukt_hash_drop(ukt_card *card)
{
	EVP_MD_CTX_free(card->sm3);
	card->sm3 = NULL;
}
