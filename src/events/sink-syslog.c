/* The syslog sink: one syslog message per event line, written by our own
 * small writer to the syslog daemon's Unix datagram socket (/dev/log by
 * default) rather than through syslog(3), because syslog(3):
 *
 *  - returns nothing: a message it could not hand over (no daemon, socket
 *    gone) is dropped silently, so "acknowledged" would mean nothing and
 *    the sink would lose events, which is the one thing it must not do;
 *  - has one ident and one open connection per process (openlog), which
 *    two syslog sinks with different idents could not share;
 *  - writes only the old BSD format, and cannot be pointed at another
 *    socket (a test's, a container's).
 *
 * The message is the RFC 5424 header (or, with format = rfc3164, the header
 * syslog(3) itself writes), an RFC 5424 structured-data element naming the
 * event and the event's JSON object as the MSG:
 *
 *   <22>1 2026-11-23T16:20:00.123456+01:00 mx1 tidings 4242 MessageNew
 *     [tidings@32473 seq="12" event="MessageNew" user="alice"] {"seq":12,...}
 *
 * docs/events.md "Syslog sink" is the consumer's view. */
#include "events/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define SYSLOG_IDENT_MAX 48      /* RFC 5424 §6.2.5 APP-NAME */
#define SYSLOG_MSGID_MAX 32      /* RFC 5424 §6.2.7 */
#define SYSLOG_HOST_MAX 255      /* RFC 5424 §6.2.4 */
#define SYSLOG_SD_VALUE_MAX 256  /* our cap on one SD-PARAM value */
/* One send waits at most this long for room in the daemon's queue, asking
 * every 100 ms whether tidingsd is stopping (sink.h). */
#define SYSLOG_SEND_WAIT_MS 5000
#define SYSLOG_WAIT_STEP_MS 100
/* The SD-ID: "tidings" at the enterprise number 32473, which RFC 5612
 * reserves for documentation and examples; Tidings has none of its own. */
#define SYSLOG_SD_ID "tidings@32473"

struct syslog_sink {
	struct sink_backend base;
	char *name;
	char *ident;
	char *socket_path;
	bool rfc3164;
	int facility;
	int fd;
	char host[SYSLOG_HOST_MAX + 1];
	/* After a failure in the middle of a batch: the batch's first seq,
	 * and how far it got (lines up to done_seq, done_count lines of
	 * done_seq itself), so that its retry does not send those again. */
	int64_t fail_first_seq;
	int64_t done_seq;
	unsigned int done_count;
};

static const struct sink_backend_ops syslog_ops;

static bool syslog_stopping(struct syslog_sink *s)
{
	return s->base.manager != NULL &&
	       sink_manager_stopping(s->base.manager);
}

static void syslog_close(struct syslog_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int syslog_open(struct sink_backend *b)
{
	struct syslog_sink *s = (struct syslog_sink *)b;
	if (s->fd >= 0)
		return 0;
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* The parser has checked the length. */
	memcpy(sun.sun_path, s->socket_path, strlen(s->socket_path));
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		log_error("sink %s: socket: %s", s->name, strerror(errno));
		return -1;
	}
	if (connect(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_error("sink %s: cannot reach the syslog daemon at %s: %s",
			  s->name, s->socket_path, strerror(errno));
		syslog_close(s);
		return -1;
	}
	return 0;
}

static int64_t syslog_last_seq(struct sink_backend *b)
{
	return 0;
}

/* RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' are escaped with
 * a backslash.  Control characters cannot come from the store's names but
 * would break the line: they become '?'.  Cut at SYSLOG_SD_VALUE_MAX. */
static void syslog_sd_value_append(struct strbuf *out, const char *v)
{
	size_t n = 0;
	for (; *v != '\0' && n < SYSLOG_SD_VALUE_MAX; v++, n++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\' || c == ']')
			strbuf_appendc(out, '\\');
		strbuf_appendc(out, c < ' ' || c == 0x7f ? '?' : (char)c);
	}
}

/* PRINTUSASCII (33..126) for APP-NAME, MSGID and HOSTNAME; "-" when
 * empty (the RFC 5424 NILVALUE). */
static void syslog_token_append(struct strbuf *out, const char *v,
				size_t max)
{
	size_t n = 0;
	for (; *v != '\0' && n < max; v++, n++) {
		unsigned char c = (unsigned char)*v;
		strbuf_appendc(out, c > 32 && c < 127 ? (char)c : '_');
	}
	if (n == 0)
		strbuf_appendc(out, '-');
}

