/* The webhook sink: each batch of events is POSTed as a JSON array to the
 * configured URL, signed with HMAC-SHA256 over "<timestamp>.<body>" with
 * the sink's secret.  Only a 2xx answer acknowledges a POST; anything else
 * (another status, a time-out, a refused connection, a TLS failure) makes
 * the runner retry the whole batch with back-off, for as long as it takes.
 *
 * libcurl's multi interface runs inside the sink's own thread, which is
 * this sink's event loop: curl_multi_poll() waits at most
 * WEBHOOK_POLL_MS at a time, so a shutdown never waits for a slow far end.
 * The receiver's side (verifying, deduplicating): docs/events.md. */
#include "events/sink.h"
#include "events/sink-webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* How long one curl_multi_poll() may wait before we look at the stop
 * flag again. */
#define WEBHOOK_POLL_MS 100
/* Limits on the configuration. */
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SECRET_MIN 16
#define WEBHOOK_SECRET_MAX 1024
#define WEBHOOK_TIMEOUT_MAX 3600
/* The runner reads at most 1000 outbox rows per batch (SINK_BATCH). */
#define WEBHOOK_BATCH_MAX 1000
/* How much of a refusal's body goes into the log. */
#define WEBHOOK_REPLY_LOG_MAX 200

struct webhook {
	struct sink_backend base;
	char *name;
	char *url;
	char *secret;
	size_t secret_len;
	unsigned int timeout;
	unsigned int connect_timeout;
	unsigned int batch_max;
	bool tls_verify;
	char *ca_file;

	CURLM *multi;
	CURL *easy;
	struct strbuf body;
	struct strbuf reply;      /* the start of the last answer's body */
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- the signature ---- */

int sink_webhook_sign(const void *secret, size_t secret_len,
		      const char *timestamp, const char *body, size_t body_len,
		      char hex_r[SINK_WEBHOOK_SIGNATURE_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac_out[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	int ret = -1;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 digest, 0),
		OSSL_PARAM_construct_end(),
	};

	hex_r[0] = '\0';
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	if (ctx == NULL ||
	    EVP_MAC_init(ctx, secret, secret_len, params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)timestamp,
			   strlen(timestamp)) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)body, body_len) != 1 ||
	    EVP_MAC_final(ctx, mac_out, &mac_len, sizeof(mac_out)) != 1 ||
	    mac_len * 2 != SINK_WEBHOOK_SIGNATURE_HEX)
		goto out;
	for (size_t i = 0; i < mac_len; i++) {
		hex_r[2 * i] = digits[mac_out[i] >> 4];
		hex_r[2 * i + 1] = digits[mac_out[i] & 0xf];
	}
	hex_r[2 * mac_len] = '\0';
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

/* ---- the backend ---- */

static const struct sink_backend_ops webhook_ops;

static struct sink_backend *webhook_create(const struct sink_config *sink)
{
	/* Called on the main thread before any sink thread starts: the
	 * one place where curl's global set-up is safe everywhere. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct webhook *w = xcalloc(1, sizeof(*w));
	w->base.ops = &webhook_ops;
	w->name = xstrdup(sink->name);
	w->url = xstrdup(sink->url);
	w->secret = xstrdup(sink->secret);
	w->secret_len = strlen(sink->secret);
	w->timeout = sink->timeout;
	w->connect_timeout = sink->connect_timeout;
	w->batch_max = sink->batch_max;
	w->tls_verify = sink->tls_verify;
	w->ca_file = sink->ca_file != NULL ? xstrdup(sink->ca_file) : NULL;
	if (!w->tls_verify && strncasecmp(w->url, "https://", 8) == 0)
		log_warn("sink %s: tls_verify = no: the server's certificate "
			 "is not checked", w->name);
	return &w->base;
}

static void webhook_destroy(struct sink_backend *b)
{
	struct webhook *w = (struct webhook *)b;
	if (w->easy != NULL)
		curl_easy_cleanup(w->easy);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	/* The secret does not linger in freed memory. */
	if (w->secret != NULL)
		memset(w->secret, 0, w->secret_len);
	free(w->secret);
	free(w->name);
	free(w->url);
	free(w->ca_file);
	strbuf_free(&w->body);
	strbuf_free(&w->reply);
	free(w);
	curl_global_cleanup();
}

