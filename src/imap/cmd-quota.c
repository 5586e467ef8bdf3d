/* QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA (QUOTASET), and the
 * STATUS items DELETED and DELETED-STORAGE (§4.1.4).
 *
 * The store keeps one quota per user, covering all of the user's
 * mailboxes, so each user has one quota root.  A user sees it as "" (the
 * name RFC 9208's examples use); an admin names another user's root
 * "#user/<name>" (also accepted for one's own).  Resources: STORAGE (units
 * of 1024 octets, §5.1), MESSAGE (§5.2) and MAILBOX (§5.3: the user's
 * selectable mailboxes, INBOX included; \Noselect hierarchy names are not
 * mailboxes, and CREATE past the limit gets NO [OVERQUOTA]).  Only
 * resources with a limit are listed in a QUOTA response (§4.2.1:
 * "Resources not named in the list are not limited").  Another user's
 * mailbox shared with this one (RFC 4314) is under that user's root,
 * "#user/<owner>", which GETQUOTAROOT names and GETQUOTA then shows to
 * whoever has 'r' on one of that user's mailboxes (RFC 9208 §6). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define QUOTA_USER_PREFIX "#user/"

void imap_quota_write(struct strbuf *out, const char *root,
		      const struct store_quota *q)
{
	strbuf_appends(out, "* QUOTA ");
	imap_write_astring(out, root);
	strbuf_appends(out, " (");
	const char *sep = "";
	if (q->storage_limit > 0) {
		/* §5.1: in units of 1024 octets; usage rounded up, so a
		 * mailbox with anything in it never shows 0 */
		strbuf_printf(out, "STORAGE %" PRIu64 " %" PRIu64,
			      (q->storage_used + 1023) / 1024,
			      q->storage_limit / 1024);
		sep = " ";
	}
	if (q->message_limit > 0) {
		strbuf_printf(out, "%sMESSAGE %" PRIu64 " %" PRIu64, sep,
			      q->messages_used, q->message_limit);
		sep = " ";
	}
	if (q->mailbox_limit > 0)
		strbuf_printf(out, "%sMAILBOX %" PRIu64 " %" PRIu64, sep,
			      q->mailboxes_used, q->mailbox_limit);
	strbuf_appends(out, ")\r\n");
}

/* Whether the user has 'r' on a mailbox of owner, so that GETQUOTAROOT
 * on it shows owner's quota root. */
static bool quota_root_visible(struct imap_session *s, const char *owner)
{
	struct store_acl_share *sh = NULL;
	size_t n = 0;
	struct store_error err;
	bool visible = false;
	if (store_acl_shared_list(s->server->store, s->user.id, s->user.name,
				  &sh, &n, &err) < 0)
		return false;
	for (size_t i = 0; i < n && !visible; i++)
		visible = strcmp(sh[i].owner, owner) == 0 &&
			  (imap_acl_rights(s, sh[i].mailbox_id, sh[i].owner_id) &
			   IMAP_ACL_READ) != 0;
	free(sh);
	return visible;
}

/* The quota root argument -> the user it belongs to.  0, or -1 after the
 * tagged answer. */
static int quota_root_user(struct imap_session *s, const char *tag,
			   const struct imap_arg *arg, struct store_user *u_r)
{
	const char *root;
	size_t len;
	if (!imap_arg_astring(arg, &root, &len) || strlen(root) != len) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid quota root");
		return -1;
	}
	if (root[0] == '\0') {
		*u_r = s->user;
		return 0;
	}
	size_t plen = strlen(QUOTA_USER_PREFIX);
	if (strncmp(root, QUOTA_USER_PREFIX, plen) != 0 || root[plen] == '\0') {
		imap_session_tagged(s, tag, "NO", "NONEXISTENT", "No such quota root");
		return -1;
	}
	const char *name = root + plen;
	if (strcmp(name, s->user.name) == 0) {
		*u_r = s->user;
		return 0;
	}
	/* Another user's root: admins, and users who may read one of that
	 * user's mailboxes (GETQUOTAROOT names the root to them, RFC 9208
	 * §6); nobody else learns whether it exists. */
	struct store_error err;
	if ((!imap_session_is_admin(s) && !quota_root_visible(s, name)) ||
	    store_user_lookup(s->server->store, name, u_r, &err) < 0) {
		imap_session_tagged(s, tag, "NO", "NONEXISTENT", "No such quota root");
		return -1;
	}
	return 0;
}

