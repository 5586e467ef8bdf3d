/* POP3 sessions (RFC 1939).
 *
 * A session reads command lines (at most POP3_LINE_MAX octets; a longer
 * one is discarded to its end and answered -ERR) and answers each in order
 * (PIPELINING, RFC 2449 §6.6).  Passwords are checked on the auth worker's
 * threads; the session reads nothing meanwhile.  RETR and TOP write the
 * message a chunk at a time while the client reads (on_drained), so a big
 * maildrop never sits in memory.  QUIT in TRANSACTION expunges the marked
 * messages in one store call (RFC 1939 §6, the UPDATE state). */
#include "pop3/pop3-server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth-worker.h"
#include "auth/auth.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "net/net-conn.h"
#include "net/net-listen.h"
#include "pop3/pop3-parser.h"

/* RFC 1939 §3: an inactivity timer, if any, of at least 10 minutes. */
#define POP3_IDLE_MIN 600
/* RETR/TOP: bytes encoded per step, and output queued before waiting. */
#define POP3_CHUNK (64 * 1024)
#define POP3_OUTPUT_HIGH (256 * 1024)
#define POP3_AUTH_FAIL_DELAY_MAX_MS 15000
#define POP3_USER_MAX 255

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
};

enum pop3_mode {
	POP3_MODE_COMMAND,
	POP3_MODE_AUTH_CONT,   /* AUTH PLAIN waits for the client's response */
	POP3_MODE_PAUSED,      /* password check or failure delay */
	POP3_MODE_SENDING,     /* RETR/TOP output in progress */
	POP3_MODE_TLS_PENDING, /* STLS answered; switch once it is written */
};

struct pop3_msg {
	uint32_t uid;
	bool deleted;
	uint64_t size;
	int64_t body_id;
};

struct pop3_session {
	struct pop3_server *srv;
	struct net_conn *conn;
	uint64_t id;
	char client_ip[64];
	struct store_actor actor;
	time_t last_activity;

	enum pop3_state state;
	enum pop3_mode mode;
	bool closing;
	bool reaping;
	bool discarding;      /* inside an overlong line */
	bool input_stopped;
	unsigned int bad_commands;
	unsigned int auth_failures;

	char *pending_user;   /* USER given, PASS awaited */
	struct store_user user;
	bool logged_in;
	/* Logout's vnd.tidings.reason (first one set wins; NULL = the peer
	 * went away) and the login time for vnd.tidings.duration */
	const char *close_reason;
	time_t login_time;

	/* the maildrop: INBOX's messages at login */
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	size_t count;

	/* RETR/TOP in progress */
	struct store_body body;
	bool body_open;
	size_t body_pos;
	struct pop3_encoder enc;

	struct auth_job *auth_job;
	struct event *delay_event;
	char *delayed_reply;

	struct strbuf out;
	struct pop3_session *next, *prev;
	struct pop3_session *reap_next;
};

struct pop3_listener {
	struct net_listener *tcp;
	bool implicit_tls;
	struct pop3_server *srv;
	struct pop3_listener *next;
};

struct pop3_server {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	SSL_CTX *tls;
	void (*on_commit)(void *ctx);
	void *on_commit_ctx;

	struct pop3_listener *listeners;
	struct pop3_session *all;
	unsigned int session_count;
	uint64_t next_id;
	bool shutting_down;

	struct auth_worker *auth_worker;
	struct event *auth_event;
	struct pop3_session *reap_list;
	struct event *reap_event;
	struct event *tick_event;
};

static void session_process(struct pop3_session *s);

static void server_committed(struct pop3_server *srv)
{
	if (srv->on_commit != NULL)
		srv->on_commit(srv->on_commit_ctx);
}

/* ---- lifetimes ---- */

static void session_body_close(struct pop3_session *s)
{
	if (s->body_open) {
		store_body_close(&s->body);
		s->body_open = false;
	}
}

static void session_schedule_reap(struct pop3_session *s)
{
	if (s->reaping)
		return;
	s->reaping = true;
	s->reap_next = s->srv->reap_list;
	s->srv->reap_list = s;
	event_active(s->srv->reap_event, 0, 0);
}

