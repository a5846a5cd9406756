/* ukey token tests: a small host side of the APDU profile (docs/apdu.md) that builds plain
 * and secured APDUs with uk_sm, for the token's tests and, through the transfer callback,
 * for conformance tests over other transports (PC/SC, the vpcd link). */
#ifndef UKT_HOST_H
#define UKT_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"
#include "uk_sm.h"
#include "ukt_card.h"

/* Send one command APDU, receive data || SW1 SW2 (*rlen: room in, length out). 0 or -1. */
typedef int (*ukt_host_xfer)(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp,
                             size_t *rlen);

#define UKT_HOST_NO_LE (-1)

typedef struct ukt_host {
	ukt_host_xfer xfer;
	void *ctx;
	uk_sm_session sm;       /* the current secure session (after ukt_host_open_session) */
	uint8_t resp[65538];    /* data of the last response (SW stripped) */
	size_t rlen;
} ukt_host;

/* Talk to an in-process card. */
void ukt_host_init_card(ukt_host *h, ukt_card *card);
void ukt_host_init(ukt_host *h, ukt_host_xfer xfer, void *ctx);

/* Send raw bytes; returns the SW (0 on transport failure); h->resp/rlen get the data. */
uint16_t ukt_host_raw(ukt_host *h, const uint8_t *cmd, size_t n);
/* Send a hex string ("00A40400 06 F0756B657901"). */
uint16_t ukt_host_hex(ukt_host *h, const char *hex);
/* Build (short or extended as needed) and send; le = UKT_HOST_NO_LE for none. */
uint16_t ukt_host_plain(ukt_host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                        const uint8_t *data, size_t n, long le);

/* PSO HASH (docs/apdu.md, ISO 7816-8 §5.2) of msg: one plain 00 2A 90 80 when part is 0 or
 * n <= part, else a streamed chain of part-byte commands (CLA 10, the last with CLA 00; an
 * extended Lc where part > 255). Returns the SW of the last command (or the first refusal);
 * on 9000 h->resp holds the 32-byte SM3 digest. */
uint16_t ukt_host_hash(ukt_host *h, const uint8_t *msg, size_t n, size_t part);

/* SELECT the ukey application. */
uint16_t ukt_host_select(ukt_host *h);
/* GENERAL AUTHENTICATE: open a secure session into h->sm. */
uint16_t ukt_host_open_session(ukt_host *h);

/* Build the secured APDU (cla gets the SM bit; advances h->sm.ctr) into apdu. 0 or -1. */
int ukt_host_build_secured(ukt_host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                           const uint8_t *payload, size_t n, int encrypt, long le,
                           uk_buf *apdu);
uint16_t ukt_host_secured(ukt_host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                          const uint8_t *payload, size_t n, int encrypt, long le);

/* Secured VERIFY of a PIN (p2 81 user, 82 SO); pin is pointer + length. */
uint16_t ukt_host_verify(ukt_host *h, uint8_t p2, const void *pin, size_t len);
/* CREATE CONTAINER name; on 9000 h->resp holds 80 01 index. */
uint16_t ukt_host_create_container(ukt_host *h, const char *name);
/* GENERATE an SM2 pair at key reference kr; on 9000 pub gets 04||X||Y (may be NULL). */
uint16_t ukt_host_generate(ukt_host *h, uint8_t kr, uint8_t alg, uint8_t pub[65]);
/* PSO COMPUTE DIGITAL SIGNATURE mech 01 over e; on 9000 sig gets r||s (may be NULL). */
uint16_t ukt_host_sign(ukt_host *h, uint8_t kr, const uint8_t e[32], uint8_t sig[64]);

#endif
