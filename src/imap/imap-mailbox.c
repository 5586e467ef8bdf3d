/* Client mailbox names -> (owner, mailbox, rights): the one resolver every
 * command uses, the "Other Users" namespace (RFC 2342) and the session's
 * rights on a mailbox (RFC 4314).
 *
 * A user's own mailboxes keep their names; other users' mailboxes that
 * the user may see ('l') appear as "Other Users/<owner>/<name>".  The
 * owner has every right on their own mailboxes, whatever the ACL says
 * (docs/acl.md); anyone else has what the ACL grants them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define SHARED_ROOT_LEN (sizeof(IMAP_SHARED_ROOT) - 1)

uint32_t imap_acl_from_letters(const char *letters)
{
	static const char all[] = STORE_ACL_RIGHTS_ALL;
	uint32_t mask = 0;
	for (const char *p = letters; *p != '\0'; p++) {
		const char *at = strchr(all, *p);
		if (at != NULL)
			mask |= 1u << (at - all);
	}
	return mask;
}

void imap_acl_to_letters(uint32_t rights, bool virtual_rights,
			 char out[IMAP_ACL_LETTERS_MAX + 1])
{
	static const char all[] = STORE_ACL_RIGHTS_ALL;
	size_t n = 0;
	for (size_t i = 0; all[i] != '\0'; i++)
		if (rights & (1u << i))
			out[n++] = all[i];
	/* RFC 4314 §2.1.1: "c" stands for k, "d" for x, t and e here; each
	 * is shown when any of its members is granted. */
	if (virtual_rights && (rights & IMAP_ACL_CREATE))
		out[n++] = 'c';
	if (virtual_rights && (rights & (IMAP_ACL_DELETE_MAILBOX |
					 IMAP_ACL_DELETE_MESSAGES |
					 IMAP_ACL_EXPUNGE)))
		out[n++] = 'd';
	out[n] = '\0';
}

void imap_acl_changed(struct imap_server *srv)
{
	srv->acl_generation++;
}

uint32_t imap_acl_rights(struct imap_session *s, int64_t mailbox_id,
			 int64_t owner_id)
{
	struct store_error err;
	if (owner_id == 0) {
		struct store_mailbox mb;
		if (store_mailbox_get_by_id(s->server->store, mailbox_id, &mb,
					    &err) < 0)
			return 0;
		owner_id = mb.user_id;
	}
	if (owner_id == s->user.id)
		return IMAP_ACL_ALL;
	/* One entry per session: enough for the selected mailbox and for a
	 * command's target; any ACL change anywhere empties it. */
	if (s->acl_cache_mailbox == mailbox_id &&
	    s->acl_cache_generation == s->server->acl_generation)
		return s->acl_cache_rights;
	char letters[STORE_ACL_RIGHTS_MAX + 1];
	if (store_acl_lookup(s->server->store, mailbox_id, s->user.name,
			     letters, &err) < 0)
		return 0;
	s->acl_cache_mailbox = mailbox_id;
	s->acl_cache_generation = s->server->acl_generation;
	s->acl_cache_rights = imap_acl_from_letters(letters);
	return s->acl_cache_rights;
}

bool imap_mailbox_is_shared_name(const char *name)
{
	return strncmp(name, IMAP_SHARED_ROOT, SHARED_ROOT_LEN) == 0 &&
	       (name[SHARED_ROOT_LEN] == '\0' || name[SHARED_ROOT_LEN] == '/');
}

int imap_mailbox_resolve(struct imap_session *s, const char *name,
			 struct imap_mailbox_ref *ref, struct store_error *err)
{
	struct store *store = s->server->store;
	memset(ref, 0, sizeof(*ref));
	if (!imap_mailbox_is_shared_name(name)) {
		ref->owner_id = s->user.id;
		snprintf(ref->owner, sizeof(ref->owner), "%s", s->user.name);
		snprintf(ref->name, sizeof(ref->name), "%s", name);
		ref->rights = IMAP_ACL_ALL;
		if (store_mailbox_get(store, s->user.id, name, &ref->mb, err) == 0) {
			ref->exists = true;
			snprintf(ref->name, sizeof(ref->name), "%s", ref->mb.name);
			return 0;
		}
		return err->code == STORE_ERR_NONEXISTENT ? 0 : -1;
	}

