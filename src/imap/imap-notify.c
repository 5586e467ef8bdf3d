/* The NOTIFY matcher (RFC 5465): a consumer of the event pump that finds
 * the NOTIFY sessions an outbox event concerns through indexes (by user
 * id; by the owner of the shared mailboxes a session names; the sessions
 * asking for ServerMetadataChange) and writes the unsolicited responses of
 * §5 to them at once.  Rights are checked per event (§7).  docs/notify.md
 * describes what is supported and why.
 *
 * The selected mailbox keeps its own path (server_on_event queues the
 * view's updates first); here we only decide that those updates go out now
 * rather than at the end of the next command, and add the FETCH of
 * MessageNew's fetch-att.  Everything else (STATUS, LIST) is written here.
 */
#include "imap/imap-notify.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

#define NOTIFY_USER_BUCKETS 1024
/* "Other Users/<owner>/<name>" fits in what imap_mailbox_resolve allows */
#define NOTIFY_NAME_MAX (STORE_MAILBOX_NAME_MAX + 300)

/* One event group, names in the store's form (UTF-8). */
struct notify_spec_group {
	enum notify_filter filter;
	unsigned int events;
	unsigned int generation;    /* NOTIFY ADD count when it was added */
	char **names;
	size_t name_count;
	/* draft -07 message-match criteria, NULL = every message */
	struct imap_search *new_match;
	struct imap_search *flag_match;
	struct imap_search *annotation_match;
};

struct imap_notify;

/* One entry of a hub index other than by_user: a session watching
 * another user's mailboxes (by owner, or every owner for a SUBTREE of the
 * whole "Other Users" namespace), or asking for ServerMetadataChange. */
struct notify_link {
	struct imap_notify *n;
	int64_t owner_id;
	struct notify_link **head;
	struct notify_link *prev, *next;
};

struct imap_notify {
	struct imap_session *s;
	int64_t user_id;
	size_t bucket;
	struct imap_notify *prev, *next;
	struct notify_link *links;
	size_t link_count;
	int64_t last_seq;               /* the event last handled (dedup) */

	bool has_selected;
	bool selected_delayed;
	unsigned int selected_events;
	struct imap_fetch_request *new_fetch;   /* selected MessageNew fetch-att */
	struct imap_search *selected_new_match; /* draft -07 criteria */
	struct imap_search *selected_flag_match;
	struct imap_search *selected_annotation_match;

	struct notify_spec_group *groups;       /* the non-selected groups */
	size_t group_count;
	unsigned int other_events;              /* union over groups */

	/* the subscription list, for the SUBSCRIBED filter: loaded when
	 * first needed, dropped when it changes (§6.4: re-evaluate) */
	char **subs;
	size_t sub_count;
	bool subs_loaded;
};

struct imap_notify_hub {
	struct imap_server *srv;
	struct imap_notify *by_user[NOTIFY_USER_BUCKETS];
	/* sessions watching mailboxes of the owner (shared, RFC 4314) */
	struct notify_link *by_owner[NOTIFY_USER_BUCKETS];
	struct notify_link *any_owner;
	/* sessions asking for ServerMetadataChange (/shared server entries
	 * concern every user) */
	struct notify_link *server_meta;
};

/* What an outbox event means to NOTIFY, worked out once per event. */
enum notify_kind {
	KIND_NONE,
	KIND_NEW,
	KIND_EXPUNGE,
	KIND_FLAGS,
	KIND_ANNOTATION,
	KIND_MAILBOX_CREATE,
	KIND_MAILBOX_DELETE,
	KIND_MAILBOX_RENAME,
	KIND_SUBSCRIBE,
	KIND_UNSUBSCRIBE,
	KIND_QUOTA_EXCEED,
	KIND_QUOTA_WITHIN,
	KIND_QUOTA_CHANGE,
	KIND_MAILBOX_METADATA,
	KIND_SERVER_METADATA,
	KIND_ACL,
};

struct notify_event_info {
	const struct store_outbox_event *ev;
	enum notify_kind kind;
	json_t *json;
	bool json_tried;
	/* the mailbox row (message events), loaded once */
	bool mb_tried, mb_found;
	struct store_mailbox mb;
	/* names from the event's URLs (mailbox events) */
	char *name, *old_name;
	bool seen_changed;
	/* the owner of the event's mailbox, from its "uri" */
	char *owner;
	bool owner_tried;
};