static void session_destroy(struct pop3_session *s)
{
	struct pop3_server *srv = s->srv;
	if (s->logged_in) {
		struct store_error err;
		s->actor.logout_reason = s->close_reason != NULL ?
			s->close_reason : "disconnect";
		time_t now = time(NULL);
		s->actor.session_seconds = now > s->login_time ?
			(int64_t)(now - s->login_time) : 0;
		if (store_event_logout(srv->store, &s->actor, &err) < 0)
			log_warn("pop3: Logout event for %s: %s", s->user.name,
				 err.msg);
		else
			server_committed(srv);
	}
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->all = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->session_count--;
	if (s->auth_job != NULL)
		s->auth_job->ctx = NULL;
	if (s->conn != NULL)
		net_conn_destroy(&s->conn);
	if (s->delay_event != NULL)
		event_free(s->delay_event);
	session_body_close(s);
	free(s->delayed_reply);
	if (s->pending_user != NULL)
		auth_secret_free(s->pending_user);
	free(s->msgs);
	strbuf_free(&s->out);
	free(s);
}

static void server_reap(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_server *srv = arg;
	while (srv->reap_list != NULL) {
		struct pop3_session *s = srv->reap_list;
		srv->reap_list = s->reap_next;
		session_destroy(s);
	}
}

/* Ends the session once what is queued has been written. */
static void session_close(struct pop3_session *s)
{
	s->closing = true;
	if (s->conn != NULL)
		net_conn_close_after_flush(&s->conn);
	session_schedule_reap(s);
}

/* ---- output ---- */

static void session_write(struct pop3_session *s, const char *data, size_t len)
{
	if (s->conn == NULL || s->closing)
		return;
	net_conn_write(s->conn, data, len);
	if (net_conn_output_pending(s->conn) > s->srv->cfg->output_buffer_max) {
		log_info("pop3: %s: client does not read its replies; disconnecting",
			 s->client_ip);
		if (s->close_reason == NULL)
			s->close_reason = "error";
		s->closing = true;
		net_conn_destroy(&s->conn);
		session_schedule_reap(s);
	}
}

/* One line: text plus CRLF. */
static void session_reply(struct pop3_session *s, const char *text)
{
	strbuf_reset(&s->out);
	strbuf_appends(&s->out, text);
	strbuf_appends(&s->out, "\r\n");
	session_write(s, s->out.s, s->out.len);
}

static void session_replyf(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void session_replyf(struct pop3_session *s, const char *fmt, ...)
{
	strbuf_reset(&s->out);
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	strbuf_appends(&s->out, "\r\n");
	session_write(s, s->out.s, s->out.len);
}

/* A command that was wrong: -ERR, and the connection ends after
 * max_bad_commands of them. */
static void session_bad(struct pop3_session *s, const char *text)
{
	session_replyf(s, "-ERR %s", text);
	if (++s->bad_commands >= s->srv->cfg->max_bad_commands) {
		session_reply(s, "-ERR Too many invalid commands, closing connection");
		if (s->close_reason == NULL)
			s->close_reason = "error";
		session_close(s);
	}
}

static bool session_plaintext_ok(const struct pop3_session *s)
{
	const struct config *cfg = s->srv->cfg;
	if (net_conn_is_tls(s->conn) || cfg->allow_plaintext_auth)
		return true;
	return cfg->plaintext_auth_loopback && net_conn_peer_is_loopback(s->conn);
}

/* ---- authorization ---- */

static void auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;
	if (s->delayed_reply != NULL) {
		session_reply(s, s->delayed_reply);
		free(s->delayed_reply);
		s->delayed_reply = NULL;
	}
	if (s->auth_failures >= s->srv->cfg->max_auth_failures) {
		session_reply(s, "-ERR [AUTH] Too many authentication failures, closing connection");
		session_close(s);
		return;
	}
	s->mode = POP3_MODE_COMMAND;
	session_process(s);
}

/* The -ERR comes after a delay that doubles with every failure, as in
 * IMAP: a password guesser slows down, a typo costs a second. */
static void session_auth_failed(struct pop3_session *s, const char *text)
{
	s->auth_failures++;
	log_info("pop3: %s: authentication failed (%u)", s->client_ip,
		 s->auth_failures);
	free(s->delayed_reply);
	struct strbuf r = STRBUF_INIT;
	strbuf_printf(&r, "-ERR [AUTH] %s", text);
	s->delayed_reply = strbuf_detach(&r, NULL);
	unsigned long ms = s->srv->cfg->auth_fail_delay_ms;
	for (unsigned int i = 1; i < s->auth_failures &&
	     ms < POP3_AUTH_FAIL_DELAY_MAX_MS; i++)
		ms *= 2;
	if (ms > POP3_AUTH_FAIL_DELAY_MAX_MS)
		ms = POP3_AUTH_FAIL_DELAY_MAX_MS;
	if (s->delay_event == NULL)
		s->delay_event = evtimer_new(s->srv->base, auth_delay_done, s);
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };
	s->mode = POP3_MODE_PAUSED;
	evtimer_add(s->delay_event, &tv);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct pop3_msg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Enters TRANSACTION: takes the snapshot of INBOX (RFC 1939 §8: message
 * numbers and sizes stay as they were at login for the whole session). */