	ref->shared = true;
	const char *owner = name + SHARED_ROOT_LEN;
	if (*owner == '\0')
		return 0;                       /* the namespace's root */
	owner++;
	const char *slash = strchr(owner, '/');
	size_t olen = slash != NULL ? (size_t)(slash - owner) : strlen(owner);
	if (olen == 0 || olen >= sizeof(ref->owner))
		return 0;
	memcpy(ref->owner, owner, olen);
	ref->owner[olen] = '\0';
	if (slash == NULL || slash[1] == '\0')
		return 0;                       /* "Other Users/bob" */
	snprintf(ref->name, sizeof(ref->name), "%s", slash + 1);

	struct store_user user;
	if (store_user_lookup(store, ref->owner, &user, err) < 0)
		return err->code == STORE_ERR_NONEXISTENT ? 0 : -1;
	/* One's own mailboxes are not shared with oneself. */
	if (user.id == s->user.id)
		return 0;
	ref->owner_id = user.id;
	struct store_mailbox mb;
	if (store_mailbox_get(store, user.id, ref->name, &mb, err) < 0)
		return err->code == STORE_ERR_NONEXISTENT ? 0 : -1;
	snprintf(ref->name, sizeof(ref->name), "%s", mb.name);
	ref->rights = imap_acl_rights(s, mb.id, user.id);
	/* RFC 4314 §6: without 'l' the mailbox does not exist for them. */
	if ((ref->rights & IMAP_ACL_LOOKUP) == 0 || mb.noselect) {
		ref->rights = 0;
		return 0;
	}
	ref->mb = mb;
	int len = snprintf(ref->mb.name, sizeof(ref->mb.name), "%s/%s/%s",
			   IMAP_SHARED_ROOT, ref->owner, mb.name);
	/* too long to name in the namespace: not reachable through it */
	if (len < 0 || (size_t)len >= sizeof(ref->mb.name)) {
		ref->rights = 0;
		return 0;
	}
	ref->exists = true;
	return 0;
}

int imap_mailbox_check(struct imap_session *s, const char *tag,
		       const struct imap_mailbox_ref *ref, uint32_t need)
{
	if (!ref->exists) {
		imap_session_tagged(s, tag, "NO", "NONEXISTENT",
				    "Mailbox doesn't exist");
		return -1;
	}
	if ((ref->rights & need) != need) {
		imap_session_tagged(s, tag, "NO", "NOPERM",
				    "Permission denied");
		return -1;
	}
	return 0;
}

uint32_t imap_view_rights(const struct imap_session *s)
{
	if (s->view != NULL && s->view->acl_revoked)
		return 0;
	if (s->view == NULL || !s->view->acl_shared)
		return IMAP_ACL_ALL;
	return s->view->acl_rights;
}

bool imap_view_access_check(struct imap_session *s)
{
	struct imap_view *v = s->view;
	if (v == NULL || v->acl_owner_id == 0 || v->acl_owner_id == s->user.id)
		return true;
	if (v->acl_revoked)
		return false;
	/* imap_acl_rights() only asks the store after an ACL change */
	uint32_t rights = imap_acl_rights(s, v->mailbox_id, v->acl_owner_id);
	if ((rights & (IMAP_ACL_LOOKUP | IMAP_ACL_READ)) !=
	    (IMAP_ACL_LOOKUP | IMAP_ACL_READ)) {
		/* RFC 4314 §4 leaves the selected mailbox to the server:
		 * no more updates, and every command on it but CLOSE and
		 * UNSELECT is NO [NOPERM] until the next SELECT.  Sticky even
		 * if the right comes back: what was not sent cannot be
		 * caught up on safely (docs/acl.md). */
		v->acl_revoked = true;
		v->pending_new = false;
		v->pending_expunge_count = 0;
		v->pending_flags_count = 0;
		return false;
	}
	/* other rights take effect at once, narrower or wider; READ-ONLY
	 * and PERMANENTFLAGS stay as SELECT said (§5.1.1) */
	v->acl_rights = rights;
	v->acl_shared = rights != IMAP_ACL_ALL;
	return true;
}

