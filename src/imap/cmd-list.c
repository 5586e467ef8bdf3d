/* LIST and LSUB (RFC 3501 §6.3.8-9) with LIST-EXTENDED (RFC 5258),
 * LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and the OLDNAME extended
 * data item (RFC 9051 §6.3.9.7, RFC 5465 §5.4).
 *
 * One LIST runs in three steps: list_parse() reads and checks the whole
 * command (validate, then execute), list_gather() collects every name the
 * answer may be about, list_select() decides which of them are answered
 * and with what. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define DELIM '/'
/* Patterns in one "(a b ...)" list: a client asking for more is broken. */
#define LIST_PATTERNS_MAX 100

/* ---- patterns ---- */

/* RFC 3501 §6.3.8: '*' matches anything, '%' anything but the delimiter.
 * Dynamic programming over the name, O(pattern x name): a backtracking
 * matcher takes exponential time on patterns like "%%%%...%x". */
static bool list_pattern_match(const char *p, const char *n)
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

static bool list_in_sorted(char **names, size_t n, const char *name)
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

/* ---- the command ---- */

struct list_request {
	bool extended;          /* RFC 5258 syntax used: extended data allowed */
	bool empty_pattern;     /* one pattern, "" */
	/* selection options */
	bool sel_subscribed;
	bool sel_special_use;
	bool sel_recursive;
	/* return options */
	bool ret_subscribed;
	bool ret_children;
	bool ret_special_use;
	const struct imap_arg *ret_status;  /* RFC 5819 STATUS (items) */
	/* the patterns, reference prepended, as store (UTF-8) names */
	char **patterns;
	size_t npatterns;
};

static void list_request_free(struct list_request *r)
{
	store_strings_free(r->patterns, r->npatterns);
}

static const char *const list_status_items[] = {
	"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ",
};

static bool list_status_item_known(const struct imap_arg *a)
{
	for (size_t k = 0; k < sizeof(list_status_items) / sizeof(list_status_items[0]); k++)
		if (imap_arg_is_atom(a, list_status_items[k]))
			return true;
	/* STATUS SIZE (RFC 9051 §6.3.11, RFC 8438) */
	return imap_quota_status_item(a) || imap_status_size_item(a);
}

/* Selection options (RFC 5258 §3.1, RFC 6154 §3).  NULL, or the error. */
static const char *list_parse_selection(const struct imap_arg *l,
					struct list_request *r)
{
	bool other = false;
	for (size_t i = 0; i < l->count; i++) {
		const char *a;
		if (!imap_arg_atom(&l->list[i], &a) || l->list[i].type != IMAP_ARG_ATOM)
			return "Invalid LIST selection option";
		if (strcasecmp(a, "SUBSCRIBED") == 0) {
			/* §3.1: implies the SUBSCRIBED return option */
			r->sel_subscribed = r->ret_subscribed = true;
			other = true;
		} else if (strcasecmp(a, "SPECIAL-USE") == 0) {
			/* RFC 6154 §3: implies the SPECIAL-USE return option */
			r->sel_special_use = r->ret_special_use = true;
			other = true;
		} else if (strcasecmp(a, "REMOTE") == 0) {
			/* no remote mailboxes here: nothing more to show */
		} else if (strcasecmp(a, "RECURSIVEMATCH") == 0) {
			r->sel_recursive = true;
		} else {
			return "Unknown LIST selection option";
		}
	}
	/* §3.1: RECURSIVEMATCH alone (or only with REMOTE) is BAD */
	if (r->sel_recursive && !other)
		return "RECURSIVEMATCH needs another selection option";
	return NULL;
}

/* Return options (RFC 5258 §3.2, RFC 5819, RFC 6154).  NULL, or the error. */
static const char *list_parse_return(const struct imap_arg *l,
				     struct list_request *r)
{
	for (size_t i = 0; i < l->count; i++) {
		const char *a;
		if (!imap_arg_atom(&l->list[i], &a) || l->list[i].type != IMAP_ARG_ATOM)
			return "Invalid LIST return option";
		if (strcasecmp(a, "SUBSCRIBED") == 0) {
			r->ret_subscribed = true;
		} else if (strcasecmp(a, "CHILDREN") == 0) {
			r->ret_children = true;
		} else if (strcasecmp(a, "SPECIAL-USE") == 0) {
			r->ret_special_use = true;
		} else if (strcasecmp(a, "STATUS") == 0) {
			const struct imap_arg *items = i + 1 < l->count ? &l->list[i + 1] : NULL;
			if (items == NULL || items->type != IMAP_ARG_LIST || items->count == 0)
				return "STATUS return option needs a list of status items";
			if (r->ret_status != NULL)
				return "STATUS return option given twice";
			for (size_t k = 0; k < items->count; k++)
				if (!list_status_item_known(&items->list[k]))
					return "Unknown status item";
			r->ret_status = items;
			i++;
		} else {
			return "Unknown LIST return option";
		}
	}
	return NULL;
}