static void session_logged_in(struct pop3_session *s,
			      const struct store_user *u)
{
	struct pop3_server *srv = s->srv;
	struct store_mailbox mb;
	struct store_message_list list = { 0 };
	struct store_error err;
	if (store_mailbox_get(srv->store, u->id, "INBOX", &mb, &err) < 0 ||
	    store_message_range(srv->store, mb.id, 1, UINT32_MAX, &list,
				&err) < 0) {
		log_warn("pop3: %s: cannot open the INBOX of %s: %s",
			 s->client_ip, u->name, err.msg);
		session_reply(s, "-ERR [SYS/TEMP] Cannot open the maildrop, try again later");
		return;
	}
	s->user = *u;
	s->mailbox_id = mb.id;
	s->uidvalidity = mb.uidvalidity;
	s->count = list.count;
	s->msgs = xcalloc(list.count ? list.count : 1, sizeof(*s->msgs));
	for (size_t i = 0; i < list.count; i++) {
		s->msgs[i].uid = list.msgs[i].uid;
		s->msgs[i].size = list.msgs[i].size;
		s->msgs[i].body_id = list.msgs[i].body_id;
	}
	store_message_list_free(&list);
	qsort(s->msgs, s->count, sizeof(*s->msgs), msg_cmp);
	s->state = POP3_STATE_TRANSACTION;
	s->logged_in = true;
	s->actor.user = s->user.name;
	s->actor.tls = net_conn_is_tls(s->conn);
	s->login_time = time(NULL);
	if (store_event_login(srv->store, &s->actor, &err) < 0)
		log_warn("pop3: Login event for %s: %s", u->name, err.msg);
	else
		server_committed(srv);
	log_info("pop3: %s: user %s logged in%s, %zu messages", s->client_ip,
		 u->name, net_conn_is_tls(s->conn) ? " (TLS)" : "", s->count);
	uint64_t total = 0;
	for (size_t i = 0; i < s->count; i++)
		total += s->msgs[i].size;
	session_replyf(s, "+OK Logged in, %zu messages (%llu octets)", s->count,
		       (unsigned long long)total);
}

static void auth_job_done(struct auth_job *job)
{
	struct pop3_session *s = job->ctx;
	if (s != NULL && (s->conn == NULL || s->closing)) {
		s->auth_job = NULL;
		s = NULL;
	}
	if (s == NULL) {
		auth_job_free(job);
		return;
	}
	s->auth_job = NULL;
	s->mode = POP3_MODE_COMMAND;
	struct store_user u;
	struct store_error err;
	if (!job->ok ||
	    store_user_lookup(s->srv->store, job->user, &u, &err) < 0)
		session_auth_failed(s, "Authentication failed");
	else
		session_logged_in(s, &u);
	auth_job_free(job);
	if (s->mode == POP3_MODE_COMMAND)
		session_process(s);
}

/* Takes over password (a malloc'd string). */
static void session_auth_check(struct pop3_session *s, const char *authzid,
			       const char *user, char *password)
{
	struct store_user u;
	struct store_error err;
	if (authzid != NULL && authzid[0] != '\0' && strcmp(authzid, user) != 0) {
		auth_secret_free(password);
		session_auth_failed(s, "Authorization identity not permitted");
		return;
	}
	if (user[0] == '\0' || strlen(user) > POP3_USER_MAX) {
		auth_secret_free(password);
		session_auth_failed(s, "Authentication failed");
		return;
	}
	bool known = store_user_lookup(s->srv->store, user, &u, &err) == 0;
	if (!known && err.code != STORE_ERR_NONEXISTENT) {
		auth_secret_free(password);
		session_reply(s, "-ERR [SYS/TEMP] Temporary failure, try again later");
		return;
	}
	/* argon2id on a worker thread; an unknown user costs the same time
	 * as a wrong password */
	struct auth_job *job = xcalloc(1, sizeof(*job));
	job->encoded = xstrdup(known ? u.password_hash : "");
	job->password = password;
	job->user = xstrdup(user);
	job->done = auth_job_done;
	job->ctx = s;
	s->auth_job = job;
	s->mode = POP3_MODE_PAUSED;
	auth_worker_submit(s->srv->auth_worker, job);
}

