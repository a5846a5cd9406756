/* p11t_main.c — the suite's driver: loads the module, runs the case table, prints the results.
 *
 * Environment:
 *   P11T_MODULE             the PKCS#11 module to dlopen (required)
 *   P11T_PROFILE            ukey | softhsm: which optional algorithms the module has
 *   P11T_USER_PIN           the token's user PIN (required); P11T_SO_PIN its SO PIN (optional)
 *   P11T_TOKEN_LABEL, P11T_TOKEN_MANUFACTURER
 *                           choose the token when the module has several (proxy, SoftHSM2)
 *   P11T_SKIP_LIST          ':'-separated files of expected failures, "CASE REASON" per line
 *   P11T_TIMEOUT            seconds the whole run may take (default 100)
 * Arguments: case names to run (default all). Exit 0 when no case failed, 1 otherwise.
 *
 * Every case but those marked own_init runs between its own C_Initialize and C_Finalize, so
 * cases do not see each other's sessions or login state. A case listed in a skip list that
 * fails is reported as a skip with the list's reason; one that passes is reported as passing
 * with a request to remove the entry. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11t.h"

#define MAX_SKIPS 64
#define DEFAULT_TIMEOUT 100

static const struct p11t_profile profiles[] = {
	{ "ukey", P11T_CAP_SM2 | P11T_CAP_P256, P11T_KEY_SM2 },
	{ "softhsm", P11T_CAP_P256, P11T_KEY_P256 },
};

static const struct p11t_case cases[] = {
	/* general purpose and slot/token management, §5.4-§5.5 */
	{ "get_info", p11t_case_get_info, 0, false },
	{ "initialize_twice", p11t_case_initialize_twice, 0, false },
	{ "initialize_args", p11t_case_initialize_args, 0, true },
	{ "finalize_reserved", p11t_case_finalize_reserved, 0, false },
	{ "after_finalize", p11t_case_after_finalize, 0, true },
	{ "slot_list", p11t_case_slot_list, 0, false },
	{ "slot_info", p11t_case_slot_info, 0, false },
	{ "token_info", p11t_case_token_info, 0, false },
	{ "token_session_count", p11t_case_token_session_count, 0, false },
	{ "mechanism_list", p11t_case_mechanism_list, 0, false },
	{ "mechanism_info", p11t_case_mechanism_info, 0, false },
	/* sessions and login, §5.6 */
	{ "open_session_parallel", p11t_case_open_session_parallel, 0, false },
	{ "session_handles", p11t_case_session_handles, 0, false },
	{ "session_states", p11t_case_session_states, 0, false },
	{ "login_shared", p11t_case_login_shared, 0, false },
	{ "login_wrong_pin", p11t_case_login_wrong_pin, 0, false },
	{ "login_already", p11t_case_login_already, 0, false },
	{ "logout_not_logged_in", p11t_case_logout_not_logged_in, 0, false },
	{ "login_user_type_invalid", p11t_case_login_user_type_invalid, 0, false },
	{ "login_so", p11t_case_login_so, 0, false },
	{ "close_all_logs_out", p11t_case_close_all_logs_out, 0, false },
	/* objects, §5.7 */
	{ "find_operation_state", p11t_case_find_operation_state, 0, false },
	{ "find_paging", p11t_case_find_paging, 0, false },
	{ "private_hidden", p11t_case_private_hidden, 0, false },
	{ "attribute_rules", p11t_case_attribute_rules, 0, false },
	{ "attribute_sensitive", p11t_case_attribute_sensitive, 0, false },
	{ "invalid_handles", p11t_case_invalid_handles, 0, false },
	{ "sign_init_invalid_key", p11t_case_sign_init_invalid_key, 0, false },
	/* keys, signing, verifying, §5.11-§5.14 */
	{ "keygen_read_only", p11t_case_keygen_read_only, 0, false },
	{ "sign_not_initialized", p11t_case_sign_not_initialized, 0, false },
	{ "sign_init_bad_mechanism", p11t_case_sign_init_bad_mechanism, 0, false },
	{ "sign_length_query", p11t_case_sign_length_query, 0, false },
	{ "sm2_sign_verify", p11t_case_sm2_sign_verify, P11T_CAP_SM2, false },
	{ "ecdsa_p256_sign_verify", p11t_case_ecdsa_p256_sign_verify, P11T_CAP_P256, false },
	{ "rsa_sign_verify", p11t_case_rsa_sign_verify, 0, false },
	{ "rsa_oaep_decrypt", p11t_case_rsa_oaep_decrypt, 0, false },
};

struct skip_entry {
	char name[64];
	char reason[192];
};

static struct skip_entry skips[MAX_SKIPS];
static size_t n_skips;

static void skip_line(char *line)
{
	char *name = line + strspn(line, " \t"), *reason;
	size_t len = strcspn(name, " \t\n");

	if (*name == '#' || len == 0 || n_skips == MAX_SKIPS)
		return;
	reason = name + len;
	reason += strspn(reason, " \t");
	reason[strcspn(reason, "\n")] = '\0';
	name[len] = '\0';
	snprintf(skips[n_skips].name, sizeof(skips[n_skips].name), "%s", name);
	snprintf(skips[n_skips].reason, sizeof(skips[n_skips].reason), "%s",
	         *reason ? reason : "(no reason given)");
	n_skips++;
}