static size_t user_bucket(int64_t user_id)
{
	return (size_t)((uint64_t)user_id * 0x9E3779B97F4A7C15ull >> 40) %
	       NOTIFY_USER_BUCKETS;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- lifetimes ---- */

static void notify_unlink(struct imap_notify_hub *hub, struct imap_notify *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		hub->by_user[n->bucket] = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

static void link_add(struct notify_link *l, struct notify_link **head)
{
	l->head = head;
	l->prev = NULL;
	l->next = *head;
	if (*head != NULL)
		(*head)->prev = l;
	*head = l;
}

static void link_remove(struct notify_link *l)
{
	if (l->head == NULL)
		return;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		*l->head = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->head = NULL;
	l->prev = l->next = NULL;
}

static void notify_links_free(struct imap_notify *n)
{
	for (size_t i = 0; i < n->link_count; i++)
		link_remove(&n->links[i]);
	free(n->links);
	n->links = NULL;
	n->link_count = 0;
}

void imap_notify_session_free(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (n == NULL)
		return;
	s->notify = NULL;
	notify_unlink(s->server->notify_hub, n);
	notify_links_free(n);
	for (size_t i = 0; i < n->group_count; i++) {
		strings_free(n->groups[i].names, n->groups[i].name_count);
		imap_search_free(&n->groups[i].new_match);
		imap_search_free(&n->groups[i].flag_match);
		imap_search_free(&n->groups[i].annotation_match);
	}
	free(n->groups);
	if (n->new_fetch != NULL) {
		imap_fetch_request_free(n->new_fetch);
		free(n->new_fetch);
	}
	imap_search_free(&n->selected_new_match);
	imap_search_free(&n->selected_flag_match);
	imap_search_free(&n->selected_annotation_match);
	strings_free(n->subs, n->sub_count);
	free(n);
}

static struct imap_search *match_compile(const struct imap_arg *crit)
{
	if (crit == NULL)
		return NULL;
	struct imap_search *search = NULL;
	const char *error;
	bool badcharset;
	/* notify_parse() has checked it already */
	if (imap_search_parse(crit->list, crit->count, NULL, &search, &error,
			      &badcharset) < 0)
		return NULL;
	return search;
}

/* Moves the groups of an older spec behind the new ones (draft -07 ADD:
 * prepend, newer groups override older ones). */
static void notify_take_older(struct imap_notify *n, struct imap_notify *old)
{
	if (old == NULL)
		return;
	if (!n->has_selected && old->has_selected) {
		n->has_selected = true;
		n->selected_delayed = old->selected_delayed;
		n->selected_events = old->selected_events;
		n->new_fetch = old->new_fetch;
		old->new_fetch = NULL;
		n->selected_new_match = old->selected_new_match;
		old->selected_new_match = NULL;
		n->selected_flag_match = old->selected_flag_match;
		old->selected_flag_match = NULL;
		n->selected_annotation_match = old->selected_annotation_match;
		old->selected_annotation_match = NULL;
	}
	unsigned int generation = 0;
	for (size_t i = 0; i < old->group_count; i++)
		if (old->groups[i].generation >= generation)
			generation = old->groups[i].generation + 1;
	for (size_t i = 0; i < n->group_count; i++)
		n->groups[i].generation = generation;
	n->groups = xrealloc(n->groups, (n->group_count + old->group_count + 1) *
			     sizeof(*n->groups));
	memcpy(n->groups + n->group_count, old->groups,
	       old->group_count * sizeof(*old->groups));
	n->group_count += old->group_count;
	n->other_events |= old->other_events;
	old->group_count = 0;
}

/* The owner part of "Other Users/<owner>[/...]": its length, 0 for the
 * namespace root alone ("Other Users" or "Other Users/"). */
static size_t shared_owner_len(const char *name, const char **owner_r)
{
	const char *p = name + strlen(IMAP_SHARED_ROOT);
	if (*p != '/' || p[1] == '\0')
		return 0;
	*owner_r = p + 1;
	return strcspn(p + 1, "/");
}

/* Indexes the session under every other user whose mailboxes its
 * MAILBOXES / SUBTREE groups name (RFC 4314 shared mailboxes, seen as
 * "Other Users/<owner>/<name>"), so that an event costs O(sessions it
 * concerns).  An owner unknown now is never matched (docs/notify.md). */
static void notify_links_build(struct imap_notify_hub *hub, struct imap_notify *n)
{
	struct imap_session *s = n->s;
	size_t cap = 2;
	for (size_t i = 0; i < n->group_count; i++)
		cap += n->groups[i].name_count;
	n->links = xcalloc(cap, sizeof(*n->links));
	bool any = false;
	for (size_t i = 0; i < n->group_count && !any; i++) {
		const struct notify_spec_group *g = &n->groups[i];
		if (g->filter != NOTIFY_FILTER_MAILBOXES && g->filter != NOTIFY_FILTER_SUBTREE)
			continue;
		for (size_t j = 0; j < g->name_count && !any; j++) {
			const char *name = g->names[j], *owner = NULL;
			if (!imap_mailbox_is_shared_name(name))
				continue;
			size_t olen = shared_owner_len(name, &owner);
			if (olen == 0 || owner[olen] == '\0') {
				/* the namespace or one owner's whole tree */
				if (g->filter == NOTIFY_FILTER_SUBTREE && olen == 0) {
					any = true;
					break;
				}
				if (olen == 0)
					continue;
			}
			char who[256];
			if (olen >= sizeof(who))
				continue;
			memcpy(who, owner, olen);
			who[olen] = '\0';
			struct store_user user;
			struct store_error err;
			if (store_user_lookup(s->server->store, who, &user, &err) < 0 ||
			    user.id == s->user.id)
				continue;
			bool dup = false;
			for (size_t k = 0; k < n->link_count; k++)
				if (n->links[k].owner_id == user.id)
					dup = true;
			if (dup)
				continue;
			struct notify_link *l = &n->links[n->link_count++];
			l->n = n;
			l->owner_id = user.id;
			link_add(l, &hub->by_owner[user_bucket(user.id)]);
		}
	}
	if (any) {
		/* one link covers every owner */
		for (size_t k = 0; k < n->link_count; k++)
			link_remove(&n->links[k]);
		n->link_count = 0;
		struct notify_link *l = &n->links[n->link_count++];
		l->n = n;
		link_add(l, &hub->any_owner);
	}
	if (n->other_events & NOTIFY_EV_SERVER_METADATA_CHANGE) {
		struct notify_link *l = &n->links[n->link_count++];
		l->n = n;
		link_add(l, &hub->server_meta);
	}
}

int imap_notify_set(struct imap_session *s, struct notify_command *cmd,
		    const char **error_r)
{
	struct imap_notify *n = xcalloc(1, sizeof(*n));
	n->s = s;
	n->user_id = s->user.id;
	n->groups = xcalloc(cmd->group_count ? cmd->group_count : 1, sizeof(*n->groups));
	struct strbuf name = STRBUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < cmd->group_count; i++) {
		struct notify_group *g = &cmd->groups[i];
		if (g->filter == NOTIFY_FILTER_SELECTED ||
		    g->filter == NOTIFY_FILTER_SELECTED_DELAYED) {
			n->has_selected = true;
			n->selected_delayed = g->filter == NOTIFY_FILTER_SELECTED_DELAYED;
			n->selected_events = g->events;
			n->new_fetch = g->new_fetch;
			g->new_fetch = NULL;
			n->selected_new_match = match_compile(g->new_match);
			n->selected_flag_match = match_compile(g->flag_match);
			n->selected_annotation_match = match_compile(g->annotation_match);
			continue;
		}
		struct notify_spec_group *sg = &n->groups[n->group_count++];
		sg->filter = g->filter;
		sg->events = g->events;
		sg->new_match = match_compile(g->new_match);
		sg->flag_match = match_compile(g->flag_match);
		sg->annotation_match = match_compile(g->annotation_match);
		n->other_events |= g->events;
		if (g->mailbox_count == 0)
			continue;
		sg->names = xcalloc(g->mailbox_count, sizeof(*sg->names));
		for (size_t j = 0; j < g->mailbox_count; j++) {
			char canon[STORE_MAILBOX_NAME_MAX + 1];
			struct store_error err;
			strbuf_reset(&name);
			if (imap_mailbox_from_client(g->mailboxes[j], &name) < 0) {
				*error_r = "Invalid mailbox name";
				ret = -1;
				break;
			}
			/* §3.1: a name that cannot exist is ignored, not
			 * refused; keep it verbatim, it matches nothing. */
			if (store_mailbox_name_normalize(strbuf_str(&name), canon, &err) < 0)
				sg->names[sg->name_count++] = xstrdup(strbuf_str(&name));
			else
				sg->names[sg->name_count++] = xstrdup(canon);
		}
		if (ret < 0)
			break;
	}
	strbuf_free(&name);
	struct imap_notify_hub *hub = s->server->notify_hub;
	/* link before a possible free, so that one path frees */
	n->bucket = user_bucket(n->user_id);
	n->next = hub->by_user[n->bucket];
	if (n->next != NULL)
		n->next->prev = n;
	hub->by_user[n->bucket] = n;
	if (ret < 0) {
		struct imap_notify *old = s->notify;
		s->notify = n;
		imap_notify_session_free(s);
		s->notify = old;
		return -1;
	}
	if (cmd->add)
		notify_take_older(n, s->notify);
	imap_notify_session_free(s);
	s->notify = n;
	notify_links_build(hub, n);
	return 0;
}

/* ---- which mailboxes ---- */

static void notify_subs_load(struct imap_notify *n)
{
	if (n->subs_loaded)
		return;
	struct store_error err;
	if (store_subscription_list(n->s->server->store, n->user_id, &n->subs,
				    &n->sub_count, &err) < 0) {
		log_warn("imap: NOTIFY: subscriptions of %s: %s", n->s->user.name, err.msg);
		n->subs = NULL;
		n->sub_count = 0;
	}
	n->subs_loaded = true;
}

/* name: the session's name for the mailbox ("Other Users/<owner>/..."
 * for another user's); own: whether it is the user's own. */
static bool group_matches(struct imap_notify *n, const struct notify_spec_group *g,
			  const char *name, bool own, bool delivered)
{
	switch (g->filter) {
	case NOTIFY_FILTER_PERSONAL:
		/* §6.2: the personal namespace only */
		return own;
	case NOTIFY_FILTER_INBOXES:
		/* §6.3: INBOX and every mailbox mail is delivered to, in the
		 * personal namespace */
		return own && (strcmp(name, "INBOX") == 0 || delivered);
	case NOTIFY_FILTER_SUBSCRIBED:
		notify_subs_load(n);
		for (size_t i = 0; i < n->sub_count; i++)
			if (strcmp(n->subs[i], name) == 0)
				return true;
		return false;
	case NOTIFY_FILTER_SUBTREE:
		for (size_t i = 0; i < g->name_count; i++) {
			size_t len = strlen(g->names[i]);
			if (strncmp(name, g->names[i], len) == 0 &&
			    (name[len] == '\0' || name[len] == '/'))
				return true;
		}
		return false;
	case NOTIFY_FILTER_MAILBOXES:
		/* §6.6: no wildcard expansion */
		for (size_t i = 0; i < g->name_count; i++)
			if (strcmp(name, g->names[i]) == 0)
				return true;
		return false;
	default:
		return false;
	}
}

/* The events the non-selected groups ask for on this mailbox.  Groups of
 * one command add up (RFC 5465 §6: several groups may apply); a group
 * added by a later NOTIFY ADD overrides the older ones for the mailboxes
 * it covers (draft -07), NONE included.  The groups are kept newest
 * first.  match_r (may be NULL) gets the message-match criteria for bit,
 * NULL when every message counts. */
static unsigned int notify_events_for(struct imap_notify *n, const char *name,
				      bool own, bool delivered, unsigned int bit,
				      struct imap_search **match_r)
{
	unsigned int events = 0;
	bool found = false, match_all = false;
	unsigned int generation = 0;
	struct imap_search *match = NULL;
	for (size_t i = 0; i < n->group_count; i++) {
		const struct notify_spec_group *g = &n->groups[i];
		if (found && g->generation != generation)
			break;
		if (!group_matches(n, g, name, own, delivered))
			continue;
		found = true;
		generation = g->generation;
		events |= g->events;
		if ((g->events & bit) == 0)
			continue;
		struct imap_search *crit = bit == NOTIFY_EV_MESSAGE_NEW ? g->new_match :
					   bit == NOTIFY_EV_FLAG_CHANGE ? g->flag_match :
					   bit == NOTIFY_EV_ANNOTATION_CHANGE ? g->annotation_match :
					   NULL;
		if (crit == NULL)
			match_all = true;
		else if (match == NULL)
			match = crit;
	}
	if (match_r != NULL)
		*match_r = match_all ? NULL : match;
	return events;
}

/* Whether message m matches the criteria (draft -07 message-match). */
static bool message_matches(struct imap_server *srv, const struct imap_search *match,
			    const struct store_message *m, uint32_t seq, bool recent,
			    uint32_t max_seq, uint32_t max_uid)
{
	struct imap_search_message sm = {
		.seq = seq, .uid = m->uid, .flags = m->flags, .recent = recent,
		.keywords = m->keywords, .internaldate = m->internaldate,
		.tz_offset = m->tz_offset, .size = m->size, .modseq = m->modseq,
	};
	struct imap_search_context ctx = { .max_seq = max_seq, .max_uid = max_uid };
	int r = imap_search_match_without_text(match, &ctx, &sm);
	if (r >= 0)
		return r == 1;
	struct store_body body;
	struct store_error err;
	if (store_body_open(srv->store, m->body_id, &body, &err) < 0)
		return false;
	sm.data = body.data;
	sm.len = body.len;
	bool ok = imap_search_match(match, &ctx, &sm);
	store_body_close(&body);
	return ok;
}

static int uid_compare(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Keeps the UIDs (ascending) of mailbox_id whose messages match. */
static size_t uids_filter(struct imap_server *srv, const struct imap_search *match,
			  int64_t mailbox_id, uint32_t *uids, size_t count,
			  uint32_t max_seq, uint32_t max_uid)
{
	if (count == 0)
		return 0;
	struct store_message_list list;
	struct store_error err;
	if (store_message_range(srv->store, mailbox_id, uids[0], uids[count - 1],
				&list, &err) < 0)
		return 0;
	size_t w = 0, j = 0;
	for (size_t i = 0; i < count; i++) {
		while (j < list.count && list.msgs[j].uid < uids[i])
			j++;
		if (j < list.count && list.msgs[j].uid == uids[i] &&
		    message_matches(srv, match, &list.msgs[j], (uint32_t)(j + 1), false,
				    max_seq, max_uid))
			uids[w++] = uids[i];
	}
	store_message_list_free(&list);
	return w;
}

/* ---- output ---- */

/* §5.8: a client that does not read its notifications gets
 * NOTIFICATIONOVERFLOW and NOTIFY NONE; if it still does not drain, the
 * output cap of imap-server.c disconnects it.  Returns false when the
 * session can take no more notifications. */
static bool notify_room(struct imap_session *s)
{
	if (s->conn == NULL || s->closing)
		return false;
	size_t max = s->server->cfg->output_buffer_max / 2;
	if (net_conn_output_pending(s->conn) <= max)
		return true;
	log_info("imap: %s: NOTIFY client does not read; NOTIFICATIONOVERFLOW",
		 s->client_ip);
	imap_notify_session_free(s);
	imap_session_sends(s, "* OK [NOTIFICATIONOVERFLOW] Too many notifications unread, NOTIFY is now NONE\r\n");
	return false;
}

static bool condstore_on(const struct imap_session *s)
{
	return IMAP_ENABLE_CONDSTORE != 0 && (s->enabled & IMAP_ENABLE_CONDSTORE) != 0;
}

static void status_write(struct imap_session *s, const char *name,
			 const struct store_mailbox *mb, enum notify_kind kind)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_appends(&out, "* STATUS ");
	imap_mailbox_write(&out, name);
	if (kind == KIND_FLAGS) {
		/* §5.1: UNSEEN when \Seen changed (the only flag change a
		 * STATUS can show without CONDSTORE) */
		strbuf_printf(&out, " (UIDVALIDITY %u UNSEEN %u", mb->uidvalidity, mb->unseen);
	} else if (kind == KIND_ANNOTATION) {
		/* §5.1: UIDVALIDITY and HIGHESTMODSEQ (CONDSTORE only) */
		strbuf_printf(&out, " (UIDVALIDITY %u", mb->uidvalidity);
	} else {
		/* §5.2, §5.3: UIDNEXT MESSAGES */
		strbuf_printf(&out, " (UIDNEXT %u MESSAGES %u", mb->uidnext, mb->messages);
	}
	if (condstore_on(s))
		strbuf_printf(&out, " HIGHESTMODSEQ %llu",
			      (unsigned long long)mb->highestmodseq);
	strbuf_appends(&out, ")\r\n");
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

static void list_write(struct imap_session *s, const char *attrs, const char *name,
		       const char *old_name)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_printf(&out, "* LIST (%s) \"/\" ", attrs);
	imap_mailbox_write(&out, name);
	if (old_name != NULL) {
		/* §5.4: the extended LIST item OLDNAME */
		strbuf_appends(&out, " (\"OLDNAME\" (");
		imap_mailbox_write(&out, old_name);
		strbuf_appends(&out, "))");
	}
	strbuf_appends(&out, "\r\n");
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

/* ---- the selected mailbox ---- */

/* Sends the view's queued updates now, as SELECTED asks (§6.1.1), unless
 * a command is running: then they go out when it ends, under RFC 3501
 * §7.4.1.  SELECTED-DELAYED holds EXPUNGE back until a command allows it
 * (§6.1.2) and sends the rest at once. */
static void notify_selected_push(struct imap_session *s)
{
	struct imap_view *v = s->view;
	if (v == NULL || s->cmd_name != NULL || s->mode != IMAP_INPUT_COMMAND)
		return;
	size_t held = 0;
	if (s->notify->selected_delayed ||
	    (s->notify->selected_events & NOTIFY_EV_MESSAGE_EXPUNGE) == 0) {
		held = v->pending_expunge_count;
		v->pending_expunge_count = 0;
	}
	/* draft -07: flag changes only for the messages that match */
	if (s->notify->selected_flag_match != NULL && v->pending_flags_count > 0) {
		struct imap_search *match = s->notify->selected_flag_match;
		size_t cnt = v->pending_flags_count;
		/* ascending and unique for uids_filter */
		qsort(v->pending_flags, cnt, sizeof(*v->pending_flags), uid_compare);
		size_t u = 0;
		for (size_t i = 0; i < cnt; i++)
			if (u == 0 || v->pending_flags[u - 1] != v->pending_flags[i])
				v->pending_flags[u++] = v->pending_flags[i];
		v->pending_flags_count = uids_filter(s->server, match, v->mailbox_id,
						     v->pending_flags, u, (uint32_t)v->count,
						     v->count ? v->uids[v->count - 1] : 0);
	}
	/* §5.1: the FETCH of a flag change carries the UID */
	s->cmd_uid = true;
	imap_session_flush_updates(s);
	s->cmd_uid = false;
	if (s->view == v)
		v->pending_expunge_count += held;
}

void imap_notify_new_messages(struct imap_session *s, size_t first)
{
	struct imap_notify *n = s->notify;
	struct imap_view *v = s->view;
	if (n == NULL || n->new_fetch == NULL || v == NULL || first >= v->count ||
	    (n->selected_events & NOTIFY_EV_MESSAGE_NEW) == 0)
		return;
	struct store_message_list list;
	struct store_error err;
	if (store_message_range(s->server->store, v->mailbox_id, v->uids[first],
				v->uids[v->count - 1], &list, &err) < 0) {
		log_warn("imap: NOTIFY fetch of new messages in %s: %s", v->name, err.msg);
		return;
	}
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		uint32_t seq = imap_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		/* draft -07: only the messages that match the criteria */
		if (n->selected_new_match != NULL &&
		    !message_matches(s->server, n->selected_new_match, m, seq,
				     imap_view_is_recent(v, m->uid), (uint32_t)v->count,
				     v->uids[v->count - 1]))
			continue;
		struct imap_fetch_message fm = {
			.seq = seq, .uid = m->uid, .flags = m->flags,
			.recent = imap_view_is_recent(v, m->uid), .keywords = m->keywords,
			.internaldate = m->internaldate, .tz_offset = m->tz_offset,
			.size = m->size, .modseq = m->modseq,
		};
		struct store_body body = { 0 };
		struct mime_message *mime = NULL;
		bool opened = false;
		if (n->new_fetch->needs_body || n->new_fetch->needs_mime) {
			if (store_body_open(s->server->store, m->body_id, &body, &err) < 0)
				continue;
			opened = true;
			fm.data = body.data;
			fm.len = body.len;
			if (n->new_fetch->needs_mime) {
				mime = mime_parse(body.data, body.len);
				fm.mime = mime;
			}
		}
		strbuf_reset(&out);
		imap_fetch_write(n->new_fetch, &fm, &out);
		imap_session_send(s, out.s, out.len);
		mime_message_free(&mime);
		if (opened)
			store_body_close(&body);
	}
	strbuf_free(&out);
	store_message_list_free(&list);
}

/* ---- events ---- */

static enum notify_kind event_kind(const char *type)
{
	static const struct {
		const char *name;
		enum notify_kind kind;
	} kinds[] = {
		/* §5.2: MessageNew covers MessageAppend; §5.3: MessageExpunge
		 * covers MessageExpire; §5.1: FlagChange covers MessageRead,
		 * MessageTrash, FlagsSet, FlagsClear */
		{ "MessageNew", KIND_NEW },
		{ "MessageAppend", KIND_NEW },
		{ "MessageExpunge", KIND_EXPUNGE },
		{ "MessageExpire", KIND_EXPUNGE },
		{ "FlagsSet", KIND_FLAGS },
		{ "FlagsClear", KIND_FLAGS },
		{ "MessageRead", KIND_FLAGS },
		{ "MessageTrash", KIND_FLAGS },
		{ "MailboxCreate", KIND_MAILBOX_CREATE },
		{ "MailboxDelete", KIND_MAILBOX_DELETE },
		{ "MailboxRename", KIND_MAILBOX_RENAME },
		{ "MailboxSubscribe", KIND_SUBSCRIBE },
		{ "MailboxUnSubscribe", KIND_UNSUBSCRIBE },
		{ "QuotaExceed", KIND_QUOTA_EXCEED },
		{ "QuotaWithin", KIND_QUOTA_WITHIN },
		{ "QuotaChange", KIND_QUOTA_CHANGE },
		/* vendor events of the METADATA and ACL commands */
		{ "vnd.tidings.MailboxMetadataChange", KIND_MAILBOX_METADATA },
		{ "vnd.tidings.ServerMetadataChange", KIND_SERVER_METADATA },
		{ "vnd.tidings.AclChange", KIND_ACL },
		{ "vnd.tidings.AnnotationChange", KIND_ANNOTATION },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].name) == 0)
			return kinds[i].kind;
	return KIND_NONE;
}

