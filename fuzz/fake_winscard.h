/* fuzz-only PC/SC layer (fake_winscard.c): one reader with a scripted card. */
#ifndef FAKE_WINSCARD_H
#define FAKE_WINSCARD_H

#include <stddef.h>
#include <stdint.h>

/* Insert a card whose answers are the script p (n bytes; kept, not copied: it must live
 * until the next call). Each insertion is a new card event. repeat: when the script is used
 * up the card repeats its last answer for ever (a stuck card) instead of going away. */
void fake_card_script(const uint8_t *p, size_t n, int repeat);
/* SCardTransmit calls since the last fake_card_script. */
unsigned long fake_card_transmits(void);

/* Recording (seed generation): every SCardTransmit is answered by fn (0 or -1; *rlen: room
 * in, length out) and the answer appended to a script; NULL stops. fake_card_recorded gives
 * the script so far (valid until the next fake_card_record). */
typedef int (*fake_card_backend)(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp,
                                 size_t *rlen);
void fake_card_record(fake_card_backend fn, void *ctx);
const uint8_t *fake_card_recorded(size_t *len);

#endif