/* The answer's body is not needed; its start is kept for the log. */
static size_t webhook_reply_write(char *data, size_t size, size_t n,
				  void *ctx)
{
	struct webhook *w = ctx;
	size_t len = size * n;
	if (w->reply.len < WEBHOOK_REPLY_LOG_MAX) {
		size_t room = WEBHOOK_REPLY_LOG_MAX - w->reply.len;
		strbuf_append(&w->reply, data, len < room ? len : room);
	}
	return len;
}

static int webhook_open(struct sink_backend *b)
{
	struct webhook *w = (struct webhook *)b;
	if (w->easy != NULL)
		return 0;
	w->multi = curl_multi_init();
	w->easy = curl_easy_init();
	if (w->multi == NULL || w->easy == NULL) {
		log_error("sink %s: cannot set up libcurl", w->name);
		goto fail;
	}
	CURL *e = w->easy;
	/* The options that never change; the connection stays open between
	 * POSTs (the multi handle keeps it). */
	if (curl_easy_setopt(e, CURLOPT_URL, w->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
		    CURLE_OK ||
	    /* A redirect is not an acknowledgement: no 3xx is followed,
	     * and it counts as a failure. */
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			     (long)w->timeout * 1000L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     (long)w->connect_timeout * 1000L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER,
			     w->tls_verify ? 1L : 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST,
			     w->tls_verify ? 2L : 0L) != CURLE_OK ||
	    (w->ca_file != NULL &&
	     curl_easy_setopt(e, CURLOPT_CAINFO, w->ca_file) != CURLE_OK) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "tidings-webhook/1") !=
		    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, webhook_reply_write) !=
		    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, w) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->errbuf) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK) {
		log_error("sink %s: libcurl refused an option", w->name);
		goto fail;
	}
	return 0;
fail:
	if (w->easy != NULL)
		curl_easy_cleanup(w->easy);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	w->easy = NULL;
	w->multi = NULL;
	return -1;
}

static int64_t webhook_last_seq(struct sink_backend *b)
{
	/* A receiver cannot be asked; it deduplicates instead. */
	(void)b;
	return 0;
}

/* The seq of a line as sink_filter_apply() writes it: {"seq":N,... */
static int64_t webhook_line_seq(const char *line)
{
	static const char prefix[] = "{\"seq\":";
	if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	return strtoll(line + sizeof(prefix) - 1, NULL, 10);
}

/* Printable text of the answer, for the log. */
static void webhook_reply_clean(struct webhook *w)
{
	for (size_t i = 0; i < w->reply.len; i++) {
		unsigned char c = (unsigned char)w->reply.s[i];
		if (c < 0x20 || c >= 0x7f)
			w->reply.s[i] = ' ';
	}
}

/* Runs one transfer of the easy handle to its end, or until the sink
 * stops.  0 with the curl result in *result_r, or -1 when stopped. */
