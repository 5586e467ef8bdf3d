/* Unit tests for config/: defaults, every key, the file syntax and its
 * errors (with FILE:LINE), sizes, listen values, [sink NAME] sections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char tmp_dir[] = "/tmp/test-config-XXXXXX";
static int file_counter;

static int setup_dir(void **state)
{
	if (mkdtemp(tmp_dir) == NULL)
		return -1;
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes TEXT into a fresh file and returns its path (static buffer). */
static const char *write_file(const char *text, size_t len)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/t%d.conf", tmp_dir, ++file_counter);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

/* Loads TEXT over the defaults; returns config_load()'s result. */
static int load_text(struct config *cfg, const char *text, char *err,
		     size_t err_size)
{
	config_init_defaults(cfg);
	const char *path = write_file(text, strlen(text));
	return config_load(cfg, path, err, err_size);
}

/* Expects TEXT to fail at LINE with a message containing WANT. */
static void expect_error(const char *text, unsigned int line, const char *want)
{
	struct config cfg;
	char err[512] = "";
	int ret = load_text(&cfg, text, err, sizeof(err));
	if (ret == 0)
		fail_msg("loaded, expected error '%s' for:\n%s", want, text);
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%s/t%d.conf:%u: ", tmp_dir,
		 file_counter, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", err, prefix);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
	config_free(&cfg);
}

static void test_defaults(void **state)
{
	struct config cfg;
	config_init_defaults(&cfg);
	assert_string_equal(cfg.data_dir, "./var");
	assert_string_equal(cfg.imap_listen, "127.0.0.1:1143");
	assert_string_equal(cfg.imaps_listen, "127.0.0.1:1993");
	assert_string_equal(cfg.lmtp_listen, "");
	assert_string_equal(cfg.tls_cert, "");
	assert_string_equal(cfg.tls_key, "");
	assert_string_equal(cfg.log_level, "info");
	assert_non_null(cfg.server_name);
	assert_true(strlen(cfg.server_name) > 0);
	assert_false(cfg.allow_plaintext_auth);
	assert_true(cfg.plaintext_auth_loopback);
	assert_int_equal(cfg.max_line_length, 65536);
	assert_int_equal(cfg.max_literal_size, 64 * 1024 * 1024);
	assert_int_equal(cfg.max_message_size, 64 * 1024 * 1024);
	assert_int_equal(cfg.max_connections, 10000);
	assert_int_equal(cfg.max_connections_per_ip, 100);
	assert_int_equal(cfg.max_bad_commands, 20);
	assert_int_equal(cfg.auth_fail_delay_ms, 1000);
	assert_int_equal(cfg.max_auth_failures, 5);
	assert_int_equal(cfg.idle_timeout, 1800);
	assert_int_equal(cfg.login_timeout, 60);
	assert_int_equal(cfg.output_buffer_max, 16 * 1024 * 1024);
	assert_int_equal(cfg.default_mailbox_count, 5);
	static const char *const want[5][2] = {
		{ "Drafts", "\\Drafts" }, { "Sent", "\\Sent" },
		{ "Trash", "\\Trash" }, { "Junk", "\\Junk" },
		{ "Archive", "\\Archive" },
	};
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(cfg.default_mailboxes[i][0], want[i][0]);
		assert_string_equal(cfg.default_mailboxes[i][1], want[i][1]);
	}
	assert_string_equal(cfg.demo_user, "");
	assert_null(cfg.path);
	assert_int_equal(cfg.sink_count, 0);

	char *cert = config_tls_cert_path(&cfg);
	char *key = config_tls_key_path(&cfg);
	assert_string_equal(cert, "./var/tls/cert.pem");
	assert_string_equal(key, "./var/tls/key.pem");
	free(cert);
	free(key);
	config_free(&cfg);
}