static json_t *info_json(struct notify_event_info *info)
{
	if (!info->json_tried) {
		info->json_tried = true;
		info->json = json_loads(info->ev->json, 0, NULL);
	}
	return info->json;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The mailbox name of an RFC 5092 URL imap://owner@host/Name;UIDVALIDITY=n
 * (store-events.c percent-encodes every byte outside bchar, ';' too). */
static char *url_mailbox_name(const char *url)
{
	if (url == NULL || strncmp(url, "imap://", 7) != 0)
		return NULL;
	const char *p = strchr(url + 7, '/');
	if (p == NULL || p[1] == '\0')
		return NULL;
	p++;
	size_t end = strcspn(p, ";?");
	char *name = xmalloc(end + 1);
	size_t w = 0;
	for (size_t i = 0; i < end; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < end + 1 && (hi = hex_value(p[i + 1])) >= 0 &&
		    (lo = hex_value(p[i + 2])) >= 0) {
			name[w++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			name[w++] = p[i];
		}
	}
	name[w] = '\0';
	if (w == 0 || strlen(name) != w) {
		free(name);
		return NULL;
	}
	return name;
}

static void info_names(struct notify_event_info *info)
{
	if (info->name != NULL)
		return;
	json_t *j = info_json(info);
	if (j == NULL)
		return;
	info->name = url_mailbox_name(json_string_value(json_object_get(j, "mailboxID")));
	info->old_name = url_mailbox_name(json_string_value(json_object_get(j, "oldMailboxID")));
}

/* §5: whether this session made the change.  An actor's origin is unique
 * within the process across services (store_origin_next); the service
 * check is a second guard. */
static bool event_is_own(const struct imap_session *s, struct notify_event_info *info)
{
	const struct store_outbox_event *ev = info->ev;
	if (ev->origin != s->actor.origin || ev->origin_pid != getpid())
		return false;
	const char *service = json_string_value(json_object_get(info_json(info), "service"));
	return service != NULL && strcmp(service, "imap") == 0;
}

static bool info_mailbox(struct imap_server *srv, struct notify_event_info *info)
{
	if (!info->mb_tried) {
		struct store_error err;
		info->mb_tried = true;
		info->mb_found = info->ev->mailbox_id != 0 &&
			store_mailbox_get_by_id(srv->store, info->ev->mailbox_id,
						&info->mb, &err) == 0;
	}
	return info->mb_found;
}

static bool event_seen_changed(struct notify_event_info *info)
{
	if (strcmp(info->ev->type, "MessageRead") == 0)
		return true;
	json_t *flags = json_object_get(info_json(info), "flagNames");
	size_t i;
	json_t *f;
	json_array_foreach(flags, i, f) {
		const char *name = json_string_value(f);
		if (name != NULL && strcasecmp(name, "\\Seen") == 0)
			return true;
	}
	return false;
}

/* draft -07 message-match: whether any message the event names matches. */
static bool info_any_match(struct imap_server *srv, struct notify_event_info *info,
			   const struct imap_search *match)
{
	const char *set = json_string_value(json_object_get(info_json(info), "uidset"));
	uint32_t *uids = NULL;
	size_t count = 0;
	if (set == NULL || seqset_to_numbers(set, &uids, &count, 1000000) < 0)
		return false;
	size_t left = uids_filter(srv, match, info->ev->mailbox_id, uids, count,
				  info->mb.messages,
				  info->mb.uidnext > 0 ? info->mb.uidnext - 1 : 0);
	free(uids);
	return left > 0;
}

/* "imap://owner@host/..." -> owner (percent-decoded), or NULL. */
static char *url_owner(const char *url)
{
	if (url == NULL || strncmp(url, "imap://", 7) != 0)
		return NULL;
	const char *p = url + 7;
	size_t end = strcspn(p, "/");
	const char *at = memchr(p, '@', end);
	if (at == NULL || at == p)
		return NULL;
	char *owner = xmalloc((size_t)(at - p) + 1);
	size_t w = 0;
	for (const char *q = p; q < at; q++) {
		int hi, lo;
		if (*q == '%' && q + 2 < at && (hi = hex_value(q[1])) >= 0 &&
		    (lo = hex_value(q[2])) >= 0) {
			owner[w++] = (char)(hi * 16 + lo);
			q += 2;
		} else {
			owner[w++] = *q;
		}
	}
	owner[w] = '\0';
	if (w == 0 || strlen(owner) != w) {
		free(owner);
		return NULL;
	}
	return owner;
}

static const char *info_owner(struct notify_event_info *info)
{
	if (!info->owner_tried) {
		info->owner_tried = true;
		info->owner = url_owner(json_string_value(json_object_get(info_json(info), "uri")));
	}
	return info->owner;
}

/* The one place that decides whether this session may learn about the
 * event's mailbox (RFC 5465 §3.1, §7: never reveal a mailbox or message
 * the user may not see) and the name it knows it by: its own name for
 * the user's own mailbox, "Other Users/<owner>/<name>" for a mailbox
 * shared with it (RFC 4314), when it has every right in need *now*.
 * Rights are looked up per event, so monitoring stops silently when they
 * are revoked and resumes when they are granted again (§5.9). */
static bool notify_client_name(struct imap_notify *n, struct notify_event_info *info,
			       uint32_t need, char name[NOTIFY_NAME_MAX], bool *own_r)
{
	struct imap_session *s = n->s;
	if (!info_mailbox(s->server, info) || info->mb.noselect)
		return false;
	if (info->mb.user_id == s->user.id) {
		*own_r = true;
		snprintf(name, NOTIFY_NAME_MAX, "%s", info->mb.name);
		return true;
	}
	*own_r = false;
	const char *owner = info_owner(info);
	if (owner == NULL)
		return false;
	uint32_t rights = imap_acl_rights(s, info->mb.id, info->mb.user_id);
	if ((rights & need) != need)
		return false;
	int len = snprintf(name, NOTIFY_NAME_MAX, "%s/%s/%s", IMAP_SHARED_ROOT, owner,
			   info->mb.name);
	return len > 0 && len < NOTIFY_NAME_MAX;
}

static bool annotation_concerns(const struct imap_session *s, struct notify_event_info *info)
{
	json_t *j = info_json(info);
	if (!json_is_true(json_object_get(j, "vnd.tidings.private")))
		return true;
	const char *who = json_string_value(json_object_get(j, "user"));
	return who != NULL && strcmp(who, s->user.name) == 0;
}

/* §5.1 in the selected mailbox: FETCH (UID n ANNOTATION (entry ...)) for
 * each message of the event still in the view (and matching draft -07's
 * criteria).  RFC 5257 §4.4: an unsolicited ANNOTATION response names the
 * changed entries only, never their values (the client fetches those if it
 * wants them). */
static void notify_selected_annotation(struct imap_session *s, struct notify_event_info *info)
{
	struct imap_view *v = s->view;
	json_t *j = info_json(info);
	const char *set = json_string_value(json_object_get(j, "uidset"));
	const char *names = json_string_value(json_object_get(j, "vnd.tidings.entries"));
	uint32_t *uids = NULL;
	size_t count = 0;
	if (set == NULL || names == NULL || names[0] == '\0' ||
	    seqset_to_numbers(set, &uids, &count, 1000000) < 0)
		return;
	if (s->notify->selected_annotation_match != NULL)
		count = uids_filter(s->server, s->notify->selected_annotation_match,
				    v->mailbox_id, uids, count, (uint32_t)v->count,
				    v->count ? v->uids[v->count - 1] : 0);
	/* the entry list, each name a quoted astring (the store refuses
	 * '"', '\\' and spaces in names, so the split is exact) */
	struct strbuf list = STRBUF_INIT, out = STRBUF_INIT;
	for (const char *p = names; *p != '\0';) {
		size_t n = strcspn(p, " ");
		if (n > 0) {
			strbuf_appends(&list, list.len > 0 ? " \"" : "\"");
			strbuf_append(&list, p, n);
			strbuf_appends(&list, "\"");
		}
		p += n;
		p += strspn(p, " ");
	}
	for (size_t i = 0; i < count && list.len > 0 && notify_room(s); i++) {
		uint32_t seq = imap_view_seq(v, uids[i]);
		if (seq == 0)
			continue;
		strbuf_reset(&out);
		strbuf_printf(&out, "* %u FETCH (UID %u ANNOTATION (%s))\r\n", seq,
			      uids[i], list.s);
		imap_session_send(s, out.s, out.len);
	}
	strbuf_free(&list);
	strbuf_free(&out);
	free(uids);
}

static void notify_message_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	const struct store_outbox_event *ev = info->ev;
	unsigned int bit = info->kind == KIND_NEW ? NOTIFY_EV_MESSAGE_NEW :
			   info->kind == KIND_EXPUNGE ? NOTIFY_EV_MESSAGE_EXPUNGE :
			   info->kind == KIND_ANNOTATION ? NOTIFY_EV_ANNOTATION_CHANGE :
			   NOTIFY_EV_FLAG_CHANGE;
	/* a /private annotation is its user's alone (RFC 5257 §3.3) */
	if (info->kind == KIND_ANNOTATION && !annotation_concerns(s, info))
		return;
	if (s->view != NULL && s->view->mailbox_id == ev->mailbox_id) {
		/* §3.1: the SELECTED group alone rules message events on the
		 * selected mailbox (imap_notify_selected_event, called for
		 * every session that has it selected, own or shared); without
		 * one, the RFC 3501 command-end updates stay. */
		return;
	}
	if ((n->other_events & bit) == 0)
		return;
	/* §5: not for a change this client made itself */
	if (event_is_own(s, info))
		return;
	char name[NOTIFY_NAME_MAX];
	bool own;
	if (!notify_client_name(n, info, IMAP_ACL_LOOKUP | IMAP_ACL_READ, name, &own))
		return;
	struct imap_search *match = NULL;
	if ((notify_events_for(n, name, own, info->mb.delivered, bit, &match) & bit) == 0)
		return;
	/* §5.1: without CONDSTORE only an UNSEEN change can be shown */
	if (info->kind == KIND_FLAGS && !condstore_on(s) && !info->seen_changed)
		return;
	/* §5.1: an annotation change shows in STATUS only as HIGHESTMODSEQ:
	 * without CONDSTORE the client is not notified */
	if (info->kind == KIND_ANNOTATION && !condstore_on(s))
		return;
	if (match != NULL && !info_any_match(s->server, info, match))
		return;
	if (notify_room(s))
		status_write(s, name, &info->mb, info->kind);
}

