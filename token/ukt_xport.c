/* ukey token: command chaining and GET RESPONSE (docs/apdu.md "Transport"; ukt_xport.h).
 *
 * ISO/IEC 7816-4:2005 §5.1.1.1: a command with CLA b5 set is a non-final part of a chain;
 * the card keeps its data and answers 9000; the part with b5 clear executes with all the
 * data. This card requires every part to repeat the first part's INS, P1 P2 and CLA (b5
 * aside): a part of the same instruction with another header answers 6883 ("last command
 * of the chain expected") and ends the chain; a command of another instruction ends the
 * chain and is processed on its own. Nothing but this buffer changes until the last part.
 * A streamed chain (PSO HASH, ISO 7816-8 §5.2) keeps no buffer: the card's feed consumes
 * each part as it arrives (into a digest, which is not card state), and the last part
 * executes with its own data.
 *
 * §5.1.3 / §7.6.1: an answer a short Ne cannot carry is cut; SW 61xx tells how much is left
 * and GET RESPONSE fetches it. Every other command discards what is left. */
#include "ukt_xport.h"

#include <string.h>

#include "ukt_card.h"

void ukt_xport_init(ukt_xport *x)
{
	memset(x, 0, sizeof(*x));
	uk_buf_init(&x->chain, UKT_CHAIN_MAX, 1);
	uk_buf_init(&x->pending, UKT_RESP_MAX, 1);
}

static void chain_drop(ukt_xport *x)
{
	x->chaining = 0;
	x->streamed = 0;
	x->cla = x->ins = x->p1 = x->p2 = 0;
	uk_buf_free(&x->chain);
}

void ukt_xport_drop_response(ukt_xport *x)
{
	uk_buf_free(&x->pending);
	x->pending_off = 0;
}

void ukt_xport_reset(ukt_xport *x)
{
	chain_drop(x);
	ukt_xport_drop_response(x);
}

void ukt_xport_free(ukt_xport *x)
{
	ukt_xport_reset(x);
}

/* Add one part's data; 0 and *sw set (chain dropped) when it cannot be kept. A chain
 * longer than any instruction's data is a wrong length of the command it makes up (6700;
 * 6A84 is "not enough memory space in the file", which the profile uses for containers). */
static int chain_append(ukt_xport *x, const uk_apdu *a, uint16_t *sw)
{
	if (a->lc > UKT_CHAIN_MAX - x->chain.len) {
		*sw = UK_SW_WRONG_LENGTH;
		goto fail;
	}
	if (a->lc > 0 && uk_buf_put(&x->chain, a->data, a->lc) != 0) {
		*sw = UK_SW_UNKNOWN;
		goto fail;
	}
	*sw = UK_SW_OK;
	return 1;
fail:
	chain_drop(x);
	return 0;
}

/* One part's data: to the feed of a streamed chain, else into the buffer; 0 and *sw set
 * (chain dropped) when it cannot be taken. */
static int chain_take(ukt_xport *x, const uk_apdu *a, const ukt_chain_ops *ops, int first,
                      uint16_t *sw)
{
	if (!x->streamed)
		return chain_append(x, a, sw);
	*sw = ops->feed(ops->arg, first, a);
	if (*sw == UK_SW_OK)
		return 1;
	chain_drop(x);
	return 0;
}

static int chain_start(ukt_xport *x, const uk_apdu *a, const ukt_chain_ops *ops, uint16_t *sw)
{
	*sw = ops->check(ops->arg, a);
	if (*sw != UK_SW_OK)
		return UKT_CHAIN_ANSWER;
	x->chaining = 1;
	x->streamed = ops->streamed != NULL && ops->streamed(ops->arg, a);
	x->cla = a->cla & (uint8_t)~UKT_CLA_CHAIN;
	x->ins = a->ins;
	x->p1 = a->p1;
	x->p2 = a->p2;
	chain_take(x, a, ops, 1, sw);
	return UKT_CHAIN_ANSWER;
}

