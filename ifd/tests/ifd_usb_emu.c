/* ifd_usb_emu: the usb transport end to end below pcscd: libifd-ukey.so loaded with dlopen
 * and driven through IFDH*, libusb replaced by libukey-fakeusb.so (LD_PRELOAD, this
 * program re-executes itself with it), and ukey-emu --link usb: as the USB CCID keys.
 * Checks: keys land in the first free slots, power/transmit with CCID chaining (a short
 * dwMaxCCIDMessageLength, 40: an answer of more than 30 bytes is chained), unplug empties only that slot at once, re-plug fills it, a
 * timeout and a stalled bulk-IN each fail one exchange and the key stays, a device gone mid-exchange
 * removes the key, close is quick.
 * usage: ifd_usb_emu LIBIFD FAKEUSB UKEY_EMU */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/ifdhandler.h>

#include "uk_test.h"
#include "uk_time.h"

static RESPONSECODE (*create_by_name)(DWORD, LPSTR);
static RESPONSECODE (*close_channel)(DWORD);
static RESPONSECODE (*power)(DWORD, DWORD, PUCHAR, PDWORD);
static RESPONSECODE (*transmit)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD,
                                PSCARD_IO_HEADER);
static RESPONSECODE (*presence)(DWORD);

static char dir[] = "/tmp/ifd-usb-emu-XXXXXX";
static char ctl_path[256];
static const char *emu;

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (p == NULL) {
		fprintf(stderr, "missing %s\n", name);
		exit(1);
	}
	return p;
}

static int wait_presence(DWORD lun, RESPONSECODE want, int ms)
{
	long long end = uk_now_ms() + ms;

	while (presence(lun) != want) {
		if (uk_now_ms() > end)
			return 0;
		usleep(20 * 1000);
	}
	return 1;
}

