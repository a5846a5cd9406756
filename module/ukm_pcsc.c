/* ukey module: the PC/SC context and readers -> PKCS#11 slots.
 *
 * The context is established lazily (never in C_Initialize) and re-established when pcscd
 * went away or restarted. With no pcscd every call sees zero slots at once, so p11-kit can
 * load the module into every process cheaply. A slot is one reader; its ID is fixed per
 * reader name for as long as the module is loaded (slots are never freed, only unlisted).
 * Card presence comes from SCardGetStatusChange with a zero timeout: no APDUs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uk_log.h"
#include "uk_wipe.h"
#include "ukm.h"

static SCARDCONTEXT g_ctx;
static int g_have_ctx;
static ukm_slot **g_slots;
static size_t g_nslots;
static int g_baseline;          /* the slots' state at the first look is no slot event */

SCARDCONTEXT ukm_pcsc_context(void)
{
	return g_ctx;
}

size_t ukm_slot_count(void)
{
	return g_nslots;
}

ukm_slot *ukm_slot_at(size_t i)
{
	return i < g_nslots ? g_slots[i] : NULL;
}

ukm_slot *ukm_slot_get(CK_SLOT_ID id)
{
	return id < g_nslots ? g_slots[id] : NULL;
}

/* Errors after which the context is no good any more (pcscd stopped or restarted). */
int ukm_pcsc_context_lost(LONG rc)
{
	static const LONG lost[] = { SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED,
	                             SCARD_E_INVALID_HANDLE, SCARD_F_COMM_ERROR };
	size_t i;

	for (i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
		if (rc == lost[i])
			return 1;
	return 0;
}

/* Forget every connection and the context. talk = 0 in a forked child: the parent's
 * socket must not be used; the context is then simply abandoned. */
void ukm_pcsc_release(int talk)
{
	size_t i;

	for (i = 0; i < g_nslots; i++) {
		ukm_session_close_slot(g_slots[i], talk);
		ukm_card_forget(g_slots[i], talk);
		g_slots[i]->listed = 0;
		g_slots[i]->card_present = 0;
		g_slots[i]->session_count = 0;
		g_slots[i]->rw_count = 0;
		g_slots[i]->epoch++;
	}
	if (g_have_ctx && talk)
		SCardReleaseContext(g_ctx);
	g_have_ctx = 0;
	g_ctx = 0;
}

static int ukm_pcsc_establish(void)
{
	LONG rc;

	if (g_have_ctx)
		return 0;
	rc = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &g_ctx);
	if (rc != SCARD_S_SUCCESS) {
		uk_log(UK_LOG_INFO, "module", "no PC/SC service (0x%lx)", (unsigned long)rc);
		return -1;
	}
	g_have_ctx = 1;
	return 0;
}

static ukm_slot *ukm_slot_for_reader(const char *name)
{
	ukm_slot **grown, *s;
	size_t i;

	for (i = 0; i < g_nslots; i++)
		if (strcmp(g_slots[i]->reader, name) == 0)
			return g_slots[i];
	grown = realloc(g_slots, (g_nslots + 1) * sizeof(*g_slots));
	if (grown == NULL)
		return NULL;
	g_slots = grown;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->reader = strdup(name)) == NULL) {
		free(s);
		return NULL;
	}
	s->id = g_nslots;
	s->epoch = 1;
	g_slots[g_nslots++] = s;
	return s;
}

/* SCardListReaders into a multi-string; a lost context is re-established once. */
static LONG ukm_pcsc_list(char **names)
{
	DWORD len = SCARD_AUTOALLOCATE;
	LONG rc;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (ukm_pcsc_establish() != 0)
			return SCARD_E_NO_SERVICE;
		len = SCARD_AUTOALLOCATE;
		rc = SCardListReaders(g_ctx, NULL, (LPSTR)names, &len);
		if (!ukm_pcsc_context_lost(rc))
			return rc;
		ukm_pcsc_release(1);
	}
	return rc;
}

/* A card event on s (removal, insertion, reader gone): its sessions end, its state goes. */
static void ukm_slot_card_changed(ukm_slot *s, unsigned counter, int present)
{
	ukm_session_close_slot(s, 0);
	ukm_card_forget(s, 1);
	s->epoch++;
	s->not_ukey = 0;
	s->event_count = counter;
	s->card_present = present;
}

