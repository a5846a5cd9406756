/* ukey-tool: the key holder's and the administrator's CLI (docs/ukey-tool.md is the contract).
 *
 * Files: ukey-tool.c (main, options, command table, help), ukey-tool-p11.c (module, key
 * choice, login, CK_RV -> message/exit), ukey-tool-out.c (errors, text and the JSON writer),
 * ukey-tool-pin.c (PIN sources, terminal prompts, verify/change/unlock/init),
 * ukey-tool-keys.c (list/info, containers, key pairs, certificates), ukey-tool-data.c (data
 * files), ukey-tool-emu.c (ukey-emu's control socket). */
#ifndef UKEY_TOOL_H
#define UKEY_TOOL_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "ukey-pkcs11-3.h"

/* Exit status (docs/ukey-tool.md "Exit status"). */
enum {
	UT_EXIT_OK = 0,
	UT_EXIT_FAILED = 1,
	UT_EXIT_USAGE = 2,
	UT_EXIT_NO_KEY = 3,
	UT_EXIT_WRONG_PIN = 4,
	UT_EXIT_LOCKED = 5,
	UT_EXIT_POLICY = 6,
	UT_EXIT_NOT_FOUND = 7,
};

#define UT_PIN_MAX 64           /* longer than any PIN the key holds (12) */
#define UT_FILE_MAX ((size_t)16 << 20)
#define UT_DATA_MAX ((size_t)64 << 10)  /* a data file (docs/ukey-tool.md data put) */
#define UT_ATTR_MAX 4096
#define UT_ID_MAX 64
#define UT_MAX_SLOTS 64
#define UT_MAX_OBJECTS 256
#define UT_JSON_DEPTH 16

enum ut_who { UT_PIN_USER, UT_PIN_SO, UT_PIN_NEW };
enum ut_usage { UT_USAGE_SIGN, UT_USAGE_ENC };

/* A PIN: pointer + length, never a C string; wiped with ut_pin_wipe. pinpad: typed on the key. */
struct ut_pin {
	uint8_t buf[UT_PIN_MAX];
	size_t len;
	int pinpad;
};

struct ut_opts {
	const char *module_path, *serial, *pin_file, *so_pin_file, *new_pin_file;
	const char *label, *in, *out, *subject, *alg, *usage, *control, *zone, *max_tries;
	CK_SLOT_ID slot;
	int have_slot, json, yes, so, der, cert_only, pinpad, button, help;
	const char *args[4];    /* positional words after the command (and subcommand) */
	int nargs;
};

/* JSON under construction: exactly one object reaches stdout (docs/ukey-tool.md "JSON"). */
struct ut_json {
	char *buf;
	size_t len, cap;
	int depth;
	int first[UT_JSON_DEPTH];
	int oom;
};

struct ut_pin_status {
	long tries_left, max_tries;     /* -1: unknown (no vendor interface, flags only) */
	int must_change, initialized, locked;
};

struct ut_key {
	CK_SLOT_ID slot;
	char serial[33];        /* the 20 digits from the slot description, else the 16 */
	char reader[65];
};

struct ut {
	struct ut_opts o;
	const struct ut_cmd *cmd;
	/* module */
	void *dl;
	CK_FUNCTION_LIST_PTR p11;
	CK_UKEY_FUNCTION_LIST *vendor;  /* NULL while the module has no get_pin_status */
	int initialized;
	/* the key in use */
	struct ut_key key;
	int have_key;
	CK_SESSION_HANDLE session;
	int have_session, rw;
	/* output */
	struct ut_json js;
	int err_exit;           /* first error wins */
	char err_code[16];
	char err_msg[512];
	long err_tries;         /* -1: none */
};

enum { UT_NEED_LABEL = 1, UT_NEED_IN = 2, UT_NEED_OUT = 4, UT_NEED_SUBJECT = 8 };

struct ut_cmd {
	const char *name;
	const char *sub;        /* subcommand or NULL */
	int nargs;              /* positional words it takes */
	unsigned need;          /* UT_NEED_* options it cannot do without */
	int no_module;          /* emu: talks to ukey-emu, not to a key */
	int (*run)(struct ut *t);
	const char *usage;
	const char *help;
};

