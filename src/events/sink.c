/* Sinks: [sink NAME] sections, the per-sink filter (RFC 5423 §3) and the
 * runner threads that move outbox events to each sink's far end. */
#include "events/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* Outbox rows read per batch: one fsync of the journal per batch. */
#define SINK_BATCH 1000
/* A journal that is behind reads on, SINK_BATCH rows at a time, up to
 * these: its cost per batch is two fsyncs (the file and the cursor's
 * commit), so bigger batches are what lets it catch up at well over
 * 100,000 events/s (bench/events).  A nats sink that is behind reads on
 * too, less far: each batch ends in a wait for the last JetStream ack, a
 * stall that bigger batches make rarer (sink-nats.c sizes its pending
 * window for SINK_NATS_BATCH_ROWS).  The webhook keeps SINK_BATCH: its
 * POSTs are at most 1000 events anyway. */
#define SINK_JOURNAL_BATCH_ROWS 32000
#define SINK_JOURNAL_BATCH_BYTES (16u * 1024 * 1024)
#define SINK_NATS_BATCH_ROWS 8000
/* Idle poll of data_version; a notify wakes the sinks sooner. */
#define SINK_POLL_MS 20
#define SINK_BACKOFF_MIN_MS 100
#define SINK_BACKOFF_MAX_MS 30000

/* ---- lists ---- */

void sink_list_free(struct sink_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static void sink_list_add(struct sink_list *list, const char *item)
{
	list->items = xrealloc(list->items,
			       (list->count + 1) * sizeof(*list->items));
	list->items[list->count++] = xstrdup(item);
}

static bool sink_list_has(const struct sink_list *list, const char *item)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->items[i], item) == 0)
			return true;
	}
	return false;
}

int sink_list_parse(const char *value, struct sink_list *list_r, char *err,
		    size_t err_size)
{
	struct sink_list list = { NULL, 0 };
	char item[SINK_ITEM_MAX + 1];
	const char *p = value;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		size_t n = 0;
		if (*p == '"') {
			p++;
			while (*p != '"') {
				if (*p == '\0') {
					snprintf(err, err_size,
						 "unterminated quoted item");
					goto fail;
				}
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (n == SINK_ITEM_MAX)
					goto too_long;
				item[n++] = *p++;
			}
			p++;
			if (*p != '\0' && *p != ' ' && *p != '\t' &&
			    *p != ',') {
				snprintf(err, err_size,
					 "expected a separator after a quoted item");
				goto fail;
			}
		} else {
			while (*p != '\0' && *p != ' ' && *p != '\t' &&
			       *p != ',') {
				if (n == SINK_ITEM_MAX)
					goto too_long;
				item[n++] = *p++;
			}
		}
		item[n] = '\0';
		if (n == 0) {
			snprintf(err, err_size, "empty item in list");
			goto fail;
		}
		if (list.count == SINK_LIST_MAX) {
			snprintf(err, err_size, "too many items (at most %d)",
				 SINK_LIST_MAX);
			goto fail;
		}
		if (!sink_list_has(&list, item))
			sink_list_add(&list, item);
	}
	*list_r = list;
	return 0;
too_long:
	snprintf(err, err_size, "item too long (at most %d bytes)",
		 SINK_ITEM_MAX);
fail:
	sink_list_free(&list);
	return -1;
}

/* ---- event names and groups ---- */

#define BIT(t) (1u << (t))

static const struct {
	const char *name;
	uint32_t bits;
} sink_event_groups[] = {
	{ "message", BIT(EVENT_MESSAGE_APPEND) | BIT(EVENT_MESSAGE_EXPIRE) |
		     BIT(EVENT_MESSAGE_EXPUNGE) | BIT(EVENT_MESSAGE_NEW) |
		     BIT(EVENT_MESSAGE_READ) | BIT(EVENT_MESSAGE_TRASH) },
	{ "flags", BIT(EVENT_FLAGS_SET) | BIT(EVENT_FLAGS_CLEAR) },
	{ "access", BIT(EVENT_LOGIN) | BIT(EVENT_LOGOUT) },
	{ "mailbox", BIT(EVENT_MAILBOX_CREATE) | BIT(EVENT_MAILBOX_DELETE) |
		     BIT(EVENT_MAILBOX_RENAME) | BIT(EVENT_MAILBOX_SUBSCRIBE) |
		     BIT(EVENT_MAILBOX_UNSUBSCRIBE) },
	{ "quota", BIT(EVENT_QUOTA_EXCEED) | BIT(EVENT_QUOTA_WITHIN) |
		   BIT(EVENT_QUOTA_CHANGE) },
	/* vendor types of RFC 5464 SETMETADATA (docs/events.md) */
	{ "metadata", BIT(EVENT_MAILBOX_METADATA_CHANGE) |
		      BIT(EVENT_SERVER_METADATA_CHANGE) },
	{ "all", BIT(EVENT_TYPE_COUNT) - 1 },
};

