/* ukey token: the card's APDU transport (docs/apdu.md "Transport"), between the parsed
 * command and the instruction table of ukt_card.c. Internal to the token, not installed.
 *
 *  - command chaining, ISO/IEC 7816-4:2005 §5.1.1.1: CLA bit b5 (0x10) set means "more
 *    commands of this chain follow"; the data fields are reassembled and the last part
 *    (b5 clear) executes with the whole data;
 *  - response paging, §5.1.3 (SW 61xx) and §7.6.1 GET RESPONSE: an answer longer than a
 *    short Ne can carry is served in pieces. */
#ifndef UKT_XPORT_H
#define UKT_XPORT_H

#include <stddef.h>
#include <stdint.h>

#include "uk_apdu.h"
#include "uk_buf.h"
#include "uk_sm.h"

#define UKT_CLA_CHAIN 0x10
#define UKT_INS_GET_RESPONSE 0xC0
/* Largest reassembled data field: the largest data an instruction takes (65,535 bytes,
 * a whole file) plus the secure-messaging wrapper (21) and its padding block (16). */
#define UKT_CHAIN_MAX (UK_APDU_MAX_NC + UK_SM_OVERHEAD + 16u)
/* Largest response piece a short Ne can take (ISO 7816-4 §5.1: Ne ≤ 256). */
#define UKT_SHORT_NE_MAX 256u

typedef struct ukt_xport {
	int chaining;                   /* a chain is open */
	int streamed;                   /* its parts go to the feed, not to chain */
	uint8_t cla, ins, p1, p2;       /* its header; cla without the chaining bit */
	uk_buf chain;                   /* data of the parts received so far */
	uk_buf pending;                 /* answer bytes not yet fetched by GET RESPONSE */
	size_t pending_off;
} ukt_xport;

void ukt_xport_init(ukt_xport *x);
/* Drop the open chain and the pending answer (power off, reset) and wipe them. */
void ukt_xport_reset(ukt_xport *x);
void ukt_xport_free(ukt_xport *x);

/* Any command but GET RESPONSE discards the pending answer (§7.6.1). */
void ukt_xport_drop_response(ukt_xport *x);

/* Checks the card makes on the first part of a chain, before accepting it (the same as for
 * an unchained command: class, instruction, selection, secure-messaging policy, P1 P2,
 * and whether the instruction takes data at all); UK_SW_OK or the status word to answer. */
typedef uint16_t (*ukt_chain_check)(void *arg, const uk_apdu *first);

/* The card's side of chaining. check: as above. streamed (NULL: none is): 1 when the chain
 * an accepted first part opens is streamed, i.e. its parts are not kept but given to feed
 * as they arrive (first = 1 for the first part; the part's header and data), so no
 * UKT_CHAIN_MAX applies, and the last part executes with its own data only. For plain forms
 * only: a secured chain's MAC covers the reassembled data. feed answers UK_SW_OK or a
 * status word that ends the chain. */
typedef struct ukt_chain_ops {
	ukt_chain_check check;
	int (*streamed)(void *arg, const uk_apdu *first);
	uint16_t (*feed)(void *arg, int first, const uk_apdu *part);
	void *arg;
} ukt_chain_ops;

/* What ukt_xport_chain decided. */
enum {
	UKT_CHAIN_ANSWER = 0,           /* answer *sw, execute nothing */
	UKT_CHAIN_EXECUTE = 1,          /* execute *whole: unchained, or a reassembled chain */
	UKT_CHAIN_EXECUTE_STREAMED = 2, /* execute *whole, the last part of a streamed chain */
};

/* Feed one parsed command through chaining. Returns UKT_CHAIN_EXECUTE when a command must
 * execute now: *whole is a itself (no chain involved) or the reassembled chain, whose data
 * points into x and stays valid until the next call; UKT_CHAIN_EXECUTE_STREAMED for the last
 * part of a streamed chain (*whole is that part, CLA without the chaining bit; the earlier
 * parts went to ops->feed). Returns UKT_CHAIN_ANSWER when the card answers *sw without
 * executing anything: 9000 for an accepted non-final part, 6883 for a part whose header
 * differs from the chain's, 6700 past UKT_CHAIN_MAX, the refusal of check or of feed. A
 * command of another instruction drops the open chain and is processed on its own. */
int ukt_xport_chain(ukt_xport *x, const uk_apdu *a, const ukt_chain_ops *ops, uk_apdu *whole,
                    uint16_t *sw);

/* Fit the answer of the executed command *whole (resp, status sw) to its Ne: returns the
 * status word to send and may shorten resp. Extended Ne: 6700 if smaller than the answer.
 * Short or absent Ne: an answer of at most 256 bytes is sent whole (6Cxx, xx = its length,
 * when a short Ne is smaller); a longer one is cut to Ne (256 when absent), the rest kept
 * for GET RESPONSE, and 61xx answered (xx = bytes left, 00 for 256 or more). */
uint16_t ukt_xport_answer(ukt_xport *x, const uk_apdu *whole, uk_buf *resp, uint16_t sw);

/* GET RESPONSE 00 C0 00 00 [Le] (§7.6.1): the next min(Ne, left) pending bytes (Ne = 256
 * when absent), 61xx while bytes remain, 9000 with the last piece. Nothing pending: 6985.
 * P1 P2 were checked by the instruction table; a data field answers 6700. */
uint16_t ukt_xport_get_response(ukt_xport *x, const uk_apdu *a, uk_buf *resp);

#endif