static int webhook_transfer(struct webhook *w, CURLcode *result_r)
{
	CURLMcode added = curl_multi_add_handle(w->multi, w->easy);
	if (added != CURLM_OK) {
		snprintf(w->errbuf, sizeof(w->errbuf), "%s",
			 curl_multi_strerror(added));
		*result_r = CURLE_FAILED_INIT;
		return 0;
	}
	int ret = -1;
	for (;;) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(w->multi, &running);
		if (mc != CURLM_OK) {
			snprintf(w->errbuf, sizeof(w->errbuf), "%s",
				 curl_multi_strerror(mc));
			*result_r = CURLE_FAILED_INIT;
			ret = 0;
			break;
		}
		CURLMsg *msg;
		int left;
		bool done = false;
		while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
			if (msg->msg == CURLMSG_DONE &&
			    msg->easy_handle == w->easy) {
				*result_r = msg->data.result;
				done = true;
			}
		}
		if (done) {
			ret = 0;
			break;
		}
		if (sink_manager_stopping(w->base.manager))
			break;
		if (curl_multi_poll(w->multi, NULL, 0, WEBHOOK_POLL_MS,
				    NULL) != CURLM_OK) {
			snprintf(w->errbuf, sizeof(w->errbuf),
				 "curl_multi_poll failed");
			*result_r = CURLE_FAILED_INIT;
			ret = 0;
			break;
		}
	}
	curl_multi_remove_handle(w->multi, w->easy);
	return ret;
}

/* POSTs w->body, the events FIRST..LAST.  0 once a 2xx came back. */
static int webhook_post(struct webhook *w, int64_t first, int64_t last)
{
	char stamp[32], hex[SINK_WEBHOOK_SIGNATURE_HEX + 1];
	/* Signed afresh on every try, so a receiver may refuse old
	 * timestamps (replays) without refusing our retries. */
	snprintf(stamp, sizeof(stamp), "%lld", (long long)time(NULL));
	if (sink_webhook_sign(w->secret, w->secret_len, stamp, w->body.s,
			      w->body.len, hex) < 0) {
		log_error("sink %s: cannot compute the HMAC-SHA256 signature",
			  w->name);
		return -1;
	}
	struct curl_slist *headers = NULL;
	struct strbuf h = STRBUF_INIT;
	static const char *const fixed[] = {
		"Content-Type: application/json",
		/* curl would wait up to 1 s for a "100 Continue" many
		 * servers never send. */
		"Expect:",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		headers = curl_slist_append(headers, fixed[i]);
	strbuf_printf(&h, "X-Tidings-Sink: %s", w->name);
	headers = curl_slist_append(headers, h.s);
	strbuf_reset(&h);
	strbuf_printf(&h, "X-Tidings-Timestamp: %s", stamp);
	headers = curl_slist_append(headers, h.s);
	strbuf_reset(&h);
	strbuf_printf(&h, "X-Tidings-Signature: v1=%s", hex);
	headers = curl_slist_append(headers, h.s);
	strbuf_reset(&h);
	strbuf_printf(&h, "X-Tidings-Event-Ids: %" PRId64 "-%" PRId64, first,
		      last);
	headers = curl_slist_append(headers, h.s);
	strbuf_reset(&h);
	strbuf_printf(&h, "Idempotency-Key: %s-%" PRId64 "-%" PRId64, w->name,
		      first, last);
	headers = curl_slist_append(headers, h.s);
	strbuf_free(&h);
	if (headers == NULL) {
		log_error("sink %s: out of memory for the headers", w->name);
		return -1;
	}

	int ret = -1;
	CURLcode result = CURLE_OK;
	strbuf_reset(&w->reply);
	w->errbuf[0] = '\0';
	if (curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, headers) !=
		    CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body.s) !=
		    CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			     (curl_off_t)w->body.len) != CURLE_OK) {
		log_error("sink %s: libcurl refused the request", w->name);
		goto out;
	}
	if (webhook_transfer(w, &result) < 0) {
		log_info("sink %s: POST of events %" PRId64 "..%" PRId64
			 " abandoned: stopping", w->name, first, last);
		goto out;
	}
	if (result != CURLE_OK) {
		log_warn("sink %s: POST of events %" PRId64 "..%" PRId64
			 " failed: %s", w->name, first, last,
			 w->errbuf[0] != '\0' ? w->errbuf :
			 curl_easy_strerror(result));
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		webhook_reply_clean(w);
		log_warn("sink %s: POST of events %" PRId64 "..%" PRId64
			 " refused: HTTP %ld%s%s", w->name, first, last, status,
			 w->reply.len > 0 ? ": " : "", strbuf_str(&w->reply));
		goto out;
	}
	log_debug("sink %s: POST of events %" PRId64 "..%" PRId64
		  " acknowledged (HTTP %ld, %zu bytes)", w->name, first, last,
		  status, w->body.len);
	ret = 0;