bool sink_events_name_bits(const char *name, uint32_t *bits_r)
{
	for (size_t i = 0; i < sizeof(sink_event_groups) /
				    sizeof(sink_event_groups[0]); i++) {
		if (strcmp(name, sink_event_groups[i].name) == 0) {
			*bits_r = sink_event_groups[i].bits;
			return true;
		}
	}
	int t = event_type_from_name(name);
	if (t < 0)
		return false;
	*bits_r = BIT(t);
	return true;
}

/* ---- configuration ---- */

void sink_filter_init(struct sink_filter *filter)
{
	memset(filter, 0, sizeof(*filter));
	filter->types = BIT(EVENT_TYPE_COUNT) - 1;
	filter->all_users = true;
	filter->all_mailboxes = true;
	filter->all_params = true;
	filter->flag_mode = SINK_FLAG_MODE_SIMPLE;
}

void sink_filter_free(struct sink_filter *filter)
{
	sink_list_free(&filter->users);
	sink_list_free(&filter->mailboxes);
	sink_list_free(&filter->vendor_params);
	sink_list_free(&filter->tags);
}

void sink_config_free(struct sink_config *sink)
{
	free(sink->name);
	free(sink->path);
	free(sink->url);
	free(sink->secret);
	free(sink->ca_file);
	free(sink->stream);
	free(sink->subject);
	free(sink->ident);
	free(sink->socket_path);
	sink_filter_free(&sink->filter);
	memset(sink, 0, sizeof(*sink));
}

int sink_config_error(char *err, size_t err_size, const struct config *cfg,
		      unsigned int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, err_size, "%s:%u: %s",
		 cfg->path != NULL ? cfg->path : "(config)", line, msg);
	return -1;
}

static const char *const sink_common_keys[] = {
	"type", "events", "users", "mailboxes", "params", "content_max",
	"flag_mode", "tags", "content_access", NULL
};
/* Every type; one whose file is not built yet has parse == NULL. */
static const struct sink_type_desc *const sink_types[] = {
	&sink_type_journal, &sink_type_webhook, &sink_type_nats,
	&sink_type_syslog,
};

static bool sink_key_in(const char *const *keys, const char *key)
{
	for (; *keys != NULL; keys++) {
		if (strcmp(*keys, key) == 0)
			return true;
	}
	return false;
}

/* The option of one key; the caller has already refused duplicates. */
const struct config_option *sink_config_option(const struct config_sink *raw,
					       const char *key)
{
	for (size_t i = 0; i < raw->option_count; i++) {
		if (strcmp(raw->options[i].key, key) == 0)
			return &raw->options[i];
	}
	return NULL;
}

static int sink_parse_filter(const struct config *cfg,
			     const struct config_sink *raw,
			     struct sink_filter *f, char *err, size_t err_size)
{
	char why[256];
	const struct config_option *o;
	struct sink_list list;