static bool session_require_plaintext(struct pop3_session *s)
{
	if (session_plaintext_ok(s))
		return true;
	/* RFC 2595 §4 */
	session_reply(s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS");
	return false;
}

static void cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!session_require_plaintext(s))
		return;
	if (strlen(cmd->arg) > POP3_USER_MAX) {
		session_bad(s, "User name too long");
		return;
	}
	if (s->pending_user != NULL)
		auth_secret_free(s->pending_user);
	s->pending_user = xstrdup(cmd->arg);
	session_reply(s, "+OK Send your password");
}

static void cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (s->pending_user == NULL) {
		session_bad(s, "Send USER first");
		return;
	}
	char *user = s->pending_user;
	s->pending_user = NULL;
	if (!session_require_plaintext(s)) {
		auth_secret_free(user);
		return;
	}
	/* vnd.tidings.mechanism of the Login event, if this succeeds */
	s->actor.mechanism = "USER";
	session_auth_check(s, NULL, user, xstrdup(cmd->arg));
	auth_secret_free(user);
}

static void auth_plain_response(struct pop3_session *s, const char *b64,
				size_t len)
{
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	if (auth_sasl_plain_decode(b64, len, &authzid, &authcid, &password) < 0) {
		session_bad(s, "Invalid SASL PLAIN response");
		return;
	}
	s->actor.mechanism = "PLAIN";
	session_auth_check(s, authzid, authcid, password);
	free(authzid);
	free(authcid);
}

static void cmd_auth(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (cmd->argc == 0) {
		/* Not in RFC 5034, but clients ask this way (as with CAPA's
		 * SASL line): the list of mechanisms. */
		session_reply(s, "+OK Mechanisms follow");
		session_reply(s, "PLAIN");
		session_reply(s, ".");
		return;
	}
	if (strcasecmp(cmd->arg, "PLAIN") != 0) {
		session_reply(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (!session_require_plaintext(s))
		return;
	if (cmd->argc == 2) {
		/* RFC 5034 §4: "=" is an empty initial response */
		const char *ir = strcmp(cmd->arg2, "=") == 0 ? "" : cmd->arg2;
		auth_plain_response(s, ir, strlen(ir));
		return;
	}
	s->mode = POP3_MODE_AUTH_CONT;
	session_reply(s, "+ ");
}

static void session_auth_continue(struct pop3_session *s, const char *line,
				  size_t len)
{
	s->mode = POP3_MODE_COMMAND;
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 §4: the client cancels */
		session_reply(s, "-ERR Authentication cancelled");
		return;
	}
	auth_plain_response(s, line, len);
}

static void cmd_stls(struct pop3_session *s)
{
	if (s->srv->tls == NULL) {
		session_reply(s, "-ERR STLS not available");
		return;
	}
	if (net_conn_is_tls(s->conn)) {
		session_bad(s, "TLS is already active");
		return;
	}
	session_reply(s, "+OK Begin TLS negotiation");
	/* RFC 2595 §4: whatever was said before is forgotten; input sent in
	 * clear after STLS is discarded by the switch (net_conn_starttls) */
	if (s->pending_user != NULL) {
		auth_secret_free(s->pending_user);
		s->pending_user = NULL;
	}
	s->mode = POP3_MODE_TLS_PENDING;
}

static void cmd_capa(struct pop3_session *s)
{
	bool auth = s->state == POP3_STATE_AUTHORIZATION;
	/* RFC 2449 §5 */
	session_reply(s, "+OK Capability list follows");
	session_reply(s, "TOP");
	session_reply(s, "UIDL");
	if (auth && session_plaintext_ok(s)) {
		session_reply(s, "USER");
		session_reply(s, "SASL PLAIN");
	}
	session_reply(s, "RESP-CODES");
	session_reply(s, "AUTH-RESP-CODE");
	session_reply(s, "PIPELINING");
	if (auth && s->srv->tls != NULL && !net_conn_is_tls(s->conn))
		session_reply(s, "STLS");
	session_reply(s, "IMPLEMENTATION Tidings");
	session_reply(s, ".");
}

/* ---- transaction ---- */

/* The message numbered n (from 1), or NULL with -ERR sent. */
static struct pop3_msg *session_msg(struct pop3_session *s, uint64_t n)
{
	if (n == 0 || n > s->count) {
		session_reply(s, "-ERR No such message");
		return NULL;
	}
	struct pop3_msg *m = &s->msgs[n - 1];
	if (m->deleted) {
		session_reply(s, "-ERR Message is deleted");
		return NULL;
	}
	return m;
}

static void cmd_stat(struct pop3_session *s)
{
	size_t n = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->msgs[i].deleted)
			continue;
		n++;
		total += s->msgs[i].size;
	}
	session_replyf(s, "+OK %zu %llu", n, (unsigned long long)total);
}