static void syslog_header_append(struct syslog_sink *s, struct strbuf *out,
				 const char *event)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	int pri = s->facility | LOG_INFO;
	if (s->rfc3164) {
		/* What glibc's syslog(3) sends to /dev/log: no hostname,
		 * "TAG[PID]: " (RFC 3164 §4.1.3 for the TAG). */
		strftime(buf, sizeof(buf), "%b %e %H:%M:%S", &tm);
		strbuf_printf(out, "<%d>%s ", pri, buf);
		syslog_token_append(out, s->ident, SYSLOG_IDENT_MAX);
		strbuf_printf(out, "[%ld]: ", (long)getpid());
		return;
	}
	/* RFC 5424 §6.2.3: RFC 3339 time with fractions and the offset. */
	long off = tm.tm_gmtoff;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	strbuf_printf(out, "<%d>1 %s.%06ld%c%02ld:%02ld ", pri, buf,
		      ts.tv_nsec / 1000, sign, off / 3600, (off / 60) % 60);
	syslog_token_append(out, s->host, SYSLOG_HOST_MAX);
	strbuf_appendc(out, ' ');
	syslog_token_append(out, s->ident, SYSLOG_IDENT_MAX);
	strbuf_printf(out, " %ld ", (long)getpid());
	/* §6.2.7: MSGID names the type of message: the event type. */
	syslog_token_append(out, event, SYSLOG_MSGID_MAX);
	strbuf_appendc(out, ' ');
}

/* Header, SD element and the JSON line (without its '\n') for one event.
 * TRUNCATED: the JSON is left out (it did not fit one datagram) and the SD
 * element says so. */
static void syslog_message_build(struct syslog_sink *s, json_t *ev,
				 const char *line, size_t len, bool truncated,
				 struct strbuf *out)
{
	json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
	const char *event = json_string_value(json_object_get(ev, "event"));
	const char *user = json_string_value(json_object_get(ev, "user"));
	if (event == NULL)
		event = "";
	syslog_header_append(s, out, event);
	strbuf_printf(out, "[" SYSLOG_SD_ID " seq=\"%" JSON_INTEGER_FORMAT
		      "\" event=\"", seq);
	syslog_sd_value_append(out, event);
	strbuf_appendc(out, '"');
	if (user != NULL) {
		strbuf_appends(out, " user=\"");
		syslog_sd_value_append(out, user);
		strbuf_appendc(out, '"');
	}
	if (truncated) {
		strbuf_printf(out, " truncated=\"%zu\"] ", len);
		strbuf_printf(out, "event too large for one syslog datagram "
			      "(%zu bytes); tidings events tail --from %"
			      JSON_INTEGER_FORMAT " shows it", len, seq);
		return;
	}
	strbuf_appends(out, "] ");
	strbuf_append(out, line, len);
}

/* Sends one datagram: 0, -1 on failure (errno kept), waiting for room in
 * the daemon's queue (a busy daemon slows us, never loses a message). */
static int syslog_send(struct syslog_sink *s, const char *msg, size_t len)
{
	for (unsigned int waited = 0;;) {
		ssize_t n = send(s->fd, msg, len, MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) {
			errno = EMSGSIZE;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			return -1;
		if (waited >= SYSLOG_SEND_WAIT_MS || syslog_stopping(s)) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
		poll(&pfd, 1, SYSLOG_WAIT_STEP_MS);
		waited += SYSLOG_WAIT_STEP_MS;
	}
}

static int syslog_deliver(struct sink_backend *b, const char *data,
			  size_t len, int64_t last_seq)
{
	struct syslog_sink *s = (struct syslog_sink *)b;
	if (syslog_open(b) < 0)
		return -1;
	struct strbuf msg = STRBUF_INIT;
	const char *p = data, *end = data + len;
	int64_t first_seq = -1, cur_seq = -1;
	unsigned int cur_count = 0;
	bool resuming = false;
	int ret = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl != NULL ? (size_t)(nl - p) :
					       (size_t)(end - p);
		const char *line = p;
		p = nl != NULL ? nl + 1 : end;
		if (line_len == 0)
			continue;
		json_error_t jerr;
		json_t *ev = json_loadb(line, line_len, 0, &jerr);
		if (ev == NULL) {
			log_error("sink %s: an event line is not JSON: %.80s",
				  s->name, line);
			continue;
		}
		int64_t seq = json_integer_value(json_object_get(ev, "seq"));
		if (first_seq < 0) {
			first_seq = seq;
			resuming = s->fail_first_seq == seq;
		}
		if (seq != cur_seq) {
			cur_seq = seq;
			cur_count = 0;
		}
		cur_count++;
		/* Sent already by the failed try of this same batch. */
		if (resuming && (seq < s->done_seq ||
				 (seq == s->done_seq &&
				  cur_count <= s->done_count))) {
			json_decref(ev);
			continue;
		}
		strbuf_reset(&msg);
		syslog_message_build(s, ev, line, line_len, false, &msg);
		int rc = syslog_send(s, msg.s, msg.len);
		if (rc < 0 && errno == EMSGSIZE) {
			log_warn("sink %s: event %" PRId64 " (%zu bytes) does "
				 "not fit one datagram; sent without its JSON",
				 s->name, seq, line_len);
			strbuf_reset(&msg);
			syslog_message_build(s, ev, line, line_len, true, &msg);
			rc = syslog_send(s, msg.s, msg.len);
		}
		json_decref(ev);
		if (rc < 0) {
			log_error("sink %s: writing to %s: %s", s->name,
				  s->socket_path, strerror(errno));
			s->fail_first_seq = first_seq;
			s->done_seq = seq;
			s->done_count = cur_count - 1;
			syslog_close(s);
			ret = -1;
			break;
		}
	}
	if (ret == 0)
		s->fail_first_seq = -1;
	strbuf_free(&msg);
	return ret;
}

