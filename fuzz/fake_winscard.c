/* A fuzz-only PC/SC layer (the winscard.h API of pcsc-lite) for module_card_fuzz.c: one
 * reader, "ukey fuzz reader 00 00", holding a scripted card. It replaces libpcsclite in the
 * fuzz binaries (never installed, never in the module).
 *
 * The card's answers come from a script (fake_card_script): each answer is
 *     len (2 bytes, big-endian) || len bytes
 * given in order to SCardTransmit whatever the command; a len with bit 15 set is no answer
 * but a PC/SC failure picked by its low bits from pc_errors (removed card, reset card, ...).
 * A stuck card (repeat set) then gives its last answer again for ever, so a loop of the
 * module that waits for the card to change its mind shows as a libFuzzer timeout.
 * Otherwise, when the script is used up, or a removal is scripted, the card is gone: SCardTransmit
 * answers SCARD_W_REMOVED_CARD, SCardGetStatusChange reports an empty reader, SCardConnect
 * SCARD_E_NO_SMARTCARD, so every input ends at once instead of waiting on a timeout.
 * SCardGetStatusChange with a timeout and nothing new answers SCARD_E_TIMEOUT at once (as
 * pcscd would after waiting). Handles are checked; SCardListReaders follows pcsc-lite's
 * SCARD_AUTOALLOCATE contract, so a leak of the list shows in LeakSanitizer.
 * For seeds, fake_card_record puts a real card (a backend) behind the reader and records its
 * answers in the script format (module_card_record.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>

#include "fake_winscard.h"

const SCARD_IO_REQUEST g_rgSCardT0Pci = { SCARD_PROTOCOL_T0, sizeof(SCARD_IO_REQUEST) };
const SCARD_IO_REQUEST g_rgSCardT1Pci = { SCARD_PROTOCOL_T1, sizeof(SCARD_IO_REQUEST) };
const SCARD_IO_REQUEST g_rgSCardRawPci = { SCARD_PROTOCOL_RAW, sizeof(SCARD_IO_REQUEST) };

#define READER "ukey fuzz reader 00 00"
#define CTX_ID 0x5C5CUL
#define CARD_ID 0xCA4DUL

static const LONG pc_errors[8] = {
	SCARD_W_REMOVED_CARD, SCARD_W_RESET_CARD, SCARD_E_NO_SMARTCARD, SCARD_F_COMM_ERROR,
	SCARD_E_TIMEOUT, SCARD_E_INSUFFICIENT_BUFFER, SCARD_E_NOT_TRANSACTED, SCARD_E_NO_SERVICE,
};

static const uint8_t *g_p;
static size_t g_n;
static int g_repeat;                    /* script used up: the last answer again, forever */
static const uint8_t *g_last;
static size_t g_last_len;
static int g_present, g_have_ctx, g_connected;
static unsigned g_events;               /* pcsc-lite's event counter (high 16 bits) */
static unsigned long g_transmits;
static fake_card_backend g_backend;     /* recording: a real card answers */
static void *g_backend_ctx;
static uint8_t *g_rec;
static size_t g_rec_len;

void fake_card_script(const uint8_t *p, size_t n, int repeat)
{
	g_p = p;
	g_n = n;
	g_repeat = repeat;
	g_last = NULL;
	g_last_len = 0;
	g_present = 1;
	g_connected = 0;
	g_events++;
	g_transmits = 0;
}

unsigned long fake_card_transmits(void)
{
	return g_transmits;
}

static void card_gone(void)
{
	if (g_present)
		g_events++;
	g_present = 0;
	g_connected = 0;
}

LONG SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx)
{
	(void)scope, (void)r1, (void)r2;
	if (ctx == NULL)
		return SCARD_E_INVALID_PARAMETER;
	*ctx = CTX_ID;
	g_have_ctx = 1;
	return SCARD_S_SUCCESS;
}

LONG SCardReleaseContext(SCARDCONTEXT ctx)
{
	if (ctx != CTX_ID || !g_have_ctx)
		return SCARD_E_INVALID_HANDLE;
	g_have_ctx = 0;
	g_connected = 0;
	return SCARD_S_SUCCESS;
}

LONG SCardIsValidContext(SCARDCONTEXT ctx)
{
	return ctx == CTX_ID && g_have_ctx ? SCARD_S_SUCCESS : SCARD_E_INVALID_HANDLE;
}