static void cmd_list(struct pop3_session *s, const struct pop3_command *cmd,
		     bool uidl)
{
	if (cmd->argc == 1) {
		struct pop3_msg *m = session_msg(s, cmd->msg);
		if (m == NULL)
			return;
		if (uidl)
			session_replyf(s, "+OK %llu %u.%u",
				       (unsigned long long)cmd->msg,
				       s->uidvalidity, m->uid);
		else
			session_replyf(s, "+OK %llu %llu",
				       (unsigned long long)cmd->msg,
				       (unsigned long long)m->size);
		return;
	}
	session_reply(s, uidl ? "+OK Unique-ID listing follows" :
			 "+OK Scan listing follows");
	/* one write for the listing: a line per message */
	struct strbuf b = STRBUF_INIT;
	for (size_t i = 0; i < s->count; i++) {
		if (s->msgs[i].deleted)
			continue;
		if (uidl)
			strbuf_printf(&b, "%zu %u.%u\r\n", i + 1,
				      s->uidvalidity, s->msgs[i].uid);
		else
			strbuf_printf(&b, "%zu %llu\r\n", i + 1,
				      (unsigned long long)s->msgs[i].size);
	}
	strbuf_appends(&b, ".\r\n");
	session_write(s, b.s, b.len);
	strbuf_free(&b);
}

/* Writes the message a chunk at a time while the output drains. */
static void session_send_more(struct pop3_session *s)
{
	while (s->conn != NULL && !s->closing &&
	       s->mode == POP3_MODE_SENDING &&
	       net_conn_output_pending(s->conn) < POP3_OUTPUT_HIGH) {
		strbuf_reset(&s->out);
		size_t left = s->body.len - s->body_pos;
		if (left > 0 && !s->enc.done) {
			size_t n = left < POP3_CHUNK ? left : POP3_CHUNK;
			s->body_pos += pop3_encoder_feed(&s->enc,
				s->body.data + s->body_pos, n, &s->out);
		}
		if (s->body_pos >= s->body.len || s->enc.done) {
			pop3_encoder_finish(&s->enc, &s->out);
			session_body_close(s);
			s->mode = POP3_MODE_COMMAND;
		}
		if (s->out.len > 0)
			session_write(s, s->out.s, s->out.len);
	}
}

static void cmd_retr(struct pop3_session *s, const struct pop3_command *cmd,
		     bool top)
{
	struct pop3_msg *m = session_msg(s, cmd->msg);
	if (m == NULL)
		return;
	struct store_error err;
	if (store_body_open(s->srv->store, m->body_id, &s->body, &err) < 0) {
		/* expunged by another session since the snapshot */
		log_info("pop3: %s: message %u: %s", s->client_ip, m->uid,
			 err.msg);
		session_reply(s, err.code == STORE_ERR_INTERNAL ?
			      "-ERR [SYS/TEMP] Cannot read the message" :
			      "-ERR Message no longer exists");
		return;
	}
	s->body_open = true;
	s->body_pos = 0;
	pop3_encoder_init(&s->enc, top, cmd->lines);
	if (top)
		session_reply(s, "+OK Top of message follows");
	else
		session_replyf(s, "+OK %llu octets",
			       (unsigned long long)m->size);
	s->mode = POP3_MODE_SENDING;
	session_send_more(s);
}

static void cmd_dele(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_msg *m = session_msg(s, cmd->msg);
	if (m == NULL)
		return;
	m->deleted = true;
	session_replyf(s, "+OK Message %llu deleted",
		       (unsigned long long)cmd->msg);
}

static void cmd_rset(struct pop3_session *s)
{
	for (size_t i = 0; i < s->count; i++)
		s->msgs[i].deleted = false;
	session_replyf(s, "+OK %zu messages", s->count);
}

