/* The nats sink: every event line is published to NATS JetStream through
 * nats.c with an asynchronous publish, and a batch counts as delivered only
 * once JetStream has acknowledged every message of it (stored in the
 * stream).  docs/events.md "NATS sink" is the consumer's view.
 *
 * Redelivery (a batch retried after a time-out, a restart between the acks
 * and the cursor update) is made harmless by the Nats-Msg-Id header: one
 * id per line, "SINK:SEQ:EVENT".  In flag_mode simple one outbox row can
 * give several lines with the same seq (MessageRead, MessageTrash and a
 * FlagsSet), but never two with the same event name, so the id tells
 * distinct events apart and JetStream's de-duplication drops only true
 * repeats. */
#include "events/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nats/nats.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define NATS_SUBJECT_MAX 255     /* the template, as configured */
#define NATS_TOKEN_MAX 128       /* one <user> / <mailbox> in a subject */
#define NATS_STREAM_NAME_MAX 64
/* How long a batch waits for all its acks, and the step at which it asks
 * whether the server is stopping (sink.h: at least every 100 ms). */
#define NATS_ACK_WAIT_MS 5000
#define NATS_WAIT_STEP_MS 100
/* How long open() or deliver() wait for a connection being (re)made. */
#define NATS_CONNECT_WAIT_MS 2000
#define NATS_RECONNECT_WAIT_MS 250
#define NATS_API_WAIT_MS 5000
/* At most 8000 rows per batch (sink.c SINK_NATS_BATCH_ROWS), each at most
 * three lines (flag_mode): the whole batch fits the pending window, so a
 * publish never blocks on it. */
#define NATS_MAX_PENDING 24576

struct nats_sink {
	struct sink_backend base;
	char *name;
	char *url;
	char *stream;
	char *subject;
	char *stream_subject;    /* what a created stream captures */
	natsConnection *nc;
	jsCtx *js;
	bool stream_ready;
	/* After a failure the next batch's first message is published and
	 * acknowledged alone: once it is stored the stream is known to
	 * take messages again, so the rest of the batch cannot be stored
	 * ahead of an earlier one that failed during recovery. */
	bool probe;
	bool async_used;

	/* written by nats.c's ack and callback threads */
	pthread_mutex_t lock;
	pthread_cond_t closed_cond;
	bool closing;
	bool closed;
	unsigned long acked;
	unsigned long failed;
	char first_error[256];
};

static const struct sink_backend_ops nats_ops;

/* ---- subjects ---- */

/* The literal tokens in front of the template's first placeholder, plus
 * ".>"; the template itself when it has none.  The parser has checked that
 * the first token is literal. */
static char *nats_stream_subject(const char *tmpl)
{
	const char *lt = strchr(tmpl, '<');
	if (lt == NULL)
		return xstrdup(tmpl);
	const char *p = lt;
	while (p > tmpl && p[-1] != '.')
		p--;
	struct strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, tmpl, (size_t)(p - tmpl));
	strbuf_appends(&sb, ">");
	return strbuf_detach(&sb, NULL);
}

/* Appends one value as a single subject token: '.', '*', '>', spaces and
 * control characters (and DEL) would split or widen the subject, so each
 * becomes '_'; other bytes (UTF-8 included) stay.  Empty becomes "_";
 * longer than NATS_TOKEN_MAX is cut there. */
static void nats_token_append(struct strbuf *sb, const char *value)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)value;
	     p != NULL && *p != '\0' && n < NATS_TOKEN_MAX; p++, n++) {
		unsigned char c = *p;
		if (c == '.' || c == '*' || c == '>' || c <= ' ' || c == 0x7f)
			c = '_';
		strbuf_appendc(sb, (char)c);
	}
	if (n == 0)
		strbuf_appendc(sb, '_');
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void nats_percent_decode(const char *s, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len &&
		    (hi = hex_digit(s[i + 1])) >= 0 &&
		    (lo = hex_digit(s[i + 2])) >= 0) {
			strbuf_appendc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			strbuf_appendc(out, s[i]);
		}
	}
}

/* Owner and mailbox of an RFC 5092 URL as the store writes them
 * (imap://owner@host/Mailbox;UIDVALIDITY=n...). */
