/* LMTP sessions (RFC 2033) and the group commit of their deliveries.
 *
 * A session reads command lines (at most LMTP_LINE_MAX octets; a longer
 * one is discarded to its end and answered 500 5.5.2), answers each in
 * order (PIPELINING, RFC 2920), and after DATA decodes the message with
 * lmtp_data_feed().  A completed DATA is not stored at once: the session
 * stops reading and joins the commit queue, and a deferred event (run after
 * every other event of this loop turn) delivers everything queued in one
 * store transaction.  Only then are the 250s written, one per recipient in
 * RCPT order (RFC 2033 §4.2), and the session reads on. */
#include "lmtp/lmtp-server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "lmtp/lmtp-parser.h"
#include "net/net-conn.h"
#include "net/net-listen.h"

enum lmtp_mode {
	LMTP_MODE_COMMAND,
	LMTP_MODE_DATA,
	LMTP_MODE_COMMIT,  /* waiting in the commit queue: not reading */
};

struct lmtp_rcpt {
	char *address;     /* the path as given, for Delivered-To */
	int64_t mailbox_id;
};

/* The longest a completed DATA waits for the DATAs of other sessions in
 * the middle of a transaction, to share their commit: small beside the
 * disk flush it saves. */
#define LMTP_COMMIT_LINGER_USEC 2000

struct lmtp_session {
	struct lmtp_server *srv;
	struct net_conn *conn;
	uint64_t id;
	char client_ip[64];
	struct store_actor actor;
	time_t last_activity;

	enum lmtp_mode mode;
	bool greeted;
	bool closing;
	bool reaping;
	bool discarding;   /* inside an overlong line */
	unsigned int bad_commands;

	/* the transaction */
	char *mail_from;   /* NULL until MAIL */
	struct lmtp_rcpt *rcpts;  /* grown up to lmtp_max_recipients */
	size_t rcpt_count, rcpt_alloc;
	struct strbuf body;
	struct lmtp_data_decoder data;

	struct strbuf out;
	struct lmtp_session *next, *prev;  /* all sessions */
	struct lmtp_session *commit_next;
	struct lmtp_session *reap_next;
};

struct lmtp_listener {
	struct net_listener *tcp;
	struct evconnlistener *unix_lev;
	char *unix_path;
	struct lmtp_server *srv;
	struct lmtp_listener *next;
};

struct lmtp_server {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	void (*on_commit)(void *ctx);
	void *on_commit_ctx;

	struct lmtp_listener *listeners;
	struct lmtp_session *all;
	unsigned int session_count;
	uint64_t next_id;
	bool shutting_down;

	struct lmtp_session *commit_head, *commit_tail;
	struct event *commit_event;
	struct lmtp_session *reap_list;
	struct event *reap_event;
	struct event *tick_event;
};

static void session_process(struct lmtp_session *s);

/* ---- lifetimes ---- */

static void transaction_reset(struct lmtp_session *s)
{
	free(s->mail_from);
	s->mail_from = NULL;
	for (size_t i = 0; i < s->rcpt_count; i++)
		free(s->rcpts[i].address);
	s->rcpt_count = 0;
	strbuf_free(&s->body);
}

static void session_schedule_reap(struct lmtp_session *s)
{
	if (s->reaping)
		return;
	s->reaping = true;
	s->reap_next = s->srv->reap_list;
	s->srv->reap_list = s;
	event_active(s->srv->reap_event, 0, 0);
}

static void session_destroy(struct lmtp_session *s)
{
	struct lmtp_server *srv = s->srv;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->all = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->session_count--;
	if (s->conn != NULL)
		net_conn_destroy(&s->conn);
	transaction_reset(s);
	free(s->rcpts);
	strbuf_free(&s->out);
	free(s);
}

static void server_reap(evutil_socket_t fd, short what, void *arg)
{
	struct lmtp_server *srv = arg;
	while (srv->reap_list != NULL) {
		struct lmtp_session *s = srv->reap_list;
		srv->reap_list = s->reap_next;
		session_destroy(s);
	}
}

/* Ends the session after what is queued has been written.  A session in
 * the commit queue is reaped by the commit, which still needs it. */
static void session_close(struct lmtp_session *s)
{
	s->closing = true;
	if (s->conn != NULL)
		net_conn_close_after_flush(&s->conn);
	if (s->mode != LMTP_MODE_COMMIT)
		session_schedule_reap(s);
}

