/* messageContent (RFC 5423 §5) for the sinks.
 *
 * The outbox never holds message bodies (they would double the store's
 * size): a sink thread loads the message through its own store handle
 * while it formats the event, so the content is the message as it is when
 * the sink runs (bodies are immutable, so that is the message as it was
 * appended, unless it has been expunged since: then nothing is added).
 *
 * RFC 5423 has no parameter for "the content is elsewhere", so a message
 * bigger than the sink's content_max leaves messageContent out and gets
 * vnd.tidings.contentURL (RFC 5423 §6): an RFC 4467 URLAUTH URL that
 * URLFETCH resolves to exactly the message.  A consumer that knows only
 * RFC names never mistakes a URL for message text.  For the same reason a
 * message that is not valid UTF-8 (JSON strings are Unicode) leaves
 * messageContent out and is sent base64-encoded as
 * vnd.tidings.contentBase64. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "events/sink.h"
#include "imap/imap-url.h"
#include "lib/log.h"
#include "lib/xalloc.h"

int sink_content_access_parse(const char *value, struct sink_filter *f)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;
	if (strcmp(value, "owner") == 0) {
		/* "" = user+<the mailbox owner>, filled per event */
	} else if (strcmp(value, "authuser") == 0) {
		strbuf_appends(&sb, "authuser");
	} else if (strncmp(value, "user+", 5) == 0 && value[5] != '\0' &&
		   strlen(value + 5) <= 255) {
		strbuf_appends(&sb, "user+");
		imap_url_append_encoded(&sb, value + 5, false);
	} else {
		ret = -1;
	}
	if (ret == 0) {
		if (sb.len >= sizeof(f->content_access))
			ret = -1;
		else
			memcpy(f->content_access, strbuf_str(&sb), sb.len + 1);
	}
	strbuf_free(&sb);
	return ret;
}

/* The URLAUTH URL of the message at uri (RFC 4467 §5): the event's own
 * message URL with ";URLAUTH=<access>", then ":INTERNAL:<token>" keyed
 * with the owner's access key for the mailbox. */
static bool sink_content_url(const struct sink_filter *f, struct store *store,
			     const char *uri, const struct imap_url *u,
			     int64_t user_id, int64_t mailbox_id,
			     struct strbuf *out)
{
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_urlauth_key_get(store, user_id, mailbox_id, true, key,
				  &err) < 0) {
		log_warn("sink: no URLAUTH key for %s: %s", uri, err.msg);
		return false;
	}
	strbuf_appends(out, uri);
	strbuf_appends(out, ";URLAUTH=");
	if (f->content_access[0] != '\0') {
		strbuf_appends(out, f->content_access);
	} else {
		strbuf_appends(out, "user+");
		imap_url_append_encoded(out, u->user, false);
	}
	size_t rump_len = out->len;
	strbuf_appends(out, ":INTERNAL:");
	imap_urlauth_token(key, sizeof(key), out->s, rump_len, out);
	OPENSSL_cleanse(key, sizeof(key));
	return true;
}

void sink_content_add(const struct sink_filter *f, struct store *store,
		      json_t *obj)
{
	if (f->content_max == 0 ||
	    (!f->all_params &&
	     (f->params & (1u << EVENT_PARAM_MESSAGE_CONTENT)) == 0))
		return;
	const char *type = json_string_value(json_object_get(obj, "event"));
	if (type == NULL || (strcmp(type, "MessageAppend") != 0 &&
			     strcmp(type, "MessageNew") != 0))
		return;
	/* no loading for an event this sink does not send */
	int t = event_type_from_name(type);
	if (t < 0 || (f->types & (1u << t)) == 0)
		return;
	/* uri names the message only when the event is about one (a COPY
	 * of several names the mailbox: no content then) */
	const char *uri = json_string_value(json_object_get(obj, "uri"));
	if (uri == NULL)
		return;
	struct imap_url u;
	const char *error = NULL;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	struct store_message_list list = { NULL, 0 };
	struct strbuf sb = STRBUF_INIT;
	if (imap_url_parse(uri, strlen(uri), &u, &error) < 0 ||
	    u.user == NULL || u.mailbox == NULL || u.uid == 0)
		goto out;
	struct store_user owner;
	struct store_mailbox mb;
	if (store_user_lookup(store, u.user, &owner, &err) < 0 ||
	    store_mailbox_get(store, owner.id, u.mailbox, &mb, &err) < 0 ||
	    mb.uidvalidity != u.uidvalidity ||
	    store_message_range(store, mb.id, u.uid, u.uid, &list, &err) < 0 ||
	    list.count != 1)
		goto out;       /* gone since: no content (docs/events.md) */
	if (list.msgs[0].size > f->content_max) {
		if (sink_content_url(f, store, uri, &u, owner.id, mb.id, &sb))
			json_object_set_new(obj, "vnd.tidings.contentURL",
					    json_stringn(sb.s, sb.len));
		goto out;
	}
	struct store_body body;
	if (store_body_open(store, list.msgs[0].body_id, &body, &err) < 0)
		goto out;
	/* json_stringn refuses what is not valid UTF-8 */
	json_t *text = json_stringn(body.data, body.len);
	if (text != NULL) {
		json_object_set_new(obj, "messageContent", text);
	} else if (body.len <= (size_t)INT32_MAX / 4 * 3) {
		strbuf_grow(&sb, (body.len + 2) / 3 * 4 + 1);
		int n = EVP_EncodeBlock((unsigned char *)sb.s,
					(const unsigned char *)body.data,
					(int)body.len);
		json_object_set_new(obj, "vnd.tidings.contentBase64",
				    json_stringn(sb.s, (size_t)n));
	}
	store_body_close(&body);
out:
	store_message_list_free(&list);
	strbuf_free(&sb);
	imap_url_free(&u);
}
