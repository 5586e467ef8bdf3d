#include "events/event-types.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"

/* RFC 5423 §4, in the order of enum event_type. */
static const char *const event_type_names[EVENT_TYPE_COUNT] = {
	[EVENT_MESSAGE_APPEND] = "MessageAppend",
	[EVENT_MESSAGE_EXPIRE] = "MessageExpire",
	[EVENT_MESSAGE_EXPUNGE] = "MessageExpunge",
	[EVENT_MESSAGE_NEW] = "MessageNew",
	[EVENT_QUOTA_EXCEED] = "QuotaExceed",
	[EVENT_QUOTA_WITHIN] = "QuotaWithin",
	[EVENT_QUOTA_CHANGE] = "QuotaChange",
	[EVENT_MESSAGE_READ] = "MessageRead",
	[EVENT_MESSAGE_TRASH] = "MessageTrash",
	[EVENT_FLAGS_SET] = "FlagsSet",
	[EVENT_FLAGS_CLEAR] = "FlagsClear",
	[EVENT_LOGIN] = "Login",
	[EVENT_LOGOUT] = "Logout",
	[EVENT_MAILBOX_CREATE] = "MailboxCreate",
	[EVENT_MAILBOX_DELETE] = "MailboxDelete",
	[EVENT_MAILBOX_RENAME] = "MailboxRename",
	[EVENT_MAILBOX_SUBSCRIBE] = "MailboxSubscribe",
	/* sic: RFC 5423 §4.4 capitalises the S */
	[EVENT_MAILBOX_UNSUBSCRIBE] = "MailboxUnSubscribe",
	[EVENT_ACL_CHANGE] = "vnd.tidings.AclChange",
	[EVENT_MAILBOX_METADATA_CHANGE] = "vnd.tidings.MailboxMetadataChange",
	[EVENT_SERVER_METADATA_CHANGE] = "vnd.tidings.ServerMetadataChange",
	[EVENT_ANNOTATION_CHANGE] = "vnd.tidings.AnnotationChange",
};

/* RFC 5423 §5, in the order of enum event_param. */
static const char *const event_param_names[EVENT_PARAM_COUNT] = {
	[EVENT_PARAM_ADMIN] = "admin",
	[EVENT_PARAM_BODY_STRUCTURE] = "bodyStructure",
	[EVENT_PARAM_CLIENT_IP] = "clientIP",
	[EVENT_PARAM_CLIENT_PORT] = "clientPort",
	[EVENT_PARAM_DISK_QUOTA] = "diskQuota",
	[EVENT_PARAM_DISK_USED] = "diskUsed",
	[EVENT_PARAM_ENVELOPE] = "envelope",
	[EVENT_PARAM_FLAG_NAMES] = "flagNames",
	[EVENT_PARAM_MAILBOX_ID] = "mailboxID",
	[EVENT_PARAM_MAX_MESSAGES] = "maxMessages",
	[EVENT_PARAM_MESSAGE_CONTENT] = "messageContent",
	[EVENT_PARAM_MESSAGE_SIZE] = "messageSize",
	[EVENT_PARAM_MESSAGES] = "messages",
	[EVENT_PARAM_MODSEQ] = "modseq",
	[EVENT_PARAM_OLD_MAILBOX_ID] = "oldMailboxID",
	[EVENT_PARAM_PID] = "pid",
	[EVENT_PARAM_PROCESS] = "process",
	[EVENT_PARAM_SERVER_DOMAIN] = "serverDomain",
	[EVENT_PARAM_SERVER_PORT] = "serverPort",
	[EVENT_PARAM_SERVER_FQDN] = "serverFQDN",
	[EVENT_PARAM_SERVICE] = "service",
	[EVENT_PARAM_TAGS] = "tags",
	[EVENT_PARAM_TIMESTAMP] = "timestamp",
	[EVENT_PARAM_UIDNEXT] = "uidnext",
	[EVENT_PARAM_UIDSET] = "uidset",
	[EVENT_PARAM_URI] = "uri",
	[EVENT_PARAM_USER] = "user",
};

/* RFC 5423 §6: private parameters start with "vnd."; ours share one prefix. */
#define EVENT_VENDOR_PREFIX "vnd.tidings."

const char *event_type_name(enum event_type type)
{
	if ((unsigned int)type >= EVENT_TYPE_COUNT)
		return "unknown";
	return event_type_names[type];
}