out:
	/* The handle must not point at freed headers or a body that is
	 * about to change. */
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	return ret;
}

static int webhook_deliver(struct sink_backend *b, const char *data,
			   size_t len, int64_t last_seq)
{
	struct webhook *w = (struct webhook *)b;
	(void)last_seq;
	if (w->easy == NULL && webhook_open(b) < 0)
		return -1;
	/* The runner's batch goes out in POSTs of at most batch_max events;
	 * the lines of one outbox row (which share a seq, see flag_mode)
	 * are never split between two POSTs, so (seq, event) and the
	 * Idempotency-Key each name one thing.  A failure re-sends the
	 * whole batch later: at least once, the receiver deduplicates. */
	const char *p = data, *end = data + len;
	while (p < end) {
		strbuf_reset(&w->body);
		strbuf_appendc(&w->body, '[');
		unsigned int count = 0;
		int64_t first = 0, last = 0;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t line_len = nl != NULL ? (size_t)(nl - p) :
						       (size_t)(end - p);
			int64_t seq = webhook_line_seq(p);
			if (count >= w->batch_max && (seq != last || seq == 0))
				break;
			if (count > 0)
				strbuf_appendc(&w->body, ',');
			strbuf_append(&w->body, p, line_len);
			if (count == 0)
				first = seq;
			last = seq;
			count++;
			p += line_len + (nl != NULL ? 1 : 0);
		}
		strbuf_appendc(&w->body, ']');
		if (count > 0 && webhook_post(w, first, last) < 0)
			return -1;
	}
	return 0;
}

static const struct sink_backend_ops webhook_ops = {
	.open = webhook_open,
	.last_seq = webhook_last_seq,
	.deliver = webhook_deliver,
	.destroy = webhook_destroy,
};

/* ---- configuration ---- */

static const char *const webhook_keys[] = {
	"url", "secret", "timeout", "connect_timeout", "batch_max",
	"tls_verify", "ca_file", NULL
};