static bool nats_url_split(const char *url, struct strbuf *owner,
			   struct strbuf *mailbox)
{
	if (url == NULL || strncmp(url, "imap://", 7) != 0)
		return false;
	const char *p = url + 7;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at == NULL || slash == NULL || at > slash)
		return false;
	nats_percent_decode(p, (size_t)(at - p), owner);
	const char *m = slash + 1;
	nats_percent_decode(m, strcspn(m, ";"), mailbox);
	return true;
}

/* What a message's subject and headers need from its event line. */
struct nats_fields {
	json_int_t seq;
	struct strbuf event;
	struct strbuf user;
	struct strbuf mailbox_id;
	struct strbuf uri;
	bool has_user, has_mailbox_id, has_uri;
};

static void nats_fields_reset(struct nats_fields *f)
{
	f->seq = 0;
	strbuf_reset(&f->event);
	strbuf_reset(&f->user);
	strbuf_reset(&f->mailbox_id);
	strbuf_reset(&f->uri);
	f->has_user = f->has_mailbox_id = f->has_uri = false;
}

static void nats_fields_free(struct nats_fields *f)
{
	strbuf_free(&f->event);
	strbuf_free(&f->user);
	strbuf_free(&f->mailbox_id);
	strbuf_free(&f->uri);
}

static const char *nats_json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
			   *p == '\r'))
		p++;
	return p;
}

/* P is just past a string's opening quote: its closing quote, or NULL.
 * *escaped says whether the string holds a backslash escape. */
static const char *nats_json_string_end(const char *p, const char *end,
					bool *escaped)
{
	*escaped = false;
	for (; p < end; p++) {
		if (*p == '"')
			return p;
		if (*p == '\\') {
			*escaped = true;
			p++;
		}
	}
	return NULL;
}

/* Past one value that is not a string: a number, a literal, or an array
 * or object (strings inside skipped whole).  NULL when malformed. */
static const char *nats_json_value_skip(const char *p, const char *end)
{
	unsigned int depth = 0;
	bool escaped;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = nats_json_string_end(p + 1, end, &escaped);
			if (p == NULL)
				return NULL;
			p++;
		} else if (c == '[' || c == '{') {
			depth++;
			p++;
		} else if (c == ']' || c == '}') {
			if (depth == 0)
				return p;
			depth--;
			p++;
		} else if (c == ',' && depth == 0) {
			return p;
		} else {
			p++;
		}
	}
	return depth == 0 ? p : NULL;
}

/* The fields from a line as the sinks write it (compact JSON, one object,
 * the strings we look at without escapes): a plain scan, several times
 * cheaper than building the whole object, which was most of this sink's
 * CPU time (bench/events).  false on anything else; the caller then
 * parses the line properly. */
static bool nats_fields_scan(const char *p, size_t len, struct nats_fields *f)
{
	const char *end = p + len;
	bool escaped, have_seq = false, have_event = false;
	p = nats_json_ws(p, end);
	if (p >= end || *p++ != '{')
		return false;
	for (;;) {
		p = nats_json_ws(p, end);
		if (p >= end || *p != '"')
			return false;
		const char *key = p + 1;
		const char *key_end = nats_json_string_end(key, end, &escaped);
		if (key_end == NULL || escaped)
			return false;
		size_t key_len = (size_t)(key_end - key);
		p = nats_json_ws(key_end + 1, end);
		if (p >= end || *p++ != ':')
			return false;
		p = nats_json_ws(p, end);
		if (p >= end)
			return false;
		struct strbuf *want = NULL;
		if (key_len == 5 && memcmp(key, "event", 5) == 0) {
			want = &f->event;
			have_event = true;
		} else if (key_len == 4 && memcmp(key, "user", 4) == 0) {
			want = &f->user;
			f->has_user = true;
		} else if (key_len == 9 && memcmp(key, "mailboxID", 9) == 0) {
			want = &f->mailbox_id;
			f->has_mailbox_id = true;
		} else if (key_len == 3 && memcmp(key, "uri", 3) == 0) {
			want = &f->uri;
			f->has_uri = true;
		}
		if (*p == '"') {
			const char *v = p + 1;
			const char *v_end = nats_json_string_end(v, end,
								 &escaped);
			if (v_end == NULL)
				return false;
			if (want != NULL) {
				if (escaped || want->len > 0)
					return false;
				strbuf_append(want, v, (size_t)(v_end - v));
			}
			p = v_end + 1;
		} else if (want != NULL) {
			return false;   /* not a string: let jansson judge */
		} else if (key_len == 3 && memcmp(key, "seq", 3) == 0) {
			/* digits only, within the line (not NUL-terminated):
			 * seqs are positive and far below 10^18 */
			json_int_t v = 0;
			const char *digits = p;
			while (p < end && *p >= '0' && *p <= '9' &&
			       p - digits < 18)
				v = v * 10 + (*p++ - '0');
			if (p == digits || (*digits == '0' && p - digits > 1) ||
			    (p < end && *p >= '0' && *p <= '9') || have_seq)
				return false;
			f->seq = v;
			have_seq = true;
		} else {
			p = nats_json_value_skip(p, end);
			if (p == NULL)
				return false;
		}
		p = nats_json_ws(p, end);
		if (p >= end)
			return false;
		if (*p == '}')
			break;
		if (*p++ != ',')
			return false;
	}
	p = nats_json_ws(p + 1, end);
	return p == end && have_seq && have_event;
}

