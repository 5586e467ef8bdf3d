/* ANNOTATE-EXPERIMENT-1 (RFC 5257) in the IMAP server: the ANNOTATIONS
 * response code of SELECT/EXAMINE (§4.1), FETCH ANNOTATION (§4.3, §4.4),
 * STORE ANNOTATION (§4.5), APPEND with ANNOTATION (§4.7) and the values
 * SEARCH ANNOTATION (§4.8) looks at.  The grammar is in imap-annotate.c,
 * the storage in store-annotate.c.
 *
 * Rights (§3.4 with RFC 4314): reading needs 'r' (which SELECT already
 * asked for); writing a .priv value needs 'r' too; writing a .shared value
 * needs the "n" right (§4.10, IMAP_ACL_ANNOTATE; not 'w').  Changes on an EXAMINEd mailbox are refused, and
 * SELECT says so with [ANNOTATIONS READ-ONLY]. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-annotate.h"
#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-annotate.h"

static struct store_annotate_limits annotate_limits(const struct imap_session *s)
{
	struct store_annotate_limits l = {
		.max_size = s->server->cfg->annotate_max_size,
		.max_entries = s->server->cfg->annotate_max_entries,
	};
	return l;
}

static bool annotate_may_write_shared(uint32_t rights)
{
	return (rights & IMAP_ACL_ANNOTATE) != 0;   /* RFC 5257 §3.4 */
}

/* Whether values may be changed in the selected mailbox: not after
 * EXAMINE, but a mailbox that is read-only only because the ACL grants
 * no write right (RFC 4314 §5.2) still takes .priv values, which need
 * just 'r' (RFC 5257 §3.4). */
static bool annotate_view_writable(const struct imap_session *s)
{
	const struct imap_view *v = s->view;
	if (!v->readonly)
		return true;
	return v->acl_shared && imap_acl_readonly(v->acl_rights);
}

/* ---- SELECT / EXAMINE ---- */

void imap_annotate_select_write(struct imap_session *s, struct strbuf *o,
				bool readonly)
{
	/* §4.1: the ANNOTATIONS code is a MUST in every SELECT/EXAMINE */
	uint32_t rights = imap_view_rights(s);
	(void)readonly;   /* the view says it, and why */
	if (!annotate_view_writable(s) || (rights & IMAP_ACL_READ) == 0)
		strbuf_appends(o, "* OK [ANNOTATIONS READ-ONLY] Annotations "
			       "cannot be changed here\r\n");
	else
		strbuf_printf(o, "* OK [ANNOTATIONS %llu] Largest annotation "
			      "value\r\n", (unsigned long long)
			      s->server->cfg->annotate_max_size);
}

/* ---- FETCH ---- */

static void annotate_entry_write(struct strbuf *o, const char *entry)
{
	/* entries never hold '"' or '\\' (imap_annotate_entry_valid) */
	bool atom = true;
	for (const char *p = entry; *p; p++) {
		if (strchr("(){]", *p) != NULL)
			atom = false;
	}
	if (atom) {
		strbuf_appends(o, entry);
	} else {
		strbuf_appendc(o, '"');
		strbuf_appends(o, entry);
		strbuf_appendc(o, '"');
	}
}

/* The entry's attributes as asked: value.priv, value.shared, size.priv,
 * size.shared, in that order (the order of RFC 5257's examples). */
static void annotate_attrs_write(struct strbuf *o, unsigned int attrs,
				 const struct store_annotation *priv,
				 const struct store_annotation *shared)
{
	bool first = true;
	strbuf_appendc(o, '(');
	if (attrs & IMAP_ANNOTATE_VALUE_PRIV) {
		strbuf_appends(o, "value.priv ");
		imap_annotate_value_write(o, priv ? priv->value : NULL,
					  priv ? priv->len : 0);
		first = false;
	}
	if (attrs & IMAP_ANNOTATE_VALUE_SHARED) {
		strbuf_appends(o, first ? "value.shared " : " value.shared ");
		imap_annotate_value_write(o, shared ? shared->value : NULL,
					  shared ? shared->len : 0);
		first = false;
	}
	/* §3.2.2: size of a missing value is "0" */
	if (attrs & IMAP_ANNOTATE_SIZE_PRIV) {
		strbuf_printf(o, "%ssize.priv \"%zu\"", first ? "" : " ",
			      priv ? priv->len : 0);
		first = false;
	}
	if (attrs & IMAP_ANNOTATE_SIZE_SHARED)
		strbuf_printf(o, "%ssize.shared \"%zu\"", first ? "" : " ",
			      shared ? shared->len : 0);
	strbuf_appendc(o, ')');
}

