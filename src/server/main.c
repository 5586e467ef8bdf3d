/* tidingsd: the Tidings server.
 *
 *   tidingsd [-c FILE]
 *
 * Without -c it runs on the embedded default: data under ./var, IMAP on
 * 127.0.0.1:1143, IMAPS on 127.0.0.1:1993, LMTP on 127.0.0.1:2424, POP3 on
 * 127.0.0.1:1110, POP3S on 127.0.0.1:1995, a self-signed certificate made
 * on first start, and a user "demo" whose password is generated once, kept
 * in ./var/demo-password and printed at every start. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/auth.h"
#include "config/config.h"
#include "events/sink.h"
#include "imap/imap-server.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "lmtp/lmtp-server.h"
#include "net/net-conn.h"
#include "net/net-tls.h"
#include "pop3/pop3-server.h"
#define EXPIRE_WITH_LIBEVENT
#include "server/expire.h"
#include "server/group-commit.h"
#include "server/prune-timer.h"
#include "store/store.h"

#define SHUTDOWN_GRACE_SECONDS 5

static struct event_base *base;
static struct imap_server *imap;
static struct lmtp_server *lmtp;
static struct pop3_server *pop3;
static struct event *shutdown_timer;
static int shutdown_ticks;

static void usage(FILE *f)
{
	fprintf(f, "usage: tidingsd [-c FILE]\n"
		   "  -c FILE   configuration file (default: the embedded default, data in ./var)\n"
		   "  -h        this help\n");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	for (char *q = p + 1; *q; q++) {
		if (*q == '/') {
			*q = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				free(p);
				return -1;
			}
			*q = '/';
		}
	}
	int rc = mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

static void shutdown_tick(evutil_socket_t fd, short what, void *arg)
{
	if ((imap_server_session_count(imap) == 0 &&
	     (lmtp == NULL || lmtp_server_session_count(lmtp) == 0) &&
	     (pop3 == NULL || pop3_server_session_count(pop3) == 0)) ||
	    ++shutdown_ticks > SHUTDOWN_GRACE_SECONDS * 10)
		event_base_loopexit(base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (shutdown_timer != NULL) {
		event_base_loopexit(base, NULL);
		return;
	}
	log_info("tidingsd: %s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	/* Stop accepting; sessions get BYE once their command is done (the
	 * loop is single-threaded: every commit has finished by now). */
	imap_server_shutdown(imap);
	if (lmtp != NULL)
		lmtp_server_shutdown(lmtp);
	if (pop3 != NULL)
		pop3_server_shutdown(pop3);
	struct timeval tv = { 0, 100 * 1000 };
	shutdown_timer = event_new(base, -1, EV_PERSIST, shutdown_tick, NULL);
	event_add(shutdown_timer, &tv);
}

/* The demo user of the embedded default: created once with a generated
 * password that is kept (0600) beside the data and printed at each start. */
