/* Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
 * UNSUBSCRIBE, LIST, LSUB, STATUS (RFC 3501 §6.3), NAMESPACE (RFC 2342),
 * SPECIAL-USE (RFC 6154). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define DELIM '/'

int imap_mailbox_from_client(const char *name, struct strbuf *out)
{
	strbuf_reset(out);
	/* RFC 6855 §3: UTF-8 names after ENABLE UTF8=ACCEPT / IMAP4rev2 */
	if (imap_mailbox_names_utf8()) {
		if (imap_mailbox_name_utf8_check(name) < 0)
			return -1;
		strbuf_appends(out, name);
	} else if (mutf7_to_utf8(name, out) < 0) {
		return -1;
	}
	strbuf_grow(out, 0);    /* out->s is a string even when empty */
	/* "INBOX" in any case is INBOX (RFC 3501 §5.1). */
	if (strncasecmp(out->s, "INBOX", 5) == 0 &&
	    (out->s[5] == '\0' || out->s[5] == DELIM))
		memcpy(out->s, "INBOX", 5);
	return 0;
}

void imap_mailbox_write(struct strbuf *out, const char *name)
{
	struct strbuf m = STRBUF_INIT;
	if (imap_mailbox_names_utf8())
		strbuf_appends(&m, name);
	else if (utf8_to_mutf7(name, &m) < 0)
		strbuf_appends(&m, name);
	imap_write_astring(out, strbuf_str(&m));
	strbuf_free(&m);
}

/* Reads a mailbox argument; answers BAD/NO itself and returns -1 on error. */
static int mailbox_arg(struct imap_session *s, const char *tag,
		       const struct imap_arg *arg, struct strbuf *name)
{
	const char *str;
	size_t len;
	if (!imap_arg_astring(arg, &str, &len) || strlen(str) != len) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid mailbox name argument");
		return -1;
	}
	if (imap_mailbox_from_client(str, name) < 0) {
		imap_session_tagged(s, tag, "NO", "CANNOT", imap_mailbox_names_utf8() ?
				    "Mailbox name is not valid UTF-8 (RFC 6855)" :
				    "Mailbox name is not valid modified UTF-7");
		return -1;
	}
	return 0;
}

static void write_flag_list(struct strbuf *out, char **keywords, size_t n,
			    bool permanent)
{
	strbuf_appends(out, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < n; i++) {
		strbuf_appendc(out, ' ');
		strbuf_appends(out, keywords[i]);
	}
	if (permanent)
		strbuf_appends(out, " \\*");
	strbuf_appendc(out, ')');
}