static void notify_mailbox_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	const struct store_outbox_event *ev = info->ev;
	bool subscription = info->kind == KIND_SUBSCRIBE || info->kind == KIND_UNSUBSCRIBE;
	/* MailboxName is the three draft -07 events (notify-parse.c) */
	unsigned int bit = subscription ? NOTIFY_EV_SUBSCRIPTION_CHANGE :
			   info->kind == KIND_MAILBOX_CREATE ? NOTIFY_EV_MAILBOX_CREATE :
			   info->kind == KIND_MAILBOX_DELETE ? NOTIFY_EV_MAILBOX_DELETE :
			   NOTIFY_EV_MAILBOX_RENAME;
	if (subscription) {
		/* §6.4: the subscribed set is re-evaluated */
		strings_free(n->subs, n->sub_count);
		n->subs = NULL;
		n->sub_count = 0;
		n->subs_loaded = false;
	}
	if ((n->other_events & bit) == 0)
		return;
	if (event_is_own(s, info))
		return;
	/* the user's own mailboxes only (docs/notify.md) */
	if (ev->user_id != s->user.id)
		return;
	info_names(info);
	if (info->name == NULL)
		return;
	bool exists = info_mailbox(s->server, info);
	bool delivered = exists && info->mb.delivered;
	unsigned int events = notify_events_for(n, info->name, true, delivered, 0, NULL);
	if (info->old_name != NULL)
		events |= notify_events_for(n, info->old_name, true, false, 0, NULL);
	if ((events & bit) == 0 || !notify_room(s))
		return;
	switch (info->kind) {
	case KIND_MAILBOX_CREATE:
		list_write(s, "", info->name, NULL);
		break;
	case KIND_MAILBOX_DELETE:
		/* §5.4: a name that no longer refers to a mailbox */
		list_write(s, "\\NonExistent", info->name, NULL);
		break;
	case KIND_MAILBOX_RENAME:
		list_write(s, "", info->name, info->old_name);
		break;
	case KIND_SUBSCRIBE:
	case KIND_UNSUBSCRIBE: {
		/* §5.5: \Subscribed iff subscribed now; attributes computed
		 * as LIST would */
		struct store_mailbox mb;
		struct store_error err;
		bool present = store_mailbox_get(s->server->store, s->user.id,
						 info->name, &mb, &err) == 0;
		const char *attrs = info->kind == KIND_SUBSCRIBE ?
			(present ? "\\Subscribed" : "\\NonExistent \\Subscribed") :
			(present ? "" : "\\NonExistent");
		list_write(s, attrs, info->name, NULL);
		break;
	}
	default:
		break;
	}
}