/* The same through jansson, for a line the scan did not take. */
static bool nats_fields_parse(const char *line, size_t len,
			      struct nats_fields *f)
{
	json_error_t jerr;
	json_t *ev = json_loadb(line, len, 0, &jerr);
	if (ev == NULL || !json_is_object(ev)) {
		json_decref(ev);
		return false;
	}
	f->seq = json_integer_value(json_object_get(ev, "seq"));
	const char *v = json_string_value(json_object_get(ev, "event"));
	strbuf_appends(&f->event, v != NULL ? v : "");
	if ((v = json_string_value(json_object_get(ev, "user"))) != NULL) {
		strbuf_appends(&f->user, v);
		f->has_user = true;
	}
	if ((v = json_string_value(json_object_get(ev, "mailboxID"))) != NULL) {
		strbuf_appends(&f->mailbox_id, v);
		f->has_mailbox_id = true;
	}
	if ((v = json_string_value(json_object_get(ev, "uri"))) != NULL) {
		strbuf_appends(&f->uri, v);
		f->has_uri = true;
	}
	json_decref(ev);
	return true;
}

/* The subject of one event line: <event> is its type; <user> the "user"
 * parameter, or else the owner of the mailbox concerned; <mailbox> that
 * mailbox's name (from mailboxID, else uri).  What an event does not carry
 * (or the sink's params filter removed) becomes "_". */
static void nats_subject_build(const char *tmpl, const struct nats_fields *f,
			       struct strbuf *out)
{
	struct strbuf owner = STRBUF_INIT, mailbox = STRBUF_INIT;
	const char *url = f->has_mailbox_id ? strbuf_str(&f->mailbox_id) :
			  f->has_uri ? strbuf_str(&f->uri) : NULL;
	if (!nats_url_split(url, &owner, &mailbox)) {
		strbuf_reset(&owner);
		strbuf_reset(&mailbox);
	}
	const char *user = f->has_user ? strbuf_str(&f->user) :
			   strbuf_str(&owner);
	const char *event = strbuf_str(&f->event);

	for (const char *p = tmpl; *p != '\0';) {
		if (strncmp(p, "<event>", 7) == 0) {
			nats_token_append(out, event);
			p += 7;
		} else if (strncmp(p, "<user>", 6) == 0) {
			nats_token_append(out, user);
			p += 6;
		} else if (strncmp(p, "<mailbox>", 9) == 0) {
			nats_token_append(out, strbuf_str(&mailbox));
			p += 9;
		} else {
			strbuf_appendc(out, *p++);
		}
	}
	strbuf_free(&owner);
	strbuf_free(&mailbox);
}

/* ---- the connection ---- */

static void nats_ack_handler(jsCtx *js, natsMsg *msg, jsPubAck *pa,
			     jsPubAckErr *pae, void *closure)
{
	struct nats_sink *n = closure;
	pthread_mutex_lock(&n->lock);
	if (pa != NULL) {
		n->acked++;
	} else {
		if (n->failed++ == 0)
			snprintf(n->first_error, sizeof(n->first_error),
				 "%s (%d)", pae != NULL && pae->ErrText != NULL ?
				 pae->ErrText : natsStatus_GetText(pae != NULL ?
				 pae->Err : NATS_ERR), pae != NULL ?
				 (int)pae->ErrCode : 0);
	}
	pthread_mutex_unlock(&n->lock);
	natsMsg_Destroy(msg);
}