static bool annotate_has_wildcard(const char *pattern)
{
	return strpbrk(pattern, "*%") != NULL;
}

void imap_annotate_fetch_fill(struct imap_session *s,
			      const struct imap_fetch_request *req,
			      uint32_t uid, struct strbuf *buf,
			      struct imap_fetch_message *fm)
{
	const struct imap_annotate_fetch *f = NULL;
	for (size_t i = 0; i < req->count && f == NULL; i++) {
		if (req->items[i].kind == IMAP_FETCH_ANNOTATION)
			f = req->items[i].annotation;
	}
	if (f == NULL)
		return;
	struct store_annotation_list list;
	struct store_error err;
	if (store_annotate_get(s->server->store, s->view->mailbox_id, uid,
			       s->user.id, &list, &err) < 0) {
		log_warn("imap: %s: annotations of message %u unreadable: %s",
			 s->user.name, uid, err.msg);
		memset(&list, 0, sizeof(list));
	}
	bool want_priv = f->attrs & (IMAP_ANNOTATE_VALUE_PRIV |
				     IMAP_ANNOTATE_SIZE_PRIV);
	bool want_shared = f->attrs & (IMAP_ANNOTATE_VALUE_SHARED |
				       IMAP_ANNOTATE_SIZE_SHARED);
	/* each entry once, in the order of the patterns that first name it;
	 * printed[i] for the first value of each entry in list (by entry,
	 * the .priv value before the .shared one) */
	bool *printed = xcalloc(list.count + 1, sizeof(bool));
	char **missing = xcalloc(f->entry_count, sizeof(char *));
	size_t nmissing = 0;
	bool first = true;
	strbuf_reset(buf);
	strbuf_appendc(buf, '(');
	for (size_t p = 0; p < f->entry_count && f->attrs != 0; p++) {
		const char *pat = f->entries[p];
		bool wild = annotate_has_wildcard(pat);
		bool exists = false;
		for (size_t i = 0, j; i < list.count; i = j) {
			const struct store_annotation *priv = NULL, *shared = NULL;
			for (j = i; j < list.count && strcmp(list.items[j].entry,
						list.items[i].entry) == 0; j++) {
				if (list.items[j].priv)
					priv = &list.items[j];
				else
					shared = &list.items[j];
			}
			if (!imap_annotate_entry_match(pat, list.items[i].entry))
				continue;
			exists = true;
			if (printed[i])
				continue;
			/* a wild card lists the entries that have a value of
			 * a kind asked for (§4.3 examples) */
			if (wild && !((priv && want_priv) || (shared && want_shared)))
				continue;
			printed[i] = true;
			if (!first)
				strbuf_appendc(buf, ' ');
			first = false;
			annotate_entry_write(buf, list.items[i].entry);
			strbuf_appendc(buf, ' ');
			annotate_attrs_write(buf, f->attrs, priv, shared);
		}
		/* §3.2.2: a named entry without values still gets NIL / "0" */
		if (!wild && !exists) {
			bool again = false;
			for (size_t k = 0; k < nmissing; k++)
				again |= strcmp(missing[k], pat) == 0;
			if (again)
				continue;
			missing[nmissing++] = (char *)pat;
			if (!first)
				strbuf_appendc(buf, ' ');
			first = false;
			annotate_entry_write(buf, pat);
			strbuf_appendc(buf, ' ');
			annotate_attrs_write(buf, f->attrs, NULL, NULL);
		}
	}
	strbuf_appendc(buf, ')');
	free(missing);
	free(printed);
	store_annotation_list_free(&list);
	fm->annotation = buf->s;
	fm->annotation_len = buf->len;
}