/* The root as the client named it (checked by quota_root_user). */
static const char *quota_root_arg(const struct imap_arg *arg)
{
	const char *root;
	size_t len;
	return imap_arg_astring(arg, &root, &len) ? root : "";
}

void cmd_getquota(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 1) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "GETQUOTA takes a quota root");
		return;
	}
	struct store_user u;
	if (quota_root_user(s, cmd->tag, &cmd->args[0], &u) < 0)
		return;
	struct store_quota q;
	struct store_error err;
	if (store_quota_get(s->server->store, u.id, &q, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		return;
	}
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	imap_quota_write(o, quota_root_arg(&cmd->args[0]), &q);
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Getquota completed.");
}

void cmd_getquotaroot(struct imap_session *s, struct imap_parsed_command *cmd)
{
	const char *raw;
	size_t len;
	if (cmd->arg_count != 1 || !imap_arg_astring(&cmd->args[0], &raw, &len) ||
	    strlen(raw) != len) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "GETQUOTAROOT takes a mailbox name");
		return;
	}
	struct strbuf name = STRBUF_INIT, root = STRBUF_INIT;
	struct imap_mailbox_ref ref;
	struct store_quota q;
	struct store_error err;
	if (imap_mailbox_from_client(raw, &name) < 0) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
		goto out;
	}
	if (imap_mailbox_resolve(s, name.s, &ref, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	/* RFC 9208 §6: 'r' on the mailbox (STORAGE and MESSAGE count its
	 * messages) */
	if (imap_mailbox_check(s, cmd->tag, &ref, IMAP_ACL_READ) < 0)
		goto out;
	/* another user's mailbox is under that user's quota */
	if (ref.shared)
		strbuf_printf(&root, "%s%s", QUOTA_USER_PREFIX, ref.owner);
	else
		strbuf_grow(&root, 0);        /* one's own root: "" */
	if (store_quota_get(s->server->store, ref.owner_id, &q, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	/* §4.2.2: the mailbox, then its roots; then each root's QUOTA */
	strbuf_appends(o, "* QUOTAROOT ");
	imap_mailbox_write(o, ref.mb.name);
	strbuf_appendc(o, ' ');
	imap_write_astring(o, root.s);
	strbuf_appends(o, "\r\n");
	imap_quota_write(o, root.s, &q);
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Getquotaroot completed.");
out:
	strbuf_free(&name);
	strbuf_free(&root);
}

/* Reads "(STORAGE n MESSAGE m MAILBOX k)": the limits (0 = not listed),
 * NULL or the BAD text; *unsupported_r set for a resource this server
 * lacks. */
static const char *quota_limits_parse(const struct imap_arg *l, int64_t *storage_r,
				      int64_t *messages_r, int64_t *mailboxes_r,
				      const char **unsupported_r)
{
	*storage_r = *messages_r = *mailboxes_r = 0;
	*unsupported_r = NULL;
	if (l->type != IMAP_ARG_LIST || l->count % 2 != 0)
		return "Expected a list of resource names and limits";
	bool seen_storage = false, seen_message = false, seen_mailbox = false;
	for (size_t i = 0; i < l->count; i += 2) {
		const char *res;
		uint64_t limit;
		if (!imap_arg_atom(&l->list[i], &res) || l->list[i].type != IMAP_ARG_ATOM)
			return "Invalid resource name";
		if (!imap_arg_number64(&l->list[i + 1], &limit))
			return "Invalid resource limit";
		if (strcasecmp(res, "STORAGE") == 0) {
			if (seen_storage)
				return "Resource given twice";
			seen_storage = true;
			/* KiB to bytes must fit the store's signed limit */
			if (limit > (uint64_t)INT64_MAX / 1024)
				return "Resource limit too large";
			*storage_r = (int64_t)limit * 1024;
		} else if (strcasecmp(res, "MESSAGE") == 0) {
			if (seen_message)
				return "Resource given twice";
			seen_message = true;
			*messages_r = (int64_t)limit;
		} else if (strcasecmp(res, "MAILBOX") == 0) {
			if (seen_mailbox)
				return "Resource given twice";
			seen_mailbox = true;
			*mailboxes_r = (int64_t)limit;
		} else if (*unsupported_r == NULL) {
			*unsupported_r = res;
		}
		if (limit == 0 && *unsupported_r == NULL)
			*unsupported_r = "0";
	}
	return NULL;
}

void cmd_setquota(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 2) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "SETQUOTA takes a quota root and a list of limits");
		return;
	}
	int64_t storage, messages, mailboxes;
	const char *unsupported;
	const char *error = quota_limits_parse(&cmd->args[1], &storage, &messages,
					       &mailboxes, &unsupported);
	if (error != NULL) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		return;
	}
	struct store_user u;
	if (quota_root_user(s, cmd->tag, &cmd->args[0], &u) < 0)
		return;
	if (!imap_session_is_admin(s)) {
		imap_session_tagged(s, cmd->tag, "NO", "NOPERM", "Only administrators may set quotas");
		return;
	}
	if (unsupported != NULL) {
		/* the store's 0 means "no limit": a limit of 0 cannot be kept */
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT",
				    strcmp(unsupported, "0") == 0
				    ? "A limit of 0 is not supported; leave the resource out for no limit"
				    : "Unsupported quota resource");
		return;
	}
	/* §4.1.3: limits not listed are removed (0: unlimited) */
	/* RFC 5423 §5: QuotaChange names the quota's owner as "user"; an
	 * admin changing someone else's quota is the event's "admin" */
	struct store_actor actor = s->actor;
	if (u.id != s->user.id) {
		actor.user = NULL;
		actor.admin = s->user.name;
	}
	struct store_error err;
	int rc = store_quota_set_limits(s->server->store, &actor, u.name,
					storage, messages, mailboxes, &err);
	imap_server_changed(s->server);
	struct store_quota q;
	if (rc < 0 || store_quota_get(s->server->store, u.id, &q, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		return;
	}
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	imap_quota_write(o, quota_root_arg(&cmd->args[0]), &q);
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, "Setquota completed.");
}

/* ---- STATUS DELETED / DELETED-STORAGE (§4.1.4) ---- */

bool imap_quota_status_item(const struct imap_arg *a)
{
	return imap_arg_is_atom(a, "DELETED") || imap_arg_is_atom(a, "DELETED-STORAGE");
}

void imap_quota_status_write(struct imap_session *s, struct strbuf *o,
			     const struct store_mailbox *mb,
			     const struct imap_arg *a)
{
	uint64_t count = 0, bytes = 0;
	struct store_message_list list;
	struct store_error err;
	if (mb->messages > 0 &&
	    store_message_range(s->server->store, mb->id, 1, UINT32_MAX, &list, &err) == 0) {
		for (size_t i = 0; i < list.count; i++) {
			if (list.msgs[i].flags & STORE_FLAG_DELETED) {
				count++;
				bytes += list.msgs[i].size;
			}
		}
		store_message_list_free(&list);
	}
	if (imap_arg_is_atom(a, "DELETED"))
		strbuf_printf(o, "DELETED %" PRIu64, count);
	else    /* octets: "the sum of the RFC822.SIZE" of §4.1.4 */
		strbuf_printf(o, "DELETED-STORAGE %" PRIu64, bytes);
}
