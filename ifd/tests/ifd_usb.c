/* ifd_usb: the usb transport through the IFDH entry points with whatever USB this machine
 * has (none in CI, so libusb_init may fail or find no key): a "usb:" reader opens with its
 * slots empty, its exchanges fail cleanly, and it closes quickly; the libudev form that
 * names one device pcscd saw refuses to open when that device is not there (so pcscd can
 * hand it to libccid). usage: ifd_usb LIBIFD */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

#include <PCSC/ifdhandler.h>

#include "uk_test.h"
#include "uk_time.h"

static RESPONSECODE (*create_by_name)(DWORD, LPSTR);
static RESPONSECODE (*close_channel)(DWORD);
static RESPONSECODE (*get_caps)(DWORD, DWORD, PDWORD, PUCHAR);
static RESPONSECODE (*power)(DWORD, DWORD, PUCHAR, PDWORD);
static RESPONSECODE (*transmit)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD,
                                PSCARD_IO_HEADER);
static RESPONSECODE (*presence)(DWORD);

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (p == NULL) {
		fprintf(stderr, "missing %s\n", name);
		exit(1);
	}
	return p;
}

/* A reader with no key: every slot empty, power and transmit refused. */
static void check_empty(DWORD reader, const char *devname, unsigned want_slots)
{
	DWORD lun = reader << 16, len = 0, slots = 0;
	UCHAR buf[300], cmd[] = { 0x00, 0xA4, 0x04, 0x00 };
	SCARD_IO_HEADER io = { .Protocol = 1, .Length = 0 };
	long long t0;
	unsigned i;

	UK_CHECK_EQ(create_by_name(lun, (LPSTR)devname), IFD_SUCCESS);
	len = sizeof(buf);
	UK_CHECK_EQ(get_caps(lun, TAG_IFD_SLOTS_NUMBER, &len, buf), IFD_SUCCESS);
	slots = buf[0];
	UK_CHECK_EQ(slots, want_slots);
	for (i = 1; i < slots; i++)
		UK_CHECK_EQ(create_by_name(lun | i, (LPSTR)devname), IFD_SUCCESS);
	for (i = 0; i < slots; i++)
		UK_CHECK_EQ(presence(lun | i), IFD_ICC_NOT_PRESENT);
	len = sizeof(buf);
	UK_CHECK(power(lun, IFD_POWER_UP, buf, &len) != IFD_SUCCESS);
	len = sizeof(buf);
	UK_CHECK(transmit(lun, io, cmd, sizeof(cmd), buf, &len, NULL) != IFD_SUCCESS);
	t0 = uk_now_ms();
	for (i = slots; i-- > 0;)
		UK_CHECK_EQ(close_channel(lun | i), IFD_SUCCESS);
	UK_CHECK(uk_now_ms() - t0 < 2000);        /* the monitor thread stops within a turn */
	UK_CHECK(presence(lun) != IFD_ICC_PRESENT);
}

int main(int argc, char **argv)
{
	void *h;

	if (argc != 2)
		return 2;
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	create_by_name = (RESPONSECODE (*)(DWORD, LPSTR))sym(h, "IFDHCreateChannelByName");
	close_channel = (RESPONSECODE (*)(DWORD))sym(h, "IFDHCloseChannel");
	get_caps = (RESPONSECODE (*)(DWORD, DWORD, PDWORD, PUCHAR))sym(h, "IFDHGetCapabilities");
	power = (RESPONSECODE (*)(DWORD, DWORD, PUCHAR, PDWORD))sym(h, "IFDHPowerICC");
	transmit = (RESPONSECODE (*)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD,
	                             PSCARD_IO_HEADER))sym(h, "IFDHTransmitToICC");
	presence = (RESPONSECODE (*)(DWORD))sym(h, "IFDHICCPresence");

	check_empty(0, "usb:", 1);
	check_empty(1, "\"usb:;slots=3;timeout=1000\"", 3);
	check_empty(2, "usb:1209/0001", 1);
	setenv("UKEY_USB_ANY_CCID", "1", 1);    /* any CCID interface: still none here */
	check_empty(3, "usb:", 1);
	unsetenv("UKEY_USB_ANY_CCID");
	/* the same reader opened and closed again: nothing left behind */
	check_empty(0, "usb:", 1);
	/* a device pcscd saw but that is not on this bus: refused, the reader not created */
	UK_CHECK(create_by_name(4 << 16, "usb:1209/0001:libudev:0:/dev/bus/usb/001/099") !=
	         IFD_SUCCESS);
	UK_CHECK(presence(4 << 16) != IFD_ICC_PRESENT);
	UK_CHECK(create_by_name(5 << 16, "usb:1209") != IFD_SUCCESS);
	dlclose(h);
	return uk_test_done("ifd_usb");
}