static void nats_disconnected_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *n = closure;
	pthread_mutex_lock(&n->lock);
	bool closing = n->closing;
	pthread_mutex_unlock(&n->lock);
	if (!closing)
		log_warn("sink %s: disconnected from NATS; reconnecting",
			 n->name);
}

/* The last callback nats.c makes for a connection: only after it may the
 * sink be freed (the callbacks run on nats.c's own thread). */
static void nats_closed_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *n = closure;
	pthread_mutex_lock(&n->lock);
	n->closed = true;
	pthread_cond_broadcast(&n->closed_cond);
	pthread_mutex_unlock(&n->lock);
}

static void nats_reconnected_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *n = closure;
	log_info("sink %s: reconnected to NATS", n->name);
}

static void nats_connected_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *n = closure;
	log_info("sink %s: connected to NATS", n->name);
}

static const char *nats_last_error(natsStatus s)
{
	const char *text = nats_GetLastError(NULL);
	return text != NULL && text[0] != '\0' ? text : natsStatus_GetText(s);
}

static bool nats_stopping(struct nats_sink *n)
{
	return n->base.manager != NULL &&
	       sink_manager_stopping(n->base.manager);
}

static void nats_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Creates the connection once; nats.c then reconnects by itself for ever
 * (also when the server was down at start: RetryOnFailedConnect).  Waits a
 * little for it to be up.  0 when connected. */
static int nats_connect(struct nats_sink *n)
{
	natsStatus s = NATS_OK;
	if (n->nc == NULL) {
		natsOptions *opts = NULL;
		char cname[160];
		snprintf(cname, sizeof(cname), "tidings sink %s", n->name);
		s = natsOptions_Create(&opts);
		if (s == NATS_OK)
			s = natsOptions_SetURL(opts, n->url);
		if (s == NATS_OK)
			s = natsOptions_SetName(opts, cname);
		if (s == NATS_OK)
			s = natsOptions_SetMaxReconnect(opts, -1);
		if (s == NATS_OK)
			s = natsOptions_SetReconnectWait(opts,
							 NATS_RECONNECT_WAIT_MS);
		if (s == NATS_OK)
			s = natsOptions_SetTimeout(opts, 2000);
		if (s == NATS_OK)
			s = natsOptions_SetRetryOnFailedConnect(opts, true,
						nats_connected_cb, n);
		if (s == NATS_OK)
			s = natsOptions_SetDisconnectedCB(opts,
						nats_disconnected_cb, n);
		if (s == NATS_OK)
			s = natsOptions_SetReconnectedCB(opts,
						nats_reconnected_cb, n);
		if (s == NATS_OK)
			s = natsOptions_SetClosedCB(opts, nats_closed_cb, n);
		if (s == NATS_OK) {
			s = natsConnection_Connect(&n->nc, opts);
			if (s == NATS_NOT_YET_CONNECTED)
				s = NATS_OK;
		}
		natsOptions_Destroy(opts);
		if (s == NATS_OK) {
			jsOptions jo;
			jsOptions_Init(&jo);
			jo.Wait = NATS_API_WAIT_MS;
			jo.PublishAsync.MaxPending = NATS_MAX_PENDING;
			jo.PublishAsync.AckHandler = nats_ack_handler;
			jo.PublishAsync.AckHandlerClosure = n;
			s = natsConnection_JetStream(&n->js, n->nc, &jo);
		}
		if (s != NATS_OK) {
			log_error("sink %s: NATS connection to %s: %s",
				  n->name, n->url, nats_last_error(s));
			jsCtx_Destroy(n->js);
			n->js = NULL;
			natsConnection_Destroy(n->nc);
			n->nc = NULL;
			return -1;
		}
	}
	for (unsigned int waited = 0;; waited += 50) {
		if (natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED)
			return 0;
		if (waited >= NATS_CONNECT_WAIT_MS || nats_stopping(n))
			break;
		nats_sleep_ms(50);
	}
	log_warn("sink %s: NATS server %s not reachable (yet)", n->name,
		 n->url);
	return -1;
}

/* Finds the stream, or creates it (file storage, the subjects of the
 * template's prefix, JetStream's default 2-minute duplicate window). */