/* ukey-emu ctl WORDS...: 0 when it answered "ok". */
static int ctl(const char *a, const char *b, const char *c)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		execl(emu, emu, "ctl", "--control", ctl_path, a, b, c, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static RESPONSECODE apdu(DWORD lun, const UCHAR *cmd, DWORD n, UCHAR *resp, DWORD *len)
{
	SCARD_IO_HEADER io = { .Protocol = SCARD_PROTOCOL_T1, .Length = 0 };

	*len = 300;
	return transmit(lun, io, (PUCHAR)cmd, n, resp, len, NULL);
}

/* GET CHALLENGE of 32 bytes: 34 bytes of answer, chained (docs/apdu.md). */
static int challenge_ok(DWORD lun)
{
	static const UCHAR gc[] = { 0x00, 0x84, 0x00, 0x00, 0x20 };
	UCHAR resp[300];
	DWORD len = 0;

	return apdu(lun, gc, sizeof(gc), resp, &len) == IFD_SUCCESS && len == 34 &&
	       resp[32] == 0x90 && resp[33] == 0x00;
}

/* SELECT of the ukey application (docs/apdu.md): 15 bytes of FCI + 90 00. */
static int select_ok(DWORD lun)
{
	static const UCHAR sel[] = { 0x00, 0xA4, 0x04, 0x00, 0x06, 0xF0, 0x75, 0x6B, 0x65,
	                             0x79, 0x01, 0x00 };
	UCHAR resp[300];
	DWORD len = 0;

	return apdu(lun, sel, sizeof(sel), resp, &len) == IFD_SUCCESS && len == 17 &&
	       resp[15] == 0x90 && resp[16] == 0x00 && resp[0] == 0x6F;
}

static pid_t emu_start(void)
{
	char link[300], state[300];
	pid_t pid;

	snprintf(link, sizeof(link), "usb:%s", getenv("UKEY_FAKEUSB_SOCKET"));
	snprintf(state, sizeof(state), "%s/state", dir);
	if (mkdir(state, 0700) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);      /* never outlive a failed test */
		unsetenv("LD_PRELOAD");
		setenv("UKEY_EMU_USER_PIN", "user1234", 1);
		setenv("UKEY_EMU_SO_PIN", "admin1234", 1);
		execl(emu, emu, "--link", link, "--state", state, "--keys", "2", "--control",
		      ctl_path, "--ccid-maxlen", "40", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void scenario(void)
{
	UCHAR atr[64], resp[300];
	DWORD len;
	pid_t pid;
	long long t0;

	UK_CHECK_EQ(create_by_name(0, "\"usb:;slots=3;timeout=2000\""), IFD_SUCCESS);
	UK_CHECK_EQ(create_by_name(1, "\"usb:;slots=3;timeout=2000\""), IFD_SUCCESS);
	UK_CHECK_EQ(create_by_name(2, "\"usb:;slots=3;timeout=2000\""), IFD_SUCCESS);
	UK_CHECK_EQ(presence(0), IFD_ICC_NOT_PRESENT);
	pid = emu_start();
	UK_CHECK(pid > 0);
	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 10000));
	UK_CHECK(wait_presence(1, IFD_ICC_PRESENT, 10000));
	UK_CHECK_EQ(presence(2), IFD_ICC_NOT_PRESENT);

	len = sizeof(atr);
	UK_CHECK_EQ(power(0, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	UK_CHECK(len >= 2 && (atr[0] == 0x3B || atr[0] == 0x3F));
	UK_CHECK(select_ok(0));
	UK_CHECK(challenge_ok(0));
	len = sizeof(atr);
	UK_CHECK_EQ(power(1, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	UK_CHECK(select_ok(1));
	len = sizeof(atr);
	UK_CHECK_EQ(power(1, IFD_RESET, atr, &len), IFD_SUCCESS);
	UK_CHECK(select_ok(1));

	/* unplug key 0: its slot empties at once, the other key stays */
	UK_CHECK_EQ(ctl("remove", "0", NULL), 0);
	UK_CHECK(wait_presence(0, IFD_ICC_NOT_PRESENT, 2000));
	UK_CHECK_EQ(presence(1), IFD_ICC_PRESENT);
	UK_CHECK(apdu(0, (const UCHAR *)"\x00\xA4\x04\x00", 4, resp, &len) != IFD_SUCCESS);
	UK_CHECK(select_ok(1));
	/* plug it back: the first free slot, slot 0 again */
	UK_CHECK_EQ(ctl("insert", "0", NULL), 0);
	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 5000));
	UK_CHECK_EQ(presence(2), IFD_ICC_NOT_PRESENT);
	len = sizeof(atr);
	UK_CHECK_EQ(power(0, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	UK_CHECK(select_ok(0));

	/* no answer in time (timeout=2000): the exchange fails, the key stays, and the late
	 * answer is dropped as stale so the next exchange is in step */
	UK_CHECK_EQ(ctl("latency", "0", "2600"), 0);
	t0 = uk_now_ms();
	UK_CHECK(!select_ok(0));
	UK_CHECK(uk_now_ms() - t0 < 2600);
	UK_CHECK_EQ(presence(0), IFD_ICC_PRESENT);
	UK_CHECK_EQ(ctl("latency", "0", "0"), 0);
	UK_CHECK(select_ok(0));
	UK_CHECK(challenge_ok(0));

	/* RDR_to_PC_HardwareError (CCID 1.1 §6.3.2): the ICC was deactivated, shown to pcscd
	 * as a removal and a new insertion, after which the key works again */
	UK_CHECK_EQ(ctl("ccid", "0", "hwerror"), 0);
	UK_CHECK(wait_presence(0, IFD_ICC_NOT_PRESENT, 2000));
	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 2000));
	len = sizeof(atr);
	UK_CHECK_EQ(power(0, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	UK_CHECK(select_ok(0));

	/* a stalled bulk-IN fails one exchange; the halt is cleared and the key stays */
	UK_CHECK_EQ(ctl("ccid", "1", "stall"), 0);
	UK_CHECK(!select_ok(1));
	UK_CHECK_EQ(presence(1), IFD_ICC_PRESENT);
	UK_CHECK(select_ok(1));
	/* the device gone in the middle of an exchange: the key is removed */
	UK_CHECK_EQ(ctl("ccid", "1", "drop"), 0);
	UK_CHECK(!select_ok(1));
	UK_CHECK(wait_presence(1, IFD_ICC_NOT_PRESENT, 2000));
	UK_CHECK_EQ(presence(0), IFD_ICC_PRESENT);

	t0 = uk_now_ms();
	UK_CHECK_EQ(close_channel(2), IFD_SUCCESS);
	UK_CHECK_EQ(close_channel(1), IFD_SUCCESS);
	UK_CHECK_EQ(close_channel(0), IFD_SUCCESS);
	UK_CHECK(uk_now_ms() - t0 < 2000);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Re-executed with the fake libusb preloaded and its bus socket in a private dir. */
static int reexec(char **argv)
{
	char sock[300];

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sock, sizeof(sock), "%s/bus.sock", dir);
	setenv("UKEY_FAKEUSB_SOCKET", sock, 1);
	setenv("IFD_USB_EMU_DIR", dir, 1);
	setenv("LD_PRELOAD", argv[2], 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	return 1;
}

int main(int argc, char **argv)
{
	char cmd[400];
	void *h;

	if (argc != 4)
		return 2;
	if (getenv("IFD_USB_EMU_DIR") == NULL)
		return reexec(argv);
	snprintf(dir, sizeof(dir), "%s", getenv("IFD_USB_EMU_DIR"));
	snprintf(ctl_path, sizeof(ctl_path), "%s/emu.ctl", dir);
	emu = argv[3];
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	create_by_name = (RESPONSECODE (*)(DWORD, LPSTR))sym(h, "IFDHCreateChannelByName");
	close_channel = (RESPONSECODE (*)(DWORD))sym(h, "IFDHCloseChannel");
	power = (RESPONSECODE (*)(DWORD, DWORD, PUCHAR, PDWORD))sym(h, "IFDHPowerICC");
	transmit = (RESPONSECODE (*)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD,
	                             PSCARD_IO_HEADER))sym(h, "IFDHTransmitToICC");
	presence = (RESPONSECODE (*)(DWORD))sym(h, "IFDHICCPresence");
	scenario();
	dlclose(h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return uk_test_done("ifd_usb_emu");
}