static void cmd_quit(struct pop3_session *s)
{
	if (s->close_reason == NULL)
		s->close_reason = "logout";
	if (s->state != POP3_STATE_TRANSACTION) {
		session_reply(s, "+OK Bye");
		session_close(s);
		return;
	}
	/* RFC 1939 §6: the UPDATE state */
	size_t n = 0;
	uint32_t *uids = xcalloc(s->count ? s->count : 1, sizeof(*uids));
	for (size_t i = 0; i < s->count; i++)
		if (s->msgs[i].deleted)
			uids[n++] = s->msgs[i].uid;
	size_t expunged = 0;
	struct store_error err;
	if (n > 0 && store_message_expunge(s->srv->store, &s->actor,
					   s->mailbox_id, uids, n, NULL,
					   &expunged, &err) < 0) {
		log_warn("pop3: %s: expunge for %s failed: %s", s->client_ip,
			 s->user.name, err.msg);
		session_reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
	} else {
		if (n > 0) {
			server_committed(s->srv);
			log_info("pop3: %s: %s expunged %zu message(s)",
				 s->client_ip, s->user.name, expunged);
		}
		session_replyf(s, "+OK Bye, %zu messages deleted", n);
	}
	free(uids);
	session_close(s);
}

/* ---- dispatch ---- */

static void session_execute(struct pop3_session *s, const char *line,
			    size_t len)
{
	struct pop3_command cmd;
	const char *error = NULL;
	if (pop3_command_parse(line, len, &cmd, &error) < 0) {
		session_bad(s, error);
		return;
	}
	bool auth = s->state == POP3_STATE_AUTHORIZATION;
	bool ok_in_auth = cmd.verb == POP3_VERB_USER || cmd.verb == POP3_VERB_PASS ||
		cmd.verb == POP3_VERB_AUTH || cmd.verb == POP3_VERB_STLS ||
		cmd.verb == POP3_VERB_CAPA || cmd.verb == POP3_VERB_QUIT;
	bool ok_in_trans = !(cmd.verb == POP3_VERB_USER || cmd.verb == POP3_VERB_PASS ||
		cmd.verb == POP3_VERB_AUTH || cmd.verb == POP3_VERB_STLS);
	if ((auth && !ok_in_auth) || (!auth && !ok_in_trans)) {
		session_bad(s, auth ? "Not logged in" :
			    "Command not valid in the TRANSACTION state");
		return;
	}
	switch (cmd.verb) {
	case POP3_VERB_USER:
		cmd_user(s, &cmd);
		break;
	case POP3_VERB_PASS:
		cmd_pass(s, &cmd);
		break;
	case POP3_VERB_AUTH:
		cmd_auth(s, &cmd);
		break;
	case POP3_VERB_STLS:
		cmd_stls(s);
		break;
	case POP3_VERB_CAPA:
		cmd_capa(s);
		break;
	case POP3_VERB_QUIT:
		cmd_quit(s);
		break;
	case POP3_VERB_STAT:
		cmd_stat(s);
		break;
	case POP3_VERB_LIST:
		cmd_list(s, &cmd, false);
		break;
	case POP3_VERB_UIDL:
		cmd_list(s, &cmd, true);
		break;
	case POP3_VERB_RETR:
		cmd_retr(s, &cmd, false);
		break;
	case POP3_VERB_TOP:
		cmd_retr(s, &cmd, true);
		break;
	case POP3_VERB_DELE:
		cmd_dele(s, &cmd);
		break;
	case POP3_VERB_NOOP:
		session_reply(s, "+OK");
		break;
	case POP3_VERB_RSET:
		cmd_rset(s);
		break;
	case POP3_VERB_UNKNOWN:
		session_bad(s, "Unknown command");
		break;
	}
	explicit_bzero(cmd.arg, sizeof(cmd.arg));
	explicit_bzero(cmd.arg2, sizeof(cmd.arg2));
}

/* ---- input ---- */

static void session_line_too_long(struct pop3_session *s)
{
	if (s->mode == POP3_MODE_AUTH_CONT) {
		s->mode = POP3_MODE_COMMAND;
		session_bad(s, "Authentication response too long");
		return;
	}
	session_bad(s, "Line too long");
}