static void ukm_pcsc_status(void)
{
	SCARD_READERSTATE rs[16];
	ukm_slot *map[16];
	size_t i, n = 0;
	unsigned counter;
	int present;

	for (i = 0; i < g_nslots && n < 16; i++) {
		if (!g_slots[i]->listed)
			continue;
		memset(&rs[n], 0, sizeof(rs[n]));
		rs[n].szReader = g_slots[i]->reader;
		rs[n].dwCurrentState = SCARD_STATE_UNAWARE;
		map[n++] = g_slots[i];
	}
	if (n == 0 || SCardGetStatusChange(g_ctx, 0, rs, (DWORD)n) != SCARD_S_SUCCESS)
		return;
	for (i = 0; i < n; i++) {
		present = (rs[i].dwEventState & SCARD_STATE_PRESENT) != 0;
		counter = (unsigned)(rs[i].dwEventState >> 16) & 0xFFFF;
		if (present != map[i]->card_present || counter != map[i]->event_count)
			ukm_slot_card_changed(map[i], counter, present);
	}
}

CK_RV ukm_pcsc_refresh(void)
{
	char *names = NULL, *p;
	ukm_slot *s;
	size_t i;
	LONG rc;

	rc = ukm_pcsc_list(&names);
	for (i = 0; i < g_nslots; i++)
		g_slots[i]->listed = 0;
	if (rc == SCARD_S_SUCCESS) {
		for (p = names; *p != '\0'; p += strlen(p) + 1) {
			s = ukm_slot_for_reader(p);
			if (s == NULL) {
				SCardFreeMemory(g_ctx, names);
				return CKR_HOST_MEMORY;
			}
			s->listed = 1;
		}
		SCardFreeMemory(g_ctx, names);
	}
	for (i = 0; i < g_nslots; i++)
		if (!g_slots[i]->listed && (g_slots[i]->card_present || g_slots[i]->connected))
			ukm_slot_card_changed(g_slots[i], 0, 0);
	if (g_have_ctx)
		ukm_pcsc_status();
	if (!g_baseline) {
		for (i = 0; i < g_nslots; i++)
			g_slots[i]->seen_epoch = g_slots[i]->epoch;
		g_baseline = 1;
	}
	return CKR_OK;
}

static double ukm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Follow the reader's state changes (in-use, mute ... come first) until the card is gone or
 * ms have passed. */
int ukm_pcsc_card_gone(ukm_slot *s, unsigned ms)
{
	double end = ukm_now_ms() + ms, left;
	SCARD_READERSTATE rs;

	memset(&rs, 0, sizeof(rs));
	rs.szReader = s->reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	while (g_have_ctx) {
		left = end - ukm_now_ms();
		if (SCardGetStatusChange(g_ctx, rs.dwCurrentState == SCARD_STATE_UNAWARE ? 0 :
		                         left > 0 ? (DWORD)left : 0, &rs, 1) != SCARD_S_SUCCESS)
			return 0;
		if (!(rs.dwEventState & SCARD_STATE_PRESENT))
			return 1;
		if (left <= 0)
			return 0;
		rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
	}
	return 0;
}

void ukm_pcsc_events_baseline(void)
{
	g_baseline = 0;
}

/* ---- C_WaitForSlotEvent's blocking step ----
 * Each waiting thread has its own PC/SC context: a pcsc-lite context serialises its calls,
 * so waiting on the shared one would stall every other thread's PC/SC call. The contexts
 * are registered so that C_Finalize can SCardCancel them; each wait step is bounded
 * (UKM_WAIT_STEP_MS), so a cancel lost in a race only delays the return by one step. */

#define UKM_WAITS_MAX 16
#define UKM_WAIT_STEP_MS 1000

static pthread_mutex_t g_wait_lock = PTHREAD_MUTEX_INITIALIZER;
static SCARDCONTEXT g_wait_ctx[UKM_WAITS_MAX];
static int g_wait_used[UKM_WAITS_MAX];
static unsigned g_wait_gen;     /* bumped by every C_Finalize */