LONG SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len)
{
	static const char names[] = READER "\0";
	char *p;

	(void)groups;
	if (ctx != CTX_ID || !g_have_ctx)
		return SCARD_E_INVALID_HANDLE;
	if (len == NULL)
		return SCARD_E_INVALID_PARAMETER;
	if (*len == SCARD_AUTOALLOCATE && readers != NULL) {
		if ((p = malloc(sizeof(names))) == NULL)
			return SCARD_E_NO_MEMORY;
		memcpy(p, names, sizeof(names));
		*(char **)readers = p;
	} else if (readers != NULL) {
		if (*len < sizeof(names)) {
			*len = sizeof(names);
			return SCARD_E_INSUFFICIENT_BUFFER;
		}
		memcpy(readers, names, sizeof(names));
	}
	*len = sizeof(names);
	return SCARD_S_SUCCESS;
}

LONG SCardFreeMemory(SCARDCONTEXT ctx, LPCVOID mem)
{
	(void)ctx;
	free((void *)mem);
	return SCARD_S_SUCCESS;
}

static DWORD reader_state(void)
{
	DWORD st = g_present ? SCARD_STATE_PRESENT : SCARD_STATE_EMPTY;

	if (g_present && g_connected)
		st |= SCARD_STATE_INUSE;
	return st | (DWORD)(g_events & 0xFFFF) << 16;
}

LONG SCardGetStatusChange(SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *rs, DWORD n)
{
	DWORD i, now = reader_state();
	int changed = 0;

	if (ctx != CTX_ID || !g_have_ctx)
		return SCARD_E_INVALID_HANDLE;
	for (i = 0; i < n; i++) {
		if (rs[i].szReader == NULL || strcmp(rs[i].szReader, READER) != 0) {
			rs[i].dwEventState = SCARD_STATE_UNKNOWN | SCARD_STATE_CHANGED;
			changed = 1;
			continue;
		}
		rs[i].dwEventState = now;
		rs[i].cbAtr = 0;
		if ((rs[i].dwCurrentState & ~(DWORD)SCARD_STATE_CHANGED) != now) {
			rs[i].dwEventState |= SCARD_STATE_CHANGED;
			changed = 1;
		}
	}
	return changed || timeout == 0 ? SCARD_S_SUCCESS : SCARD_E_TIMEOUT;
}

LONG SCardCancel(SCARDCONTEXT ctx)
{
	(void)ctx;
	return SCARD_S_SUCCESS;
}

LONG SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protos,
                  LPSCARDHANDLE card, LPDWORD proto)
{
	(void)share;
	if (ctx != CTX_ID || !g_have_ctx)
		return SCARD_E_INVALID_HANDLE;
	if (reader == NULL || strcmp(reader, READER) != 0)
		return SCARD_E_UNKNOWN_READER;
	if (!g_present)
		return SCARD_E_NO_SMARTCARD;
	*card = CARD_ID;
	*proto = protos & SCARD_PROTOCOL_T1 ? SCARD_PROTOCOL_T1 : SCARD_PROTOCOL_T0;
	g_connected = 1;
	return SCARD_S_SUCCESS;
}

static LONG check_card(SCARDHANDLE card)
{
	if (card != CARD_ID || !g_connected)
		return SCARD_E_INVALID_HANDLE;
	return g_present ? SCARD_S_SUCCESS : SCARD_W_REMOVED_CARD;
}

LONG SCardReconnect(SCARDHANDLE card, DWORD share, DWORD protos, DWORD init, LPDWORD proto)
{
	LONG rc = check_card(card);

	(void)share, (void)init;
	if (rc == SCARD_S_SUCCESS)
		*proto = protos & SCARD_PROTOCOL_T1 ? SCARD_PROTOCOL_T1 : SCARD_PROTOCOL_T0;
	return rc;
}

LONG SCardDisconnect(SCARDHANDLE card, DWORD disp)
{
	(void)disp;
	if (card != CARD_ID || !g_connected)
		return SCARD_E_INVALID_HANDLE;
	g_connected = 0;
	return SCARD_S_SUCCESS;
}

LONG SCardBeginTransaction(SCARDHANDLE card)
{
	return check_card(card);
}

LONG SCardEndTransaction(SCARDHANDLE card, DWORD disp)
{
	(void)disp;
	return check_card(card);
}