/* ukey-tool.c */
int ut_usage_error(struct ut *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ukey-tool-out.c: errors (stderr + the JSON error object) and the JSON writer. */
int ut_error(struct ut *t, int exit_code, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void ut_printf(struct ut *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ut_json_open(struct ut *t, const char *key);       /* "key":{ or { (key NULL) */
void ut_json_close(struct ut *t);
void ut_json_array(struct ut *t, const char *key);
void ut_json_array_end(struct ut *t);
void ut_json_str(struct ut *t, const char *key, const char *v);
void ut_json_strn(struct ut *t, const char *key, const char *v, size_t n);
void ut_json_int(struct ut *t, const char *key, long v);
void ut_json_bool(struct ut *t, const char *key, int v);
void ut_json_hex(struct ut *t, const char *key, const uint8_t *p, size_t n);
void ut_json_finish(struct ut *t, int rc);              /* prints the one object */
void ut_json_free(struct ut *t);
void ut_hex(const uint8_t *p, size_t n, char *out, size_t cap, int colons);
size_t ut_trim(const CK_UTF8CHAR *p, size_t n);         /* length without trailing blanks */

/* ukey-tool-p11.c */
int ut_load(struct ut *t);
void ut_unload(struct ut *t);
int ut_rv(struct ut *t, const char *what, CK_RV rv);
const char *ut_rv_name(CK_RV rv);
int ut_slots(struct ut *t, struct ut_key *keys, size_t *nkeys, struct ut_key *empty,
             size_t *nempty);
int ut_choose_key(struct ut *t);
int ut_open(struct ut *t, int rw);
void ut_close(struct ut *t);
int ut_login(struct ut *t, CK_USER_TYPE user, int allow_pinpad);
int ut_login_pin(struct ut *t, CK_USER_TYPE user, const struct ut_pin *pin);
int ut_pin_status(struct ut *t, CK_SLOT_ID slot, CK_USER_TYPE user, struct ut_pin_status *st);
int ut_pin_error(struct ut *t, CK_USER_TYPE user, CK_RV rv);
const char *ut_pin_state(const struct ut_pin_status *st);
long ut_attr(struct ut *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, void *buf, size_t cap);
int ut_find(struct ut *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *objs, size_t cap,
            size_t *count);

/* ukey-tool-pin.c */
int ut_pin_get(struct ut *t, enum ut_who who, struct ut_pin *pin);
int ut_pin_source_exists(struct ut *t, enum ut_who who);
void ut_pin_wipe(struct ut_pin *pin);
int ut_confirm(struct ut *t, const char *question);
int cmd_verify_pin(struct ut *t);
int cmd_change_pin(struct ut *t);
int cmd_unlock(struct ut *t);
int cmd_init(struct ut *t);

/* ukey-tool-keys.c */
int ut_read_file(struct ut *t, const char *path, size_t max, unsigned char **data, size_t *len);
int ut_write_file(struct ut *t, const char *path, const void *data, size_t len);
int cmd_list(struct ut *t);
int cmd_info(struct ut *t);
int cmd_containers_list(struct ut *t);
int cmd_containers_create(struct ut *t);
int cmd_containers_delete(struct ut *t);
int cmd_keygen(struct ut *t);
int cmd_pubkey(struct ut *t);
int cmd_sign(struct ut *t);
int cmd_csr(struct ut *t);
int cmd_import_cert(struct ut *t);
int cmd_export_cert(struct ut *t);
int cmd_import_enveloped(struct ut *t);
int cmd_delete(struct ut *t);

/* ukey-tool-data.c */
int ut_list_data(struct ut *t, int text);
int cmd_data_list(struct ut *t);
int cmd_data_put(struct ut *t);
int cmd_data_get(struct ut *t);
int cmd_data_delete(struct ut *t);

/* ukey-tool-emu.c */
int cmd_emu_create(struct ut *t);
int cmd_emu_list(struct ut *t);
int cmd_emu_remove(struct ut *t);
int cmd_emu_insert(struct ut *t);

#endif