static int nats_stream_ensure(struct nats_sink *n)
{
	if (n->stream_ready)
		return 0;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, n->js, n->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		n->stream_ready = true;
		return 0;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		log_error("sink %s: looking up JetStream stream %s: %s",
			  n->name, n->stream, nats_last_error(s));
		return -1;
	}
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	const char *subjects[1] = { n->stream_subject };
	sc.Name = n->stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	jerr = 0;
	s = js_AddStream(&si, n->js, &sc, NULL, &jerr);
	if (s != NATS_OK) {
		log_error("sink %s: creating JetStream stream %s for %s: %s "
			  "(error code %d)", n->name, n->stream,
			  n->stream_subject, nats_last_error(s), (int)jerr);
		return -1;
	}
	jsStreamInfo_Destroy(si);
	log_info("sink %s: created JetStream stream %s (subjects %s)",
		 n->name, n->stream, n->stream_subject);
	n->stream_ready = true;
	return 0;
}

static int nats_open(struct sink_backend *b)
{
	struct nats_sink *n = (struct nats_sink *)b;
	if (nats_connect(n) < 0)
		return -1;
	return nats_stream_ensure(n);
}

/* nats.c cannot say which event the stream holds last without a stream of
 * our own; a restart re-publishes from the cursor and the Msg-Id drops
 * what the stream already has (within its duplicate window). */
static int64_t nats_last_seq(struct sink_backend *b)
{
	return 0;
}

/* Gives back the messages still waiting for an ack: their acks, if any
 * come, are dropped, and the batch is sent again whole. */
static void nats_pending_drop(struct nats_sink *n)
{
	natsMsgList pending;
	memset(&pending, 0, sizeof(pending));
	/* nats.c 3.4 dereferences its pending map, which exists only after
	 * a first asynchronous publish. */
	if (!n->async_used)
		return;
	if (js_PublishAsyncGetPendingList(&pending, n->js) == NATS_OK)
		natsMsgList_Destroy(&pending);
}

static natsMsg *nats_msg_make(struct nats_sink *n, const char *line,
			      size_t len, struct nats_fields *f,
			      struct strbuf *subject)
{
	nats_fields_reset(f);
	if (!nats_fields_scan(line, len, f)) {
		nats_fields_reset(f);
		if (!nats_fields_parse(line, len, f))
			return NULL;
	}
	strbuf_reset(subject);
	nats_subject_build(n->subject, f, subject);
	const char *event = strbuf_str(&f->event);
	char id[256], seqs[32];
	snprintf(id, sizeof(id), "%s:%" JSON_INTEGER_FORMAT ":%s", n->name,
		 f->seq, event);
	snprintf(seqs, sizeof(seqs), "%" JSON_INTEGER_FORMAT, f->seq);
	natsMsg *msg = NULL;
	natsStatus s = natsMsg_Create(&msg, strbuf_str(subject), NULL, line,
				      (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "Tidings-Seq", seqs);
	if (s == NATS_OK && event[0] != '\0')
		s = natsMsgHeader_Set(msg, "Tidings-Event", event);
	if (s != NATS_OK) {
		natsMsg_Destroy(msg);
		return NULL;
	}
	return msg;
}

static int nats_deliver(struct sink_backend *b, const char *data, size_t len,
			int64_t last_seq)
{
	struct nats_sink *n = (struct nats_sink *)b;
	if (nats_open(b) < 0) {
		n->probe = true;
		return -1;
	}
	pthread_mutex_lock(&n->lock);
	n->acked = 0;
	n->failed = 0;
	n->first_error[0] = '\0';
	pthread_mutex_unlock(&n->lock);

	struct strbuf subject = STRBUF_INIT;
	struct nats_fields fields = { 0, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT,
				      STRBUF_INIT, false, false, false };
	unsigned long sent = 0;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n_len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *line = p;
		p = nl != NULL ? nl + 1 : end;
		if (n_len == 0)
			continue;
		natsMsg *msg = nats_msg_make(n, line, n_len, &fields,
					     &subject);
		if (msg == NULL) {
			log_error("sink %s: cannot build a NATS message for "
				  "%.80s", n->name, line);
			goto fail;
		}
		natsStatus s;
		if (n->probe) {
			jsPubOptions po;
			jsPubOptions_Init(&po);
			po.MaxWait = NATS_ACK_WAIT_MS;
			jsErrCode jerr = 0;
			jsPubAck *pa = NULL;
			s = js_PublishMsg(&pa, n->js, msg, &po, &jerr);
			natsMsg_Destroy(msg);
			jsPubAck_Destroy(pa);
			if (s != NATS_OK) {
				log_error("sink %s: publishing to %s: %s "
					  "(error code %d)", n->name,
					  strbuf_str(&subject),
					  nats_last_error(s), (int)jerr);
				goto fail;
			}
			n->probe = false;
			continue;
		}
		n->async_used = true;
		s = js_PublishMsgAsync(n->js, &msg, NULL);
		natsMsg_Destroy(msg);
		if (s != NATS_OK) {
			log_error("sink %s: publishing to %s: %s", n->name,
				  strbuf_str(&subject), nats_last_error(s));
			goto fail;
		}
		sent++;
	}
	/* Every ack, or the batch is retried. */
	for (unsigned int waited = 0;; waited += NATS_WAIT_STEP_MS) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = NATS_WAIT_STEP_MS;
		natsStatus s = js_PublishAsyncComplete(n->js, &po);
		if (s == NATS_OK)
			break;
		if (s != NATS_TIMEOUT || waited >= NATS_ACK_WAIT_MS ||
		    nats_stopping(n)) {
			log_error("sink %s: JetStream did not acknowledge "
				  "events up to %" PRId64 ": %s", n->name,
				  last_seq, s == NATS_TIMEOUT ? "time-out" :
				  nats_last_error(s));
			goto fail;
		}
	}
	pthread_mutex_lock(&n->lock);
	bool ok = n->failed == 0 && n->acked == sent;
	if (!ok)
		log_error("sink %s: JetStream refused %lu of %lu events: %s",
			  n->name, n->failed, sent, n->first_error);
	pthread_mutex_unlock(&n->lock);
	strbuf_free(&subject);
	nats_fields_free(&fields);
	if (!ok) {
		n->probe = true;
		return -1;
	}
	return 0;