	if ((o = sink_config_option(raw, "events")) != NULL) {
		if (sink_list_parse(o->value, &list, why, sizeof(why)) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "events: %s", why);
		f->types = 0;
		for (size_t i = 0; i < list.count; i++) {
			uint32_t bits;
			if (!sink_events_name_bits(list.items[i], &bits)) {
				sink_config_error(err, err_size, cfg, o->line,
					   "events: unknown event type or "
					   "group '%.100s' (groups: message "
					   "flags access mailbox quota metadata)",
					   list.items[i]);
				sink_list_free(&list);
				return -1;
			}
			f->types |= bits;
		}
		sink_list_free(&list);
		if (f->types == 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "events: empty list");
	}
	if ((o = sink_config_option(raw, "users")) != NULL) {
		if (sink_list_parse(o->value, &f->users, why, sizeof(why)) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "users: %s", why);
		if (f->users.count == 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "users: empty list");
		f->all_users = false;
	}
	if ((o = sink_config_option(raw, "mailboxes")) != NULL) {
		if (sink_list_parse(o->value, &list, why, sizeof(why)) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "mailboxes: %s", why);
		for (size_t i = 0; i < list.count; i++) {
			char canon[STORE_MAILBOX_NAME_MAX + 1];
			struct store_error serr;
			memset(&serr, 0, sizeof(serr));
			if (store_mailbox_name_normalize(list.items[i], canon,
							 &serr) < 0) {
				sink_config_error(err, err_size, cfg, o->line,
					   "mailboxes: invalid mailbox name "
					   "'%.100s': %s", list.items[i],
					   serr.msg);
				sink_list_free(&list);
				return -1;
			}
			if (!sink_list_has(&f->mailboxes, canon))
				sink_list_add(&f->mailboxes, canon);
		}
		sink_list_free(&list);
		if (f->mailboxes.count == 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "mailboxes: empty list");
		f->all_mailboxes = false;
	}
	if ((o = sink_config_option(raw, "params")) != NULL) {
		if (sink_list_parse(o->value, &list, why, sizeof(why)) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "params: %s", why);
		f->all_params = false;
		f->params = 0;
		for (size_t i = 0; i < list.count; i++) {
			const char *name = list.items[i];
			int p = event_param_from_name(name);
			if (p >= 0) {
				f->params |= BIT(p);
			} else if (strncmp(name, "vnd.", 4) == 0) {
				sink_list_add(&f->vendor_params, name);
			} else if (strcmp(name, "event") != 0 &&
				   strcmp(name, "seq") != 0) {
				sink_config_error(err, err_size, cfg, o->line,
					   "params: unknown RFC 5423 parameter "
					   "'%.100s'", name);
				sink_list_free(&list);
				return -1;
			}
		}
		sink_list_free(&list);
	}
	if ((o = sink_config_option(raw, "content_max")) != NULL) {
		if (config_parse_size(o->value, &f->content_max) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "content_max: expected a size such "
					  "as 64K or 1M");
	}
	if ((o = sink_config_option(raw, "content_access")) != NULL &&
	    sink_content_access_parse(o->value, f) < 0)
		return sink_config_error(err, err_size, cfg, o->line,
					 "content_access: expected owner, "
					 "authuser or user+NAME");
	if ((o = sink_config_option(raw, "flag_mode")) != NULL) {
		if (strcmp(o->value, "simple") == 0)
			f->flag_mode = SINK_FLAG_MODE_SIMPLE;
		else if (strcmp(o->value, "flags") == 0)
			f->flag_mode = SINK_FLAG_MODE_FLAGS;
		else if (strcmp(o->value, "both") == 0)
			f->flag_mode = SINK_FLAG_MODE_BOTH;
		else
			return sink_config_error(err, err_size, cfg, o->line,
					  "flag_mode: expected simple, flags "
					  "or both");
	}
	if ((o = sink_config_option(raw, "tags")) != NULL) {
		if (sink_list_parse(o->value, &f->tags, why, sizeof(why)) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
					  "tags: %s", why);
	}
	return 0;
}

int sink_config_parse(const struct config *cfg, const struct config_sink *raw,
		      struct sink_config *sink_r, char *err, size_t err_size)
{
	struct sink_config sink;
	memset(&sink, 0, sizeof(sink));
	sink.name = xstrdup(raw->name);
	sink_filter_init(&sink.filter);

	const struct config_option *type = NULL;
	for (size_t i = 0; i < raw->option_count; i++) {
		const struct config_option *o = &raw->options[i];
		for (size_t j = 0; j < i; j++) {
			if (strcmp(raw->options[j].key, o->key) == 0) {
				sink_config_error(err, err_size, cfg, o->line,
					   "[sink %s]: '%.100s' given twice "
					   "(first at line %u)", raw->name,
					   o->key, raw->options[j].line);
				goto fail;
			}
		}
		if (strcmp(o->key, "type") == 0)
			type = o;
	}
	if (type == NULL) {
		sink_config_error(err, err_size, cfg, raw->line,
			   "[sink %s]: missing 'type' (journal, webhook, nats, syslog)", raw->name);
		goto fail;
	}
	const struct sink_type_desc *desc = NULL;
	for (size_t i = 0; i < sizeof(sink_types) / sizeof(sink_types[0]);
	     i++) {
		if (strcmp(type->value, sink_types[i]->name) == 0)
			desc = sink_types[i];
	}
	if (desc == NULL) {
		sink_config_error(err, err_size, cfg, type->line,
			   "[sink %s]: unknown sink type '%.100s' (journal, "
			   "webhook, nats, syslog)", raw->name, type->value);
		goto fail;
	}
	if (desc->parse == NULL || desc->create == NULL) {
		sink_config_error(err, err_size, cfg, type->line,
			   "[sink %s]: sink type '%s' is not supported yet",
			   raw->name, type->value);
		goto fail;
	}
	sink.type = desc->type;
	for (size_t i = 0; i < raw->option_count; i++) {
		const struct config_option *o = &raw->options[i];
		if (!sink_key_in(sink_common_keys, o->key) &&
		    !sink_key_in(desc->keys, o->key)) {
			sink_config_error(err, err_size, cfg, o->line,
				   "[sink %s]: unknown key '%.100s' for a %s "
				   "sink", raw->name, o->key, type->value);
			goto fail;
		}
	}
	if (sink_parse_filter(cfg, raw, &sink.filter, err, err_size) < 0)
		goto fail;
	if (desc->parse(cfg, raw, &sink, err, err_size) < 0)
		goto fail;
	*sink_r = sink;
	return 0;
fail:
	sink_config_free(&sink);
	return -1;
}