static void test_every_key(void **state)
{
	struct config cfg;
	char err[512] = "";
	const char *text =
		"# a full file\n"
		"data_dir = /srv/tidings\n"
		"imap_listen = 0.0.0.0:143\n"
		"imaps_listen = [::]:993\n"
		"lmtp_listen = [::1]:24\n"
		"tls_cert = /etc/tidings/cert.pem\n"
		"tls_key = /etc/tidings/key.pem\n"
		"log_level = debug\n"
		"server_name = mail.example.org\n"
		"allow_plaintext_auth = yes\n"
		"plaintext_auth_loopback = off\n"
		"max_line_length = 8K\n"
		"max_literal_size = 10M\n"
		"max_message_size = 1G\n"
		"max_connections = 500\n"
		"max_connections_per_ip = 7\n"
		"max_bad_commands = 3\n"
		"auth_fail_delay_ms = 0\n"
		"max_auth_failures = 2\n"
		"idle_timeout = 3600\n"
		"login_timeout = 30\n"
		"output_buffer_max = 1M\n"
		"default_mailboxes = Sent:\\Sent Notes Old/Stuff Spam:\\junk\n"
		"demo_user = alice\n";
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), 0);
	assert_string_equal(cfg.data_dir, "/srv/tidings");
	assert_string_equal(cfg.imap_listen, "0.0.0.0:143");
	assert_string_equal(cfg.imaps_listen, "[::]:993");
	assert_string_equal(cfg.lmtp_listen, "[::1]:24");
	assert_string_equal(cfg.tls_cert, "/etc/tidings/cert.pem");
	assert_string_equal(cfg.tls_key, "/etc/tidings/key.pem");
	assert_string_equal(cfg.log_level, "debug");
	assert_string_equal(cfg.server_name, "mail.example.org");
	assert_true(cfg.allow_plaintext_auth);
	assert_false(cfg.plaintext_auth_loopback);
	assert_int_equal(cfg.max_line_length, 8192);
	assert_int_equal(cfg.max_literal_size, 10 * 1024 * 1024);
	assert_int_equal(cfg.max_message_size, 1024 * 1024 * 1024);
	assert_int_equal(cfg.max_connections, 500);
	assert_int_equal(cfg.max_connections_per_ip, 7);
	assert_int_equal(cfg.max_bad_commands, 3);
	assert_int_equal(cfg.auth_fail_delay_ms, 0);
	assert_int_equal(cfg.max_auth_failures, 2);
	assert_int_equal(cfg.idle_timeout, 3600);
	assert_int_equal(cfg.login_timeout, 30);
	assert_int_equal(cfg.output_buffer_max, 1024 * 1024);
	assert_int_equal(cfg.default_mailbox_count, 4);
	assert_string_equal(cfg.default_mailboxes[0][0], "Sent");
	assert_string_equal(cfg.default_mailboxes[0][1], "\\Sent");
	assert_string_equal(cfg.default_mailboxes[1][0], "Notes");
	assert_string_equal(cfg.default_mailboxes[1][1], "");
	assert_string_equal(cfg.default_mailboxes[2][0], "Old/Stuff");
	assert_string_equal(cfg.default_mailboxes[2][1], "");
	assert_string_equal(cfg.default_mailboxes[3][0], "Spam");
	assert_string_equal(cfg.default_mailboxes[3][1], "\\Junk");
	assert_string_equal(cfg.demo_user, "alice");
	assert_non_null(cfg.path);
	assert_non_null(strstr(cfg.path, ".conf"));

	char *cert = config_tls_cert_path(&cfg);
	assert_string_equal(cert, "/etc/tidings/cert.pem");
	free(cert);
	config_free(&cfg);
}

static void test_syntax(void **state)
{
	struct config cfg;
	char err[512] = "";
	const char *text =
		"\xef\xbb\xbf# BOM, then comments and blank lines\n"
		"\n"
		"   # indented comment\n"
		"\t\n"
		"  log_level\t=   warn   # trailing comment\r\n"
		"imap_listen =\n"
		"imaps_listen = # only a comment: empty\n"
		"data_dir = \"/path with spaces/#not a comment\"  # but this is\n"
		"server_name=host-1.example\n"
		"tls_cert = /a#b\n"
		"tls_key = \"q\\\"uote\\\\d\"\n"
		"default_mailboxes = \"Sent:\\Sent Trash:\\\\Trash\"\n"
		"demo_user = \"\"\n"
		"allow_plaintext_auth = TRUE\n"
		"plaintext_auth_loopback = 0";  /* no final newline */
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), 0);
	assert_string_equal(cfg.log_level, "warn");
	assert_string_equal(cfg.imap_listen, "");
	assert_string_equal(cfg.imaps_listen, "");
	assert_string_equal(cfg.data_dir, "/path with spaces/#not a comment");
	assert_string_equal(cfg.server_name, "host-1.example");
	assert_string_equal(cfg.tls_cert, "/a#b");
	assert_string_equal(cfg.tls_key, "q\"uote\\d");
	assert_int_equal(cfg.default_mailbox_count, 2);
	assert_string_equal(cfg.default_mailboxes[0][1], "\\Sent");
	assert_string_equal(cfg.default_mailboxes[1][1], "\\Trash");
	assert_string_equal(cfg.demo_user, "");
	assert_true(cfg.allow_plaintext_auth);
	assert_false(cfg.plaintext_auth_loopback);
	config_free(&cfg);

	/* An empty file keeps the defaults. */
	assert_int_equal(load_text(&cfg, "", err, sizeof(err)), 0);
	assert_string_equal(cfg.imap_listen, "127.0.0.1:1143");
	config_free(&cfg);

	/* An empty default_mailboxes means none. */
	assert_int_equal(load_text(&cfg, "default_mailboxes =\n", err,
				   sizeof(err)), 0);
	assert_int_equal(cfg.default_mailbox_count, 0);
	config_free(&cfg);
}

