/* ukey conformance: the PC/SC transport (libpcsclite) of the harness. */
#ifndef CONF_PCSC_H
#define CONF_PCSC_H

#include <stddef.h>
#include <stdint.h>

typedef struct conf_pcsc conf_pcsc;

/* SCardEstablishContext, the first reader with a card present, SCardConnect (shared, T=1).
 * NULL on failure (the reason is printed). */
conf_pcsc *conf_pcsc_open(void);
void conf_pcsc_close(conf_pcsc *pc);
/* SCardTransmit; resp has *rlen bytes of room, receives data || SW1 SW2. 0 or -1. */
int conf_pcsc_transmit(conf_pcsc *pc, const uint8_t *cmd, size_t n, uint8_t *resp,
                       size_t *rlen);
/* SCardReconnect with SCARD_RESET_CARD (warm reset). 0 or -1. */
int conf_pcsc_reset(conf_pcsc *pc);
/* The PC/SC error of the last failed call (a LONG), 0 if none. */
long conf_pcsc_last_error(const conf_pcsc *pc);

#endif
