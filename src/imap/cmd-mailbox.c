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
	if (mutf7_to_utf8(name, out) < 0)
		return -1;
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
	if (utf8_to_mutf7(name, &m) < 0)
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
		imap_session_tagged(s, tag, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
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
	if (cmd->arg_count != 1) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected one mailbox name");
		return;
	}
	if (mailbox_arg(s, cmd->tag, &cmd->args[0], &name) < 0)
		goto out;
	/* RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected. */
	imap_session_unselect(s);

	struct store_mailbox mb;
	struct store_error err;
	if (store_mailbox_get(s->server->store, s->user.id, name.s, &mb, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	if (mb.noselect) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox cannot be selected");
		goto out;
	}
	char **kw = NULL;
	size_t kwn = 0;
	if (store_mailbox_keywords(s->server->store, mb.id, &kw, &kwn, &err) < 0 ||
	    imap_session_select(s, &mb, readonly, &err) < 0) {
		store_strings_free(kw, kwn);
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	struct imap_view *v = s->view;
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* FLAGS ");
	write_flag_list(o, kw, kwn, false);
	strbuf_appends(o, "\r\n* OK [PERMANENTFLAGS ");
	if (readonly)
		strbuf_appends(o, "()");
	else
		write_flag_list(o, kw, kwn, true);
	strbuf_appends(o, "] Flags permitted.\r\n");
	strbuf_printf(o, "* %zu EXISTS\r\n* %zu RECENT\r\n", v->count, v->recent_count);
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
	imap_session_send(s, o->s, o->len);
	imap_session_tagged(s, cmd->tag, "OK", readonly ? "READ-ONLY" : "READ-WRITE",
			    readonly ? "Examine completed." : "Select completed.");
out:
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
		rc = store_mailbox_create(s->server->store, &s->actor, s->user.id, name.s, NULL, &err);
		break;
	case 1: /* DELETE */
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

/* ---- LIST / LSUB ---- */

/* RFC 3501 §6.3.8: '*' matches anything, '%' anything but the delimiter.
 * Dynamic programming over the name, O(pattern x name): a backtracking
 * matcher takes exponential time on patterns like "%%%%...%x". */
static bool pattern_match(const char *p, const char *n)
{
	size_t nlen = strlen(n);
	/* ok[j]: the pattern read so far matches the first j bytes of n */
	bool *ok = xcalloc(nlen + 1, sizeof(*ok));
	bool result = false;
	ok[0] = true;
	for (; *p != '\0'; p++) {
		if (*p == '*' || *p == '%') {
			/* A run of wildcards is one '*' if it has one, else one '%'. */
			bool star = false;
			for (; p[1] == '*' || p[1] == '%'; p++)
				star |= *p == '*';
			star |= *p == '*';
			for (size_t j = 1; j <= nlen; j++)
				if (!ok[j] && ok[j - 1] && (star || n[j - 1] != DELIM))
					ok[j] = true;
			continue;
		}
		bool any = false;
		for (size_t j = nlen; j > 0; j--) {
			ok[j] = ok[j - 1] && n[j - 1] == *p;
			any |= ok[j];
		}
		ok[0] = false;
		if (!any)
			goto out;
	}
	result = ok[nlen];
out:
	free(ok);
	return result;
}

/* list-mailbox (RFC 3501 §9): an atom that may hold '%' and '*', or a string. */
static bool list_pattern_arg(const struct imap_arg *arg, const char **str_r)
{
	size_t len;
	if (imap_arg_string(arg, str_r, &len))
		return strlen(*str_r) == len;
	return imap_arg_atom(arg, str_r);
}

static bool list_match(const char *pattern, const char *name)
{
	/* INBOX matches case-insensitively: the pattern was normalised by
	 * imap_mailbox_from_client when it starts with "inbox". */
	return pattern_match(pattern, name);
}

struct list_opts {
	bool subscribed_only;   /* selection SUBSCRIBED */
	bool special_use_only;  /* selection SPECIAL-USE */
	bool ret_subscribed;
	bool ret_children;
	bool ret_special_use;
	bool extended;
};

static bool has_children(const struct store_mailbox *list, size_t n, size_t i)
{
	size_t len = strlen(list[i].name);
	for (size_t j = 0; j < n; j++) {
		if (j != i && strncmp(list[j].name, list[i].name, len) == 0 &&
		    list[j].name[len] == DELIM)
			return true;
	}
	return false;
}

static bool in_sorted(char **names, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, names[mid]);
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static int parse_list_options(const struct imap_arg *l, struct list_opts *o, bool selection)
{
	if (l->type != IMAP_ARG_LIST)
		return -1;
	for (size_t i = 0; i < l->count; i++) {
		const char *a;
		if (!imap_arg_atom(&l->list[i], &a))
			return -1;
		if (selection && strcasecmp(a, "SUBSCRIBED") == 0)
			o->subscribed_only = o->ret_subscribed = true;
		else if (selection && strcasecmp(a, "SPECIAL-USE") == 0)
			o->special_use_only = o->ret_special_use = true;
		else if (selection && (strcasecmp(a, "REMOTE") == 0 ||
				       strcasecmp(a, "RECURSIVEMATCH") == 0))
			;
		else if (!selection && strcasecmp(a, "SUBSCRIBED") == 0)
			o->ret_subscribed = true;
		else if (!selection && strcasecmp(a, "CHILDREN") == 0)
			o->ret_children = true;
		else if (!selection && strcasecmp(a, "SPECIAL-USE") == 0)
			o->ret_special_use = true;
		else
			return -1;
	}
	return 0;
}

/* RFC 3501 §6.3.9: when "foo/bar" is subscribed but "foo" is not and the
 * pattern stops at foo's level ("%"), foo is listed with \Noselect. */
static void lsub_parents(struct strbuf *o, const struct strbuf *pattern,
			 char **subs, size_t nsubs, size_t i)
{
	char *name = xstrdup(subs[i]);
	for (char *slash = strrchr(name, DELIM); slash != NULL; slash = strrchr(name, DELIM)) {
		*slash = '\0';
		if (!list_match(pattern->s, name))
			continue;
		if (in_sorted(subs, nsubs, name))
			break;
		/* Emit once: only for the first subscribed child in order. */
		bool earlier = false;
		size_t len = strlen(name);
		for (size_t j = 0; j < i && !earlier; j++)
			earlier = strncmp(subs[j], name, len) == 0 && subs[j][len] == DELIM;
		if (!earlier) {
			strbuf_appends(o, "* LSUB (\\Noselect) \"/\" ");
			imap_mailbox_write(o, name);
			strbuf_appends(o, "\r\n");
		}
		break;
	}
	free(name);
}

static void list_common(struct imap_session *s, struct imap_parsed_command *cmd, bool lsub)
{
	struct list_opts opts = { 0 };
	size_t ai = 0;
	const char *ref_raw;
	struct strbuf ref = STRBUF_INIT, pat = STRBUF_INIT, full = STRBUF_INIT;
	struct store_mailbox *boxes = NULL;
	size_t nboxes = 0;
	char **subs = NULL;
	size_t nsubs = 0;
	struct store_error err;
	size_t len;

	if (!lsub && cmd->arg_count > 0 && cmd->args[0].type == IMAP_ARG_LIST) {
		if (parse_list_options(&cmd->args[0], &opts, true) < 0) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid LIST selection options");
			return;
		}
		opts.extended = true;
		ai = 1;
	}
	if (cmd->arg_count < ai + 2 || !imap_arg_astring(&cmd->args[ai], &ref_raw, &len)) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Expected reference and mailbox pattern");
		return;
	}
	/* Patterns: one, or (LIST-EXTENDED) a parenthesised list. */
	const struct imap_arg *patterns = &cmd->args[ai + 1];
	size_t npatterns = 1;
	if (!lsub && patterns->type == IMAP_ARG_LIST) {
		npatterns = patterns->count;
		patterns = patterns->list;
		opts.extended = true;
	}
	size_t rest = ai + 2;
	if (!lsub && cmd->arg_count > rest) {
		if (cmd->arg_count != rest + 2 || !imap_arg_is_atom(&cmd->args[rest], "RETURN") ||
		    parse_list_options(&cmd->args[rest + 1], &opts, false) < 0) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid LIST return options");
			return;
		}
		opts.extended = true;
	} else if (cmd->arg_count > rest) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Too many arguments");
		return;
	}
	if (mutf7_to_utf8(ref_raw, &ref) < 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid reference name");
		goto out;
	}

	if (npatterns == 1) {
		const char *p;
		if (!list_pattern_arg(&patterns[0], &p)) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid mailbox pattern");
			goto out;
		}
		if (p[0] == '\0' && !lsub) {
			/* RFC 3501 §6.3.8: the hierarchy delimiter and root. */
			imap_session_sends(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
			imap_session_ok(s, cmd->tag, NULL, "List completed.");
			goto out;
		}
	}
	if (store_mailbox_list(s->server->store, s->user.id, &boxes, &nboxes, &err) < 0 ||
	    store_subscription_list(s->server->store, s->user.id, &subs, &nsubs, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}

	struct strbuf *o = &s->out;
	strbuf_reset(o);
	if (lsub) {
		for (size_t pi = 0; pi < npatterns; pi++) {
			const char *p;
			if (!list_pattern_arg(&patterns[pi], &p))
				continue;
			strbuf_reset(&pat);
			strbuf_append(&pat, ref.s, ref.len);
			strbuf_appends(&pat, p);
			if (imap_mailbox_from_client(pat.s, &full) < 0)
				continue;
			for (size_t i = 0; i < nsubs; i++) {
				if (!list_match(full.s, subs[i])) {
					lsub_parents(o, &full, subs, nsubs, i);
					continue;
				}
				bool exists = false;
				for (size_t j = 0; j < nboxes; j++)
					if (strcmp(boxes[j].name, subs[i]) == 0 && !boxes[j].noselect)
						exists = true;
				strbuf_printf(o, "* LSUB (%s) \"/\" ", exists ? "" : "\\Noselect");
				imap_mailbox_write(o, subs[i]);
				strbuf_appends(o, "\r\n");
			}
		}
	} else {
		bool *sent = xcalloc(nboxes + 1, sizeof(bool));
		for (size_t pi = 0; pi < npatterns; pi++) {
			const char *p;
			if (!list_pattern_arg(&patterns[pi], &p)) {
				free(sent);
				imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid mailbox pattern");
				goto out;
			}
			strbuf_reset(&pat);
			strbuf_append(&pat, ref.s, ref.len);
			strbuf_appends(&pat, p);
			if (imap_mailbox_from_client(pat.s, &full) < 0)
				continue;
			for (size_t i = 0; i < nboxes; i++) {
				const struct store_mailbox *mb = &boxes[i];
				if (sent[i] || !list_match(full.s, mb->name))
					continue;
				bool sub = in_sorted(subs, nsubs, mb->name);
				if (opts.subscribed_only && !sub)
					continue;
				if (opts.special_use_only && mb->special_use[0] == '\0')
					continue;
				sent[i] = true;
				strbuf_appends(o, "* LIST (");
				const char *sep = "";
				if (mb->noselect) {
					strbuf_appends(o, "\\Noselect");
					sep = " ";
				}
				strbuf_printf(o, "%s%s", sep, has_children(boxes, nboxes, i) ?
					      "\\HasChildren" : "\\HasNoChildren");
				if (opts.ret_subscribed && sub)
					strbuf_appends(o, " \\Subscribed");
				if (mb->special_use[0] != '\0')
					strbuf_printf(o, " %s", mb->special_use);
				strbuf_appends(o, ") \"/\" ");
				imap_mailbox_write(o, mb->name);
				strbuf_appends(o, "\r\n");
			}
		}
		free(sent);
	}
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, lsub ? "Lsub completed." : "List completed.");
out:
	free(boxes);
	store_strings_free(subs, nsubs);
	strbuf_free(&ref);
	strbuf_free(&pat);
	strbuf_free(&full);
}

void cmd_list(struct imap_session *s, struct imap_parsed_command *cmd)
{
	list_common(s, cmd, false);
}

void cmd_lsub(struct imap_session *s, struct imap_parsed_command *cmd)
{
	list_common(s, cmd, true);
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
						     "UIDVALIDITY", "UNSEEN" };
		bool ok = false;
		for (size_t k = 0; k < 5; k++)
			ok |= imap_arg_is_atom(&items->list[i], known[k]);
		if (!ok) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Unknown status item");
			goto out;
		}
	}
	struct store_mailbox mb;
	if (store_mailbox_get(s->server->store, s->user.id, name.s, &mb, &err) < 0) {
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
	/* RFC 2342: one personal namespace; shared ones come with ACL. */
	imap_session_sends(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_session_ok(s, cmd->tag, NULL, "Namespace completed.");
}