/* draft -07 §5.4: QUOTAROOT and QUOTA for the user's one quota root "",
 * when a watched mailbox is affected (any of them when the event names
 * none: the root governs them all).  The owner has the 'a' right. */
static void notify_quota_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	unsigned int bit = info->kind == KIND_QUOTA_EXCEED ? NOTIFY_EV_QUOTA_EXCEED :
			   info->kind == KIND_QUOTA_WITHIN ? NOTIFY_EV_QUOTA_WITHIN :
			   NOTIFY_EV_QUOTA_CHANGE;
	/* one's own quota: the owner has the 'a' right draft -07 §5 asks */
	if ((n->other_events & bit) == 0 || info->ev->user_id != s->user.id)
		return;
	if (info->kind != KIND_QUOTA_CHANGE &&
	    event_is_own(s, info))
		return;
	const char *name = "INBOX";
	if (info_mailbox(s->server, info)) {
		name = info->mb.name;
		if ((notify_events_for(n, name, true, info->mb.delivered, 0, NULL) & bit) == 0)
			return;
	}
	struct store_quota q;
	struct store_error err;
	if (store_quota_get(s->server->store, s->user.id, &q, &err) < 0 || !notify_room(s))
		return;
	struct strbuf out = STRBUF_INIT;
	strbuf_appends(&out, "* QUOTAROOT ");
	imap_mailbox_write(&out, name);
	strbuf_appends(&out, " \"\"\r\n");
	imap_quota_write(&out, "", &q);
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