int sink_config_check_all(const struct config *cfg, char *err,
			  size_t err_size)
{
	for (size_t i = 0; i < cfg->sink_count; i++) {
		struct sink_config sink;
		if (sink_config_parse(cfg, &cfg->sinks[i], &sink, err,
				      err_size) < 0)
			return -1;
		/* Two journals on one file would interleave and rotate
		 * each other's lines. */
		for (size_t j = 0; j < i; j++) {
			struct sink_config other;
			if (sink_config_parse(cfg, &cfg->sinks[j], &other,
					      err, err_size) < 0) {
				sink_config_free(&sink);
				return -1;
			}
			bool same = sink.type == SINK_TYPE_JOURNAL &&
				    other.type == SINK_TYPE_JOURNAL &&
				    strcmp(other.path, sink.path) == 0;
			sink_config_free(&other);
			if (same) {
				sink_config_error(err, err_size, cfg,
					   cfg->sinks[i].line,
					   "[sink %s]: path is the same as "
					   "that of [sink %s]",
					   cfg->sinks[i].name,
					   cfg->sinks[j].name);
				sink_config_free(&sink);
				return -1;
			}
		}
		sink_config_free(&sink);
	}
	return 0;
}

/* ---- the filter ---- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void percent_decode(const char *s, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len &&
		    (hi = hex_value(s[i + 1])) >= 0 &&
		    (lo = hex_value(s[i + 2])) >= 0) {
			strbuf_appendc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			strbuf_appendc(out, s[i]);
		}
	}
}

/* Owner and mailbox of an RFC 5092 URL made by the store:
 * imap://owner@host/Mail%20box;UIDVALIDITY=n[/;UID=u].  Either output may
 * be NULL; the mailbox is "" for a server URL. */
static bool sink_url_split(const char *url, struct strbuf *owner,
			   struct strbuf *mailbox)
{
	if (strncmp(url, "imap://", 7) != 0)
		return false;
	const char *p = url + 7;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at == NULL || slash == NULL || at > slash)
		return false;
	if (owner != NULL)
		percent_decode(p, (size_t)(at - p), owner);
	if (mailbox != NULL) {
		const char *m = slash + 1;
		size_t n = strcspn(m, ";");
		percent_decode(m, n, mailbox);
	}
	return true;
}

static bool sink_mailbox_listed(const struct sink_filter *f, const char *name)
{
	if (name[0] == '\0')
		return false;
	for (size_t i = 0; i < f->mailboxes.count; i++) {
		const char *want = f->mailboxes.items[i];
		/* INBOX is case-insensitive (RFC 3501 §5.1), and both
		 * sides are in the store's canonical form already. */
		if (strcmp(want, name) == 0)
			return true;
	}
	return false;
}

static const char *json_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s;
}

static bool sink_user_ok(const struct sink_filter *f, json_t *obj)
{
	if (f->all_users)
		return true;
	/* The owner of the mailbox concerned; for an event without one,
	 * the acting user. */
	const char *url = json_str(obj, "mailboxID");
	if (url == NULL)
		url = json_str(obj, "uri");
	bool match = false;
	if (url != NULL) {
		struct strbuf owner = STRBUF_INIT;
		if (sink_url_split(url, &owner, NULL))
			match = sink_list_has(&f->users, strbuf_str(&owner));
		strbuf_free(&owner);
		if (match)
			return true;
	}
	const char *user = json_str(obj, "user");
	return user != NULL && sink_list_has(&f->users, user);
}