/* Reads the whole command.  0, or -1 after answering BAD/NO. */
static int list_parse(struct imap_session *s, struct imap_parsed_command *cmd,
		      bool lsub, struct list_request *r)
{
	const char *error = NULL;
	size_t ai = 0;
	const char *ref_raw;
	size_t len;
	if (!lsub && cmd->arg_count > 0 && cmd->args[0].type == IMAP_ARG_LIST) {
		error = list_parse_selection(&cmd->args[0], r);
		r->extended = true;
		ai = 1;
	}
	if (error == NULL && (cmd->arg_count < ai + 2 ||
			      !imap_arg_astring(&cmd->args[ai], &ref_raw, &len) ||
			      strlen(ref_raw) != len))
		error = "Expected reference and mailbox pattern";
	if (error != NULL) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		return -1;
	}
	/* Patterns: one, or (RFC 5258 §3) a parenthesised list. */
	const struct imap_arg *patterns = &cmd->args[ai + 1];
	size_t npatterns = 1;
	if (!lsub && patterns->type == IMAP_ARG_LIST) {
		npatterns = patterns->count;
		patterns = patterns->list;
		r->extended = true;
		if (npatterns == 0)
			error = "Empty mailbox pattern list";
		else if (npatterns > LIST_PATTERNS_MAX)
			error = "Too many mailbox patterns";
	}
	size_t rest = ai + 2;
	if (error == NULL && cmd->arg_count > rest) {
		if (lsub || cmd->arg_count != rest + 2 ||
		    !imap_arg_is_atom(&cmd->args[rest], "RETURN") ||
		    cmd->args[rest + 1].type != IMAP_ARG_LIST)
			error = lsub ? "Too many arguments" : "Invalid LIST return options";
		else
			error = list_parse_return(&cmd->args[rest + 1], r);
		r->extended = true;
	}
	if (error != NULL) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		return -1;
	}
	struct strbuf ref = STRBUF_INIT, pat = STRBUF_INIT, full = STRBUF_INIT;
	/* RFC 6855 §3: after UTF8=ACCEPT / IMAP4rev2 the name is UTF-8 */
	if (imap_mailbox_names_utf8()) {
		if (imap_mailbox_name_utf8_check(ref_raw) < 0)
			error = "Invalid reference name";
		else
			strbuf_appends(&ref, ref_raw);
	} else if (mutf7_to_utf8(ref_raw, &ref) < 0) {
		error = "Invalid reference name";
	}
	strbuf_grow(&ref, 0);
	r->patterns = xcalloc(npatterns, sizeof(*r->patterns));
	for (size_t pi = 0; error == NULL && pi < npatterns; pi++) {
		const char *p;
		if (!list_pattern_arg(&patterns[pi], &p)) {
			error = "Invalid mailbox pattern";
			break;
		}
		if (npatterns == 1 && p[0] == '\0')
			r->empty_pattern = true;
		/* Reference and pattern are decoded each on its own, then
		 * joined: decoding the join again would read the decoded
		 * reference as modified UTF-7 (and "&AOQ-" + "&AOQ-" is no
		 * valid spelling anyway).  A pattern that is no modified
		 * UTF-7 matches nothing. */
		if (imap_mailbox_from_client(p, &pat) < 0)
			continue;
		strbuf_reset(&full);
		strbuf_append(&full, ref.s, ref.len);
		strbuf_append(&full, pat.s, pat.len);
		/* "INBOX" in any case is INBOX (RFC 3501 §5.1) */
		if (strncasecmp(full.s, "INBOX", 5) == 0 &&
		    (full.s[5] == '\0' || full.s[5] == '/'))
			memcpy(full.s, "INBOX", 5);
		r->patterns[r->npatterns++] = xstrdup(full.s);
	}
	strbuf_free(&ref);
	strbuf_free(&pat);
	strbuf_free(&full);
	if (error != NULL) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		return -1;
	}
	return 0;
}

static bool list_request_match(const struct list_request *r, const char *name)
{
	for (size_t i = 0; i < r->npatterns; i++)
		if (list_pattern_match(r->patterns[i], name))
			return true;
	return false;
}

/* ---- one LIST line ---- */