int ukt_xport_chain(ukt_xport *x, const uk_apdu *a, const ukt_chain_ops *ops, uk_apdu *whole,
                    uint16_t *sw)
{
	int more = (a->cla & UKT_CLA_CHAIN) != 0;

	if (x->chaining && a->ins != x->ins)
		chain_drop(x);                  /* another command: the chain is abandoned */
	if (!x->chaining) {
		uk_buf_free(&x->chain);         /* data of a chain executed before */
		if (more)
			return chain_start(x, a, ops, sw);
		*whole = *a;
		return UKT_CHAIN_EXECUTE;
	}
	if ((a->cla & (uint8_t)~UKT_CLA_CHAIN) != x->cla || a->p1 != x->p1 || a->p2 != x->p2) {
		chain_drop(x);
		*sw = UK_SW_LAST_CMD_EXPECTED;
		return UKT_CHAIN_ANSWER;
	}
	if (x->streamed && !more) {                /* the last part executes with its own data */
		*whole = *a;
		whole->cla = x->cla;
		chain_drop(x);
		return UKT_CHAIN_EXECUTE_STREAMED;
	}
	if (!chain_take(x, a, ops, 0, sw) || more)
		return UKT_CHAIN_ANSWER;
	/* The last part: its CLA without b5 (the MAC covers that CLA, docs/apdu.md), its Le. */
	*whole = *a;
	whole->cla = x->cla;
	whole->data = x->chain.data;
	whole->lc = x->chain.len;
	x->chaining = 0;
	return UKT_CHAIN_EXECUTE;
}

/* 61xx: xx bytes left, 00 when 256 or more (ISO 7816-4 §5.1.3). */
static uint16_t sw_remaining(size_t left)
{
	return (uint16_t)(UK_SW_BYTES_REMAINING | (left >= 256 ? 0 : left));
}

/* Keep resp beyond its first ne bytes for GET RESPONSE. */
static uint16_t page(ukt_xport *x, uk_buf *resp, size_t ne)
{
	ukt_xport_drop_response(x);
	if (uk_buf_put(&x->pending, resp->data + ne, resp->len - ne) != 0) {
		ukt_xport_drop_response(x);
		return UK_SW_UNKNOWN;
	}
	resp->len = ne;         /* the tail is wiped when resp is freed (a secret buffer) */
	return sw_remaining(x->pending.len);
}

uint16_t ukt_xport_answer(ukt_xport *x, const uk_apdu *whole, uk_buf *resp, uint16_t sw)
{
	size_t len = resp->len;

	if (!x->chaining)
		uk_buf_free(&x->chain);         /* the reassembled data has been used */
	if (sw != UK_SW_OK)
		return sw;
	if (whole->extended)
		return !whole->has_le || whole->le >= len ? UK_SW_OK : UK_SW_WRONG_LENGTH;
	if (len <= UKT_SHORT_NE_MAX) {
		if (!whole->has_le || whole->le >= len)
			return UK_SW_OK;
		return (uint16_t)(UK_SW_WRONG_LE | (len & 0xFF));   /* §5.1.3: 6Cxx, exact Ne */
	}
	return page(x, resp, whole->has_le ? whole->le : UKT_SHORT_NE_MAX);
}

uint16_t ukt_xport_get_response(ukt_xport *x, const uk_apdu *a, uk_buf *resp)
{
	size_t left = x->pending.len - x->pending_off;
	size_t n = a->has_le ? a->le : UKT_SHORT_NE_MAX;

	if (a->lc != 0)
		return UK_SW_WRONG_LENGTH;
	if (left == 0)
		return UK_SW_CONDITIONS;        /* nothing to get */
	if (n > left)
		n = left;
	if (uk_buf_put(resp, x->pending.data + x->pending_off, n) != 0)
		return UK_SW_UNKNOWN;
	x->pending_off += n;
	left -= n;
	if (left > 0)
		return sw_remaining(left);
	ukt_xport_drop_response(x);
	return UK_SW_OK;
}
