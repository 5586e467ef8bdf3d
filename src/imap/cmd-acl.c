/* ACL commands (RFC 4314 §3): SETACL, DELETEACL, GETACL, LISTRIGHTS,
 * MYRIGHTS.  Rights checks of the other commands sit in those commands,
 * through imap_mailbox_resolve() / imap_mailbox_check(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "lib/xalloc.h"

/* Reads the mailbox argument and resolves it; answers itself on error. */
static int acl_mailbox_arg(struct imap_session *s, const char *tag,
			   const struct imap_arg *arg, struct strbuf *name,
			   struct imap_mailbox_ref *ref)
{
	const char *str;
	size_t len;
	struct store_error err;
	if (!imap_arg_astring(arg, &str, &len) || strlen(str) != len) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid mailbox name argument");
		return -1;
	}
	if (imap_mailbox_from_client(str, name) < 0) {
		imap_session_tagged(s, tag, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
		return -1;
	}
	if (imap_mailbox_resolve(s, name->s, ref, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		return -1;
	}
	return 0;
}

/* An identifier argument (RFC 4314 §3: an empty one is BAD).  SASLprep is
 * not applied: identifiers are user names, which LOGIN takes as sent. */
static int acl_identifier_arg(struct imap_session *s, const char *tag,
			      const struct imap_arg *arg, const char **id_r)
{
	size_t len;
	if (!imap_arg_astring(arg, id_r, &len) || strlen(*id_r) != len) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid identifier argument");
		return -1;
	}
	if (len == 0 || len > STORE_ACL_IDENTIFIER_MAX ||
	    !store_acl_identifier_valid(*id_r)) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", len > STORE_ACL_IDENTIFIER_MAX ?
				    "Identifier too long" : "Invalid identifier");
		return -1;
	}
	return 0;
}

/* An identifier SETACL/DELETEACL may name: "anyone" or an existing user
 * other than the owner, each optionally negative.  The owner always has
 * every right (docs/acl.md), so an entry for the owner would only
 * mislead. */
static int acl_identifier_check(struct imap_session *s, const char *tag,
				const struct imap_mailbox_ref *ref,
				const char *id)
{
	const char *name = id[0] == '-' ? id + 1 : id;
	if (strcmp(name, "anyone") == 0)
		return 0;
	if (strcmp(name, ref->owner) == 0) {
		imap_session_tagged(s, tag, "NO", "CANNOT",
				    "The owner always has all rights");
		return -1;
	}
	struct store_user u;
	struct store_error err;
	if (store_user_lookup(s->server->store, name, &u, &err) < 0) {
		if (err.code == STORE_ERR_NONEXISTENT)
			imap_session_tagged(s, tag, "NO", "NONEXISTENT", "No such identifier");
		else
			imap_session_store_error(s, tag, &err);
		return -1;
	}
	return 0;
}

/* RFC 4314 §3.1: [+|-] rights.  Unknown rights (uppercase, digits,
 * anything else) are BAD, never ignored.  "c" means k and "d" means x, t
 * and e (§2.1.1, the second reading). */
static int acl_rights_parse(const char *str, char *mod_r, uint32_t *rights_r,
			    const char **error_r)
{
	*mod_r = 0;
	if (*str == '+' || *str == '-')
		*mod_r = *str++;
	uint32_t r = 0;
	for (; *str != '\0'; str++) {
		char letter[2] = { *str, '\0' };
		if (*str == 'c') {
			r |= IMAP_ACL_CREATE;
		} else if (*str == 'd') {
			r |= IMAP_ACL_DELETE_MAILBOX | IMAP_ACL_DELETE_MESSAGES |
			     IMAP_ACL_EXPUNGE;
		} else if (*str >= 'a' && *str <= 'z' &&
			   strchr(STORE_ACL_RIGHTS_ALL, *str) != NULL) {
			r |= imap_acl_from_letters(letter);
		} else if (*str >= 'A' && *str <= 'Z') {
			*error_r = "Uppercase rights are not allowed";
			return -1;
		} else {
			*error_r = "Unsupported right";
			return -1;
		}
	}
	*rights_r = r;
	return 0;
}

static void acl_changed_ok(struct imap_session *s, const char *tag,
			   const char *text)
{
	imap_server_changed(s->server);
	imap_session_ok(s, tag, NULL, text);
}

void cmd_setacl(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT;
	struct imap_mailbox_ref ref;
	const char *id, *rstr, *error;
	size_t len;
	char mod;
	uint32_t rights;
	if (cmd->arg_count != 3) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "Expected mailbox, identifier and rights");
		return;
	}
	if (acl_identifier_arg(s, cmd->tag, &cmd->args[1], &id) < 0)
		return;
	if (!imap_arg_astring(&cmd->args[2], &rstr, &len) || strlen(rstr) != len ||
	    len > 64) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid rights argument");
		return;
	}
	if (acl_rights_parse(rstr, &mod, &rights, &error) < 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		return;
	}
	if (acl_mailbox_arg(s, cmd->tag, &cmd->args[0], &name, &ref) < 0 ||
	    imap_mailbox_check(s, cmd->tag, &ref, IMAP_ACL_ADMIN) < 0 ||
	    acl_identifier_check(s, cmd->tag, &ref, id) < 0)
		goto out;
	struct store_error err;
	if (mod != 0) {
		struct store_acl_entry *e = NULL;
		size_t n = 0;
		if (store_acl_get(s->server->store, ref.mb.id, &e, &n, &err) < 0) {
			imap_session_store_error(s, cmd->tag, &err);
			goto out;
		}
		uint32_t old = 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(e[i].identifier, id) == 0)
				old = imap_acl_from_letters(e[i].rights);
		free(e);
		rights = mod == '+' ? old | rights : old & ~rights;
	}
	char letters[IMAP_ACL_LETTERS_MAX + 1];
	imap_acl_to_letters(rights, false, letters);
	/* no rights left: the entry goes (it would grant nothing) */
	if (store_acl_set(s->server->store, &s->actor, ref.mb.id, id,
			  letters[0] != '\0' ? letters : NULL, &err) < 0) {
		imap_server_changed(s->server);
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	acl_changed_ok(s, cmd->tag, "Setacl completed.");
out:
	strbuf_free(&name);
}