int event_type_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < EVENT_TYPE_COUNT; i++) {
		if (strcmp(name, event_type_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *event_param_name(enum event_param param)
{
	if ((unsigned int)param >= EVENT_PARAM_COUNT)
		return "unknown";
	return event_param_names[param];
}

int event_param_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < EVENT_PARAM_COUNT; i++) {
		if (strcmp(name, event_param_names[i]) == 0)
			return i;
	}
	return -1;
}

struct event_builder {
	enum event_type type;
	/* "event" is set first at creation, so it stays the first key:
	 * jansson keeps keys in insertion order, and replacing a value keeps
	 * the key where it was. */
	json_t *obj;
};

struct event_builder *event_builder_create(enum event_type type)
{
	struct event_builder *eb = xcalloc(1, sizeof(*eb));
	eb->type = type;
	eb->obj = json_object();
	if (eb->obj == NULL)
		abort();
	json_object_set_new(eb->obj, "event",
			    json_string(event_type_name(type)));
	return eb;
}

void event_builder_destroy(struct event_builder **ebp)
{
	struct event_builder *eb = *ebp;
	if (eb == NULL)
		return;
	*ebp = NULL;
	json_decref(eb->obj);
	free(eb);
}

enum event_type event_builder_type(const struct event_builder *eb)
{
	return eb->type;
}

static json_t *event_json_string(const char *value)
{
	/* jansson refuses invalid UTF-8; an event must never be lost over a
	 * bad byte, so fall back to a copy with such bytes replaced. */
	json_t *j = json_string(value != NULL ? value : "");
	if (j != NULL)
		return j;
	size_t len = strlen(value);
	char *copy = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		copy[i] = c < 0x80 ? (char)c : '?';
	}
	copy[len] = '\0';
	j = json_string(copy);
	free(copy);
	if (j == NULL)
		abort();
	return j;
}

static void event_builder_set(struct event_builder *eb, const char *key,
			      json_t *value)
{
	if (value == NULL || json_object_set_new(eb->obj, key, value) < 0)
		abort();
}

void event_builder_set_str(struct event_builder *eb, enum event_param param,
			   const char *value)
{
	if ((unsigned int)param >= EVENT_PARAM_COUNT)
		return;
	event_builder_set(eb, event_param_names[param],
			  event_json_string(value));
}

void event_builder_set_int(struct event_builder *eb, enum event_param param,
			   int64_t value)
{
	if ((unsigned int)param >= EVENT_PARAM_COUNT)
		return;
	event_builder_set(eb, event_param_names[param],
			  json_integer((json_int_t)value));
}

void event_builder_add_flag(struct event_builder *eb, const char *flag)
{
	const char *key = event_param_names[EVENT_PARAM_FLAG_NAMES];
	json_t *arr = json_object_get(eb->obj, key);
	if (arr == NULL || !json_is_array(arr)) {
		arr = json_array();
		event_builder_set(eb, key, arr);
	}
	/* RFC 5423 §5: "The \Recent flag is explicitly not permitted". */
	if (flag == NULL || strcasecmp(flag, "\\Recent") == 0)
		return;
	if (json_array_append_new(arr, event_json_string(flag)) < 0)
		abort();
}

static void event_builder_set_vendor(struct event_builder *eb,
				     const char *name, json_t *value)
{
	if (name == NULL || *name == '\0') {
		json_decref(value);
		return;
	}
	struct strbuf key = STRBUF_INIT;
	strbuf_appends(&key, EVENT_VENDOR_PREFIX);
	strbuf_appends(&key, name);
	event_builder_set(eb, key.s, value);
	strbuf_free(&key);
}

void event_builder_set_vendor_str(struct event_builder *eb, const char *name,
				  const char *value)
{
	event_builder_set_vendor(eb, name, event_json_string(value));
}

void event_builder_set_vendor_int(struct event_builder *eb, const char *name,
				  int64_t value)
{
	event_builder_set_vendor(eb, name, json_integer((json_int_t)value));
}

void event_builder_set_vendor_bool(struct event_builder *eb, const char *name,
				   bool value)
{
	event_builder_set_vendor(eb, name, json_boolean(value));
}

char *event_builder_json(const struct event_builder *eb)
{
	char *s = json_dumps(eb->obj, JSON_PRESERVE_ORDER | JSON_COMPACT);
	if (s == NULL)
		abort();
	/* jansson allocates with malloc by default; hand back our own copy
	 * so the caller's free() is right whatever allocator jansson uses. */
	char *copy = xstrdup(s);
	free(s);
	return copy;
}

void event_timestamp_now(char *buf, unsigned int size)
{
	if (buf == NULL || size == 0)
		return;
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_t sec = ts.tv_sec;
	if (localtime_r(&sec, &tm) == NULL) {
		snprintf(buf, size, "1970-01-01T00:00:00.000+00:00");
		return;
	}
	/* RFC 5423 §5 "timestamp": local time with its offset, RFC 3339 */
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%c%02ld:%02ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, sign,
		 (off / 60) % 100, off % 60);
}