/* "N" or "Ns": whole seconds from MIN to MAX.  0 / -1. */
static int webhook_parse_seconds(const char *value, unsigned int min,
				 unsigned int max, unsigned int *r)
{
	char *end;
	if (value[0] < '0' || value[0] > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(value, &end, 10);
	if (*end == 's')
		end++;
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*r = (unsigned int)v;
	return 0;
}

static int webhook_check_url(const char *value, char *why, size_t why_size)
{
	size_t n = strlen(value);
	if (n == 0) {
		snprintf(why, why_size, "must not be empty");
		return -1;
	}
	if (n > WEBHOOK_URL_MAX) {
		snprintf(why, why_size, "longer than %d bytes",
			 WEBHOOK_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c <= 0x20 || c == 0x7f) {
			snprintf(why, why_size,
				 "contains a space or control character");
			return -1;
		}
	}
	if (strncasecmp(value, "http://", 7) != 0 &&
	    strncasecmp(value, "https://", 8) != 0) {
		snprintf(why, why_size, "must start with http:// or https://");
		return -1;
	}
	CURLU *u = curl_url();
	if (u == NULL)
		abort();
	char *host = NULL;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, value, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	int ret = 0;
	if (rc != CURLUE_OK || host == NULL || host[0] == '\0') {
		snprintf(why, why_size, "not a valid URL (%s)",
			 rc != CURLUE_OK ? curl_url_strerror(rc) : "no host");
		ret = -1;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

static int webhook_parse(const struct config *cfg,
			 const struct config_sink *raw,
			 struct sink_config *sink, char *err, size_t err_size)
{
	const struct config_option *o;
	char why[256];

	sink->timeout = 10;
	sink->connect_timeout = 5;
	sink->batch_max = 100;
	sink->tls_verify = true;

	if ((o = sink_config_option(raw, "url")) == NULL)
		return sink_config_error(err, err_size, cfg, raw->line,
					 "[sink %s]: missing 'url' (the "
					 "http:// or https:// address events "
					 "are POSTed to)", raw->name);
	if (webhook_check_url(o->value, why, sizeof(why)) < 0)
		return sink_config_error(err, err_size, cfg, o->line,
					 "url: %s", why);
	sink->url = xstrdup(o->value);

	/* Unsigned webhooks would let anyone who finds the URL forge
	 * events: the secret is required. */
	if ((o = sink_config_option(raw, "secret")) == NULL)
		return sink_config_error(err, err_size, cfg, raw->line,
					 "[sink %s]: missing 'secret' (the "
					 "HMAC-SHA256 key, at least %d bytes)",
					 raw->name, WEBHOOK_SECRET_MIN);
	size_t slen = strlen(o->value);
	if (slen < WEBHOOK_SECRET_MIN || slen > WEBHOOK_SECRET_MAX)
		return sink_config_error(err, err_size, cfg, o->line,
					 "secret: must be %d to %d bytes long",
					 WEBHOOK_SECRET_MIN,
					 WEBHOOK_SECRET_MAX);
	sink->secret = xstrdup(o->value);

	if ((o = sink_config_option(raw, "timeout")) != NULL &&
	    webhook_parse_seconds(o->value, 1, WEBHOOK_TIMEOUT_MAX,
				  &sink->timeout) < 0)
		return sink_config_error(err, err_size, cfg, o->line,
					 "timeout: expected whole seconds "
					 "from 1 to %d, such as 10 or 10s",
					 WEBHOOK_TIMEOUT_MAX);
	if ((o = sink_config_option(raw, "connect_timeout")) != NULL) {
		if (webhook_parse_seconds(o->value, 1, WEBHOOK_TIMEOUT_MAX,
					  &sink->connect_timeout) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
						 "connect_timeout: expected "
						 "whole seconds from 1 to %d",
						 WEBHOOK_TIMEOUT_MAX);
	}
	/* The whole POST includes connecting. */
	if (sink->connect_timeout > sink->timeout)
		sink->connect_timeout = sink->timeout;
	if ((o = sink_config_option(raw, "batch_max")) != NULL) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(o->value, &end, 10);
		if (o->value[0] < '0' || o->value[0] > '9' || *end != '\0' ||
		    errno != 0 || v < 1 || v > WEBHOOK_BATCH_MAX)
			return sink_config_error(err, err_size, cfg, o->line,
						 "batch_max: expected a number "
						 "from 1 to %d",
						 WEBHOOK_BATCH_MAX);
		sink->batch_max = (unsigned int)v;
	}
	if ((o = sink_config_option(raw, "tls_verify")) != NULL &&
	    config_parse_bool(o->value, &sink->tls_verify) < 0)
		return sink_config_error(err, err_size, cfg, o->line,
					 "tls_verify: expected yes or no");
	if ((o = sink_config_option(raw, "ca_file")) != NULL) {
		if (o->value[0] == '\0')
			return sink_config_error(err, err_size, cfg, o->line,
						 "ca_file: must not be empty");
		if (access(o->value, R_OK) < 0)
			return sink_config_error(err, err_size, cfg, o->line,
						 "ca_file: cannot read "
						 "%.200s: %s", o->value,
						 strerror(errno));
		sink->ca_file = xstrdup(o->value);
	}
	return 0;
}

const struct sink_type_desc sink_type_webhook = {
	.name = "webhook",
	.type = SINK_TYPE_WEBHOOK,
	.keys = webhook_keys,
	.parse = webhook_parse,
	.create = webhook_create,
};