static void select_common(struct imap_session *s, struct imap_parsed_command *cmd,
			  bool readonly)
{
	struct strbuf name = STRBUF_INIT;
	struct imap_select_params params;
	const char *perr = NULL;
	if (cmd->arg_count < 1) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected one mailbox name");
		return;
	}
	/* RFC 7162 §3.1.8, §3.2.5: (CONDSTORE), (QRESYNC (...)) */
	if (imap_select_params_parse(s, cmd->args + 1, cmd->arg_count - 1, &params, &perr) < 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", perr);
		return;
	}
	if (mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0)
		goto out;
	/* RFC 7162 §3.2.11: [CLOSED] ends the old mailbox's responses. */
	if (s->view != NULL)
		imap_session_sends(s, "* OK [CLOSED] Previous mailbox is now closed.\r\n");
	/* RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected. */
	imap_session_unselect(s);
	imap_select_params_begin(s, &params);

	struct store_mailbox mb;
	struct store_error err;
	uint32_t rights;
	/* RFC 4314 §4: SELECT/EXAMINE need 'r' */
	if (imap_mailbox_get(s, name.s, IMAP_ACL_READ, &mb, &rights, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	if (mb.noselect) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox cannot be selected");
		goto out;
	}
	readonly |= imap_acl_readonly(rights);
	char **kw = NULL;
	size_t kwn = 0;
	if (store_mailbox_keywords(s->server->store, mb.id, &kw, &kwn, &err) < 0 ||
	    imap_session_select(s, &mb, readonly, &err) < 0) {
		store_strings_free(kw, kwn);
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	struct imap_view *v = s->view;
	v->acl_shared = rights != IMAP_ACL_ALL;
	v->acl_rights = rights;
	v->acl_owner_id = mb.user_id;   /* imap_view_access_check() */
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* FLAGS ");
	write_flag_list(o, kw, kwn, false);
	strbuf_appends(o, "\r\n* OK [PERMANENTFLAGS ");
	if (readonly)
		strbuf_appends(o, "()");
	else if (v->acl_shared)
		imap_acl_permanent_flags_write(o, rights, kw, kwn);
	else
		write_flag_list(o, kw, kwn, true);
	strbuf_appends(o, "] Flags permitted.\r\n");
	strbuf_printf(o, "* %zu EXISTS\r\n", v->count);
	/* RFC 9051 App. E item 12: no RECENT for IMAP4rev2 */
	if (!v->no_recent)
		strbuf_printf(o, "* %zu RECENT\r\n", v->recent_count);
	store_strings_free(kw, kwn);

	if (mb.unseen > 0) {
		/* The first unseen message's sequence number. */
		struct store_message_list list;
		if (store_message_range(s->server->store, mb.id, 1, UINT32_MAX, &list, &err) == 0) {
			for (size_t i = 0; i < list.count; i++) {
				if ((list.msgs[i].flags & STORE_FLAG_SEEN) == 0) {
					uint32_t seq = imap_view_seq(v, list.msgs[i].uid);
					if (seq != 0) {
						strbuf_printf(o, "* OK [UNSEEN %u] First unseen.\r\n", seq);
						break;
					}
				}
			}
			store_message_list_free(&list);
		}
	}
	strbuf_printf(o, "* OK [UIDVALIDITY %u] UIDs valid\r\n* OK [UIDNEXT %u] Predicted next UID\r\n",
		      mb.uidvalidity, mb.uidnext);
	/* RFC 5257 §4.1 (cmd-annotate.c) */
	imap_annotate_select_write(s, o, readonly);
	/* RFC 9051 §6.3.2 (App. E item 10): a rev2 SELECT/EXAMINE also
	 * answers LIST for the mailbox, with its canonical name. */
	if (imap_rev2_enabled(s))
		imap_list_write(o, mb.name, 0, mb.special_use, NULL);
	imap_session_send(s, o->s, o->len);
	imap_select_params_respond(s, &mb, &params);
	imap_session_tagged(s, cmd->tag, "OK", readonly ? "READ-ONLY" : "READ-WRITE",
			    readonly ? "Examine completed." : "Select completed.");
out:
	imap_select_params_free(&params);
	strbuf_free(&name);
}

void cmd_select(struct imap_session *s, struct imap_parsed_command *cmd)
{
	select_common(s, cmd, false);
}

void cmd_examine(struct imap_session *s, struct imap_parsed_command *cmd)
{
	select_common(s, cmd, true);
}

static void simple_mailbox_cmd(struct imap_session *s, struct imap_parsed_command *cmd,
			       int which)
{
	struct strbuf name = STRBUF_INIT;
	struct store_error err;
	int rc;
	if (cmd->arg_count != 1) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected one mailbox name");
		return;
	}
	if (mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0)
		goto out;
	switch (which) {
	case 0: /* CREATE: a trailing delimiter only says "will have children" */
		if (name.len > 1 && name.s[name.len - 1] == DELIM)
			name.s[--name.len] = '\0';
		if (strcmp(name.s, "INBOX") == 0) {
			imap_session_tagged(s, cmd->tag, "NO", "ALREADYEXISTS", "Mailbox already exists");
			goto out;
		}
		if (imap_mailbox_is_shared_name(name.s)) {   /* ACL rules */
			imap_mailbox_shared_create(s, cmd->tag, name.s);
			goto out;
		}
		rc = store_mailbox_create(s->server->store, &s->actor, s->user.id, name.s, NULL, &err);
		break;
	case 1: /* DELETE */
		if (imap_mailbox_is_shared_name(name.s)) {   /* ACL rules */
			imap_mailbox_shared_delete(s, cmd->tag, name.s);
			goto out;
		}
		/* Deleting the mailbox this session has selected: leave it
		 * first, so the answer is a plain OK rather than a BYE. */
		if (s->view != NULL && strcmp(s->view->name, name.s) == 0)
			imap_session_unselect(s);
		rc = store_mailbox_delete(s->server->store, &s->actor, s->user.id, name.s, &err);
		break;
	case 2: /* SUBSCRIBE */
	case 3: /* UNSUBSCRIBE */
		rc = store_subscription_set(s->server->store, &s->actor, s->user.id, name.s,
					    which == 2, &err);
		break;
	default:
		rc = -1;
		err.code = STORE_ERR_INTERNAL;
		snprintf(err.msg, sizeof(err.msg), "Internal error");
	}
	imap_server_changed(s->server);
	if (rc < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	static const char *const done[] = { "Create completed.", "Delete completed.",
					    "Subscribe completed.", "Unsubscribe completed." };
	imap_session_ok(s, cmd->tag, NULL, done[which]);
out:
	strbuf_free(&name);
}

void cmd_create(struct imap_session *s, struct imap_parsed_command *cmd)
{
	simple_mailbox_cmd(s, cmd, 0);
}

void cmd_delete(struct imap_session *s, struct imap_parsed_command *cmd)
{
	simple_mailbox_cmd(s, cmd, 1);
}

void cmd_subscribe(struct imap_session *s, struct imap_parsed_command *cmd)
{
	simple_mailbox_cmd(s, cmd, 2);
}

void cmd_unsubscribe(struct imap_session *s, struct imap_parsed_command *cmd)
{
	simple_mailbox_cmd(s, cmd, 3);
}

void cmd_rename(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT;
	struct store_error err;
	if (cmd->arg_count != 2) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected two mailbox names");
		return;
	}
	if (mailbox_arg(s, cmd->tag, &cmd->args[0], &from) < 0 ||
	    mailbox_arg(s, cmd->tag, &cmd->args[1], &to) < 0)
		goto out;
	if (to.len > 1 && to.s[to.len - 1] == DELIM)
		to.s[--to.len] = '\0';
	if (imap_mailbox_is_shared_name(from.s) || imap_mailbox_is_shared_name(to.s)) {
		imap_mailbox_shared_rename(s, cmd->tag, from.s, to.s);   /* ACL rules */
		goto out;
	}
	int rc = store_mailbox_rename(s->server->store, &s->actor, s->user.id,
				      from.s, to.s, &err);
	imap_server_changed(s->server);
	if (rc < 0)
		imap_session_store_error(s, cmd->tag, &err);
	else
		imap_session_ok(s, cmd->tag, NULL, "Rename completed.");
out:
	strbuf_free(&from);
	strbuf_free(&to);
}