void cmd_deleteacl(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT;
	struct imap_mailbox_ref ref;
	const char *id;
	if (cmd->arg_count != 2) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "Expected mailbox and identifier");
		return;
	}
	if (acl_identifier_arg(s, cmd->tag, &cmd->args[1], &id) < 0)
		return;
	if (acl_mailbox_arg(s, cmd->tag, &cmd->args[0], &name, &ref) < 0 ||
	    imap_mailbox_check(s, cmd->tag, &ref, IMAP_ACL_ADMIN) < 0 ||
	    acl_identifier_check(s, cmd->tag, &ref, id) < 0)
		goto out;
	struct store_error err;
	if (store_acl_set(s->server->store, &s->actor, ref.mb.id, id, NULL, &err) < 0) {
		imap_server_changed(s->server);
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	acl_changed_ok(s, cmd->tag, "Deleteacl completed.");
out:
	strbuf_free(&name);
}

void cmd_getacl(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT;
	struct imap_mailbox_ref ref;
	if (cmd->arg_count != 1) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected one mailbox name");
		return;
	}
	if (acl_mailbox_arg(s, cmd->tag, &cmd->args[0], &name, &ref) < 0 ||
	    imap_mailbox_check(s, cmd->tag, &ref, IMAP_ACL_ADMIN) < 0)
		goto out;
	struct store_acl_entry *e = NULL;
	size_t n = 0;
	struct store_error err;
	if (store_acl_get(s->server->store, ref.mb.id, &e, &n, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	struct strbuf *o = &s->out;
	char letters[IMAP_ACL_LETTERS_MAX + 1];
	strbuf_reset(o);
	strbuf_appends(o, "* ACL ");
	imap_mailbox_write(o, name.s);
	/* the owner's implicit entry first: it is what they really have */
	imap_acl_to_letters(IMAP_ACL_ALL, true, letters);
	strbuf_appendc(o, ' ');
	imap_write_astring(o, ref.owner);
	strbuf_printf(o, " %s", letters);
	for (size_t i = 0; i < n; i++) {
		imap_acl_to_letters(imap_acl_from_letters(e[i].rights), true, letters);
		strbuf_appendc(o, ' ');
		imap_write_astring(o, e[i].identifier);
		strbuf_appendc(o, ' ');
		imap_write_astring(o, letters);
	}
	strbuf_appends(o, "\r\n");
	free(e);
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Getacl completed.");
out:
	strbuf_free(&name);
}

void cmd_listrights(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT;
	struct imap_mailbox_ref ref;
	const char *id;
	if (cmd->arg_count != 2) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "Expected mailbox and identifier");
		return;
	}
	if (acl_identifier_arg(s, cmd->tag, &cmd->args[1], &id) < 0)
		return;
	if (acl_mailbox_arg(s, cmd->tag, &cmd->args[0], &name, &ref) < 0 ||
	    imap_mailbox_check(s, cmd->tag, &ref, IMAP_ACL_ADMIN) < 0)
		goto out;
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* LISTRIGHTS ");
	imap_mailbox_write(o, name.s);
	strbuf_appendc(o, ' ');
	/* §3.4: the identifier as the client sent it */
	imap_write_astring(o, id);
	if (strcmp(id, ref.owner) == 0) {
		/* the owner is always granted everything, nothing optional */
		char letters[IMAP_ACL_LETTERS_MAX + 1];
		imap_acl_to_letters(IMAP_ACL_ALL, true, letters);
		strbuf_printf(o, " %s", letters);
	} else {
		/* no ties: each right on its own, c (= k) and d (= xte)
		 * by themselves (§2.1.1); n of RFC 5257 §4.10 too */
		strbuf_appends(o, " \"\" l r s w i p k x t e a n c d");
	}
	strbuf_appends(o, "\r\n");
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Listrights completed.");
out:
	strbuf_free(&name);
}

void cmd_myrights(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT;
	struct imap_mailbox_ref ref;
	if (cmd->arg_count != 1) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected one mailbox name");
		return;
	}
	if (acl_mailbox_arg(s, cmd->tag, &cmd->args[0], &name, &ref) < 0 ||
	    imap_mailbox_check(s, cmd->tag, &ref, 0) < 0)
		goto out;
	/* §4: any of l, r, i, k, x, a; a visible mailbox has 'l' */
	if ((ref.rights & (IMAP_ACL_LOOKUP | IMAP_ACL_READ | IMAP_ACL_INSERT |
			   IMAP_ACL_CREATE | IMAP_ACL_DELETE_MAILBOX |
			   IMAP_ACL_ADMIN)) == 0) {
		imap_session_tagged(s, cmd->tag, "NO", "NONEXISTENT", "Mailbox doesn't exist");
		goto out;
	}
	char letters[IMAP_ACL_LETTERS_MAX + 1];
	imap_acl_to_letters(ref.rights, true, letters);
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* MYRIGHTS ");
	imap_mailbox_write(o, name.s);
	strbuf_appendc(o, ' ');
	imap_write_astring(o, letters);
	strbuf_appends(o, "\r\n");
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Myrights completed.");
out:
	strbuf_free(&name);
}