static void test_errors(void **state)
{
	expect_error("log_level = info\n\n# c\n\n\n\nimap_lisen = x:1\n", 7,
		     "unknown key 'imap_lisen'");
	expect_error("data_dir /srv\n", 1, "missing '='");
	expect_error("data_dir\n", 1, "missing '=' after 'data_dir'");
	expect_error("data_dir /srv\n", 1, "missing '=' after 'data_dir'");
	expect_error("root:x:0:0:root:/root:/bin/bash\n", 1,
		     "expected 'key = value'");
	expect_error("@@@\n", 1, "expected 'key = value'");
	expect_error("= x\n", 1, "missing key");
	expect_error("da ta = x\n", 1, "invalid key 'da ta'");
	expect_error("imap/listen = x\n", 1, "invalid key 'imap/listen'");
	expect_error("log_level = info\nlog_level = debug\n", 2,
		     "duplicate key 'log_level'");
	expect_error("log_level = loud\n", 1, "log_level");
	expect_error("data_dir =\n", 1, "data_dir");
	expect_error("data_dir = \"\"\n", 1, "must not be empty");
	expect_error("allow_plaintext_auth = maybe\n", 1, "allow_plaintext_auth");
	expect_error("max_connections = -1\n", 1, "max_connections");
	expect_error("max_connections = 0\n", 1, "max_connections");
	expect_error("max_connections = 10K\n", 1, "max_connections");
	expect_error("max_connections = 99999999999\n", 1, "max_connections");
	expect_error("max_literal_size = 12X\n", 1, "max_literal_size");
	expect_error("max_literal_size = 1M extra\n", 1, "max_literal_size");
	expect_error("max_line_length = 100\n", 1, "max_line_length");
	expect_error("output_buffer_max = 8G\n", 1, "output_buffer_max");
	expect_error("idle_timeout = 600\n", 1, "RFC 3501");
	expect_error("idle_timeout = 1799\n", 1, "idle_timeout");
	expect_error("login_timeout = 0\n", 1, "login_timeout");
	expect_error("imap_listen = 127.0.0.1\n", 1, "imap_listen");
	expect_error("imap_listen = 127.0.0.1:0\n", 1, "imap_listen");
	expect_error("imap_listen = 127.0.0.1:65536\n", 1, "imap_listen");
	expect_error("imaps_listen = ::1:993\n", 1, "imaps_listen");
	expect_error("lmtp_listen = [nothex]:24\n", 1, "lmtp_listen");
	expect_error("server_name = bad name\n", 1, "server_name");
	expect_error("server_name =\n", 1, "server_name");
	expect_error("demo_user = a b\n", 1, "demo_user");
	expect_error("data_dir = \"unterminated\n", 1, "unterminated");
	expect_error("data_dir = \"a\" b\n", 1, "after the closing quote");
	expect_error("default_mailboxes = Sent:\\Outbox\n", 1, "special-use");
	expect_error("default_mailboxes = INBOX\n", 1, "INBOX");
	expect_error("default_mailboxes = a a\n", 1, "twice");
	expect_error("default_mailboxes = /a\n", 1, "invalid mailbox name");
	expect_error("default_mailboxes = a//b\n", 1, "invalid mailbox name");
	expect_error("default_mailboxes = a*\n", 1, "invalid mailbox name");
	expect_error("default_mailboxes = \xff\n", 1, "invalid mailbox name");
	expect_error("[imap]\n", 1, "unknown section [imap]");
	expect_error("[sink\n", 1, "missing ']'");
	expect_error("[sink]\n", 1, "invalid sink name");
	expect_error("[sink a b]\n", 1, "invalid sink name");
	expect_error("[sink a] x\n", 1, "after ']'");
	expect_error("[sink a]\n[sink a]\n", 2, "duplicate section");
	expect_error("[sink a]\ntype = journal\ntype = nats\n", 3,
		     "duplicate key 'type'");
	expect_error("[sink a]\nno equals here\n", 2, "missing '='");

	/* A NUL inside the file needs the length passed explicitly. */
	struct config cfg;
	char err[512];
	config_init_defaults(&cfg);
	const char nul_text[] = "log_level = info\nx\0y = 1\n";
	const char *path = write_file(nul_text, sizeof(nul_text) - 1);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: NUL byte"));
	config_free(&cfg);

	/* A missing file. */
	config_init_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/tidings.conf", err,
				     sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/tidings.conf: cannot open"));
	config_free(&cfg);

	/* A directory is not a file; /dev/null is an empty one. */
	config_init_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/", err, sizeof(err)), -1);
	assert_string_equal(err, "/: is a directory");
	config_free(&cfg);
	config_init_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/dev/null", err, sizeof(err)), 0);
	assert_string_equal(cfg.path, "/dev/null");
	config_free(&cfg);

	/* An over-long line. */
	size_t n = CONFIG_MAX_LINE_LENGTH + 100;
	char *big = malloc(n + 20);
	memcpy(big, "tls_cert = ", 11);
	memset(big + 11, 'a', n);
	big[11 + n] = '\0';
	expect_error(big, 1, "too long");
	free(big);

	/* Short error buffers are not overrun. */
	char small[8];
	config_init_defaults(&cfg);
	path = write_file("bogus = 1\n", 10);
	assert_int_equal(config_load(&cfg, path, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	config_free(&cfg);
}

static void test_sinks(void **state)
{
	struct config cfg;
	char err[512] = "";
	const char *text =
		"log_level = info\n"
		"[sink journal]\n"
		"type = journal\n"
		"path = \"/var/log/tidings events.jsonl\"   # spaces\n"
		"anything_at_all = 1\n"
		"\n"
		"[ sink  hook-1 ]\n"
		"type = webhook\n"
		"log_level = debug\n"   /* a sink key, not the global one */
		"[sink empty]\n";
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), 0);
	assert_string_equal(cfg.log_level, "info");
	assert_int_equal(cfg.sink_count, 3);
	assert_string_equal(cfg.sinks[0].name, "journal");
	assert_int_equal(cfg.sinks[0].line, 2);
	assert_int_equal(cfg.sinks[0].option_count, 3);
	assert_string_equal(cfg.sinks[0].options[0].key, "type");
	assert_string_equal(cfg.sinks[0].options[0].value, "journal");
	assert_int_equal(cfg.sinks[0].options[0].line, 3);
	assert_string_equal(config_sink_get(&cfg.sinks[0], "path"),
			    "/var/log/tidings events.jsonl");
	assert_string_equal(config_sink_get(&cfg.sinks[0], "anything_at_all"),
			    "1");
	assert_null(config_sink_get(&cfg.sinks[0], "nope"));
	assert_string_equal(cfg.sinks[1].name, "hook-1");
	assert_string_equal(config_sink_get(&cfg.sinks[1], "log_level"), "debug");
	assert_string_equal(cfg.sinks[2].name, "empty");
	assert_int_equal(cfg.sinks[2].option_count, 0);
	config_free(&cfg);
}