/* ---- SEARCH ---- */

struct imap_annotate_loaded {
	struct store_annotation_list list;
	struct imap_annotate_value *values;
};

struct imap_annotate_loaded *
imap_annotate_search_load(struct imap_session *s, uint32_t uid,
			  struct imap_search_message *sm)
{
	struct imap_annotate_loaded *l = xcalloc(1, sizeof(*l));
	struct store_error err;
	if (store_annotate_get(s->server->store, s->view->mailbox_id, uid,
			       s->user.id, &l->list, &err) < 0) {
		log_warn("imap: %s: annotations of message %u unreadable: %s",
			 s->user.name, uid, err.msg);
		return l;
	}
	l->values = xcalloc(l->list.count + 1, sizeof(*l->values));
	for (size_t i = 0; i < l->list.count; i++) {
		l->values[i].entry = l->list.items[i].entry;
		l->values[i].priv = l->list.items[i].priv;
		l->values[i].value = l->list.items[i].value;
		l->values[i].len = l->list.items[i].len;
	}
	sm->annotations = l->values;
	sm->annotation_count = l->list.count;
	return l;
}

void imap_annotate_loaded_free(struct imap_annotate_loaded **l)
{
	if (*l == NULL)
		return;
	store_annotation_list_free(&(*l)->list);
	free((*l)->values);
	free(*l);
	*l = NULL;
}

/* ---- STORE and APPEND ---- */

/* Checks rights and limits before anything is written.  0, or -1 after
 * answering the command. */
static int annotate_check(struct imap_session *s, const char *tag,
			  const struct imap_annotate_store *st,
			  uint32_t rights)
{
	size_t values = 0;
	for (size_t i = 0; i < st->count; i++) {
		const struct imap_annotate_store_item *it = &st->items[i];
		if (!it->priv && !annotate_may_write_shared(rights)) {
			imap_session_tagged(s, tag, "NO", "NOPERM",
					    "No right to change shared annotations");
			return -1;
		}
		if ((rights & IMAP_ACL_READ) == 0) {
			imap_session_tagged(s, tag, "NO", "NOPERM",
					    "No right to change annotations");
			return -1;
		}
		/* §4.5: MUST answer NO [ANNOTATE TOOBIG] */
		if (it->value != NULL &&
		    it->len > s->server->cfg->annotate_max_size) {
			imap_session_tagged(s, tag, "NO", "ANNOTATE TOOBIG",
					    "Annotation value too big");
			return -1;
		}
		if (it->value != NULL)
			values++;
	}
	if (values > s->server->cfg->annotate_max_entries) {
		imap_session_tagged(s, tag, "NO", "ANNOTATE TOOMANY",
				    "Too many annotations for one message");
		return -1;
	}
	return 0;
}

static struct store_annotate_item *
annotate_items(const struct imap_annotate_store *st)
{
	struct store_annotate_item *items =
		xcalloc(st->count + 1, sizeof(*items));
	for (size_t i = 0; i < st->count; i++) {
		items[i].entry = st->items[i].entry;
		items[i].priv = st->items[i].priv;
		items[i].value = st->items[i].value;
		items[i].len = st->items[i].len;
	}
	return items;
}

static void annotate_store_error(struct imap_session *s, const char *tag,
				 const struct store_error *err)
{
	/* §4.5's response codes for the limits */
	if (err->code == STORE_ERR_TOOBIG)
		imap_session_tagged(s, tag, "NO", "ANNOTATE TOOBIG", err->msg);
	else if (err->code == STORE_ERR_LIMIT)
		imap_session_tagged(s, tag, "NO", "ANNOTATE TOOMANY", err->msg);
	else
		imap_session_store_error(s, tag, err);
}

