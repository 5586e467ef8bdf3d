/* tidings events status | tail: the outbox and the sinks' cursors, through
 * the store API (docs/events.md). */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/sink.h"
#include "lib/xalloc.h"

/* Rows printed by `tail` without --from. */
#define CLI_TAIL_DEFAULT 10
#define CLI_TAIL_POLL_MS 100

static int cli_events_status(struct cli *cli, char **argv)
{
	(void)argv;
	/* Check every sink section first: status of a broken config is
	 * a configuration error, as it is for tidingsd. */
	char cerr[1024];
	if (sink_config_check_all(&cli->cfg, cerr, sizeof(cerr)) < 0) {
		fprintf(stderr, "tidings: %s\n", cerr);
		return CLI_EXIT_USAGE;
	}
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	int64_t count, min_seq, max_seq, last_seq;
	if (store_outbox_stats(cli->store, &count, &min_seq, &max_seq,
			       &err) < 0 ||
	    store_outbox_last_seq(cli->store, &last_seq, &err) < 0)
		return cli_fail("cannot read the outbox: %s", err.msg);
	printf("outbox: %" PRId64 " events, first %" PRId64 ", last %" PRId64
	       "\n", count, min_seq, last_seq);
	if (cli->cfg.sink_count == 0)
		printf("sinks: none configured\n");
	for (size_t i = 0; i < cli->cfg.sink_count; i++) {
		const struct config_sink *s = &cli->cfg.sinks[i];
		int64_t cursor;
		if (store_sink_cursor_get(cli->store, s->name, &cursor,
					  &err) < 0)
			return cli_fail("cannot read the cursor of sink '%s': "
					"%s", s->name, err.msg);
		const char *type = config_sink_get(s, "type");
		printf("sink %s: type %s, cursor %" PRId64 ", lag %" PRId64
		       "\n", s->name, type != NULL ? type : "?", cursor,
		       last_seq > cursor ? last_seq - cursor : 0);
	}
	return CLI_EXIT_OK;
}

struct cli_tail {
	uint32_t types;       /* 0: every type */
	int64_t last;
	bool fail;
};

static void cli_tail_print(const struct store_outbox_event *ev, void *ctx)
{
	struct cli_tail *t = ctx;
	t->last = ev->seq;
	if (t->types != 0) {
		int type = event_type_from_name(ev->type);
		if (type < 0 || (t->types & (1u << type)) == 0)
			return;
	}
	/* The row's JSON is an object starting with "{\"event\"": the seq
	 * goes in front, as in the journal. */
	const char *rest = ev->json[0] == '{' ? ev->json + 1 : "}";
	while (*rest == ' ')
		rest++;
	printf("{\"seq\":%" PRId64 "%s%s\n", ev->seq, *rest == '}' ? "" : ",",
	       rest);
}

static bool cli_parse_seq(const char *s, int64_t *seq_r)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0)
		return false;
	*seq_r = v;
	return true;
}

static int cli_events_tail(struct cli *cli, char **argv)
{
	bool follow = false;
	int64_t from = -1;
	struct cli_tail t = { 0, 0, false };
	for (int i = 0; i < cli->argc; i++) {
		const char *a = argv[i];
		const char *value = NULL;
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			follow = true;
			continue;
		}
		if (strcmp(a, "--from") == 0 || strcmp(a, "--type") == 0) {
			if (i + 1 >= cli->argc) {
				fprintf(stderr, "tidings: option %s needs a "
					"value\n", a);
				return CLI_EXIT_USAGE;
			}
			value = argv[++i];
		} else if (strncmp(a, "--from=", 7) == 0 ||
			   strncmp(a, "--type=", 7) == 0) {
			value = a + 7;
		} else {
			char safe[CLI_SAFE_NAME_MAX];
			fprintf(stderr, "tidings: unknown argument '%s'; usage: "
				"tidings events tail [-f] [--from SEQ] "
				"[--type T]\n",
				cli_safe_name(a, safe, sizeof(safe)));
			return CLI_EXIT_USAGE;
		}
		if (strncmp(a, "--from", 6) == 0) {
			if (!cli_parse_seq(value, &from)) {
				fprintf(stderr, "tidings: --from needs a "
					"number\n");
				return CLI_EXIT_USAGE;
			}
		} else {
			uint32_t bits;
			char safe[CLI_SAFE_NAME_MAX];
			if (!sink_events_name_bits(value, &bits)) {
				fprintf(stderr, "tidings: unknown event type "
					"or group '%s'\n",
					cli_safe_name(value, safe,
						      sizeof(safe)));
				return CLI_EXIT_USAGE;
			}
			t.types |= bits;
		}
	}
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	int64_t after;
	if (from >= 0) {
		after = from > 0 ? from - 1 : 0;
	} else {
		int64_t last;
		if (store_outbox_last_seq(cli->store, &last, &err) < 0)
			return cli_fail("cannot read the outbox: %s", err.msg);
		after = last > CLI_TAIL_DEFAULT ? last - CLI_TAIL_DEFAULT : 0;
	}
	t.last = after;
	for (;;) {
		int64_t version = 0;
		store_data_version(cli->store, &version);
		for (;;) {
			int64_t before = t.last;
			if (store_outbox_read(cli->store, t.last, 1000,
					      cli_tail_print, &t, &err) < 0)
				return cli_fail("cannot read the outbox: %s",
						err.msg);
			if (t.last == before)
				break;
		}
		if (fflush(stdout) != 0 || ferror(stdout))
			return CLI_EXIT_FAIL;
		if (!follow)
			return CLI_EXIT_OK;
		/* Follow: wait until another process commits. */
		for (;;) {
			struct timespec ts = { 0, CLI_TAIL_POLL_MS * 1000000L };
			nanosleep(&ts, NULL);
			int64_t v = 0;
			if (store_data_version(cli->store, &v) < 0 ||
			    v != version)
				break;
		}
	}
}

const struct cli_command cli_events_commands[] = {
	{ "events", "status", "", 0,
	  "outbox size, first and last seq; each sink's cursor and lag",
	  cli_events_status, 0, NULL },
	{ "events", "tail", "[-f] [--from SEQ] [--type T]", 0,
	  "print outbox events as JSON lines; -f follows new ones",
	  cli_events_tail, 5, NULL },
};
const size_t cli_events_command_count =
	sizeof(cli_events_commands) / sizeof(cli_events_commands[0]);