fail:
	strbuf_free(&subject);
	nats_fields_free(&fields);
	nats_pending_drop(n);
	n->probe = true;
	return -1;
}

/* nats.c's own threads and buffers stay until the last connection is
 * gone and nats_Close(); it is called when the last nats sink goes. */
static pthread_mutex_t nats_users_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int nats_users;

static void nats_destroy(struct sink_backend *b)
{
	struct nats_sink *n = (struct nats_sink *)b;
	if (n->js != NULL) {
		nats_pending_drop(n);
		jsCtx_Destroy(n->js);
	}
	if (n->nc != NULL) {
		pthread_mutex_lock(&n->lock);
		n->closing = true;
		pthread_mutex_unlock(&n->lock);
		natsConnection_Close(n->nc);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_mutex_lock(&n->lock);
		while (!n->closed &&
		       pthread_cond_timedwait(&n->closed_cond, &n->lock,
					      &ts) == 0)
			;
		bool closed = n->closed;
		pthread_mutex_unlock(&n->lock);
		natsConnection_Destroy(n->nc);
		if (!closed) {
			/* A callback may still come: leak rather than let
			 * it touch freed memory. */
			log_warn("sink %s: NATS connection did not close in "
				 "time", n->name);
			return;
		}
	}
	pthread_mutex_lock(&nats_users_lock);
	if (--nats_users == 0)
		nats_CloseAndWait(2000);
	pthread_mutex_unlock(&nats_users_lock);
	pthread_cond_destroy(&n->closed_cond);
	pthread_mutex_destroy(&n->lock);
	free(n->name);
	free(n->url);
	free(n->stream);
	free(n->subject);
	free(n->stream_subject);
	free(n);
}

static struct sink_backend *nats_create(const struct sink_config *sink)
{
	struct nats_sink *n = xcalloc(1, sizeof(*n));
	n->base.ops = &nats_ops;
	n->name = xstrdup(sink->name);
	n->url = xstrdup(sink->url);
	n->stream = xstrdup(sink->stream);
	n->subject = xstrdup(sink->subject);
	n->stream_subject = nats_stream_subject(sink->subject);
	n->probe = true;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->closed_cond, NULL);
	pthread_mutex_lock(&nats_users_lock);
	nats_users++;
	pthread_mutex_unlock(&nats_users_lock);
	return &n->base;
}