/* ---- LIST ---- */

static void shared_push(struct store_mailbox **boxes, size_t *n, size_t *cap,
			const struct store_mailbox *mb)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*boxes = xrealloc(*boxes, *cap * sizeof(**boxes));
	}
	(*boxes)[(*n)++] = *mb;
}

/* A \Noselect name that only holds shared mailboxes below it. */
static void shared_push_parent(struct store_mailbox **boxes, size_t *n,
			       size_t *cap, size_t first, const char *name)
{
	for (size_t i = first; i < *n; i++)
		if (strcmp((*boxes)[i].name, name) == 0)
			return;
	struct store_mailbox p;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.noselect = true;
	shared_push(boxes, n, cap, &p);
}

int imap_mailbox_list_add_shared(struct imap_session *s,
				 struct store_mailbox **boxes, size_t *count,
				 struct store_error *err)
{
	struct store_acl_share *sh = NULL;
	size_t nsh = 0;
	if (store_acl_shared_list(s->server->store, s->user.id, s->user.name,
				  &sh, &nsh, err) < 0)
		return -1;
	size_t n = *count, cap = *count, first = *count;
	for (size_t i = 0; i < nsh; i++) {
		struct store_mailbox mb;
		struct store_error ignored;
		/* counters for LIST-STATUS; gone meanwhile: skip it */
		if (store_mailbox_get_by_id(s->server->store, sh[i].mailbox_id,
					    &mb, &ignored) < 0)
			continue;
		char full[sizeof(mb.name)];
		int len = snprintf(full, sizeof(full), "%s/%s/%s",
				   IMAP_SHARED_ROOT, sh[i].owner, mb.name);
		if (len < 0 || (size_t)len >= sizeof(full))
			continue;       /* too long to name: not listed */
		/* the parents: "Other Users", "Other Users/bob", and any of
		 * bob's levels above that this user may not see */
		for (char *slash = strchr(full, '/'); slash != NULL;
		     slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			shared_push_parent(boxes, &n, &cap, first, full);
			*slash = '/';
		}
		/* a visible parent found later replaces its placeholder */
		bool placed = false;
		for (size_t j = first; j < n; j++) {
			if (strcmp((*boxes)[j].name, full) == 0) {
				(*boxes)[j] = mb;
				snprintf((*boxes)[j].name, sizeof(mb.name), "%s", full);
				placed = true;
			}
		}
		if (!placed) {
			snprintf(mb.name, sizeof(mb.name), "%s", full);
			shared_push(boxes, &n, &cap, &mb);
		}
	}
	free(sh);
	*count = n;
	return 0;
}

int imap_mailbox_get(struct imap_session *s, const char *name, uint32_t need,
		     struct store_mailbox *mb_r, uint32_t *rights_r,
		     struct store_error *err)
{
	if (rights_r != NULL)
		*rights_r = IMAP_ACL_ALL;
	/* one's own mailboxes: exactly what the store says */
	if (!imap_mailbox_is_shared_name(name))
		return store_mailbox_get(s->server->store, s->user.id, name,
					 mb_r, err);
	struct imap_mailbox_ref ref;
	if (imap_mailbox_resolve(s, name, &ref, err) < 0)
		return -1;
	if (!ref.exists) {
		err->code = STORE_ERR_NONEXISTENT;
		snprintf(err->msg, sizeof(err->msg), "Mailbox doesn't exist");
		return -1;
	}
	if ((ref.rights & need) != need) {
		err->code = STORE_ERR_NOPERM;
		snprintf(err->msg, sizeof(err->msg), "Permission denied");
		return -1;
	}
	*mb_r = ref.mb;
	if (rights_r != NULL)
		*rights_r = ref.rights;
	return 0;
}

