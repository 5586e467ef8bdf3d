/* What every backend puts into the RFC 5423 events it writes: the common
 * parameters (§5), RFC 5092 IMAP URLs and UID sets. */
#include "store/store-private.h"

#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "mime/mime.h"

struct event_builder *store_event_new(enum event_type type,
				      const char *timestamp)
{
	struct event_builder *eb = event_builder_create(type);
	event_builder_set_str(eb, EVENT_PARAM_TIMESTAMP, timestamp);
	return eb;
}

void store_event_finish(struct store *store, struct event_builder *eb,
			const struct store_actor *actor)
{
	if (actor != NULL) {
		if (actor->service != NULL)
			event_builder_set_str(eb, EVENT_PARAM_SERVICE,
					      actor->service);
		if (actor->user != NULL)
			event_builder_set_str(eb, EVENT_PARAM_USER,
					      actor->user);
		/* RFC 5423 §5 "admin": "not included when it is the same
		 * as the value of the user parameter" */
		if (actor->admin != NULL &&
		    (actor->user == NULL || strcmp(actor->admin,
						   actor->user) != 0))
			event_builder_set_str(eb, EVENT_PARAM_ADMIN,
					      actor->admin);
		if (actor->client_ip != NULL)
			event_builder_set_str(eb, EVENT_PARAM_CLIENT_IP,
					      actor->client_ip);
		if (actor->client_port > 0)
			event_builder_set_int(eb, EVENT_PARAM_CLIENT_PORT,
					      actor->client_port);
		if (actor->server_port > 0)
			event_builder_set_int(eb, EVENT_PARAM_SERVER_PORT,
					      actor->server_port);
		/* RFC 5423 §5 serverDomain, "the domain name or IP address
		 * used to access the server or mailbox", with every event
		 * of a connection (as serverPort): the name clients are
		 * given (server_name: the host of our IMAP URLs and of the
		 * TLS certificate).  MessageNew sets the recipient's
		 * domain itself. */
		if (actor->server_port > 0 &&
		    event_builder_type(eb) != EVENT_MESSAGE_NEW)
			event_builder_set_str(eb, EVENT_PARAM_SERVER_DOMAIN,
					      store->server_fqdn);
	}
	event_builder_set_str(eb, EVENT_PARAM_SERVER_FQDN, store->server_fqdn);
	event_builder_set_int(eb, EVENT_PARAM_PID, (int64_t)getpid());
	event_builder_set_str(eb, EVENT_PARAM_PROCESS, store->process);
}

static const char hex_digits[] = "0123456789ABCDEF";

/* RFC 5092 §11 and RFC 3986 §2.1: everything outside the allowed set is
 * percent-encoded, byte by byte of its UTF-8 form. */
static void url_append_encoded(struct strbuf *out, const char *s,
			       const char *extra_allowed)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("-._~", c) != NULL ||
			  strchr(extra_allowed, c) != NULL;
		if (ok) {
			strbuf_appendc(out, (char)c);
		} else {
			strbuf_appendc(out, '%');
			strbuf_appendc(out, hex_digits[c >> 4]);
			strbuf_appendc(out, hex_digits[c & 15]);
		}
	}
}

/* achar = unreserved / sub-delims-sh / pct-encoded / "&" / "=" */
#define URL_ACHAR_EXTRA "!$'()*+,&="
/* bchar = achar / ":" / "@" / "/" */
#define URL_BCHAR_EXTRA URL_ACHAR_EXTRA ":@/"

void store_url_server(struct strbuf *out, const struct store *store,
		      const char *owner)
{
	strbuf_appends(out, "imap://");
	if (owner != NULL && *owner != '\0') {
		url_append_encoded(out, owner, URL_ACHAR_EXTRA);
		strbuf_appendc(out, '@');
	}
	/* host: a reg-name or an IP literal; keep its brackets and colons */
	url_append_encoded(out, store->server_fqdn, "[]:");
	strbuf_appendc(out, '/');
}

void store_url_mailbox(struct strbuf *out, const struct store *store,
		       const char *owner, const char *mailbox,
		       uint32_t uidvalidity)
{
	store_url_server(out, store, owner);
	url_append_encoded(out, mailbox, URL_BCHAR_EXTRA);
	if (uidvalidity != 0)
		strbuf_printf(out, ";UIDVALIDITY=%u", uidvalidity);
}

void store_url_message(struct strbuf *out, const struct store *store,
		       const char *owner, const char *mailbox,
		       uint32_t uidvalidity, uint32_t uid)
{
	store_url_mailbox(out, store, owner, mailbox, uidvalidity);
	strbuf_printf(out, "/;UID=%u", uid);
}

void store_uidset_format(struct strbuf *out, const uint32_t *uids,
			 size_t count)
{
	size_t i = 0;
	while (i < count) {
		size_t j = i;
		while (j + 1 < count && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			strbuf_appendc(out, ',');
		if (j == i)
			strbuf_printf(out, "%u", uids[i]);
		else
			strbuf_printf(out, "%u:%u", uids[i], uids[j]);
		i = j + 1;
	}
}

void store_event_add_flags(struct event_builder *eb, uint32_t flags,
			   const struct store_keywords *keywords)
{
	for (uint32_t bit = 1; bit <= STORE_FLAG_DRAFT; bit <<= 1) {
		if (flags & bit)
			event_builder_add_flag(eb, store_flag_name(bit));
	}
	if (keywords != NULL) {
		for (size_t i = 0; i < keywords->count; i++)
			event_builder_add_flag(eb, keywords->names[i]);
	}
}

void store_event_add_body_structure(struct event_builder *eb,
				    const char *header, const char *data,
				    size_t len)
{
	/* LMTP's trace header goes in front of the message as stored, so
	 * the structure is that of what FETCH returns. */
	struct strbuf whole = STRBUF_INIT;
	if (header != NULL && header[0] != '\0') {
		strbuf_appends(&whole, header);
		strbuf_append(&whole, data, len);
		data = whole.s;
		len = whole.len;
	}
	struct mime_message *msg = mime_parse(data != NULL ? data : "", len);
	if (msg != NULL) {
		struct strbuf out = STRBUF_INIT;
		mime_bodystructure_write(msg, &msg->root, true, &out);
		event_builder_set_str(eb, EVENT_PARAM_BODY_STRUCTURE,
				      strbuf_str(&out));
		strbuf_free(&out);
		mime_message_free(&msg);
	}
	strbuf_free(&whole);
}