static const struct sink_backend_ops nats_ops = {
	.open = nats_open,
	.last_seq = nats_last_seq,
	.deliver = nats_deliver,
	.destroy = nats_destroy,
};

/* ---- configuration ---- */

static const char *const nats_keys[] = { "url", "stream", "subject", NULL };

/* One or more servers, separated by commas: nats://host:port or
 * tls://host:port. */
static bool nats_url_valid(const char *url)
{
	const char *p = url;
	for (;;) {
		size_t n = strcspn(p, ",");
		if (n == 0)
			return false;
		if (!(n > 7 && strncmp(p, "nats://", 7) == 0) &&
		    !(n > 6 && strncmp(p, "tls://", 6) == 0))
			return false;
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)p[i] <= ' ')
				return false;
		}
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

/* JetStream stream names: no '.', '*', '>', path separators or spaces;
 * letters, digits, '-' and '_' are what we accept. */
static bool nats_stream_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > NATS_STREAM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Tokens separated by '.', none empty; no wildcards or spaces; the
 * placeholders <event>, <user>, <mailbox> anywhere but in the first
 * token, which names the stream's subjects. */
static int nats_subject_check(const char *tmpl, char *why, size_t why_size)
{
	size_t len = strlen(tmpl);
	if (len == 0 || len > NATS_SUBJECT_MAX) {
		snprintf(why, why_size, "must be 1 to %d bytes",
			 NATS_SUBJECT_MAX);
		return -1;
	}
	if (tmpl[0] == '.' || tmpl[len - 1] == '.' ||
	    strstr(tmpl, "..") != NULL) {
		snprintf(why, why_size, "empty token (tokens are separated "
			 "by single dots)");
		return -1;
	}
	size_t first = strcspn(tmpl, ".");
	if (memchr(tmpl, '<', first) != NULL) {
		snprintf(why, why_size, "the first token must be literal "
			 "(e.g. tidings.<event>.<user>)");
		return -1;
	}
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p == '<') {
			if (strncmp(p, "<event>", 7) == 0)
				p += 6;
			else if (strncmp(p, "<user>", 6) == 0)
				p += 5;
			else if (strncmp(p, "<mailbox>", 9) == 0)
				p += 8;
			else {
				snprintf(why, why_size, "unknown placeholder "
					 "at '%.20s' (known: <event> <user> "
					 "<mailbox>)", p);
				return -1;
			}
		} else if (*p == '*' || *p == '>' ||
			   (unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(why, why_size, "wildcards, spaces and control "
				 "characters are not allowed");
			return -1;
		}
	}
	return 0;
}

static int nats_parse(const struct config *cfg, const struct config_sink *raw,
		      struct sink_config *sink, char *err, size_t err_size)
{
	const struct config_option *o;
	char why[200];
	if ((o = sink_config_option(raw, "url")) == NULL)
		return sink_config_error(err, err_size, cfg, raw->line,
					 "[sink %s]: a nats sink needs 'url' "
					 "(nats://host:port)", raw->name);
	if (!nats_url_valid(o->value))
		return sink_config_error(err, err_size, cfg, o->line,
					 "url: expected nats://host:port or "
					 "tls://host:port (several separated "
					 "by commas)");
	sink->url = xstrdup(o->value);
	sink->stream = xstrdup("TIDINGS");
	if ((o = sink_config_option(raw, "stream")) != NULL) {
		if (!nats_stream_name_valid(o->value))
			return sink_config_error(err, err_size, cfg, o->line,
						 "stream: expected 1 to %d "
						 "letters, digits, '-' or '_'",
						 NATS_STREAM_NAME_MAX);
		free(sink->stream);
		sink->stream = xstrdup(o->value);
	}
	sink->subject = xstrdup("tidings.<event>.<user>");
	if ((o = sink_config_option(raw, "subject")) != NULL) {
		if (nats_subject_check(o->value, why, sizeof(why)) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
						 "subject: %s", why);
		free(sink->subject);
		sink->subject = xstrdup(o->value);
	}
	return 0;
}

const struct sink_type_desc sink_type_nats = {
	.name = "nats",
	.type = SINK_TYPE_NATS,
	.keys = nats_keys,
	.parse = nats_parse,
	.create = nats_create,
};