static int ensure_demo_user(struct store *store, const struct config *cfg)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_printf(&path, "%s/demo-password", cfg->data_dir);
	struct store_user u;
	struct store_error err;
	char password[64] = "";
	int ret = -1;

	FILE *f = fopen(path.s, "r");
	if (f != NULL) {
		if (fgets(password, sizeof(password), f) == NULL)
			password[0] = '\0';
		fclose(f);
		password[strcspn(password, "\r\n")] = '\0';
	}
	bool exists = store_user_lookup(store, cfg->demo_user, &u, &err) == 0;
	if (!exists && err.code != STORE_ERR_NONEXISTENT) {
		log_error("tidingsd: looking up %s: %s", cfg->demo_user, err.msg);
		goto out;
	}
	if (!exists || password[0] == '\0' || !auth_password_verify(u.password_hash, password)) {
		char hash[256];
		if (auth_random_password(password, 21) < 0 ||
		    auth_password_hash(password, hash, sizeof(hash)) < 0) {
			log_error("tidingsd: cannot make a password for %s", cfg->demo_user);
			goto out;
		}
		struct store_actor actor = { .service = "tidingsd" };
		int rc = exists ? store_user_set_password(store, cfg->demo_user, hash, &err)
				: store_user_create(store, &actor, cfg->demo_user, hash, &err);
		if (rc < 0) {
			log_error("tidingsd: creating user %s: %s", cfg->demo_user, err.msg);
			goto out;
		}
		int fd = open(path.s, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dprintf(fd, "%s\n", password) < 0 || fsync(fd) < 0) {
			log_error("tidingsd: writing %s: %s", path.s, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	}
	printf("tidingsd: demo user: %s   password: %s   (kept in %s)\n",
	       cfg->demo_user, password, path.s);
	ret = 0;
out:
	explicit_bzero(password, sizeof(password));
	strbuf_free(&path);
	return ret;
}

static void lmtp_on_commit(void *ctx)
{
	imap_server_notify_changed(imap);
}

static void sinks_notify(void *ctx)
{
	sink_manager_notify(ctx);
}

static int start_listener(const char *what, const char *value, bool tls)
{
	char host[256], err[512];
	int port;
	if (value[0] == '\0')
		return 0;
	if (config_parse_listen(value, host, sizeof(host), &port) < 0) {
		log_error("tidingsd: %s: invalid address '%s'", what, value);
		return -1;
	}
	if (imap_server_listen(imap, host, port, tls, err, sizeof(err)) < 0) {
		log_error("tidingsd: %s: %s", what, err);
		return -1;
	}
	printf("tidingsd: %s on %s\n", tls ? "IMAPS" : "IMAP", value);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* argon2id allocates tens of MiB per check on the worker threads; a
	 * fixed mmap threshold gives that memory back to the system at once
	 * instead of letting glibc raise the threshold and keep it. */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);

	struct config cfg;
	config_init_defaults(&cfg);
	if (config_path == NULL) {
		free(cfg.demo_user);
		cfg.demo_user = xstrdup("demo");
		free(cfg.lmtp_listen);
		cfg.lmtp_listen = xstrdup("127.0.0.1:2424");
		free(cfg.pop3_listen);
		cfg.pop3_listen = xstrdup("127.0.0.1:1110");
		free(cfg.pop3s_listen);
		cfg.pop3s_listen = xstrdup("127.0.0.1:1995");
	} else {
		char err[1024];
		if (config_load(&cfg, config_path, err, sizeof(err)) < 0) {
			fprintf(stderr, "tidingsd: %s\n", err);
			config_free(&cfg);
			return 2;
		}
	}
	{
		/* [sink NAME] sections are checked before anything starts:
		 * a mistake there is a configuration error (exit 2). */
		char serr_text[1024];
		if (sink_config_check_all(&cfg, serr_text,
					  sizeof(serr_text)) < 0) {
			fprintf(stderr, "tidingsd: %s\n", serr_text);
			config_free(&cfg);
			return 2;
		}
	}
	net_conn_set_sndbuf((size_t)cfg.socket_sndbuf);
	enum log_level level;
	if (log_level_parse(cfg.log_level, &level) == 0)
		log_set_level(level);

	signal(SIGPIPE, SIG_IGN);
	if (mkdir_p(cfg.data_dir, 0700) < 0) {
		log_error("tidingsd: data_dir %s: %s", cfg.data_dir, strerror(errno));
		return 1;
	}

	/* TLS: the configured pair, or a self-signed one made once. */
	struct strbuf cert = STRBUF_INIT, key = STRBUF_INIT;
	char err[1024];
	if (cfg.tls_cert[0] != '\0') {
		strbuf_appends(&cert, cfg.tls_cert);
		strbuf_appends(&key, cfg.tls_key[0] ? cfg.tls_key : cfg.tls_cert);
	} else {
		strbuf_printf(&cert, "%s/tls", cfg.data_dir);
		mkdir_p(cert.s, 0700);
		strbuf_appends(&cert, "/cert.pem");
		strbuf_printf(&key, "%s/tls/key.pem", cfg.data_dir);
		if (net_tls_ensure_self_signed(cert.s, key.s, cfg.server_name, err, sizeof(err)) < 0) {
			log_error("tidingsd: %s", err);
			return 1;
		}
	}
	SSL_CTX *tls = net_tls_server_ctx_create(cert.s, key.s, err, sizeof(err));
	if (tls == NULL) {
		log_error("tidingsd: %s (%s, %s)", err, cert.s, key.s);
		return 1;
	}
	strbuf_free(&cert);
	strbuf_free(&key);

	struct store_options sopts = {
		.default_mailboxes = (const char *const (*)[2])cfg.default_mailboxes,
		.default_mailbox_count = cfg.default_mailbox_count,
		.max_message_size = cfg.max_message_size,
		.server_fqdn = cfg.server_name,
		.default_storage_limit = cfg.quota_storage,
		.default_message_limit = cfg.quota_messages,
		.default_mailbox_limit = cfg.quota_mailboxes,
	};
	struct store *store = NULL;
	struct store_error serr;
	if (store_open(cfg.data_dir, &sopts, &store, &serr) < 0) {
		log_error("tidingsd: opening the store in %s: %s", cfg.data_dir, serr.msg);
		return 1;
	}
	if (cfg.demo_user[0] != '\0' && ensure_demo_user(store, &cfg) < 0)
		return 1;
	/* Each sink runs on its own thread with its own store handle. */
	struct sink_manager *sinks = NULL;
	{
		char serr_text[1024];
		if (sink_manager_create(&cfg, &sopts, &sinks, serr_text,
					sizeof(serr_text)) < 0) {
			fprintf(stderr, "tidingsd: %s\n", serr_text);
			return 2;
		}
		if (sink_manager_start(sinks) < 0)
			return 1;
	}

	base = event_base_new();
	if (base == NULL) {
		log_error("tidingsd: cannot create the event loop");
		return 1;
	}
	/* from here on, the changes of a loop turn share one commit */
	struct group_commit *group = group_commit_start(base, store,
						sinks != NULL ? sinks_notify : NULL,
						sinks);
	imap = imap_server_create(base, &cfg, store, tls);
	if (sinks != NULL)
		imap_server_set_change_hook(imap, sinks_notify, sinks);
	if (start_listener("imap_listen", cfg.imap_listen, false) < 0 ||
	    start_listener("imaps_listen", cfg.imaps_listen, true) < 0)
		return 1;
	if (cfg.lmtp_listen[0] != '\0') {
		/* deliveries run the IMAP server's event pump at once */
		lmtp = lmtp_server_create(base, &cfg, store, lmtp_on_commit, NULL);
		if (lmtp_server_listen(lmtp, cfg.lmtp_listen, err, sizeof(err)) < 0) {
			log_error("tidingsd: lmtp_listen: %s", err);
			return 1;
		}
		printf("tidingsd: LMTP on %s\n", cfg.lmtp_listen);
	}
	if (cfg.pop3_listen[0] != '\0' || cfg.pop3s_listen[0] != '\0') {
		/* POP3 expunges run the IMAP server's event pump too */
		pop3 = pop3_server_create(base, &cfg, store, tls, lmtp_on_commit,
					  NULL);
		const char *what[2] = { "pop3_listen", "pop3s_listen" };
		const char *value[2] = { cfg.pop3_listen, cfg.pop3s_listen };
		for (int i = 0; i < 2; i++) {
			if (value[i][0] == '\0')
				continue;
			if (pop3_server_listen(pop3, value[i], i == 1, err,
					       sizeof(err)) < 0) {
				log_error("tidingsd: %s: %s", what[i], err);
				return 1;
			}
			printf("tidingsd: %s on %s\n", i == 1 ? "POP3S" : "POP3",
			       value[i]);
		}
	}
	/* expiry removes messages: the pump tells the sessions */
	struct expire_timer *expiry = expire_timer_start(base, store, &cfg,
							 lmtp_on_commit, NULL);
	/* outbox retention: the pump runs before each prune */
	struct prune_timer *pruner = prune_timer_start(base, store, &cfg,
						       lmtp_on_commit, NULL);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	printf("tidingsd: ready (data in %s)\n", cfg.data_dir);

	event_base_dispatch(base);

	expire_timer_destroy(&expiry);
	prune_timer_destroy(&pruner);
	pop3_server_destroy(&pop3);
	lmtp_server_destroy(&lmtp);
	imap_server_destroy(&imap);
	/* the sessions' last changes (their Logout events) */
	group_commit_stop(&group);
	if (shutdown_timer != NULL)
		event_free(shutdown_timer);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	sink_manager_destroy(&sinks);
	store_close(&store);
	SSL_CTX_free(tls);
	config_free(&cfg);
	log_info("tidingsd: stopped");
	return 0;
}
