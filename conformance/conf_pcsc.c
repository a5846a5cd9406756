/* ukey conformance: PC/SC transport through libpcsclite (PC/SC Workgroup part 5 API). */
#include "conf_pcsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winscard.h>

/* Bound on waiting for pcscd to show a card (the sandbox already waited for it). */
#define CONF_PCSC_WAIT_MS 5000

struct conf_pcsc {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD proto;
	int connected;
	LONG last;
	char reader[256];
};

static int pcsc_fail(conf_pcsc *pc, const char *what, LONG rv)
{
	pc->last = rv;
	fprintf(stderr, "conformance: %s: %s (0x%08lX)\n", what, pcsc_stringify_error(rv),
	        (unsigned long)rv);
	return -1;
}

/* Pick the first reader of the list whose state shows a card. */
static int pick_reader(conf_pcsc *pc)
{
	char *list = NULL, *r;
	DWORD len = SCARD_AUTOALLOCATE;
	SCARD_READERSTATE st;
	LONG rv;
	int found = -1;

	rv = SCardListReaders(pc->ctx, NULL, (LPSTR)&list, &len);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_fail(pc, "SCardListReaders", rv);
	for (r = list; *r != '\0' && found != 0; r += strlen(r) + 1) {
		memset(&st, 0, sizeof(st));
		st.szReader = r;
		st.dwCurrentState = SCARD_STATE_UNAWARE;
		rv = SCardGetStatusChange(pc->ctx, CONF_PCSC_WAIT_MS, &st, 1);
		if (rv == SCARD_S_SUCCESS && (st.dwEventState & SCARD_STATE_PRESENT) &&
		    strlen(r) < sizeof(pc->reader)) {
			strcpy(pc->reader, r);
			found = 0;
		}
	}
	SCardFreeMemory(pc->ctx, list);
	if (found != 0)
		fprintf(stderr, "conformance: no PC/SC reader holds a card\n");
	return found;
}

conf_pcsc *conf_pcsc_open(void)
{
	conf_pcsc *pc = calloc(1, sizeof(*pc));
	LONG rv;

	if (pc == NULL)
		return NULL;
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &pc->ctx);
	if (rv != SCARD_S_SUCCESS) {
		pcsc_fail(pc, "SCardEstablishContext", rv);
		free(pc);
		return NULL;
	}
	if (pick_reader(pc) != 0)
		goto fail;
	rv = SCardConnect(pc->ctx, pc->reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &pc->card,
	                  &pc->proto);
	if (rv != SCARD_S_SUCCESS) {
		pcsc_fail(pc, "SCardConnect", rv);
		goto fail;
	}
	pc->connected = 1;
	return pc;
fail:
	conf_pcsc_close(pc);
	return NULL;
}

void conf_pcsc_close(conf_pcsc *pc)
{
	if (pc == NULL)
		return;
	if (pc->connected)
		SCardDisconnect(pc->card, SCARD_LEAVE_CARD);
	SCardReleaseContext(pc->ctx);
	free(pc);
}

int conf_pcsc_transmit(conf_pcsc *pc, const uint8_t *cmd, size_t n, uint8_t *resp,
                       size_t *rlen)
{
	DWORD len = (DWORD)*rlen;
	LONG rv;

	rv = SCardTransmit(pc->card, SCARD_PCI_T1, cmd, (DWORD)n, NULL, resp, &len);
	if (rv != SCARD_S_SUCCESS) {
		pc->last = rv;
		*rlen = 0;
		return -1;
	}
	pc->last = 0;
	*rlen = len;
	return 0;
}

int conf_pcsc_reset(conf_pcsc *pc)
{
	LONG rv = SCardReconnect(pc->card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1,
	                         SCARD_RESET_CARD, &pc->proto);

	return rv == SCARD_S_SUCCESS ? 0 : pcsc_fail(pc, "SCardReconnect", rv);
}

long conf_pcsc_last_error(const conf_pcsc *pc)
{
	return (long)pc->last;
}