bool imap_acl_readonly(uint32_t rights)
{
	/* RFC 4314 §5.2: READ-ONLY unless one of i, e or the rights of the
	 * shared flags (all flags are shared here: s, w, t; and "n", which
	 * RFC 5257 §3.4 makes a shared flag right) */
	return (rights & (IMAP_ACL_INSERT | IMAP_ACL_EXPUNGE | IMAP_ACL_SEEN |
			  IMAP_ACL_WRITE | IMAP_ACL_DELETE_MESSAGES |
			  IMAP_ACL_ANNOTATE)) == 0;
}

void imap_acl_permanent_flags_write(struct strbuf *out, uint32_t rights,
				    char **keywords, size_t n)
{
	/* RFC 4314 §5.1.1: PERMANENTFLAGS shows what this user may change */
	const char *sep = "";
	strbuf_appendc(out, '(');
	if (rights & IMAP_ACL_WRITE) {
		strbuf_appends(out, "\\Answered \\Flagged \\Draft");
		sep = " ";
	}
	if (rights & IMAP_ACL_DELETE_MESSAGES) {
		strbuf_printf(out, "%s\\Deleted", sep);
		sep = " ";
	}
	if (rights & IMAP_ACL_SEEN) {
		strbuf_printf(out, "%s\\Seen", sep);
		sep = " ";
	}
	if (rights & IMAP_ACL_WRITE) {
		for (size_t i = 0; i < n; i++)
			strbuf_printf(out, " %s", keywords[i]);
		strbuf_appends(out, " \\*");
	}
	strbuf_appendc(out, ')');
}