/* RFC 5465 §5.6 / §5.7: an unsolicited METADATA response (RFC 5464
 * §4.4.2) naming the changed entry, removed entries included.  A /private
 * entry concerns only the user who set it; a mailbox entry needs the 'l'
 * and 'r' rights GETMETADATA needs (RFC 5464 §3.1); a /shared server
 * entry concerns every user. */
static void notify_metadata_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	const struct store_outbox_event *ev = info->ev;
	bool server = info->kind == KIND_SERVER_METADATA;
	unsigned int bit = server ? NOTIFY_EV_SERVER_METADATA_CHANGE :
				    NOTIFY_EV_MAILBOX_METADATA_CHANGE;
	if ((n->other_events & bit) == 0)
		return;
	if (event_is_own(s, info))
		return;
	json_t *j = info_json(info);
	const char *entry = json_string_value(json_object_get(j, "vnd.tidings.entry"));
	if (entry == NULL)
		return;
	if (strncasecmp(entry, "/private/", 9) == 0) {
		const char *who = json_string_value(json_object_get(j, "user"));
		if (who == NULL || strcmp(who, s->user.name) != 0)
			return;
	}
	char name[NOTIFY_NAME_MAX] = "";
	if (!server) {
		bool own;
		if (!notify_client_name(n, info, IMAP_ACL_LOOKUP | IMAP_ACL_READ, name, &own) ||
		    (notify_events_for(n, name, own, info->mb.delivered, 0, NULL) & bit) == 0)
			return;
	} else if (ev->user_id != 0 && ev->user_id != s->user.id) {
		return;
	}
	if (!notify_room(s))
		return;
	struct strbuf out = STRBUF_INIT;
	strbuf_appends(&out, "* METADATA ");
	imap_mailbox_write(&out, name);
	strbuf_appendc(&out, ' ');
	imap_write_astring(&out, entry);
	strbuf_appends(&out, "\r\n");
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