void imap_list_write(struct strbuf *out, const char *name, unsigned int attrs,
		     const char *special_use, const char *old_name)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ IMAP_LIST_NONEXISTENT, "\\NonExistent" },
		{ IMAP_LIST_NOSELECT, "\\Noselect" },
		{ IMAP_LIST_NOINFERIORS, "\\Noinferiors" },
		{ IMAP_LIST_HAS_CHILDREN, "\\HasChildren" },
		{ IMAP_LIST_HAS_NO_CHILDREN, "\\HasNoChildren" },
		{ IMAP_LIST_SUBSCRIBED, "\\Subscribed" },
	};
	const char *sep = "";
	strbuf_appends(out, "* LIST (");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((attrs & names[i].bit) == 0)
			continue;
		/* RFC 5258 §3.4: \NonExistent implies \Noselect; send one */
		if (names[i].bit == IMAP_LIST_NOSELECT && (attrs & IMAP_LIST_NONEXISTENT))
			continue;
		strbuf_printf(out, "%s%s", sep, names[i].name);
		sep = " ";
	}
	if (special_use != NULL && special_use[0] != '\0')
		strbuf_printf(out, "%s%s", sep, special_use);
	strbuf_appends(out, ") \"/\" ");
	imap_mailbox_write(out, name);
	if (old_name != NULL) {
		/* RFC 9051 §6.3.9.7: ("OLDNAME" ("old")) */
		strbuf_appends(out, " (\"OLDNAME\" (");
		imap_mailbox_write(out, old_name);
		strbuf_appends(out, "))");
	}
	strbuf_appends(out, "\r\n");
}

/* ---- gathering ---- */

/* One name LIST may answer about. */
struct list_candidate {
	char *name;
	bool exists;            /* a mailbox row (selectable or \Noselect) */
	bool noselect;
	bool subscribed;
	char special_use[32];
	bool has_children;      /* an existing mailbox below it */
	bool childinfo;         /* RECURSIVEMATCH: a selected descendant
				 * that no pattern matches (RFC 5258 §3.5) */
	const struct store_mailbox *mb;  /* when exists */
};

struct list_set {
	struct list_candidate *c;
	size_t count, cap;
	struct store_mailbox *boxes;
	size_t nboxes;
	char **subs;
	size_t nsubs;
};

static void list_set_free(struct list_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		free(set->c[i].name);
	free(set->c);
	free(set->boxes);
	store_strings_free(set->subs, set->nsubs);
}

static struct list_candidate *list_set_add(struct list_set *set, const char *name)
{
	if (set->count == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 32;
		set->c = xrealloc(set->c, set->cap * sizeof(*set->c));
	}
	struct list_candidate *c = &set->c[set->count++];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	return c;
}