static bool sink_mailbox_ok(const struct sink_filter *f, json_t *obj)
{
	if (f->all_mailboxes)
		return true;
	static const char *const keys[] = { "mailboxID", "oldMailboxID" };
	for (size_t i = 0; i < 2; i++) {
		const char *url = json_str(obj, keys[i]);
		if (url == NULL && i == 0)
			url = json_str(obj, "uri");
		if (url == NULL)
			continue;
		struct strbuf name = STRBUF_INIT;
		bool match = sink_url_split(url, NULL, &name) &&
			     sink_mailbox_listed(f, strbuf_str(&name));
		strbuf_free(&name);
		if (match)
			return true;
	}
	return false;
}

static bool sink_param_ok(const struct sink_filter *f, const char *key)
{
	if (f->all_params)
		return true;
	int p = event_param_from_name(key);
	if (p >= 0)
		return (f->params & BIT(p)) != 0;
	/* messageContent's stand-ins go where it goes (sink-content.c) */
	if (strncmp(key, "vnd.tidings.content", 19) == 0 &&
	    (f->params & BIT(EVENT_PARAM_MESSAGE_CONTENT)) != 0)
		return true;
	return sink_list_has(&f->vendor_params, key);
}

/* Writes one line: seq, event TYPE, then obj's parameters (without
 * "event", and without flagNames when DROP_FLAGS), or FLAGS in its place
 * when not NULL. */
static void sink_emit(const struct sink_filter *f, int64_t seq,
		      const char *type, json_t *obj, json_t *flags,
		      bool drop_flags, struct strbuf *out)
{
	json_t *o = json_object();
	if (o == NULL)
		abort();
	json_object_set_new(o, "seq", json_integer(seq));
	json_object_set_new(o, "event", json_string(type));
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		if (strcmp(key, "event") == 0 || strcmp(key, "seq") == 0 ||
		    strcmp(key, "tags") == 0)
			continue;
		if (!sink_param_ok(f, key))
			continue;
		if (strcmp(key, "flagNames") == 0) {
			if (drop_flags)
				continue;
			if (flags != NULL) {
				json_object_set(o, key, flags);
				continue;
			}
		}
		json_object_set(o, key, value);
	}
	if (f->tags.count > 0) {
		json_t *tags = json_array();
		for (size_t i = 0; i < f->tags.count; i++)
			json_array_append_new(tags,
					      json_string(f->tags.items[i]));
		json_object_set_new(o, "tags", tags);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		abort();
	strbuf_appends(out, s);
	strbuf_appendc(out, '\n');
	free(s);
}

int sink_filter_apply(const struct sink_filter *f, int64_t seq,
		      const char *json, struct strbuf *out)
{
	return sink_filter_apply_store(f, NULL, seq, json, out);
}

/* The common case, a sink that takes everything as it is: the line is the
 * row's own JSON with "seq" in front, byte for byte what sink_emit() would
 * write (the store writes rows compact, "event" first, in the order
 * sink_emit keeps).  Parsing and re-encoding every row was the journal's
 * hot spot (bench/events).  1 when the line was written, 0 when the row
 * needs the full filter. */
static int sink_filter_fast(const struct sink_filter *f, int64_t seq,
			    const char *json, struct strbuf *out)
{
	static const char head[] = "{\"event\":\"";
	if (!f->all_users || !f->all_mailboxes || !f->all_params ||
	    f->tags.count > 0 || f->content_max > 0 ||
	    f->types != BIT(EVENT_TYPE_COUNT) - 1)
		return 0;
	size_t len = strlen(json);
	if (len < sizeof(head) || strncmp(json, head, sizeof(head) - 1) != 0 ||
	    json[len - 1] != '}')
		return 0;
	/* FlagsSet may become MessageRead / MessageTrash (flag_mode) */
	if (f->flag_mode != SINK_FLAG_MODE_FLAGS &&
	    strncmp(json + sizeof(head) - 1, "FlagsSet\"", 9) == 0)
		return 0;
	/* keys sink_emit drops or replaces (the store writes neither) */
	if (memmem(json, len, "\"seq\":", 6) != NULL ||
	    memmem(json, len, "\"tags\":", 7) != NULL)
		return 0;
	strbuf_printf(out, "{\"seq\":%" PRId64 ",", seq);
	strbuf_append(out, json + 1, len - 1);
	strbuf_appendc(out, '\n');
	return 1;
}