/* ---- output ---- */

static void session_reply(struct lmtp_session *s, const char *text)
{
	if (s->conn == NULL || s->closing)
		return;
	net_conn_write(s->conn, text, strlen(text));
	net_conn_write(s->conn, "\r\n", 2);
	if (net_conn_output_pending(s->conn) > s->srv->cfg->output_buffer_max) {
		log_info("lmtp: %s: client does not read its replies; disconnecting",
			 s->client_ip);
		s->closing = true;
		net_conn_destroy(&s->conn);
		if (s->mode != LMTP_MODE_COMMIT)
			session_schedule_reap(s);
	}
}

static void session_replyf(struct lmtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void session_replyf(struct lmtp_session *s, const char *fmt, ...)
{
	strbuf_reset(&s->out);
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	session_reply(s, s->out.s);
}

static void session_error(struct lmtp_session *s, const char *reply)
{
	session_reply(s, reply);
	if (++s->bad_commands >= s->srv->cfg->max_bad_commands) {
		session_reply(s, "421 4.7.0 Too many errors, closing connection");
		session_close(s);
	}
}

/* ---- commands ---- */

static void cmd_lhlo(struct lmtp_session *s, const struct lmtp_command *cmd)
{
	/* RFC 2033 §4.1 with RFC 5321 §4.1.1.1: LHLO also resets */
	transaction_reset(s);
	s->greeted = true;
	const struct config *cfg = s->srv->cfg;
	session_replyf(s, "250-%s", cfg->server_name);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250-8BITMIME");
	session_replyf(s, "250-SIZE %llu",
		       (unsigned long long)cfg->max_message_size);
	session_reply(s, "250 SMTPUTF8");
}

static void cmd_mail(struct lmtp_session *s, const struct lmtp_command *cmd)
{
	if (!s->greeted) {
		session_error(s, "503 5.5.1 Send LHLO first");
		return;
	}
	if (s->mail_from != NULL) {
		session_error(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	/* RFC 1870 §6.2: refuse at once what cannot be taken */
	if (cmd->has_size && s->srv->cfg->max_message_size != 0 &&
	    cmd->size > s->srv->cfg->max_message_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	s->mail_from = xstrdup(cmd->path);
	session_reply(s, "250 2.1.0 Sender OK");
}

static void cmd_rcpt(struct lmtp_session *s, const struct lmtp_command *cmd)
{
	struct lmtp_server *srv = s->srv;
	if (!s->greeted) {
		session_error(s, "503 5.5.1 Send LHLO first");
		return;
	}
	if (s->mail_from == NULL) {
		session_error(s, "503 5.5.1 Need MAIL command first");
		return;
	}
	if (s->rcpt_count >= srv->cfg->lmtp_max_recipients) {
		/* RFC 5321 §4.5.3.1.10 */
		session_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	char user[LMTP_PATH_MAX + 1], detail[LMTP_PATH_MAX + 1];
	char domain[LMTP_PATH_MAX + 1];
	if (lmtp_recipient_split(cmd->path, user, sizeof(user), detail,
				 sizeof(detail), domain, sizeof(domain)) < 0) {
		session_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	/* A domain that is not ours is refused before the user is looked
	 * up: it means the MTA routes a domain here that it should not (a
	 * configuration error, not an unknown user), and the answer must not
	 * tell which user names exist.  RFC 3463: X.7.1 "delivery not
	 * authorized". */
	if (domain[0] != '\0' &&
	    !lmtp_domain_listed(srv->cfg->lmtp_domains, domain)) {
		session_replyf(s, "550 5.7.1 <%s>: Relay not permitted",
			       cmd->path);
		return;
	}
	struct store_user u;
	struct store_error err;
	if (store_user_lookup(srv->store, user, &u, &err) < 0) {
		if (err.code == STORE_ERR_NONEXISTENT)
			session_replyf(s, "550 5.1.1 <%s>: User unknown",
				       cmd->path);
		else
			session_reply(s, "451 4.3.0 Temporary failure looking up the recipient");
		return;
	}
	/* user+detail: the folder "detail" when it exists (RFC 5233 style
	 * subaddressing), else INBOX */
	struct store_mailbox mb;
	bool found = false;
	if (detail[0] != '\0' &&
	    store_mailbox_get(srv->store, u.id, detail, &mb, &err) == 0 &&
	    !mb.noselect)
		found = true;
	if (!found && store_mailbox_get(srv->store, u.id, "INBOX", &mb,
					&err) < 0) {
		log_warn("lmtp: %s has no INBOX: %s", user, err.msg);
		session_reply(s, "451 4.3.0 Temporary failure: mailbox unavailable");
		return;
	}
	if (s->rcpt_count == s->rcpt_alloc) {
		size_t n = s->rcpt_alloc == 0 ? 8 : s->rcpt_alloc * 2;
		s->rcpts = xrealloc(s->rcpts, n * sizeof(*s->rcpts));
		s->rcpt_alloc = n;
	}
	struct lmtp_rcpt *r = &s->rcpts[s->rcpt_count++];
	r->address = xstrdup(cmd->path);
	r->mailbox_id = mb.id;
	session_reply(s, "250 2.1.5 Recipient OK");
}

static void cmd_data(struct lmtp_session *s)
{
	if (!s->greeted) {
		session_error(s, "503 5.5.1 Send LHLO first");
		return;
	}
	if (s->mail_from == NULL) {
		session_error(s, "503 5.5.1 Need MAIL command first");
		return;
	}
	if (s->rcpt_count == 0) {
		/* RFC 2033 §4.2 / RFC 5321 §3.3 */
		session_error(s, "503 5.5.1 No valid recipients");
		return;
	}
	strbuf_reset(&s->body);
	lmtp_data_init(&s->data, &s->body, s->srv->cfg->max_message_size);
	s->mode = LMTP_MODE_DATA;
	session_reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
}

static void session_execute(struct lmtp_session *s, const char *line,
			    size_t len)
{
	struct lmtp_command cmd;
	const char *reply = NULL;
	if (lmtp_command_parse(line, len, &cmd, &reply) < 0) {
		session_error(s, reply);
		return;
	}
	switch (cmd.verb) {
	case LMTP_VERB_LHLO:
		cmd_lhlo(s, &cmd);
		break;
	case LMTP_VERB_MAIL:
		cmd_mail(s, &cmd);
		break;
	case LMTP_VERB_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case LMTP_VERB_DATA:
		cmd_data(s);
		break;
	case LMTP_VERB_RSET:
		transaction_reset(s);
		session_reply(s, "250 2.0.0 OK");
		break;
	case LMTP_VERB_NOOP:
		session_reply(s, "250 2.0.0 OK");
		break;
	case LMTP_VERB_VRFY:
		/* RFC 5321 §3.5.3 */
		session_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case LMTP_VERB_QUIT:
		session_reply(s, "221 2.0.0 Bye");
		session_close(s);
		break;
	case LMTP_VERB_UNKNOWN:
		session_error(s, "500 5.5.1 Unknown command");
		break;
	}
}

/* ---- DATA and the group commit ---- */

static void session_data_done(struct lmtp_session *s)
{
	const char *reply = NULL;
	if (s->data.has_nul)
		reply = "554 5.6.0 Message contains NUL characters";
	else if (s->data.too_big)
		reply = "552 5.3.4 Message too big for system";
	if (reply != NULL) {
		for (size_t i = 0; i < s->rcpt_count; i++)
			session_reply(s, reply);
		transaction_reset(s);
		s->mode = LMTP_MODE_COMMAND;
		return;
	}
	s->mode = LMTP_MODE_COMMIT;
	if (s->conn != NULL)
		net_conn_set_reading(s->conn, false);
	struct lmtp_server *srv = s->srv;
	s->commit_next = NULL;
	if (srv->commit_tail != NULL)
		srv->commit_tail->commit_next = s;
	else
		srv->commit_head = s;
	srv->commit_tail = s;
	/* runs after the other events of this loop turn: DATAs that end
	 * together share the commit.  When other sessions are in the middle
	 * of a transaction, their DATA is likely a moment away (they got
	 * their last 250s together with this one): waiting for them a
	 * little, at most LMTP_COMMIT_LINGER_USEC, lets them share the
	 * commit too instead of each paying for a disk flush of its own. */
	bool others = false;
	for (struct lmtp_session *o = srv->all; o != NULL && !others; o = o->next)
		others = o->mail_from != NULL && o->mode != LMTP_MODE_COMMIT &&
			 o->conn != NULL && !o->closing;
	if (!others) {
		event_del(srv->commit_event);
		event_active(srv->commit_event, 0, 0);
	} else if (!event_pending(srv->commit_event, EV_TIMEOUT, NULL)) {
		struct timeval linger = { 0, LMTP_COMMIT_LINGER_USEC };
		event_add(srv->commit_event, &linger);
	}
}

/* The reply for one recipient whose delivery failed. */
static const char *delivery_error_reply(const struct store_error *err)
{
	switch (err->code) {
	case STORE_ERR_TOOBIG:
		return "552 5.3.4 Message too big for system";
	case STORE_ERR_OVERQUOTA:
		/* RFC 3463 X.2.2: permanent only when the message alone is
		 * over the limit; otherwise an expunge may make room */
		if (strcmp(err->msg, STORE_OVERQUOTA_TOO_BIG_MSG) == 0)
			return "552 5.2.2 Message is larger than the mailbox quota";
		return "452 4.2.2 Mailbox full, try again later";
	case STORE_ERR_NONEXISTENT:
		return "450 4.2.0 Mailbox unavailable, try again later";
	case STORE_ERR_CANNOT:
		return "554 5.6.0 Message cannot be stored";
	default:
		return "451 4.3.0 Temporary failure storing the message";
	}
}

static void server_commit(evutil_socket_t fd, short what, void *arg)
{
	struct lmtp_server *srv = arg;
	struct lmtp_session *head = srv->commit_head;
	srv->commit_head = srv->commit_tail = NULL;
	if (head == NULL)
		return;

	size_t n = 0;
	for (struct lmtp_session *s = head; s != NULL; s = s->commit_next)
		n += s->rcpt_count;
	struct store_delivery *items = xcalloc(n, sizeof(*items));
	struct store_delivery_result *results = xcalloc(n, sizeof(*results));
	char **headers = xcalloc(n, sizeof(*headers));
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	int tz = (int)(tm.tm_gmtoff / 60);
	size_t k = 0;
	for (struct lmtp_session *s = head; s != NULL; s = s->commit_next) {
		for (size_t i = 0; i < s->rcpt_count; i++, k++) {
			struct strbuf h = STRBUF_INIT;
			strbuf_printf(&h, "Return-Path: <%s>\r\nDelivered-To: <%s>\r\n",
				      s->mail_from, s->rcpts[i].address);
			headers[k] = strbuf_detach(&h, NULL);
			items[k] = (struct store_delivery) {
				.actor = &s->actor,
				.mailbox_id = s->rcpts[i].mailbox_id,
				.header = headers[k],
				.data = strbuf_str(&s->body),
				.len = s->body.len,
				.internaldate = now,
				.tz_offset = tz,
				.mail_from = s->mail_from,
				.rcpt_to = s->rcpts[i].address,
			};
		}
	}
	struct store_error err;
	bool delivered = false;
	if (store_message_deliver_batch(srv->store, NULL, items, n, results,
					&err) < 0)
		log_error("lmtp: delivery of %zu message(s) failed: %s", n,
			  err.msg);
	for (size_t i = 0; i < n; i++) {
		if (results[i].status == 0)
			delivered = true;
		else
			log_warn("lmtp: delivery to <%s> failed: %s",
				 items[i].rcpt_to, results[i].err.msg);
	}
	if (delivered && srv->on_commit != NULL)
		srv->on_commit(srv->on_commit_ctx);

	k = 0;
	struct lmtp_session *next;
	for (struct lmtp_session *s = head; s != NULL; s = next) {
		next = s->commit_next;
		for (size_t i = 0; i < s->rcpt_count; i++, k++) {
			if (results[k].status == 0)
				session_replyf(s, "250 2.0.0 <%s> %u delivered",
					       s->rcpts[i].address,
					       results[k].uid);
			else
				session_replyf(s, "%s",
					       delivery_error_reply(&results[k].err));
			log_info("lmtp: %s: <%s> -> <%s>: %s", s->client_ip,
				 s->mail_from, s->rcpts[i].address,
				 results[k].status == 0 ? "delivered" : "failed");
		}
		transaction_reset(s);
		s->mode = LMTP_MODE_COMMAND;
		if (s->closing || s->conn == NULL) {
			session_close(s);
			continue;
		}
		if (srv->shutting_down) {
			session_reply(s, "421 4.3.2 Server shutting down");
			session_close(s);
			continue;
		}
		net_conn_set_reading(s->conn, true);
		/* pipelined commands already buffered */
		session_process(s);
	}
	for (size_t i = 0; i < n; i++)
		free(headers[i]);
	free(headers);
	free(items);
	free(results);
}

/* ---- input ---- */

static void session_process(struct lmtp_session *s)
{
	while (s->conn != NULL && !s->closing && s->mode != LMTP_MODE_COMMIT) {
		struct evbuffer *in = net_conn_input(s->conn);
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		if (s->mode == LMTP_MODE_DATA) {
			struct evbuffer_iovec vec;
			if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
				break;
			size_t used = 0;
			int done = lmtp_data_feed(&s->data, vec.iov_base,
						  vec.iov_len, &used);
			evbuffer_drain(in, used);
			if (done)
				session_data_done(s);
			continue;
		}
		struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
		if (s->discarding) {
			if (eol.pos < 0) {
				evbuffer_drain(in, avail);
				break;
			}
			evbuffer_drain(in, (size_t)eol.pos + 1);
			s->discarding = false;
			session_error(s, "500 5.5.2 Line too long");
			continue;
		}
		if (eol.pos < 0) {
			if (avail > LMTP_LINE_MAX + 1) {
				/* RFC 5321 §4.5.3.1.4: the rest of the line
				 * goes, then one error */
				s->discarding = true;
				evbuffer_drain(in, avail);
			}
			break;
		}
		size_t len = (size_t)eol.pos;
		if (len > LMTP_LINE_MAX + 1) {
			evbuffer_drain(in, len + 1);
			session_error(s, "500 5.5.2 Line too long");
			continue;
		}
		char line[LMTP_LINE_MAX + 2];
		evbuffer_remove(in, line, len + 1);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > LMTP_LINE_MAX) {
			session_error(s, "500 5.5.2 Line too long");
			continue;
		}
		line[len] = '\0';
		session_execute(s, line, len);
	}
}

static void session_on_read(struct net_conn *conn, void *ctx)
{
	struct lmtp_session *s = ctx;
	s->last_activity = time(NULL);
	session_process(s);
}

static void session_on_close(struct net_conn *conn, void *ctx,
			     const char *reason)
{
	struct lmtp_session *s = ctx;
	/* mid-DATA: nothing was delivered and nothing will be */
	log_debug("lmtp: session %llu: %s", (unsigned long long)s->id, reason);
	net_conn_destroy(&s->conn);
	session_close(s);
}

static const struct net_conn_callbacks session_callbacks = {
	.on_read = session_on_read,
	.on_close = session_on_close,
};

static void server_accept(struct lmtp_server *srv, int fd)
{
	if (srv->shutting_down) {
		close(fd);
		return;
	}
	struct lmtp_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->id = ++srv->next_id;
	s->conn = net_conn_create(srv->base, fd, NULL, &session_callbacks, s);
	if (s->conn == NULL) {
		free(s);
		return;
	}
	snprintf(s->client_ip, sizeof(s->client_ip), "%s",
		 net_conn_peer_ip(s->conn));
	s->actor.service = "lmtp";
	s->actor.client_ip = s->client_ip;
	s->actor.client_port = net_conn_peer_port(s->conn);
	s->actor.server_port = net_conn_local_port(s->conn);
	s->actor.origin = store_origin_next();
	s->last_activity = time(NULL);
	s->next = srv->all;
	if (srv->all != NULL)
		srv->all->prev = s;
	srv->all = s;
	srv->session_count++;
	if (srv->session_count > srv->cfg->max_connections) {
		log_warn("lmtp: %s: connection limit (%u) reached",
			 s->client_ip, srv->cfg->max_connections);
		session_reply(s, "421 4.3.2 Too many connections, try again later");
		session_close(s);
		return;
	}
	/* RFC 2033 §4: the greeting is the same as SMTP's */
	session_replyf(s, "220 %s LMTP Tidings ready", srv->cfg->server_name);
}

/* ---- timers ---- */

static void server_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lmtp_server *srv = arg;
	time_t now = time(NULL);
	struct lmtp_session *next;
	for (struct lmtp_session *s = srv->all; s != NULL; s = next) {
		next = s->next;
		if (s->closing || s->conn == NULL || s->mode == LMTP_MODE_COMMIT)
			continue;
		if (now - s->last_activity >= (time_t)srv->cfg->lmtp_timeout) {
			log_info("lmtp: %s: idle timeout", s->client_ip);
			session_reply(s, "421 4.4.2 Idle for too long, closing connection");
			session_close(s);
		}
	}
}

/* ---- the server ---- */

struct lmtp_server *lmtp_server_create(struct event_base *base,
				       const struct config *cfg,
				       struct store *store,
				       void (*on_commit)(void *ctx),
				       void *ctx)
{
	struct lmtp_server *srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->cfg = cfg;
	srv->store = store;
	srv->on_commit = on_commit;
	srv->on_commit_ctx = ctx;
	srv->commit_event = event_new(base, -1, 0, server_commit, srv);
	srv->reap_event = event_new(base, -1, 0, server_reap, srv);
	srv->tick_event = event_new(base, -1, EV_PERSIST, server_tick, srv);
	struct timeval tv = { 1, 0 };
	event_add(srv->tick_event, &tv);
	return srv;
}

static void tcp_accept_cb(int fd, void *ctx)
{
	struct lmtp_listener *l = ctx;
	server_accept(l->srv, fd);
}

static void unix_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
			   struct sockaddr *sa, int socklen, void *arg)
{
	struct lmtp_listener *l = arg;
	server_accept(l->srv, fd);
}

static void unix_error_cb(struct evconnlistener *lev, void *arg)
{
	log_warn("lmtp: accept failed: %s", strerror(errno));
}

static int listen_unix(struct lmtp_listener *l, const char *path, char *err,
		       size_t err_size)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, err_size, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* a socket left by an earlier run is replaced; anything else that
	 * has the name is not touched */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_size, "%s exists and is not a socket",
				 path);
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_size, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 1024) < 0) {
		snprintf(err, err_size, "cannot listen on %s: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	l->unix_lev = evconnlistener_new(l->srv->base, unix_accept_cb, l,
					 LEV_OPT_CLOSE_ON_FREE |
					 LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->unix_lev == NULL) {
		snprintf(err, err_size, "cannot listen on %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	evconnlistener_set_error_cb(l->unix_lev, unix_error_cb);
	l->unix_path = xstrdup(path);
	return 0;
}

int lmtp_server_listen(struct lmtp_server *srv, const char *address,
		       char *err, size_t err_size)
{
	struct lmtp_listener *l = xcalloc(1, sizeof(*l));
	l->srv = srv;
	if (address[0] == '/') {
		if (listen_unix(l, address, err, err_size) < 0) {
			free(l);
			return -1;
		}
	} else {
		char host[256];
		int port;
		if (config_parse_listen(address, host, sizeof(host), &port) < 0) {
			snprintf(err, err_size, "invalid address '%s'", address);
			free(l);
			return -1;
		}
		l->tcp = net_listener_create(srv->base, host, port,
					     tcp_accept_cb, l, err, err_size);
		if (l->tcp == NULL) {
			free(l);
			return -1;
		}
	}
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

void lmtp_server_shutdown(struct lmtp_server *srv)
{
	srv->shutting_down = true;
	for (struct lmtp_listener *l = srv->listeners; l != NULL; l = l->next) {
		if (l->tcp != NULL)
			net_listener_pause(l->tcp);
		if (l->unix_lev != NULL)
			evconnlistener_disable(l->unix_lev);
	}
	struct lmtp_session *next;
	for (struct lmtp_session *s = srv->all; s != NULL; s = next) {
		next = s->next;
		/* a queued DATA gets its replies from the commit first */
		if (s->mode == LMTP_MODE_COMMIT || s->closing)
			continue;
		session_reply(s, "421 4.3.2 Server shutting down");
		session_close(s);
	}
}

void lmtp_server_destroy(struct lmtp_server **srvp)
{
	struct lmtp_server *srv = *srvp;
	if (srv == NULL)
		return;
	*srvp = NULL;
	srv->reap_list = NULL;
	srv->commit_head = srv->commit_tail = NULL;
	while (srv->all != NULL)
		session_destroy(srv->all);
	struct lmtp_listener *next;
	for (struct lmtp_listener *l = srv->listeners; l != NULL; l = next) {
		next = l->next;
		if (l->tcp != NULL)
			net_listener_destroy(&l->tcp);
		if (l->unix_lev != NULL) {
			evconnlistener_free(l->unix_lev);
			unlink(l->unix_path);
		}
		free(l->unix_path);
		free(l);
	}
	event_free(srv->commit_event);
	event_free(srv->reap_event);
	event_free(srv->tick_event);
	free(srv);
}

unsigned int lmtp_server_session_count(const struct lmtp_server *srv)
{
	return srv->session_count;
}