/* draft -07 §5.9 AdminMailbox: the mailbox's new ACL, as GETACL answers
 * it, to the sessions that may run GETACL on it after the change ('l'
 * and 'a'; the owner always may).  One that lost the right hears
 * nothing (the draft's MAY is not taken: silence reveals less). */
static void notify_acl_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	if ((n->other_events & NOTIFY_EV_ADMIN_MAILBOX) == 0)
		return;
	if (event_is_own(s, info))
		return;
	char name[NOTIFY_NAME_MAX];
	bool own;
	if (!notify_client_name(n, info, IMAP_ACL_LOOKUP | IMAP_ACL_ADMIN, name, &own) ||
	    (notify_events_for(n, name, own, info->mb.delivered, 0, NULL) &
	     NOTIFY_EV_ADMIN_MAILBOX) == 0)
		return;
	const char *owner = own ? s->user.name : info_owner(info);
	struct store_acl_entry *e = NULL;
	size_t count = 0;
	struct store_error err;
	if (owner == NULL ||
	    store_acl_get(s->server->store, info->mb.id, &e, &count, &err) < 0)
		return;
	if (!notify_room(s)) {
		free(e);
		return;
	}
	struct strbuf out = STRBUF_INIT;
	char letters[IMAP_ACL_LETTERS_MAX + 1];
	strbuf_appends(&out, "* ACL ");
	imap_mailbox_write(&out, name);
	/* the owner's implicit entry first, as cmd_getacl writes it */
	imap_acl_to_letters(IMAP_ACL_ALL, true, letters);
	strbuf_appendc(&out, ' ');
	imap_write_astring(&out, owner);
	strbuf_printf(&out, " %s", letters);
	for (size_t i = 0; i < count; i++) {
		imap_acl_to_letters(imap_acl_from_letters(e[i].rights), true, letters);
		strbuf_appendc(&out, ' ');
		imap_write_astring(&out, e[i].identifier);
		strbuf_appendc(&out, ' ');
		imap_write_astring(&out, letters);
	}
	strbuf_appends(&out, "\r\n");
	free(e);
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

static void hub_dispatch(struct imap_notify *n, struct notify_event_info *info)
{
	/* a session reached through two indexes hears an event once */
	if (n->last_seq == info->ev->seq || n->s->conn == NULL || n->s->closing)
		return;
	n->last_seq = info->ev->seq;
	/* Names go out in this session's form (RFC 6855 §3, RFC 9051 §5.1),
	 * not in that of the command that caused the event. */
	bool names_utf8 = imap_mailbox_names_utf8();
	imap_mailbox_names_utf8_set(imap_utf8_enabled(n->s));
	switch (info->kind) {
	case KIND_NEW:
	case KIND_EXPUNGE:
	case KIND_FLAGS:
	case KIND_ANNOTATION:
		notify_message_event(n, info);
		break;
	case KIND_QUOTA_EXCEED:
	case KIND_QUOTA_WITHIN:
	case KIND_QUOTA_CHANGE:
		notify_quota_event(n, info);
		break;
	case KIND_MAILBOX_METADATA:
	case KIND_SERVER_METADATA:
		notify_metadata_event(n, info);
		break;
	case KIND_ACL:
		notify_acl_event(n, info);
		break;
	default:
		notify_mailbox_event(n, info);
		break;
	}
	imap_mailbox_names_utf8_set(names_utf8);
	/* n may be gone now (NOTIFICATIONOVERFLOW) */
}

static void hub_on_event(const struct store_outbox_event *ev, void *ctx)
{
	struct imap_notify_hub *hub = ctx;
	enum notify_kind kind = event_kind(ev->type);
	if (kind == KIND_NONE)
		return;
	struct notify_event_info info = { .ev = ev, .kind = kind };
	if (ev->user_id == 0) {
		/* a /shared server entry: every session that asked */
		if (kind == KIND_SERVER_METADATA) {
			struct notify_link *lnext;
			for (struct notify_link *l = hub->server_meta; l != NULL; l = lnext) {
				lnext = l->next;
				hub_dispatch(l->n, &info);
			}
		}
		goto out;
	}
	if (kind == KIND_FLAGS)
		info.seen_changed = event_seen_changed(&info);
	size_t b = user_bucket(ev->user_id);
	/* Only the sessions the event concerns: the owner's, and those
	 * watching the owner's shared mailboxes.  NOTIFICATIONOVERFLOW may
	 * free the current one, so the next is taken first. */
	struct imap_notify *next;
	for (struct imap_notify *n = hub->by_user[b]; n != NULL; n = next) {
		next = n->next;
		if (n->user_id == ev->user_id)
			hub_dispatch(n, &info);
	}
	struct notify_link *lnext;
	for (struct notify_link *l = hub->by_owner[b]; l != NULL; l = lnext) {
		lnext = l->next;
		if (l->owner_id == ev->user_id)
			hub_dispatch(l->n, &info);
	}
	for (struct notify_link *l = hub->any_owner; l != NULL; l = lnext) {
		lnext = l->next;
		hub_dispatch(l->n, &info);
	}
out:
	if (info.json != NULL)
		json_decref(info.json);
	free(info.name);
	free(info.old_name);
	free(info.owner);
}