int sink_filter_apply_store(const struct sink_filter *f, struct store *store,
			    int64_t seq, const char *json, struct strbuf *out)
{
	if (sink_filter_fast(f, seq, json, out))
		return 1;
	json_error_t jerr;
	json_t *obj = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL || !json_is_object(obj)) {
		json_decref(obj);
		return -1;
	}
	const char *type = json_str(obj, "event");
	if (type == NULL) {
		json_decref(obj);
		return -1;
	}
	int lines = 0;
	if (!sink_user_ok(f, obj) || !sink_mailbox_ok(f, obj))
		goto done;
	if (store != NULL)
		sink_content_add(f, store, obj);

	int t = event_type_from_name(type);
	/* A type this build does not know goes only to sinks that take
	 * every type. */
	bool all_types = f->types == BIT(EVENT_TYPE_COUNT) - 1;

	if (t == EVENT_FLAGS_SET && f->flag_mode != SINK_FLAG_MODE_FLAGS) {
		/* RFC 5423 §4.2: \Seen set is MessageRead, \Deleted set is
		 * MessageTrash; the simpler forms are the default. */
		json_t *names = json_object_get(obj, "flagNames");
		json_t *rest = json_array();
		bool seen = false, deleted = false;
		size_t i;
		json_t *v;
		json_array_foreach(names, i, v) {
			const char *n = json_string_value(v);
			if (n != NULL && strcasecmp(n, "\\Seen") == 0)
				seen = true;
			else if (n != NULL && strcasecmp(n, "\\Deleted") == 0)
				deleted = true;
			else
				json_array_append(rest, v);
		}
		if (seen && (f->types & BIT(EVENT_MESSAGE_READ))) {
			sink_emit(f, seq, "MessageRead", obj, NULL, true, out);
			lines++;
		}
		if (deleted && (f->types & BIT(EVENT_MESSAGE_TRASH))) {
			sink_emit(f, seq, "MessageTrash", obj, NULL, true, out);
			lines++;
		}
		if (f->types & BIT(EVENT_FLAGS_SET)) {
			if (f->flag_mode == SINK_FLAG_MODE_BOTH ||
			    (!seen && !deleted)) {
				sink_emit(f, seq, type, obj, NULL, false, out);
				lines++;
			} else if (json_array_size(rest) > 0) {
				sink_emit(f, seq, type, obj, rest, false, out);
				lines++;
			}
		}
		json_decref(rest);
		goto done;
	}
	if (t >= 0 ? (f->types & BIT(t)) != 0 : all_types) {
		sink_emit(f, seq, type, obj, NULL, false, out);
		lines++;
	}
done:
	json_decref(obj);
	return lines;
}

/* ---- the runner ---- */

struct sink_runner {
	struct sink_manager *manager;
	struct sink_config cfg;
	struct sink_backend *backend;
	struct store *store;
	pthread_t thread;
	bool started;
	int64_t cursor;
	/* read while collecting a batch */
	struct strbuf batch;
	int64_t batch_last;
	size_t batch_rows;
};

struct sink_manager {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t wakeups;

	char *data_dir;
	struct store_options store_opts;
	struct sink_runner *runners;
	size_t count;
};

/* Waits up to MS milliseconds for a notify or stop.  Returns true when
 * the manager is stopping. */