uint32_t imap_acl_flags_allowed(uint32_t rights, uint32_t flags,
				bool *keywords_ok_r)
{
	uint32_t allowed = 0;
	if (rights & IMAP_ACL_SEEN)
		allowed |= STORE_FLAG_SEEN;
	if (rights & IMAP_ACL_DELETE_MESSAGES)
		allowed |= STORE_FLAG_DELETED;
	if (rights & IMAP_ACL_WRITE)
		allowed |= STORE_FLAG_ALL & ~(STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	if (keywords_ok_r != NULL)
		*keywords_ok_r = (rights & IMAP_ACL_WRITE) != 0;
	return flags & allowed;
}

/* ---- CREATE, DELETE, RENAME of other users' mailboxes ---- */

/* RFC 4314 §4: 'k' on the nearest existing parent of ref->name. */
static bool shared_may_create(struct imap_session *s,
			      const struct imap_mailbox_ref *ref,
			      int64_t *parent_id_r)
{
	char path[sizeof(ref->name)];
	snprintf(path, sizeof(path), "%s", ref->name);
	*parent_id_r = 0;
	for (char *slash = strrchr(path, '/'); slash != NULL;
	     slash = strrchr(path, '/')) {
		*slash = '\0';
		struct store_mailbox mb;
		struct store_error err;
		if (store_mailbox_get(s->server->store, ref->owner_id, path,
				      &mb, &err) < 0)
			continue;
		if (mb.noselect)
			return false;   /* no ACL on a mere parent name */
		*parent_id_r = mb.id;
		return (imap_acl_rights(s, mb.id, ref->owner_id) &
			IMAP_ACL_CREATE) != 0;
	}
	/* the top of another user's hierarchy is theirs alone */
	return false;
}

static void shared_answer(struct imap_session *s, const char *tag, int rc,
			  const struct store_error *err, const char *done)
{
	imap_server_changed(s->server);
	if (rc < 0)
		imap_session_store_error(s, tag, err);
	else
		imap_session_ok(s, tag, NULL, done);
}

void imap_mailbox_shared_create(struct imap_session *s, const char *tag,
				const char *name)
{
	struct imap_mailbox_ref ref;
	struct store_error err;
	int64_t parent_id;
	if (imap_mailbox_resolve(s, name, &ref, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		return;
	}
	if (ref.exists) {
		imap_session_tagged(s, tag, "NO", "ALREADYEXISTS", "Mailbox already exists");
		return;
	}
	if (ref.owner_id == 0 || ref.name[0] == '\0' ||
	    !shared_may_create(s, &ref, &parent_id)) {
		imap_session_tagged(s, tag, "NO", "NOPERM", "Permission denied");
		return;
	}
	int rc = store_mailbox_create(s->server->store, &s->actor, ref.owner_id,
				      ref.name, NULL, &err);
	if (rc < 0 && err.code == STORE_ERR_ALREADYEXISTS) {
		/* there, but not for this user: do not tell */
		imap_server_changed(s->server);
		imap_session_tagged(s, tag, "NO", "NOPERM", "Permission denied");
		return;
	}
	/* RFC 4314 §4: a new mailbox SHOULD inherit its parent's ACL;
	 * without it the creator could not even see what they made */
	struct store_mailbox mb;
	if (rc == 0 && store_mailbox_get(s->server->store, ref.owner_id, ref.name,
					 &mb, &err) == 0)
		rc = store_acl_copy(s->server->store, &s->actor, parent_id,
				    mb.id, &err);
	shared_answer(s, tag, rc, &err, "Create completed.");
}

void imap_mailbox_shared_delete(struct imap_session *s, const char *tag,
				const char *name)
{
	struct imap_mailbox_ref ref;
	struct store_error err;
	if (imap_mailbox_resolve(s, name, &ref, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		return;
	}
	/* RFC 4314 §4: DELETE needs 'x' */
	if (imap_mailbox_check(s, tag, &ref, IMAP_ACL_DELETE_MAILBOX) < 0)
		return;
	if (s->view != NULL && s->view->mailbox_id == ref.mb.id)
		imap_session_unselect(s);
	int rc = store_mailbox_delete(s->server->store, &s->actor, ref.owner_id,
				      ref.name, &err);
	shared_answer(s, tag, rc, &err, "Delete completed.");
}

void imap_mailbox_shared_rename(struct imap_session *s, const char *tag,
				const char *from, const char *to)
{
	struct imap_mailbox_ref src, dst;
	struct store_error err;
	int64_t parent_id;
	if (imap_mailbox_resolve(s, from, &src, &err) < 0 ||
	    imap_mailbox_resolve(s, to, &dst, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		return;
	}
	/* RFC 4314 §4: 'x' on the mailbox, 'k' on the new parent */
	if (imap_mailbox_check(s, tag, &src, IMAP_ACL_DELETE_MAILBOX) < 0)
		return;
	if (!src.shared || !dst.shared || src.owner_id != dst.owner_id) {
		imap_session_tagged(s, tag, "NO", "CANNOT",
				    "Cannot move a mailbox to another user");
		return;
	}
	if (dst.exists) {
		imap_session_tagged(s, tag, "NO", "ALREADYEXISTS", "Mailbox already exists");
		return;
	}
	if (dst.name[0] == '\0' || !shared_may_create(s, &dst, &parent_id)) {
		imap_session_tagged(s, tag, "NO", "NOPERM", "Permission denied");
		return;
	}
	int rc = store_mailbox_rename(s->server->store, &s->actor, src.owner_id,
				      src.name, dst.name, &err);
	if (rc < 0 && err.code == STORE_ERR_ALREADYEXISTS) {
		imap_server_changed(s->server);
		imap_session_tagged(s, tag, "NO", "NOPERM", "Permission denied");
		return;
	}
	shared_answer(s, tag, rc, &err, "Rename completed.");
}

/* ---- flags a user may not change (RFC 4314 §4) ---- */

struct flags_group {
	uint32_t flags;
	char *keywords;
	uint32_t *uids;
	size_t count;
};

int imap_acl_flags_rewrite(struct imap_session *s, int64_t mailbox_id,
			   const uint32_t *uids, size_t n, uint32_t rights,
			   bool replace, uint32_t req_flags,
			   const char *req_keywords, struct store_error *err)
{
	if (n == 0)
		return 0;
	bool kw_ok;
	uint32_t allowed = imap_acl_flags_allowed(rights, STORE_FLAG_ALL, &kw_ok);
	struct store_message_list list;
	if (store_message_range(s->server->store, mailbox_id, uids[0],
				uids[n - 1], &list, err) < 0)
		return -1;
	/* messages that end with the same flags share one store call */
	struct flags_group *g = NULL;
	size_t ng = 0, j = 0;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		while (j < n && uids[j] < m->uid)
			j++;
		if (j >= n || uids[j] != m->uid)
			continue;
		uint32_t flags;
		const char *kw;
		if (replace) {
			/* STORE FLAGS: what may change is replaced, the
			 * rest stays as it is */
			flags = (m->flags & ~allowed) | (req_flags & allowed);
			kw = kw_ok ? req_keywords : m->keywords;
		} else {
			/* COPY: only what the user may set survives */
			flags = m->flags & allowed;
			kw = kw_ok ? m->keywords : "";
		}
		if (flags == m->flags && strcmp(kw, m->keywords) == 0)
			continue;
		size_t k = 0;
		while (k < ng && (g[k].flags != flags || strcmp(g[k].keywords, kw) != 0))
			k++;
		if (k == ng) {
			g = xrealloc(g, (ng + 1) * sizeof(*g));
			g[ng].flags = flags;
			g[ng].keywords = xstrdup(kw);
			g[ng].uids = xmalloc(n * sizeof(uint32_t));
			g[ng].count = 0;
			ng++;
		}
		g[k].uids[g[k].count++] = m->uid;
	}
	store_message_list_free(&list);
	int ret = 0;
	for (size_t k = 0; k < ng; k++) {
		if (ret == 0 &&
		    store_message_flags(s->server->store, &s->actor, mailbox_id,
					g[k].uids, g[k].count, STORE_FLAGS_REPLACE,
					g[k].flags, g[k].keywords, NULL, NULL,
					err) < 0)
			ret = -1;
		free(g[k].keywords);
		free(g[k].uids);
	}
	free(g);
	return ret;
}

int imap_acl_store_prepare(struct imap_session *s, const char *tag,
			   bool replace, bool conditional, uint32_t *flags,
			   struct strbuf *keywords)
{
	uint32_t rights = imap_view_rights(s);
	bool kw_ok;
	uint32_t allowed = imap_acl_flags_allowed(rights, STORE_FLAG_ALL, &kw_ok);
	if (allowed == STORE_FLAG_ALL && kw_ok)
		return 0;
	if (replace) {
		if (allowed == 0 && !kw_ok) {
			imap_session_tagged(s, tag, "NO", "NOPERM",
					    "No right to change any flag");
			return -1;
		}
		if (conditional) {
			imap_session_tagged(s, tag, "NO", "NOPERM",
					    "Cannot replace every flag here: use +FLAGS / -FLAGS");
			return -1;
		}
		return 1;
	}
	/* §4: drop what may not change; fail only when nothing is left */
	bool had = *flags != 0 || keywords->len > 0;
	*flags &= allowed;
	if (!kw_ok)
		strbuf_reset(keywords);
	if (had && *flags == 0 && keywords->len == 0) {
		imap_session_tagged(s, tag, "NO", "NOPERM",
				    "No right to change these flags");
		return -1;
	}
	return 0;
}