static void session_process(struct pop3_session *s)
{
	while (s->conn != NULL && !s->closing &&
	       (s->mode == POP3_MODE_COMMAND || s->mode == POP3_MODE_AUTH_CONT)) {
		struct evbuffer *in = net_conn_input(s->conn);
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
		if (s->discarding) {
			if (eol.pos < 0) {
				evbuffer_drain(in, avail);
				break;
			}
			evbuffer_drain(in, (size_t)eol.pos + 1);
			s->discarding = false;
			session_line_too_long(s);
			continue;
		}
		if (eol.pos < 0) {
			if (avail > POP3_LINE_MAX + 1) {
				s->discarding = true;
				evbuffer_drain(in, avail);
			}
			break;
		}
		size_t len = (size_t)eol.pos;
		if (len > POP3_LINE_MAX + 1) {
			evbuffer_drain(in, len + 1);
			session_line_too_long(s);
			continue;
		}
		char line[POP3_LINE_MAX + 2];
		evbuffer_remove(in, line, len + 1);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > POP3_LINE_MAX) {
			session_line_too_long(s);
			continue;
		}
		line[len] = '\0';
		if (s->mode == POP3_MODE_AUTH_CONT)
			session_auth_continue(s, line, len);
		else
			session_execute(s, line, len);
		explicit_bzero(line, sizeof(line));
	}
	/* While a command is in progress nothing is consumed: once a line's
	 * worth is buffered, stop reading so TCP pushes back. */
	if (s->conn == NULL || s->closing)
		return;
	bool busy = s->mode != POP3_MODE_COMMAND &&
		    s->mode != POP3_MODE_AUTH_CONT;
	if (busy && !s->input_stopped &&
	    evbuffer_get_length(net_conn_input(s->conn)) > POP3_LINE_MAX) {
		s->input_stopped = true;
		net_conn_set_reading(s->conn, false);
	} else if (!busy && s->input_stopped) {
		s->input_stopped = false;
		net_conn_set_reading(s->conn, true);
	}
}

static void session_on_read(struct net_conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;
	s->last_activity = time(NULL);
	session_process(s);
}

static void session_on_drained(struct net_conn *conn, void *ctx)
{
	struct pop3_session *s = ctx;
	s->last_activity = time(NULL);
	if (s->mode == POP3_MODE_SENDING) {
		session_send_more(s);
		if (s->mode == POP3_MODE_COMMAND && s->srv->shutting_down) {
			if (s->close_reason == NULL)
				s->close_reason = "shutdown";
			session_reply(s, "-ERR [SYS/TEMP] Server shutting down");
			session_close(s);
			return;
		}
	} else if (s->mode == POP3_MODE_TLS_PENDING) {
		if (net_conn_starttls(s->conn, s->srv->tls) < 0) {
			log_warn("pop3: %s: STLS failed", s->client_ip);
			if (s->close_reason == NULL)
				s->close_reason = "error";
			s->closing = true;
			net_conn_destroy(&s->conn);
			session_schedule_reap(s);
			return;
		}
		s->mode = POP3_MODE_COMMAND;
	}
	if (s->mode == POP3_MODE_COMMAND && s->conn != NULL && !s->closing)
		session_process(s);
}

static void session_on_close(struct net_conn *conn, void *ctx,
			     const char *reason)
{
	struct pop3_session *s = ctx;
	/* no QUIT: no UPDATE state, nothing is deleted (RFC 1939 §6) */
	log_debug("pop3: session %llu: %s", (unsigned long long)s->id, reason);
	net_conn_destroy(&s->conn);
	session_close(s);
}

static const struct net_conn_callbacks session_callbacks = {
	.on_read = session_on_read,
	.on_close = session_on_close,
	.on_drained = session_on_drained,
};

static void server_accept(struct pop3_server *srv, int fd, bool implicit_tls)
{
	if (srv->shutting_down) {
		close(fd);
		return;
	}
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->id = ++srv->next_id;
	s->conn = net_conn_create(srv->base, fd, implicit_tls ? srv->tls : NULL,
				  &session_callbacks, s);
	if (s->conn == NULL) {
		free(s);
		return;
	}
	snprintf(s->client_ip, sizeof(s->client_ip), "%s",
		 net_conn_peer_ip(s->conn));
	s->actor.service = "pop3";
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
		log_warn("pop3: %s: connection limit (%u) reached",
			 s->client_ip, srv->cfg->max_connections);
		session_reply(s, "-ERR [SYS/TEMP] Too many connections, try again later");
		session_close(s);
		return;
	}
	unsigned int from_ip = 0;
	for (struct pop3_session *o = srv->all; o != NULL; o = o->next)
		if (!o->closing && strcmp(o->client_ip, s->client_ip) == 0)
			from_ip++;
	if (from_ip > srv->cfg->max_connections_per_ip) {
		log_warn("pop3: %s: per-address connection limit (%u) reached",
			 s->client_ip, srv->cfg->max_connections_per_ip);
		session_reply(s, "-ERR [SYS/TEMP] Too many connections from your address");
		session_close(s);
		return;
	}
	session_reply(s, "+OK Tidings POP3 ready.");
}

/* ---- timers ---- */