static bool sink_wait(struct sink_manager *m, unsigned int ms,
		      uint64_t *seen_wakeups)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	while (!m->stop && (seen_wakeups == NULL ||
			    m->wakeups == *seen_wakeups)) {
		if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (seen_wakeups != NULL)
		*seen_wakeups = m->wakeups;
	bool stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

static bool sink_stopping(struct sink_manager *m)
{
	pthread_mutex_lock(&m->lock);
	bool stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

static unsigned int sink_backoff_next(unsigned int ms)
{
	if (ms == 0)
		return SINK_BACKOFF_MIN_MS;
	return ms >= SINK_BACKOFF_MAX_MS / 2 ? SINK_BACKOFF_MAX_MS : ms * 2;
}

static void sink_collect(const struct store_outbox_event *ev, void *ctx)
{
	struct sink_runner *r = ctx;
	if (sink_filter_apply_store(&r->cfg.filter, r->store, ev->seq,
				    ev->json, &r->batch) < 0)
		log_error("sink %s: outbox event %" PRId64 " (%s) is not "
			  "valid JSON; skipped", r->cfg.name, ev->seq,
			  ev->type);
	r->batch_last = ev->seq;
	r->batch_rows++;
}

/* A replay requested by `tidings events replay` (see SINK_REPLAY_PREFIX):
 * moves the cursor back and clears the request.  true when one was taken.
 * The far end gets those events again: at least once, and a consumer
 * dedups by (seq, event) (docs/events.md "Replay"). */
static bool sink_runner_take_replay(struct sink_runner *r)
{
	char key[128];
	struct store_error err;
	memset(&err, 0, sizeof(err));
	snprintf(key, sizeof(key), SINK_REPLAY_PREFIX "%s", r->cfg.name);
	int64_t from = 0;
	if (store_sink_cursor_get(r->store, key, &from, &err) < 0 || from <= 0)
		return false;
	log_info("sink %s: replay from event %" PRId64 " (cursor was %" PRId64
		 ")", r->cfg.name, from, r->cursor);
	r->cursor = from - 1;
	/* The cursor first: a crash before the request is cleared only
	 * replays again. */
	if (store_sink_cursor_set(r->store, r->cfg.name, r->cursor, &err) < 0 ||
	    store_sink_cursor_set(r->store, key, 0, &err) < 0)
		log_warn("sink %s: saving the replayed cursor: %s",
			 r->cfg.name, err.msg);
	return true;
}

/* Opens what the sink needs, retrying until it works or we stop.
 * false when stopping. */
static bool sink_runner_setup(struct sink_runner *r)
{
	struct sink_manager *m = r->manager;
	unsigned int backoff = 0;
	for (;;) {
		struct store_error err;
		memset(&err, 0, sizeof(err));
		const char *what = NULL;
		if (r->store == NULL &&
		    store_open(m->data_dir, &m->store_opts, &r->store,
			       &err) < 0) {
			r->store = NULL;
			what = "opening the store";
		} else if (store_sink_cursor_get(r->store, r->cfg.name,
						 &r->cursor, &err) < 0) {
			what = "reading its cursor";
		} else if (r->backend->ops->open(r->backend) < 0) {
			what = "reaching its far end";
			err.msg[0] = '\0';
		} else {
			break;
		}
		backoff = sink_backoff_next(backoff);
		log_error("sink %s: %s failed%s%s; retrying in %u ms",
			  r->cfg.name, what, err.msg[0] ? ": " : "", err.msg,
			  backoff);
		if (sink_wait(m, backoff, NULL))
			return false;
	}
	/* A batch written whose cursor update was lost (a crash between
	 * the two) is not written again, unless a replay asks for exactly
	 * that. */
	bool replay = sink_runner_take_replay(r);
	int64_t held = r->backend->ops->last_seq(r->backend);
	if (!replay && held > r->cursor) {
		struct store_error err;
		memset(&err, 0, sizeof(err));
		log_info("sink %s: far end already holds events up to %" PRId64
			 "; cursor moved from %" PRId64, r->cfg.name, held,
			 r->cursor);
		r->cursor = held;
		if (store_sink_cursor_set(r->store, r->cfg.name, r->cursor,
					  &err) < 0)
			log_warn("sink %s: saving its cursor: %s", r->cfg.name,
				 err.msg);
	}
	int64_t last = 0;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_outbox_last_seq(r->store, &last, &err) == 0)
		log_info("sink %s: started at cursor %" PRId64 ", lag %" PRId64
			 " events", r->cfg.name, r->cursor,
			 last > r->cursor ? last - r->cursor : 0);
	return true;
}

static void *sink_runner_main(void *arg)
{
	struct sink_runner *r = arg;
	struct sink_manager *m = r->manager;
	if (!sink_runner_setup(r))
		return NULL;

	unsigned int backoff = 0;
	uint64_t wakeups = 0;
	int64_t version = -1;
	bool cursor_dirty = false;
	while (!sink_stopping(m)) {
		struct store_error err;
		memset(&err, 0, sizeof(err));
		if (sink_runner_take_replay(r))
			cursor_dirty = false;
		strbuf_reset(&r->batch);
		r->batch_rows = 0;
		r->batch_last = r->cursor;
		int64_t v_before = 0;
		store_data_version(r->store, &v_before);
		if (store_outbox_read(r->store, r->cursor, SINK_BATCH,
				      sink_collect, r, &err) < 0) {
			backoff = sink_backoff_next(backoff);
			log_error("sink %s: reading the outbox: %s; retrying "
				  "in %u ms", r->cfg.name, err.msg, backoff);
			sink_wait(m, backoff, NULL);
			continue;
		}
		size_t read_on = r->cfg.type == SINK_TYPE_JOURNAL ?
				 SINK_JOURNAL_BATCH_ROWS :
				 r->cfg.type == SINK_TYPE_NATS ?
				 SINK_NATS_BATCH_ROWS : SINK_BATCH;
		while (r->batch_rows > 0 &&
		       r->batch_rows % SINK_BATCH == 0 &&
		       r->batch_rows < read_on &&
		       r->batch.len < SINK_JOURNAL_BATCH_BYTES) {
			size_t before = r->batch_rows;
			/* an error here only ends the batch early: the next
			 * round reads again after what was delivered */
			if (store_outbox_read(r->store, r->batch_last,
					      SINK_BATCH, sink_collect, r,
					      &err) < 0 ||
			    r->batch_rows == before)
				break;
		}
		if (r->batch_rows == 0) {
			if (cursor_dirty &&
			    store_sink_cursor_set(r->store, r->cfg.name,
						  r->cursor, &err) == 0)
				cursor_dirty = false;
			/* Nothing new: sleep until another connection
			 * commits (data_version moves) or a notify. */
			version = v_before;
			for (;;) {
				if (sink_wait(m, SINK_POLL_MS, &wakeups))
					break;
				int64_t v = 0;
				if (store_data_version(r->store, &v) < 0 ||
				    v != version)
					break;
				pthread_mutex_lock(&m->lock);
				bool woken = m->wakeups != wakeups;
				pthread_mutex_unlock(&m->lock);
				if (woken)
					break;
			}
			continue;
		}
		if (r->batch.len > 0 &&
		    r->backend->ops->deliver(r->backend, r->batch.s,
					     r->batch.len, r->batch_last) < 0) {
			backoff = sink_backoff_next(backoff);
			log_error("sink %s: delivering events %" PRId64
				  "..%" PRId64 " failed; retrying in %u ms",
				  r->cfg.name, r->cursor + 1, r->batch_last,
				  backoff);
			sink_wait(m, backoff, NULL);
			continue;
		}
		if (backoff != 0)
			log_info("sink %s: delivering again", r->cfg.name);
		backoff = 0;
		r->cursor = r->batch_last;
		/* The far end has it: only now does the cursor move. */
		if (store_sink_cursor_set(r->store, r->cfg.name, r->cursor,
					  &err) < 0) {
			log_warn("sink %s: saving its cursor at %" PRId64
				 ": %s", r->cfg.name, r->cursor, err.msg);
			cursor_dirty = true;
		} else {
			cursor_dirty = false;
		}
	}
	if (cursor_dirty) {
		struct store_error err;
		memset(&err, 0, sizeof(err));
		store_sink_cursor_set(r->store, r->cfg.name, r->cursor, &err);
	}
	return NULL;
}

int sink_manager_create(const struct config *cfg,
			const struct store_options *store_opts,
			struct sink_manager **manager_r, char *err,
			size_t err_size)
{
	*manager_r = NULL;
	if (sink_config_check_all(cfg, err, err_size) < 0)
		return -1;
	struct sink_manager *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &attr);
	pthread_condattr_destroy(&attr);
	m->data_dir = xstrdup(cfg->data_dir);
	m->store_opts = *store_opts;
	m->count = cfg->sink_count;
	m->runners = xcalloc(m->count ? m->count : 1, sizeof(*m->runners));
	for (size_t i = 0; i < m->count; i++) {
		struct sink_runner *r = &m->runners[i];
		r->manager = m;
		/* checked above */
		if (sink_config_parse(cfg, &cfg->sinks[i], &r->cfg, err,
				      err_size) < 0)
			abort();
		for (size_t t = 0;
		     t < sizeof(sink_types) / sizeof(sink_types[0]); t++) {
			if (sink_types[t]->type == r->cfg.type)
				r->backend = sink_types[t]->create(&r->cfg);
		}
		r->backend->name = r->cfg.name;
		r->backend->manager = m;
	}
	*manager_r = m;
	return 0;
}

int sink_manager_start(struct sink_manager *m)
{
	for (size_t i = 0; i < m->count; i++) {
		struct sink_runner *r = &m->runners[i];
		int rc = pthread_create(&r->thread, NULL, sink_runner_main, r);
		if (rc != 0) {
			log_error("sink %s: cannot start its thread: %s",
				  r->cfg.name, strerror(rc));
			return -1;
		}
		r->started = true;
	}
	return 0;
}

void sink_manager_notify(struct sink_manager *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->wakeups++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

bool sink_manager_stopping(struct sink_manager *m)
{
	/* a backend run outside a manager never stops early */
	return m != NULL && sink_stopping(m);
}

void sink_manager_destroy(struct sink_manager **mp)
{
	struct sink_manager *m = *mp;
	if (m == NULL)
		return;
	*mp = NULL;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < m->count; i++) {
		struct sink_runner *r = &m->runners[i];
		if (r->started)
			pthread_join(r->thread, NULL);
		if (r->backend != NULL)
			r->backend->ops->destroy(r->backend);
		r->backend = NULL;
		if (r->store != NULL)
			store_close(&r->store);
		strbuf_free(&r->batch);
		sink_config_free(&r->cfg);
	}
	free(m->runners);
	free(m->data_dir);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
