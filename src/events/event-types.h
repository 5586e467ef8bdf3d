/* The RFC 5423 vocabulary: event types (§4) and parameters (§5) with their
 * RFC spellings, and a small builder for one event's JSON object.
 *
 * This module knows nothing of storage or sessions; the store uses the
 * builder to write outbox rows, and sinks and sessions read them back. */
#ifndef TIDINGS_EVENT_TYPES_H
#define TIDINGS_EVENT_TYPES_H

#include <stdbool.h>
#include <stdint.h>

enum event_type {
	EVENT_MESSAGE_APPEND,
	EVENT_MESSAGE_EXPIRE,
	EVENT_MESSAGE_EXPUNGE,
	EVENT_MESSAGE_NEW,
	EVENT_QUOTA_EXCEED,
	EVENT_QUOTA_WITHIN,
	EVENT_QUOTA_CHANGE,
	EVENT_MESSAGE_READ,
	EVENT_MESSAGE_TRASH,
	EVENT_FLAGS_SET,
	EVENT_FLAGS_CLEAR,
	EVENT_LOGIN,
	EVENT_LOGOUT,
	EVENT_MAILBOX_CREATE,
	EVENT_MAILBOX_DELETE,
	EVENT_MAILBOX_RENAME,
	EVENT_MAILBOX_SUBSCRIBE,
	EVENT_MAILBOX_UNSUBSCRIBE,
	/* Vendor types (RFC 5423 §6), named "vnd.tidings.*". */
	EVENT_ACL_CHANGE,        /* SETACL / DELETEACL (RFC 4314) */
	/* SETMETADATA (RFC 5464) on a mailbox's / the server's entries:
	 * for NOTIFY's MailboxMetadataChange / ServerMetadataChange */
	EVENT_MAILBOX_METADATA_CHANGE,
	EVENT_SERVER_METADATA_CHANGE,
	/* STORE / APPEND ANNOTATION (RFC 5257) on one message: for NOTIFY's
	 * AnnotationChange (RFC 5465 §5.4) */
	EVENT_ANNOTATION_CHANGE,
	EVENT_TYPE_COUNT
};

enum event_param {
	EVENT_PARAM_ADMIN,
	EVENT_PARAM_BODY_STRUCTURE,
	EVENT_PARAM_CLIENT_IP,
	EVENT_PARAM_CLIENT_PORT,
	EVENT_PARAM_DISK_QUOTA,
	EVENT_PARAM_DISK_USED,
	EVENT_PARAM_ENVELOPE,
	EVENT_PARAM_FLAG_NAMES,
	EVENT_PARAM_MAILBOX_ID,
	EVENT_PARAM_MAX_MESSAGES,
	EVENT_PARAM_MESSAGE_CONTENT,
	EVENT_PARAM_MESSAGE_SIZE,
	EVENT_PARAM_MESSAGES,
	EVENT_PARAM_MODSEQ,
	EVENT_PARAM_OLD_MAILBOX_ID,
	EVENT_PARAM_PID,
	EVENT_PARAM_PROCESS,
	EVENT_PARAM_SERVER_DOMAIN,
	EVENT_PARAM_SERVER_PORT,
	EVENT_PARAM_SERVER_FQDN,
	EVENT_PARAM_SERVICE,
	EVENT_PARAM_TAGS,
	EVENT_PARAM_TIMESTAMP,
	EVENT_PARAM_UIDNEXT,
	EVENT_PARAM_UIDSET,
	EVENT_PARAM_URI,
	EVENT_PARAM_USER,
	EVENT_PARAM_COUNT
};

/* "MessageAppend" etc., exactly as RFC 5423 §4 spells them. */
const char *event_type_name(enum event_type type);
/* Case-sensitive lookup of an RFC name; -1 when unknown. */
int event_type_from_name(const char *name);
/* "mailboxID" etc., exactly as RFC 5423 §5 spells them. */
const char *event_param_name(enum event_param param);
int event_param_from_name(const char *name);

/* One event under construction.  Parameters keep the order they were set
 * in; setting one twice replaces it.  The builder owns its memory. */
struct event_builder;

struct event_builder *event_builder_create(enum event_type type);
void event_builder_destroy(struct event_builder **eb);
enum event_type event_builder_type(const struct event_builder *eb);
void event_builder_set_str(struct event_builder *eb, enum event_param param,
			   const char *value);
void event_builder_set_int(struct event_builder *eb, enum event_param param,
			   int64_t value);
/* flagNames: a JSON array of strings. */
void event_builder_add_flag(struct event_builder *eb, const char *flag);
/* A vendor parameter (RFC 5423 §6), name without the "vnd.tidings." prefix. */
void event_builder_set_vendor_str(struct event_builder *eb, const char *name,
				  const char *value);
void event_builder_set_vendor_int(struct event_builder *eb, const char *name,
				  int64_t value);
void event_builder_set_vendor_bool(struct event_builder *eb, const char *name,
				   bool value);
/* The event as one JSON object (compact, keys in insertion order), with
 * "event" first.  Returns a malloc'd string. */
char *event_builder_json(const struct event_builder *eb);

/* RFC 3339 timestamp with the local offset and milliseconds, e.g.
 * "2026-11-23T10:55:03.123+01:00", into buf (at least 40 bytes). */
void event_timestamp_now(char *buf, unsigned int size);

#endif