static void test_sizes(void **state)
{
	uint64_t n;
	assert_int_equal(config_parse_size("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(config_parse_size("4096", &n), 0);
	assert_int_equal(n, 4096);
	assert_int_equal(config_parse_size("1k", &n), 0);
	assert_int_equal(n, 1024);
	assert_int_equal(config_parse_size("64M", &n), 0);
	assert_int_equal(n, 64ull << 20);
	assert_int_equal(config_parse_size("2g", &n), 0);
	assert_int_equal(n, 2ull << 30);
	assert_int_equal(config_parse_size("18446744073709551615", &n), 0);
	assert_true(n == UINT64_MAX);
	assert_int_equal(config_parse_size("18446744073709551616", &n), -1);
	assert_int_equal(config_parse_size("17179869184G", &n), -1);
	assert_int_equal(config_parse_size("", &n), -1);
	assert_int_equal(config_parse_size("M", &n), -1);
	assert_int_equal(config_parse_size("-1", &n), -1);
	assert_int_equal(config_parse_size("+1", &n), -1);
	assert_int_equal(config_parse_size(" 1", &n), -1);
	assert_int_equal(config_parse_size("1 M", &n), -1);
	assert_int_equal(config_parse_size("1MB", &n), -1);
	assert_int_equal(config_parse_size("1T", &n), -1);
	assert_int_equal(config_parse_size("1.5M", &n), -1);
}

static void test_bools(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "on", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	bool b;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	assert_int_equal(config_parse_bool("", &b), -1);
	assert_int_equal(config_parse_bool("2", &b), -1);
	assert_int_equal(config_parse_bool("yess", &b), -1);
}

static void test_listen(void **state)
{
	char host[256];
	int port = 0;
	assert_int_equal(config_parse_listen("127.0.0.1:1143", host,
					     sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 1143);
	assert_int_equal(config_parse_listen("[::1]:993", host, sizeof(host),
					     &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 993);
	assert_int_equal(config_parse_listen("[::]:1", host, sizeof(host),
					     &port), 0);
	assert_string_equal(host, "::");
	assert_int_equal(port, 1);
	assert_int_equal(config_parse_listen("[2001:db8::7]:65535", host,
					     sizeof(host), &port), 0);
	assert_string_equal(host, "2001:db8::7");
	assert_int_equal(port, 65535);
	assert_int_equal(config_parse_listen("localhost:24", host,
					     sizeof(host), &port), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 24);
	assert_int_equal(config_parse_listen("0.0.0.0:143", host, sizeof(host),
					     &port), 0);

	static const char *const bad[] = {
		"", ":143", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:99999999", "127.0.0.1:-1",
		"127.0.0.1:+1", "127.0.0.1:1a", "::1:143", "[::1]", "[::1]143",
		"[::1:143", "[]:143", "[zz]:143", "[127.0.0.1]:143",
		"host name:1", "a/b:1", "[::1]: 1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_parse_listen(bad[i], host, sizeof(host), &port) == 0)
			fail_msg("'%s' was accepted", bad[i]);
	}
	/* The host buffer is respected. */
	char tiny[4];
	assert_int_equal(config_parse_listen("[::1]:1", tiny, sizeof(tiny),
					     &port), 0);
	assert_int_equal(config_parse_listen("1.2.3.4:1", tiny, sizeof(tiny),
					     &port), -1);
}

static void test_config_set(void **state)
{
	struct config cfg;
	char err[256];
	config_init_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "imap_listen", "", err, sizeof(err)), 0);
	assert_string_equal(cfg.imap_listen, "");
	assert_int_equal(config_set(&cfg, "imap_listen", "[::1]:1143", err,
				    sizeof(err)), 0);
	assert_string_equal(cfg.imap_listen, "[::1]:1143");
	assert_int_equal(config_set(&cfg, "imap_listen", "nope", err,
				    sizeof(err)), -1);
	assert_string_equal(cfg.imap_listen, "[::1]:1143");
	assert_int_equal(config_set(&cfg, "data_dir", "", err, sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "log_level", "error", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "log_level", "verbose", err,
				    sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "no_such_key", "1", err, sizeof(err)),
			 -1);
	assert_string_equal(err, "unknown key 'no_such_key'");
	/* A failed default_mailboxes keeps the old list. */
	assert_int_equal(config_set(&cfg, "default_mailboxes", "A B:\\Bogus",
				    err, sizeof(err)), -1);
	assert_int_equal(cfg.default_mailbox_count, 5);
	assert_int_equal(config_set(&cfg, "default_mailboxes", "A B:\\sent",
				    err, sizeof(err)), 0);
	assert_int_equal(cfg.default_mailbox_count, 2);
	assert_string_equal(cfg.default_mailboxes[1][1], "\\Sent");
	/* set twice is fine outside a file (no duplicate check) */
	assert_int_equal(config_set(&cfg, "demo_user", "demo", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "demo_user", "demo2", err,
				    sizeof(err)), 0);
	assert_string_equal(cfg.demo_user, "demo2");
	config_free(&cfg);

	/* Too many default mailboxes. */
	config_init_defaults(&cfg);
	char many[1024] = "";
	for (int i = 0; i <= CONFIG_MAX_DEFAULT_MAILBOXES; i++) {
		char one[16];
		snprintf(one, sizeof(one), "m%d ", i);
		strcat(many, one);
	}
	assert_int_equal(config_set(&cfg, "default_mailboxes", many, err,
				    sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_sinks),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_config_set),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
