/* ukey ifd: the libusb-1.0 CCID transport (uki_usb.c) and its DEVICENAME (docs/ccid.md
 * "DEVICENAME for USB keys"):
 *
 *     usb:[VVVV/PPPP[:libudev:N:/dev/bus/usb/BBB/DDD]][;slots=N][;timeout=MS]
 *
 * The address part (after "usb:") is parsed by uki_usb_filter_parse, called from
 * uki_devname_parse so a bad usb DEVICENAME is refused like a bad unix one. */
#ifndef UKI_USB_H
#define UKI_USB_H

#include <stdint.h>

#include "uki.h"

typedef struct uki_usb_filter {
	int by_id;              /* VVVV/PPPP given: only that vendor and product */
	uint16_t vid, pid;
	int exact;              /* the libudev form: exactly one device and interface */
	uint8_t iface;          /* bInterfaceNumber N */
	uint8_t bus, address;   /* /dev/bus/usb/BBB/DDD */
} uki_usb_filter;

/* The address part of a usb DEVICENAME ("" = any key the driver knows). */
uki_status uki_usb_filter_parse(const char *address, uki_usb_filter *out);

/* One known key (ukey-usb-ids.txt, the same list as the Info.plist bundle). */
typedef struct uki_usb_id {
	uint16_t vid, pid;
} uki_usb_id;

/* Whether vid:pid is in the driver's list. */
int uki_usb_id_known(uint16_t vid, uint16_t pid);

extern const uki_transport_ops uki_usb_ops;

#endif