bool imap_notify_add_fits(const struct imap_session *s, const struct notify_command *cmd,
			  size_t max_groups, size_t max_names)
{
	const struct imap_notify *n = s->notify;
	if (!cmd->add || n == NULL)
		return true;
	size_t groups = n->group_count + cmd->group_count, names = 0;
	for (size_t i = 0; i < n->group_count; i++)
		names += n->groups[i].name_count;
	for (size_t i = 0; i < cmd->group_count; i++)
		names += cmd->groups[i].mailbox_count;
	return groups <= max_groups && names <= max_names;
}

void imap_notify_status_all(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (n == NULL || (n->other_events & (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_FLAG_CHANGE)) == 0)
		return;
	struct store_mailbox *list = NULL;
	size_t count = 0;
	struct store_error err;
	if (store_mailbox_list(s->server->store, s->user.id, &list, &count, &err) < 0)
		return;
	/* the shared mailboxes it may see, named "Other Users/owner/name",
	 * for the MAILBOXES and SUBTREE groups naming them */
	if (n->link_count > 0 &&
	    imap_mailbox_list_add_shared(s, &list, &count, &err) < 0)
		log_warn("imap: NOTIFY STATUS: shared mailboxes of %s: %s",
			 s->user.name, err.msg);
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < count && s->notify != NULL; i++) {
		const struct store_mailbox *mb = &list[i];
		bool own = mb->user_id == s->user.id;
		if (mb->noselect || (s->view != NULL && s->view->mailbox_id == mb->id))
			continue;
		if (!own && (imap_acl_rights(s, mb->id, mb->user_id) & IMAP_ACL_READ) == 0)
			continue;
		unsigned int events = notify_events_for(n, mb->name, own, mb->delivered, 0, NULL);
		if ((events & (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_FLAG_CHANGE)) == 0)
			continue;
		/* §3.1: MESSAGES, UIDNEXT, UIDVALIDITY for MessageNew;
		 * UIDVALIDITY (and HIGHESTMODSEQ) for FlagChange */
		strbuf_reset(&out);
		strbuf_appends(&out, "* STATUS ");
		imap_mailbox_write(&out, mb->name);
		strbuf_printf(&out, " (MESSAGES %u UIDNEXT %u UIDVALIDITY %u",
			      mb->messages, mb->uidnext, mb->uidvalidity);
		if (events & NOTIFY_EV_FLAG_CHANGE)
			strbuf_printf(&out, " UNSEEN %u", mb->unseen);
		if (condstore_on(s))
			strbuf_printf(&out, " HIGHESTMODSEQ %llu",
				      (unsigned long long)mb->highestmodseq);
		strbuf_appends(&out, ")\r\n");
		imap_session_send(s, out.s, out.len);
	}
	strbuf_free(&out);
	free(list);
}

/* §3.1: a named mailbox the user can LIST but lacks another right on (a
 * shared one with 'l' and no 'r') gets LIST (\NoAccess); one that does
 * not exist or that the user may not LIST is ignored in silence. */
void imap_notify_noaccess_report(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (n == NULL || n->link_count == 0)
		return;
	for (size_t i = 0; i < n->group_count; i++) {
		const struct notify_spec_group *g = &n->groups[i];
		if ((g->filter != NOTIFY_FILTER_MAILBOXES && g->filter != NOTIFY_FILTER_SUBTREE) ||
		    g->events == 0)
			continue;
		for (size_t j = 0; j < g->name_count; j++) {
			if (!imap_mailbox_is_shared_name(g->names[j]))
				continue;
			struct imap_mailbox_ref ref;
			struct store_error err;
			if (imap_mailbox_resolve(s, g->names[j], &ref, &err) < 0 ||
			    !ref.exists || (ref.rights & IMAP_ACL_READ) != 0)
				continue;
			list_write(s, "\\NoAccess", ref.mb.name, NULL);
		}
	}
}

/* The selected mailbox changed (server_on_event has queued the view's
 * updates): SELECTED / SELECTED-DELAYED send them now (§6.1). */
void imap_notify_selected_event(struct imap_session *s,
				const struct store_outbox_event *ev)
{
	struct imap_notify *n = s->notify;
	if (n == NULL || !n->has_selected)
		return;
	enum notify_kind kind = event_kind(ev->type);
	if (kind == KIND_ANNOTATION) {
		struct notify_event_info info = { .ev = ev, .kind = kind };
		/* a shared mailbox: only while the user may still read it */
		uint32_t rights = s->view->acl_shared ?
			imap_acl_rights(s, ev->mailbox_id, ev->user_id) : IMAP_ACL_ALL;
		if ((n->selected_events & NOTIFY_EV_ANNOTATION_CHANGE) != 0 &&
		    (rights & IMAP_ACL_READ) != 0 && annotation_concerns(s, &info) &&
		    !event_is_own(s, &info))
			notify_selected_annotation(s, &info);
		if (info.json != NULL)
			json_decref(info.json);
		return;
	}
	unsigned int bit = kind == KIND_NEW ? NOTIFY_EV_MESSAGE_NEW :
			   kind == KIND_EXPUNGE ? NOTIFY_EV_MESSAGE_EXPUNGE :
			   kind == KIND_FLAGS ? NOTIFY_EV_FLAG_CHANGE : 0;
	if ((n->selected_events & bit) != 0 && notify_room(s))
		notify_selected_push(s);
}

/* A command has ended: what RFC 3501 §7.4.1 held back while it ran (an
 * EXPUNGE during FETCH, STORE or SEARCH) goes out now under SELECTED
 * rather than waiting for the next command (§5.3, §6.1.1). */
void imap_notify_command_done(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	struct imap_view *v = s->view;
	if (n == NULL || !n->has_selected || v == NULL ||
	    (v->pending_expunge_count == 0 && v->pending_flags_count == 0 && !v->pending_new))
		return;
	if (notify_room(s))
		notify_selected_push(s);
}

/* ---- the hub ---- */

struct imap_notify_hub *imap_notify_hub_create(struct imap_server *srv)
{
	struct imap_notify_hub *hub = xcalloc(1, sizeof(*hub));
	hub->srv = srv;
	event_pump_add_consumer(srv->pump, hub_on_event, hub);
	return hub;
}

void imap_notify_hub_destroy(struct imap_notify_hub **hubp)
{
	free(*hubp);
	*hubp = NULL;
}