static void syslog_destroy(struct sink_backend *b)
{
	struct syslog_sink *s = (struct syslog_sink *)b;
	syslog_close(s);
	free(s->name);
	free(s->ident);
	free(s->socket_path);
	free(s);
}

static struct sink_backend *syslog_create(const struct sink_config *sink)
{
	struct syslog_sink *s = xcalloc(1, sizeof(*s));
	s->base.ops = &syslog_ops;
	s->name = xstrdup(sink->name);
	s->ident = xstrdup(sink->ident);
	s->socket_path = xstrdup(sink->socket_path);
	s->rfc3164 = sink->rfc3164;
	s->facility = sink->facility;
	s->fd = -1;
	s->fail_first_seq = -1;
	if (gethostname(s->host, sizeof(s->host)) < 0)
		s->host[0] = '\0';
	s->host[sizeof(s->host) - 1] = '\0';
	return &s->base;
}

static const struct sink_backend_ops syslog_ops = {
	.open = syslog_open,
	.last_seq = syslog_last_seq,
	.deliver = syslog_deliver,
	.destroy = syslog_destroy,
};

/* ---- configuration ---- */

static const char *const syslog_keys[] = {
	"facility", "ident", "socket", "format", NULL
};

static const struct {
	const char *name;
	int facility;
} syslog_facilities[] = {
	{ "mail", LOG_MAIL }, { "user", LOG_USER }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static int syslog_parse(const struct config *cfg,
			const struct config_sink *raw,
			struct sink_config *sink, char *err, size_t err_size)
{
	const struct config_option *o;
	sink->facility = LOG_MAIL;
	if ((o = sink_config_option(raw, "facility")) != NULL) {
		size_t i, count = sizeof(syslog_facilities) /
				  sizeof(syslog_facilities[0]);
		for (i = 0; i < count; i++) {
			if (strcmp(o->value, syslog_facilities[i].name) == 0)
				break;
		}
		if (i == count)
			return sink_config_error(err, err_size, cfg, o->line,
						 "facility: expected mail, "
						 "user, daemon or local0 ... "
						 "local7");
		sink->facility = syslog_facilities[i].facility;
	}
	o = sink_config_option(raw, "ident");
	const char *ident = o != NULL ? o->value : "tidings";
	size_t n = strlen(ident);
	bool ok = n > 0 && n <= SYSLOG_IDENT_MAX;
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char c = (unsigned char)ident[i];
		if (c <= 32 || c >= 127 || c == '[' || c == ']' || c == ':')
			ok = false;
	}
	if (!ok)
		return sink_config_error(err, err_size, cfg,
					 o != NULL ? o->line : raw->line,
					 "ident: expected 1 to %d printable "
					 "ASCII characters without spaces, "
					 "'[', ']' or ':'", SYSLOG_IDENT_MAX);
	sink->ident = xstrdup(ident);
	o = sink_config_option(raw, "socket");
	const char *path = o != NULL ? o->value : "/dev/log";
	if (path[0] != '/' ||
	    strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return sink_config_error(err, err_size, cfg,
					 o != NULL ? o->line : raw->line,
					 "socket: expected an absolute path "
					 "shorter than %zu bytes",
					 sizeof(((struct sockaddr_un *)0)->sun_path));
	sink->socket_path = xstrdup(path);
	sink->rfc3164 = true;
	if ((o = sink_config_option(raw, "format")) != NULL) {
		if (strcmp(o->value, "rfc5424") == 0)
			sink->rfc3164 = false;
		else if (strcmp(o->value, "rfc3164") != 0)
			return sink_config_error(err, err_size, cfg, o->line,
						 "format: expected rfc3164 or "
						 "rfc5424");
	}
	return 0;
}

const struct sink_type_desc sink_type_syslog = {
	.name = "syslog",
	.type = SINK_TYPE_SYSLOG,
	.keys = syslog_keys,
	.parse = syslog_parse,
	.create = syslog_create,
};