static int ukm_wait_register(SCARDCONTEXT ctx, unsigned *gen)
{
	int i, slot = -1;

	pthread_mutex_lock(&g_wait_lock);
	*gen = g_wait_gen;
	for (i = 0; i < UKM_WAITS_MAX && slot < 0; i++) {
		if (!g_wait_used[i]) {
			g_wait_used[i] = 1;
			g_wait_ctx[i] = ctx;
			slot = i;
		}
	}
	pthread_mutex_unlock(&g_wait_lock);
	return slot;            /* -1: not cancellable, still bounded by the step */
}

/* Returns 1 when C_Finalize ran since registration. */
static int ukm_wait_unregister(int slot, unsigned gen)
{
	int cancelled;

	pthread_mutex_lock(&g_wait_lock);
	if (slot >= 0)
		g_wait_used[slot] = 0;
	cancelled = gen != g_wait_gen;
	pthread_mutex_unlock(&g_wait_lock);
	return cancelled;
}

void ukm_pcsc_cancel_waits(void)
{
	int i;

	pthread_mutex_lock(&g_wait_lock);
	g_wait_gen++;
	for (i = 0; i < UKM_WAITS_MAX; i++)
		if (g_wait_used[i])
			SCardCancel(g_wait_ctx[i]);
	pthread_mutex_unlock(&g_wait_lock);
}

/* Readers of ctx plus the PnP pseudo reader (reader added/removed), current state known. */
static DWORD ukm_wait_states(SCARDCONTEXT ctx, char **names, SCARD_READERSTATE *rs, DWORD cap)
{
	DWORD len = SCARD_AUTOALLOCATE, n = 0, i;
	char *p;

	*names = NULL;
	if (SCardListReaders(ctx, NULL, (LPSTR)names, &len) == SCARD_S_SUCCESS)
		for (p = *names; *p != '\0' && n + 1 < cap; p += strlen(p) + 1)
			rs[n++].szReader = p;
	rs[n++].szReader = "\\\\?PnP?\\Notification";
	for (i = 0; i < n; i++)
		rs[i].dwCurrentState = SCARD_STATE_UNAWARE;
	if (SCardGetStatusChange(ctx, 0, rs, n) != SCARD_S_SUCCESS)
		return 0;
	for (i = 0; i < n; i++)
		rs[i].dwCurrentState = rs[i].dwEventState & ~SCARD_STATE_CHANGED;
	return n;
}

static void ukm_wait_sleep(void)
{
	struct timespec ts = { .tv_sec = UKM_WAIT_STEP_MS / 1000,
	                       .tv_nsec = (UKM_WAIT_STEP_MS % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

CK_RV ukm_pcsc_wait(void)
{
	SCARD_READERSTATE rs[17];
	SCARDCONTEXT ctx;
	char *names = NULL;
	unsigned gen;
	int slot;
	DWORD n;

	int cancelled;

	memset(rs, 0, sizeof(rs));
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS) {
		/* No pcscd: look again after one step (it may be started meanwhile). */
		pthread_mutex_lock(&g_wait_lock);
		gen = g_wait_gen;       /* nothing to cancel: only the generation matters */
		pthread_mutex_unlock(&g_wait_lock);
		ukm_wait_sleep();
		cancelled = ukm_wait_unregister(-1, gen);
	} else {
		slot = ukm_wait_register(ctx, &gen);
		n = ukm_wait_states(ctx, &names, rs, 17);
		if (n > 0)
			(void)SCardGetStatusChange(ctx, UKM_WAIT_STEP_MS, rs, n);
		else
			ukm_wait_sleep();
		if (names != NULL)
			SCardFreeMemory(ctx, names);
		cancelled = ukm_wait_unregister(slot, gen);
		SCardReleaseContext(ctx);
	}
	return cancelled || !ukm_lib_initialized() ? CKR_CRYPTOKI_NOT_INITIALIZED : CKR_OK;
}

/* Slots outlive C_Finalize so a reader keeps its ID while the module is loaded; their
 * memory goes when the module is unloaded (dlclose). No PC/SC here: C_Finalize released
 * the context, and an application that never finalised must not be called into. */
__attribute__((destructor)) static void ukm_pcsc_unload(void)
{
	size_t i;

	for (i = 0; i < g_nslots; i++) {
		uk_wipe(&g_slots[i]->sm, sizeof(g_slots[i]->sm));
		free(g_slots[i]->reader);
		free(g_slots[i]);
	}
	free(g_slots);
	g_slots = NULL;
	g_nslots = 0;
}