void imap_annotate_store_run(struct imap_session *s, const char *tag,
			     const struct imap_arg *args, size_t count,
			     bool uid, bool conditional,
			     uint64_t unchangedsince)
{
	const char *error;
	struct imap_annotate_store st;
	uint32_t *uids = NULL, *modified = NULL;
	size_t n = 0, nmodified = 0;
	struct store_error err;

	/* STORE set ANNOTATION (entry-att ...) */
	if (count != 3) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    "STORE ANNOTATION needs one list");
		return;
	}
	if (imap_annotate_store_parse(&args[2], &st, &error) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	if (imap_view_resolve(s->view, args[0].str, uid, &uids, &n,
			      &error) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		goto out;
	}
	if (!annotate_view_writable(s)) {
		imap_session_tagged(s, tag, "NO", "READ-ONLY",
				    "Mailbox is read-only");
		goto out;
	}
	if (annotate_check(s, tag, &st, imap_view_rights(s)) < 0)
		goto out;
	if (conditional)
		imap_condstore_enable(s);
	struct store_annotate_item *items = annotate_items(&st);
	struct store_annotate_limits limits = annotate_limits(s);
	int rc = n == 0 ? 0 :
		store_annotate_set(s->server->store, &s->actor, s->user.id,
				   s->view->mailbox_id, uids, n, items,
				   st.count, &limits, false,
				   conditional ? unchangedsince : 0,
				   &modified, &nmodified, &err);
	free(items);
	imap_server_changed(s->server);
	if (rc < 0) {
		annotate_store_error(s, tag, &err);
		goto out;
	}
	/* §4.5: implicitly .SILENT, but with CONDSTORE the MODSEQ of each
	 * message (RFC 7162 §3.1.3), and the current state of those that
	 * failed UNCHANGEDSINCE */
	if (n > 0 && (imap_condstore_enabled(s) || nmodified > 0)) {
		struct store_message_list list;
		if (store_message_range(s->server->store, s->view->mailbox_id,
					uids[0], uids[n - 1], &list, &err) == 0) {
			struct strbuf *o = &s->out;
			strbuf_reset(o);
			size_t j = 0;
			for (size_t i = 0; i < list.count; i++) {
				const struct store_message *m = &list.msgs[i];
				while (j < n && uids[j] < m->uid)
					j++;
				if (j >= n || uids[j] != m->uid ||
				    imap_view_seq(s->view, m->uid) == 0)
					continue;
				imap_condstore_store_fetch_write(s, o, m, uid,
								 true, modified,
								 nmodified);
			}
			store_message_list_free(&list);
			imap_session_send(s, o->s, o->len);
		}
	}
	if (nmodified > 0) {
		struct strbuf code = STRBUF_INIT;
		imap_condstore_modified_code(s, &code, modified, nmodified, uid);
		imap_session_ok(s, tag, code.s, "Conditional STORE failed");
		strbuf_free(&code);
	} else {
		imap_session_ok(s, tag, NULL, "Store completed.");
	}
out:
	free(modified);
	free(uids);
	imap_annotate_store_free(&st);
}

int imap_annotate_append_parse(struct imap_session *s, const char *tag,
			       const struct imap_arg *args, size_t count,
			       size_t *i, struct imap_annotate_store *st)
{
	const char *error;
	memset(st, 0, sizeof(*st));
	if (*i >= count || !imap_arg_is_atom(&args[*i], "ANNOTATION"))
		return 0;
	if (*i + 1 >= count ||
	    imap_annotate_store_parse(&args[*i + 1], st, &error) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    *i + 1 >= count ?
				    "ANNOTATION needs a list" : error);
		return -1;
	}
	*i += 2;
	return 0;
}

int imap_annotate_append_check(struct imap_session *s, const char *tag,
			       const struct imap_annotate_store *st,
			       uint32_t rights)
{
	if (st->count == 0)
		return 0;
	return annotate_check(s, tag, st, rights);
}

int imap_annotate_append_apply(struct imap_session *s, int64_t mailbox_id,
			       uint32_t uid,
			       const struct imap_annotate_store *st,
			       struct store_error *err)
{
	if (st->count == 0)
		return 0;
	struct store_annotate_item *items = annotate_items(st);
	struct store_annotate_limits limits = annotate_limits(s);
	int rc = store_annotate_set(s->server->store, &s->actor, s->user.id,
				    mailbox_id, &uid, 1, items, st->count,
				    &limits, true, 0, NULL, NULL, err);
	free(items);
	return rc;
}