/* The next scripted answer: 0 and its bytes, or a PC/SC failure. */
static LONG next_answer(const uint8_t **ans, size_t *len)
{
	size_t n;

	if (g_n < 2 && g_repeat && g_last != NULL) {
		*ans = g_last;
		*len = g_last_len;
		return SCARD_S_SUCCESS;
	}
	if (g_n < 2) {
		card_gone();
		return SCARD_W_REMOVED_CARD;
	}
	n = (size_t)g_p[0] << 8 | g_p[1];
	g_p += 2;
	g_n -= 2;
	if (n & 0x8000) {
		if (pc_errors[n & 7] == SCARD_W_REMOVED_CARD || pc_errors[n & 7] == SCARD_E_NO_SMARTCARD)
			card_gone();
		return pc_errors[n & 7];
	}
	if (n > g_n)
		n = g_n;
	*ans = g_last = g_p;
	*len = g_last_len = n;
	g_p += n;
	g_n -= n;
	return SCARD_S_SUCCESS;
}

void fake_card_record(fake_card_backend fn, void *ctx)
{
	g_backend = fn;
	g_backend_ctx = ctx;
	free(g_rec);
	g_rec = NULL;
	g_rec_len = 0;
}

const uint8_t *fake_card_recorded(size_t *len)
{
	*len = g_rec_len;
	return g_rec;
}

/* Recording: the backend's answer, appended to the script being recorded. */
static LONG backend_answer(const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	uint8_t *grown;

	if (g_backend(g_backend_ctx, cmd, n, resp, rlen) != 0 || *rlen > 0x7FFF)
		return SCARD_F_COMM_ERROR;
	if ((grown = realloc(g_rec, g_rec_len + 2 + *rlen)) == NULL)
		return SCARD_E_NO_MEMORY;
	g_rec = grown;
	g_rec[g_rec_len] = (uint8_t)(*rlen >> 8);
	g_rec[g_rec_len + 1] = (uint8_t)*rlen;
	memcpy(g_rec + g_rec_len + 2, resp, *rlen);
	g_rec_len += 2 + *rlen;
	return SCARD_S_SUCCESS;
}

LONG SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST *spci, LPCBYTE cmd, DWORD cmdlen,
                   SCARD_IO_REQUEST *rpci, LPBYTE resp, LPDWORD resplen)
{
	const uint8_t *ans = NULL;
	volatile uint8_t sink = 0;
	size_t n = 0;
	DWORD i;
	LONG rc;

	(void)rpci;
	if ((rc = check_card(card)) != SCARD_S_SUCCESS)
		return rc;
	if (spci == NULL || cmd == NULL || cmdlen == 0 || resp == NULL || resplen == NULL)
		return SCARD_E_INVALID_PARAMETER;
	for (i = 0; i < cmdlen; i++)        /* the whole command must be readable (ASan) */
		sink ^= cmd[i];
	(void)sink;
	g_transmits++;
	if (g_backend != NULL) {
		n = *resplen;
		rc = backend_answer(cmd, cmdlen, resp, &n);
		*resplen = (DWORD)n;
		return rc;
	}
	if ((rc = next_answer(&ans, &n)) != SCARD_S_SUCCESS)
		return rc;
	if (n > *resplen)
		return SCARD_E_INSUFFICIENT_BUFFER;
	if (n > 0)
		memcpy(resp, ans, n);
	*resplen = (DWORD)n;
	return SCARD_S_SUCCESS;
}

LONG SCardStatus(SCARDHANDLE card, LPSTR names, LPDWORD nlen, LPDWORD state, LPDWORD proto,
                 LPBYTE atr, LPDWORD atrlen)
{
	LONG rc = check_card(card);

	(void)names;
	if (nlen != NULL)
		*nlen = 0;
	if (state != NULL)
		*state = g_present ? SCARD_SPECIFIC : SCARD_ABSENT;
	if (proto != NULL)
		*proto = SCARD_PROTOCOL_T1;
	(void)atr;
	if (atrlen != NULL)
		*atrlen = 0;
	return rc;
}

LONG SCardControl(SCARDHANDLE card, DWORD code, LPCVOID in, DWORD inlen, LPVOID out,
                  DWORD outlen, LPDWORD got)
{
	(void)card, (void)code, (void)in, (void)inlen, (void)out, (void)outlen;
	if (got != NULL)
		*got = 0;
	return SCARD_E_UNSUPPORTED_FEATURE;
}

LONG SCardGetAttrib(SCARDHANDLE card, DWORD id, LPBYTE attr, LPDWORD len)
{
	(void)card, (void)id, (void)attr, (void)len;
	return SCARD_E_UNSUPPORTED_FEATURE;
}