static int list_candidate_cmp(const void *a, const void *b)
{
	const struct list_candidate *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static struct list_candidate *list_set_find(struct list_set *set, const char *name)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, set->c[mid].name);
		if (c == 0)
			return &set->c[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Merges candidates with the same name (kept sorted). */
static void list_set_sort(struct list_set *set)
{
	qsort(set->c, set->count, sizeof(*set->c), list_candidate_cmp);
	size_t w = 0;
	for (size_t i = 0; i < set->count; i++) {
		if (w > 0 && strcmp(set->c[w - 1].name, set->c[i].name) == 0) {
			/* keep the one that describes a mailbox */
			if (set->c[i].exists) {
				free(set->c[w - 1].name);
				set->c[w - 1] = set->c[i];
			} else {
				free(set->c[i].name);
			}
			continue;
		}
		set->c[w++] = set->c[i];
	}
	set->count = w;
}

/* Collects every name this LIST may be about: the user's mailboxes, the
 * user's subscriptions (which may name mailboxes that do not exist), and,
 * for RECURSIVEMATCH, every parent of those.  Later areas add names here
 * (e.g. other users' shared mailboxes, "Other Users/<user>/...", for ACL):
 * append candidates with list_set_add() before list_set_sort(). */
static int list_gather(struct imap_session *s, const struct list_request *r,
		       struct list_set *set, struct store_error *err)
{
	if (store_mailbox_list(s->server->store, s->user.id, &set->boxes,
			       &set->nboxes, err) < 0 ||
	    /* ACL: "Other Users/<owner>/..." and their parents */
	    imap_mailbox_list_add_shared(s, &set->boxes, &set->nboxes, err) < 0 ||
	    store_subscription_list(s->server->store, s->user.id, &set->subs,
				    &set->nsubs, err) < 0)
		return -1;
	for (size_t i = 0; i < set->nboxes; i++) {
		const struct store_mailbox *mb = &set->boxes[i];
		struct list_candidate *c = list_set_add(set, mb->name);
		c->exists = true;
		c->noselect = mb->noselect;
		memcpy(c->special_use, mb->special_use, sizeof(c->special_use));
		c->mb = mb;
	}
	for (size_t i = 0; i < set->nsubs; i++)
		list_set_add(set, set->subs[i])->subscribed = true;
	if (r->sel_recursive) {
		size_t n = set->count;
		for (size_t i = 0; i < n; i++) {
			char *name = xstrdup(set->c[i].name);
			for (char *slash = strrchr(name, DELIM); slash != NULL;
			     slash = strrchr(name, DELIM)) {
				*slash = '\0';
				if (name[0] != '\0')
					list_set_add(set, name);
			}
			free(name);
		}
	}
	list_set_sort(set);
	/* subscription flags after merging: exact, from the sorted list */
	for (size_t i = 0; i < set->count; i++)
		set->c[i].subscribed = list_in_sorted(set->subs, set->nsubs, set->c[i].name);
	return 0;
}

/* The selection criteria of RFC 5258 §3.3 2.A. */
static bool list_selected(const struct list_request *r, const struct list_candidate *c)
{
	if (r->sel_subscribed && !c->subscribed)
		return false;
	if (r->sel_special_use && (!c->exists || c->special_use[0] == '\0'))
		return false;
	/* without SUBSCRIBED, only names that exist are listed */
	return r->sel_subscribed || c->exists;
}

/* Marks \HasChildren and CHILDINFO on the parents of each candidate. */
static void list_mark_parents(struct list_set *set, const struct list_request *r)
{
	for (size_t i = 0; i < set->count; i++) {
		struct list_candidate *c = &set->c[i];
		bool info = r->sel_recursive && list_selected(r, c) &&
			    !list_request_match(r, c->name);
		if (!c->exists && !info)
			continue;
		char *name = xstrdup(c->name);
		for (char *slash = strrchr(name, DELIM); slash != NULL;
		     slash = strrchr(name, DELIM)) {
			*slash = '\0';
			struct list_candidate *p = list_set_find(set, name);
			if (p == NULL)
				continue;
			if (c->exists)
				p->has_children = true;
			if (info)
				p->childinfo = true;
		}
		free(name);
	}
}

/* RFC 5819: "* STATUS name (items)" after the mailbox's LIST line. */
static void list_status_write(struct imap_session *s, struct strbuf *o,
			      const struct store_mailbox *mb,
			      const struct imap_arg *items)
{
	uint32_t recent = 0;
	struct store_error err;
	for (size_t i = 0; i < items->count; i++) {
		if (!imap_arg_is_atom(&items->list[i], "RECENT") ||
		    mb->uidnext <= mb->recent_uid + 1)
			continue;
		struct store_message_list list;
		if (store_message_range(s->server->store, mb->id, mb->recent_uid + 1,
					UINT32_MAX, &list, &err) == 0) {
			recent = (uint32_t)list.count;
			store_message_list_free(&list);
		}
		break;
	}
	strbuf_appends(o, "* STATUS ");
	imap_mailbox_write(o, mb->name);
	strbuf_appends(o, " (");
	for (size_t i = 0; i < items->count; i++) {
		const struct imap_arg *a = &items->list[i];
		if (i > 0)
			strbuf_appendc(o, ' ');
		if (imap_arg_is_atom(a, "MESSAGES"))
			strbuf_printf(o, "MESSAGES %u", mb->messages);
		else if (imap_arg_is_atom(a, "RECENT"))
			strbuf_printf(o, "RECENT %u", recent);
		else if (imap_arg_is_atom(a, "UIDNEXT"))
			strbuf_printf(o, "UIDNEXT %u", mb->uidnext);
		else if (imap_arg_is_atom(a, "UIDVALIDITY"))
			strbuf_printf(o, "UIDVALIDITY %u", mb->uidvalidity);
		else if (imap_arg_is_atom(a, "HIGHESTMODSEQ"))
			strbuf_printf(o, "HIGHESTMODSEQ %llu",
				      (unsigned long long)mb->highestmodseq);
		else if (imap_quota_status_item(a))
			imap_quota_status_write(s, o, mb, a);
		else if (imap_status_size_item(a))
			imap_status_size_write(s, o, mb);
		else
			strbuf_printf(o, "UNSEEN %u", mb->unseen);
	}
	strbuf_appends(o, ")\r\n");
}

static void list_answer(struct imap_session *s, const struct list_request *r,
			struct list_set *set, struct strbuf *o)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct list_candidate *c = &set->c[i];
		if (!list_request_match(r, c->name))
			continue;
		bool selected = list_selected(r, c);
		/* RFC 5258 §3.3 2.B: a parent only for its CHILDINFO */
		if (!selected && !c->childinfo)
			continue;
		unsigned int attrs = 0;
		if (!c->exists)
			attrs |= IMAP_LIST_NONEXISTENT;
		else if (c->noselect)
			attrs |= IMAP_LIST_NOSELECT;
		/* CHILDREN (RFC 3348) is advertised: always computed */
		attrs |= c->has_children ? IMAP_LIST_HAS_CHILDREN : IMAP_LIST_HAS_NO_CHILDREN;
		if (r->ret_subscribed && c->subscribed)
			attrs |= IMAP_LIST_SUBSCRIBED;
		bool status = r->ret_status != NULL && c->exists && !c->noselect &&
			      c->mb != NULL;
		/* RFC 5819 §2: a shared mailbox seen with 'l' but not 'r'
		 * gets no STATUS, and its LIST line says \Noselect */
		if (status && c->mb->user_id != s->user.id &&
		    (imap_acl_rights(s, c->mb->id, c->mb->user_id) & IMAP_ACL_READ) == 0) {
			status = false;
			attrs |= IMAP_LIST_NOSELECT;
		}
		imap_list_write(o, c->name, attrs, c->exists ? c->special_use : NULL, NULL);
		if (c->childinfo && r->extended) {
			/* RFC 5258 §3.5: the criteria that caused it */
			o->len -= 2;
			strbuf_appends(o, " (\"CHILDINFO\" (");
			const char *sep = "";
			if (r->sel_subscribed) {
				strbuf_appends(o, "\"SUBSCRIBED\"");
				sep = " ";
			}
			if (r->sel_special_use)
				strbuf_printf(o, "%s\"SPECIAL-USE\"", sep);
			strbuf_appends(o, "))\r\n");
		}
		if (status)
			list_status_write(s, o, c->mb, r->ret_status);
	}
}