static int load_skip_file(const char *path)
{
	char line[512];
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		fprintf(stderr, "p11t: cannot read skip list %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL)
		skip_line(line);
	fclose(fp);
	return 0;
}

static int load_skip_lists(const char *spec)
{
	char buf[1024], *save = NULL;

	if (spec == NULL || *spec == '\0')
		return 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save))
		if (load_skip_file(p) != 0)
			return -1;
	return 0;
}

static const struct skip_entry *skip_for(const char *name)
{
	for (size_t i = 0; i < n_skips; i++)
		if (strcmp(skips[i].name, name) == 0)
			return &skips[i];
	return NULL;
}

static const struct p11t_profile *profile_named(const char *name)
{
	for (size_t i = 0; name && i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

static CK_FUNCTION_LIST_PTR load_module(const char *path)
{
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR f = NULL;
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (dl == NULL) {
		fprintf(stderr, "p11t: dlopen %s: %s\n", path, dlerror());
		return NULL;
	}
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK || f == NULL) {
		fprintf(stderr, "p11t: %s: no usable C_GetFunctionList\n", path);
		return NULL;
	}
	return f;
}

static int run_case(const struct p11t_case *c, struct p11t *t)
{
	int res;

	if ((c->caps & t->prof->caps) != c->caps)
		return p11t_skip(t, "profile %s: the module does not have this algorithm",
		                 t->prof->name);
	if (c->own_init) {
		res = c->fn(t);
		/* A case that stopped half-way may leave the library initialised: finalise, so
		 * the next case starts clean (CKR_CRYPTOKI_NOT_INITIALIZED otherwise, ignored). */
		t->f->C_Finalize(NULL);
		return res;
	}
	if (!p11t_rv(t, t->f->C_Initialize(NULL), CKR_OK, "C_Initialize"))
		return P11T_FAIL;
	res = p11t_select_slot(t) ? c->fn(t) : P11T_FAIL;
	t->f->C_Finalize(NULL);
	return res;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

/* Run one case, print its line, and count it in n[P11T_PASS/FAIL/SKIP]. */
static void report_case(const struct p11t_case *c, const struct p11t *base, int n[3])
{
	struct p11t t = *base;
	const struct skip_entry *sk = skip_for(c->name);
	int res;

	t.case_name = c->name;
	res = run_case(c, &t);
	if (res == P11T_FAIL && sk != NULL) {
		printf("%s: skip: expected failure (skip list): %s [%s]\n", c->name, sk->reason,
		       t.msg);
		res = P11T_SKIP;
	} else if (res == P11T_PASS && sk != NULL) {
		printf("%s: ok (listed as an expected failure \"%s\": remove the entry)\n", c->name,
		       sk->reason);
	} else if (res == P11T_PASS) {
		printf("%s: ok\n", c->name);
	} else {
		printf("%s: %s: %s\n", c->name, res == P11T_SKIP ? "skip" : "FAIL", t.msg);
	}
	fflush(stdout);
	n[res]++;
}

static int setup(struct p11t *t)
{
	const char *module = getenv("P11T_MODULE"), *profile = getenv("P11T_PROFILE");

	t->user_pin = getenv("P11T_USER_PIN");
	t->so_pin = getenv("P11T_SO_PIN");
	t->token_label = getenv("P11T_TOKEN_LABEL");
	t->token_manuf = getenv("P11T_TOKEN_MANUFACTURER");
	t->prof = profile_named(profile);
	if (module == NULL || t->user_pin == NULL || t->prof == NULL) {
		fprintf(stderr, "p11t: set P11T_MODULE, P11T_USER_PIN and P11T_PROFILE "
		                "(ukey|softhsm)\n");
		return -1;
	}
	t->user_pin_len = strlen(t->user_pin);
	t->so_pin_len = t->so_pin ? strlen(t->so_pin) : 0;
	if (load_skip_lists(getenv("P11T_SKIP_LIST")) != 0)
		return -1;
	t->f = load_module(module);
	return t->f ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *timeout = getenv("P11T_TIMEOUT");
	struct p11t base;
	int n[3] = { 0, 0, 0 };

	/* Bounded in time: a module call that hangs kills the run (SIGALRM) instead of the CI. */
	alarm(timeout ? (unsigned)atoi(timeout) : DEFAULT_TIMEOUT);
	memset(&base, 0, sizeof(base));
	if (setup(&base) != 0)
		return 1;
	printf("p11t: profile %s, %zu cases\n", base.prof->name, sizeof(cases) / sizeof(cases[0]));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (selected(cases[i].name, argc, argv))
			report_case(&cases[i], &base, n);
	printf("%d passed, %d failed, %d skipped\n", n[P11T_PASS], n[P11T_FAIL], n[P11T_SKIP]);
	return n[P11T_FAIL] == 0 && n[P11T_PASS] > 0 ? 0 : 1;
}