/* ---- LIST / LSUB: cmd-list.c ---- */

void cmd_list(struct imap_session *s, struct imap_parsed_command *cmd)
{
	imap_list_run(s, cmd, false);
}

void cmd_lsub(struct imap_session *s, struct imap_parsed_command *cmd)
{
	imap_list_run(s, cmd, true);
}

void cmd_status(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT;
	struct store_error err;
	if (cmd->arg_count != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    cmd->args[1].count == 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected mailbox and status items");
		return;
	}
	if (mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0)
		goto out;
	const struct imap_arg *items = &cmd->args[1];
	for (size_t i = 0; i < items->count; i++) {
		static const char *const known[] = { "MESSAGES", "RECENT", "UIDNEXT",
						     "UIDVALIDITY", "UNSEEN",
						     "HIGHESTMODSEQ" };
		bool ok = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok |= imap_arg_is_atom(&items->list[i], known[k]);
		ok |= imap_quota_status_item(&items->list[i]); /* RFC 9208 */
		ok |= imap_status_size_item(&items->list[i]); /* RFC 8438 */
		if (!ok) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Unknown status item");
			goto out;
		}
	}
	struct store_mailbox mb;
	/* RFC 4314 §4: STATUS needs 'r' */
	if (imap_mailbox_get(s, name.s, IMAP_ACL_READ, &mb, NULL, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	if (mb.noselect) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox has no status");
		goto out;
	}
	uint32_t recent = 0;
	if (mb.uidnext > mb.recent_uid + 1) {
		struct store_message_list list;
		if (store_message_range(s->server->store, mb.id, mb.recent_uid + 1,
					UINT32_MAX, &list, &err) == 0) {
			recent = (uint32_t)list.count;
			store_message_list_free(&list);
		}
	}
	/* RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) enables CONDSTORE; its
	 * untagged OK (for the selected mailbox) goes first. */
	for (size_t i = 0; i < items->count; i++)
		if (imap_arg_is_atom(&items->list[i], "HIGHESTMODSEQ"))
			imap_condstore_enable(s);
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* STATUS ");
	imap_mailbox_write(o, mb.name);
	strbuf_appends(o, " (");
	for (size_t i = 0; i < items->count; i++) {
		const struct imap_arg *a = &items->list[i];
		if (i > 0)
			strbuf_appendc(o, ' ');
		if (imap_arg_is_atom(a, "MESSAGES"))
			strbuf_printf(o, "MESSAGES %u", mb.messages);
		else if (imap_arg_is_atom(a, "RECENT"))
			strbuf_printf(o, "RECENT %u", recent);
		else if (imap_arg_is_atom(a, "UIDNEXT"))
			strbuf_printf(o, "UIDNEXT %u", mb.uidnext);
		else if (imap_arg_is_atom(a, "UIDVALIDITY"))
			strbuf_printf(o, "UIDVALIDITY %u", mb.uidvalidity);
		else if (imap_quota_status_item(a))
			imap_quota_status_write(s, o, &mb, a);
		else if (imap_status_size_item(a))
			imap_status_size_write(s, o, &mb);
		else if (imap_arg_is_atom(a, "HIGHESTMODSEQ"))
			strbuf_printf(o, "HIGHESTMODSEQ %llu",
				      (unsigned long long)mb.highestmodseq);
		else
			strbuf_printf(o, "UNSEEN %u", mb.unseen);
	}
	strbuf_appends(o, ")\r\n");
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Status completed.");
out:
	strbuf_free(&name);
}

void cmd_namespace(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "NAMESPACE takes no arguments");
		return;
	}
	/* RFC 2342: the personal namespace, and other users' mailboxes that
	 * their ACLs let this user see (imap-mailbox.c); no public one. */
	imap_session_sends(s, "* NAMESPACE ((\"\" \"/\")) ((\"" IMAP_SHARED_ROOT "/\" \"/\")) NIL\r\n");
	imap_session_ok(s, cmd->tag, NULL, "Namespace completed.");
}
