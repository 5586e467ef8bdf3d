/* tidings acl set|get|delete: a mailbox's access control list (RFC 4314),
 * the same entries SETACL / GETACL / DELETEACL manage over IMAP. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* RIGHTS as SETACL takes them, without +/-: the standard letters, RFC
 * 5257's "n" (write .shared annotations), and the obsolete "c" (= k) and "d" (= x t e) of RFC 4314 §2.1.1. */
static bool cli_acl_rights(const char *in, char out[STORE_ACL_RIGHTS_MAX + 1])
{
	static const char all[] = STORE_ACL_RIGHTS_ALL;
	bool have[sizeof(all)] = { false };
	if (strlen(in) > 64)
		return false;
	for (const char *p = in; *p != '\0'; p++) {
		const char *add = NULL;
		char one[2] = { *p, '\0' };
		if (*p == 'c')
			add = "k";
		else if (*p == 'd')
			add = "xte";
		else if (strchr(all, *p) != NULL)
			add = one;
		else
			return false;
		for (; *add != '\0'; add++)
			have[strchr(all, *add) - all] = true;
	}
	size_t n = 0;
	for (size_t i = 0; all[i] != '\0'; i++)
		if (have[i])
			out[n++] = all[i];
	out[n] = '\0';
	return true;
}

/* Opens the store and finds USER's MAILBOX; an exit status. */
static int cli_acl_mailbox(struct cli *cli, const char *user_name,
			   const char *mailbox, struct store_user *user,
			   struct store_mailbox *mb)
{
	if (!cli_user_name_ok(user_name) || !cli_mailbox_name_ok(mailbox))
		return CLI_EXIT_USAGE;
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	ret = cli_user_find(cli, user_name, user);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_mailbox_get(cli->store, user->id, mailbox, mb, &err) == 0 &&
	    !mb->noselect)
		return CLI_EXIT_OK;
	char safe[CLI_SAFE_NAME_MAX];
	cli_safe_name(mailbox, safe, sizeof(safe));
	if (err.code == STORE_ERR_NONEXISTENT || mb->noselect)
		return cli_fail("no such mailbox '%s'", safe);
	return cli_fail("cannot read mailbox '%s': %s", safe,
			err.msg[0] != '\0' ? err.msg : "unknown error");
}

/* "anyone" or an existing user other than the owner, maybe after '-'. */
static int cli_acl_identifier(struct cli *cli, const struct store_user *owner,
			      const char *identifier)
{
	char safe[CLI_SAFE_NAME_MAX];
	cli_safe_name(identifier, safe, sizeof(safe));
	if (!store_acl_identifier_valid(identifier)) {
		cli_fail("invalid identifier '%s'", safe);
		return CLI_EXIT_USAGE;
	}
	const char *name = identifier[0] == '-' ? identifier + 1 : identifier;
	if (strcmp(name, "anyone") == 0)
		return CLI_EXIT_OK;
	if (strcmp(name, owner->name) == 0)
		return cli_fail("the owner always has all rights");
	struct store_user u;
	return cli_user_find(cli, name, &u);
}

static int cli_acl_change(struct cli *cli, char **argv, const char *rights)
{
	struct store_user user;
	struct store_mailbox mb;
	int ret = cli_acl_mailbox(cli, argv[0], argv[1], &user, &mb);
	if (ret == CLI_EXIT_OK)
		ret = cli_acl_identifier(cli, &user, argv[2]);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_acl_set(cli->store, &cli->actor, mb.id, argv[2], rights,
			  &err) == 0)
		return CLI_EXIT_OK;
	char safe[CLI_SAFE_NAME_MAX];
	return cli_fail("cannot change the ACL of '%s': %s",
			cli_safe_name(argv[1], safe, sizeof(safe)),
			err.msg[0] != '\0' ? err.msg : "unknown error");
}

static int cli_acl_set(struct cli *cli, char **argv)
{
	char rights[STORE_ACL_RIGHTS_MAX + 1];
	if (!cli_acl_rights(argv[3], rights)) {
		char safe[CLI_SAFE_NAME_MAX];
		cli_fail("invalid rights '%s': letters of %s (and c, d)",
			 cli_safe_name(argv[3], safe, sizeof(safe)),
			 STORE_ACL_RIGHTS_ALL);
		return CLI_EXIT_USAGE;
	}
	return cli_acl_change(cli, argv, rights);
}

static int cli_acl_delete(struct cli *cli, char **argv)
{
	return cli_acl_change(cli, argv, NULL);
}

static int cli_acl_get(struct cli *cli, char **argv)
{
	struct store_user user;
	struct store_mailbox mb;
	int ret = cli_acl_mailbox(cli, argv[0], argv[1], &user, &mb);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_acl_entry *e = NULL;
	size_t n = 0;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_acl_get(cli->store, mb.id, &e, &n, &err) < 0)
		return cli_fail("cannot read the ACL: %s",
				err.msg[0] != '\0' ? err.msg : "unknown error");
	/* the owner's implicit entry first, as GETACL shows it */
	cli_print_safe(stdout, user.name);
	printf(" %s\n", STORE_ACL_RIGHTS_ALL);
	for (size_t i = 0; i < n; i++) {
		cli_print_safe(stdout, e[i].identifier);
		printf(" %s\n", e[i].rights);
	}
	free(e);
	return CLI_EXIT_OK;
}

const struct cli_command cli_acl_commands[] = {
	{ "acl", "set", "USER MAILBOX IDENTIFIER RIGHTS", 4,
	  "grant IDENTIFIER (a user, anyone, -user for negative rights) "
	  "RIGHTS on USER's MAILBOX", cli_acl_set, 0, NULL },
	{ "acl", "get", "USER MAILBOX", 2,
	  "show the access control list of USER's MAILBOX", cli_acl_get,
	  0, NULL },
	{ "acl", "delete", "USER MAILBOX IDENTIFIER", 3,
	  "remove IDENTIFIER's entry from USER's MAILBOX", cli_acl_delete,
	  0, NULL },
};
const size_t cli_acl_command_count =
	sizeof(cli_acl_commands) / sizeof(cli_acl_commands[0]);
