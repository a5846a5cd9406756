/* usbsock: a USB device over an AF_UNIX stream socket (docs/ccid.md "usbsock").
 * Every message is type (1 byte) | length (4 bytes, little-endian) | payload, with
 * length <= UKI_USBSOCK_MAX. Shared by the fake libusb (bus side) and the tests' devices. */
#ifndef UKI_USBSOCK_H
#define UKI_USBSOCK_H

#include <stddef.h>
#include <stdint.h>

#define UKI_USBSOCK_MAX 1048576u
#define UKI_USBSOCK_HEADER 5u

/* message types (docs/ccid.md) */
enum {
	UKI_USBSOCK_DEVICE = 'D',       /* device -> bus: descriptors, first message */
	UKI_USBSOCK_OUT = 'O',          /* bus -> device: one bulk-OUT transfer */
	UKI_USBSOCK_IN = 'I',           /* device -> bus: one bulk-IN transfer */
	UKI_USBSOCK_NOTIFY = 'N',       /* device -> bus: one interrupt-IN transfer */
	UKI_USBSOCK_STALL = 'S',        /* device -> bus: bulk-IN halted */
	UKI_USBSOCK_HALT_CLEAR = 'H',   /* bus -> device: CLEAR_FEATURE(ENDPOINT_HALT) */
	UKI_USBSOCK_CONTROL = 'C',      /* bus -> device: setup packet [+ OUT data] */
	UKI_USBSOCK_CONTROL_ANSWER = 'c', /* device -> bus: status byte [+ IN data] */
};

enum {
	UKI_USBSOCK_OK = 0,
	UKI_USBSOCK_ERR = -1,           /* end of connection, error, bad length */
	UKI_USBSOCK_IDLE = -2,          /* nothing arrived within the first timeout */
};

/* Write one message whose payload is a (alen bytes) then b (blen bytes); each wait for the
 * socket to take more is bounded by timeout_ms. Returns UKI_USBSOCK_OK or _ERR (a partial
 * message may have been written: the connection is then out of step and must end). */
int uki_usbsock_write(int fd, uint8_t type, const void *a, size_t alen,
                      const void *b, size_t blen, int timeout_ms);

/* Read one message. Waits up to first_timeout_ms (-1: no bound) for its first byte
 * (UKI_USBSOCK_IDLE when none came), then up to body_timeout_ms for each further part.
 * *payload is malloc()ed (never NULL on success, even for length 0); the caller frees it. */
int uki_usbsock_read(int fd, uint8_t *type, uint8_t **payload, size_t *len,
                     int first_timeout_ms, int body_timeout_ms);

#endif