/* RFC 3501 §6.3.9: when "foo/bar" is subscribed but "foo" is not and the
 * pattern stops at foo's level ("%"), foo is listed with \Noselect. */
static void lsub_parents(struct strbuf *o, const char *pattern,
			 char **subs, size_t nsubs, size_t i)
{
	char *name = xstrdup(subs[i]);
	for (char *slash = strrchr(name, DELIM); slash != NULL; slash = strrchr(name, DELIM)) {
		*slash = '\0';
		if (!list_pattern_match(pattern, name))
			continue;
		if (list_in_sorted(subs, nsubs, name))
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

static void lsub_answer(const struct list_request *r, struct list_set *set,
			struct strbuf *o)
{
	for (size_t pi = 0; pi < r->npatterns; pi++) {
		for (size_t i = 0; i < set->nsubs; i++) {
			const char *sub = set->subs[i];
			if (!list_pattern_match(r->patterns[pi], sub)) {
				lsub_parents(o, r->patterns[pi], set->subs, set->nsubs, i);
				continue;
			}
			bool exists = false;
			for (size_t j = 0; j < set->nboxes; j++)
				if (strcmp(set->boxes[j].name, sub) == 0 && !set->boxes[j].noselect)
					exists = true;
			strbuf_printf(o, "* LSUB (%s) \"/\" ", exists ? "" : "\\Noselect");
			imap_mailbox_write(o, sub);
			strbuf_appends(o, "\r\n");
		}
	}
}

void imap_list_run(struct imap_session *s, struct imap_parsed_command *cmd, bool lsub)
{
	struct list_request r;
	struct list_set set;
	struct store_error err;
	memset(&r, 0, sizeof(r));
	memset(&set, 0, sizeof(set));
	if (list_parse(s, cmd, lsub, &r) < 0)
		goto out;
	if (!lsub && r.empty_pattern && !r.sel_subscribed && !r.sel_special_use) {
		/* RFC 3501 §6.3.8: the hierarchy delimiter and root */
		imap_session_sends(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_session_ok(s, cmd->tag, NULL, "List completed.");
		goto out;
	}
	if (list_gather(s, &r, &set, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	if (lsub) {
		lsub_answer(&r, &set, o);
	} else {
		list_mark_parents(&set, &r);
		list_answer(s, &r, &set, o);
	}
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, cmd->tag, NULL, lsub ? "Lsub completed." : "List completed.");
out:
	list_request_free(&r);
	list_set_free(&set);
}