static void server_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_server *srv = arg;
	time_t now = time(NULL);
	const struct config *cfg = srv->cfg;
	time_t idle_limit = cfg->idle_timeout > POP3_IDLE_MIN ?
		(time_t)cfg->idle_timeout : POP3_IDLE_MIN;
	struct pop3_session *next;
	for (struct pop3_session *s = srv->all; s != NULL; s = next) {
		next = s->next;
		if (s->closing || s->conn == NULL || s->mode == POP3_MODE_PAUSED)
			continue;
		time_t limit = s->state == POP3_STATE_AUTHORIZATION ?
			(time_t)cfg->login_timeout : idle_limit;
		if (now - s->last_activity >= limit) {
			/* RFC 1939 §3: the session ends without UPDATE */
			log_info("pop3: %s: %s timeout", s->client_ip,
				 s->state == POP3_STATE_AUTHORIZATION ?
				 "login" : "idle");
			if (s->mode != POP3_MODE_SENDING)
				session_reply(s, "-ERR Autologout; idle for too long");
			if (s->close_reason == NULL)
				s->close_reason = "timeout";
			session_close(s);
		}
	}
}

static void server_auth_done(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_server *srv = arg;
	auth_worker_collect(srv->auth_worker);
}

/* ---- the server ---- */

struct pop3_server *pop3_server_create(struct event_base *base,
				       const struct config *cfg,
				       struct store *store, SSL_CTX *tls,
				       void (*on_commit)(void *ctx),
				       void *ctx)
{
	struct pop3_server *srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->cfg = cfg;
	srv->store = store;
	srv->tls = tls;
	srv->on_commit = on_commit;
	srv->on_commit_ctx = ctx;
	srv->reap_event = event_new(base, -1, 0, server_reap, srv);
	srv->auth_worker = auth_worker_create(2);
	srv->auth_event = event_new(base, auth_worker_fd(srv->auth_worker),
				    EV_READ | EV_PERSIST, server_auth_done, srv);
	event_add(srv->auth_event, NULL);
	srv->tick_event = event_new(base, -1, EV_PERSIST, server_tick, srv);
	struct timeval tv = { 1, 0 };
	event_add(srv->tick_event, &tv);
	return srv;
}

static void tcp_accept_cb(int fd, void *ctx)
{
	struct pop3_listener *l = ctx;
	server_accept(l->srv, fd, l->implicit_tls);
}

int pop3_server_listen(struct pop3_server *srv, const char *address,
		       bool implicit_tls, char *err, size_t err_size)
{
	char host[256];
	int port;
	if (implicit_tls && srv->tls == NULL) {
		snprintf(err, err_size, "implicit TLS needs a certificate");
		return -1;
	}
	if (config_parse_listen(address, host, sizeof(host), &port) < 0) {
		snprintf(err, err_size, "invalid address '%s'", address);
		return -1;
	}
	struct pop3_listener *l = xcalloc(1, sizeof(*l));
	l->srv = srv;
	l->implicit_tls = implicit_tls;
	l->tcp = net_listener_create(srv->base, host, port, tcp_accept_cb, l,
				     err, err_size);
	if (l->tcp == NULL) {
		free(l);
		return -1;
	}
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

void pop3_server_shutdown(struct pop3_server *srv)
{
	srv->shutting_down = true;
	for (struct pop3_listener *l = srv->listeners; l != NULL; l = l->next)
		net_listener_pause(l->tcp);
	struct pop3_session *next;
	for (struct pop3_session *s = srv->all; s != NULL; s = next) {
		next = s->next;
		/* a message being written is finished first */
		if (s->closing || s->mode == POP3_MODE_SENDING)
			continue;
		if (s->close_reason == NULL)
			s->close_reason = "shutdown";
		session_reply(s, "-ERR [SYS/TEMP] Server shutting down");
		session_close(s);
	}
}

void pop3_server_destroy(struct pop3_server **srvp)
{
	struct pop3_server *srv = *srvp;
	if (srv == NULL)
		return;
	*srvp = NULL;
	srv->reap_list = NULL;
	while (srv->all != NULL) {
		if (srv->all->close_reason == NULL)
			srv->all->close_reason = "shutdown";
		session_destroy(srv->all);
	}
	struct pop3_listener *next;
	for (struct pop3_listener *l = srv->listeners; l != NULL; l = next) {
		next = l->next;
		net_listener_destroy(&l->tcp);
		free(l);
	}
	event_free(srv->auth_event);
	auth_worker_destroy(&srv->auth_worker);
	event_free(srv->reap_event);
	event_free(srv->tick_event);
	free(srv);
}

unsigned int pop3_server_session_count(const struct pop3_server *srv)
{
	return srv->session_count;
}
