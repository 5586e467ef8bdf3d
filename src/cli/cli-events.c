/* tidings events status | tail: the outbox and the sinks' cursors, through
 * the store API (docs/events.md). */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/outbox-prune.h"
#include "events/sink.h"
#include "lib/xalloc.h"
#include "store/store-outbox.h"

/* Rows printed by `tail` without --from. */
#define CLI_TAIL_DEFAULT 10
#define CLI_TAIL_POLL_MS 100

/* Cursor rows the status shows besides the configured sinks' own. */
struct cli_status_rows {
	const struct config *cfg;
};

static void cli_status_row(const char *name, int64_t seq, int64_t updated,
			   void *ctx)
{
	struct cli_status_rows *s = ctx;
	(void)updated;
	const size_t plen = sizeof(SINK_REPLAY_PREFIX) - 1;
	bool replay = strncmp(name, SINK_REPLAY_PREFIX, plen) == 0;
	const char *sink = replay ? name + plen : name;
	bool known = false;
	for (size_t i = 0; i < s->cfg->sink_count; i++) {
		if (strcmp(s->cfg->sinks[i].name, sink) == 0)
			known = true;
	}
	if (replay && seq > 0) {
		printf("sink ");
		cli_print_safe(stdout, sink);
		printf(": replay from %" PRId64 " pending\n", seq);
	} else if (!replay && !known) {
		printf("cursor ");
		cli_print_safe(stdout, name);
		printf(": at %" PRId64 ", not in the config (does not hold "
		       "back pruning)\n", seq);
	}
}

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
	/* Retention: what every sink has delivered may go once it is
	 * older than outbox_keep. */
	int64_t done;
	if (outbox_prune_sinks_done(cli->store, &cli->cfg, last_seq, NULL,
				    &done, &err) < 0)
		return cli_fail("cannot read the sink cursors: %s", err.msg);
	printf("retention: every sink has events up to %" PRId64 "; kept %"
	       PRIu64 " s after that (outbox_keep)\n", done,
	       cli->cfg.outbox_keep);
	struct cli_status_rows rows = { &cli->cfg };
	if (store_sink_cursor_foreach(cli->store, cli_status_row, &rows,
				      &err) < 0)
		return cli_fail("cannot read the sink cursors: %s", err.msg);
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

/* tidings events replay --sink NAME --from SEQ: asks sink NAME to send
 * again every event from SEQ on (see SINK_REPLAY_PREFIX in sink.h).  The
 * running tidingsd notices within one poll; a stopped one on its start. */
static const char *const cli_replay_options[] = { "--sink", "--from", NULL };

static int cli_events_replay(struct cli *cli, char **argv)
{
	(void)argv;
	const char *name = cli->option_values[0];
	const char *from_text = cli->option_values[1];
	int64_t from;
	if (name == NULL || from_text == NULL) {
		fprintf(stderr, "tidings: usage: tidings events replay --sink "
			"NAME --from SEQ\n");
		return CLI_EXIT_USAGE;
	}
	if (!cli_parse_seq(from_text, &from) || from < 1) {
		fprintf(stderr, "tidings: --from needs an event seq (a number "
			"from 1)\n");
		return CLI_EXIT_USAGE;
	}
	char cerr[1024];
	if (sink_config_check_all(&cli->cfg, cerr, sizeof(cerr)) < 0) {
		fprintf(stderr, "tidings: %s\n", cerr);
		return CLI_EXIT_USAGE;
	}
	bool known = false;
	for (size_t i = 0; i < cli->cfg.sink_count; i++) {
		if (strcmp(cli->cfg.sinks[i].name, name) == 0)
			known = true;
	}
	if (!known) {
		char safe[CLI_SAFE_NAME_MAX];
		return cli_fail("no sink '%s' in the configuration%s%s",
				cli_safe_name(name, safe, sizeof(safe)),
				cli->cfg.path != NULL ? " " : "",
				cli->cfg.path != NULL ? cli->cfg.path : "");
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
	/* The first seq still kept: every row below it was pruned (seqs
	 * are never reused, so an empty outbox keeps nothing up to
	 * last_seq). */
	int64_t first_kept = count > 0 ? min_seq : last_seq + 1;
	if (from > last_seq + 1)
		return cli_fail("event %" PRId64 " is in the future: the last "
				"event is %" PRId64, from, last_seq);
	if (from < first_kept)
		return cli_fail("events before %" PRId64 " are no longer kept "
				"(outbox_keep); replay from %" PRId64
				" or later", first_kept, first_kept);
	char key[128];
	snprintf(key, sizeof(key), SINK_REPLAY_PREFIX "%s", name);
	if (store_sink_cursor_set(cli->store, key, from, &err) < 0)
		return cli_fail("cannot record the replay: %s", err.msg);
	printf("sink %s: replay from event %" PRId64 " requested (%" PRId64
	       " events up to %" PRId64 ")\n", name, from,
	       last_seq - from + 1, last_seq);
	return CLI_EXIT_OK;
}

const struct cli_command cli_events_commands[] = {
	{ "events", "status", "", 0,
	  "outbox size, first and last seq; each sink's cursor and lag",
	  cli_events_status, 0, NULL },
	{ "events", "tail", "[-f] [--from SEQ] [--type T]", 0,
	  "print outbox events as JSON lines; -f follows new ones",
	  cli_events_tail, 5, NULL },
	{ "events", "replay", "--sink NAME --from SEQ", 0,
	  "send a sink every event from SEQ on again",
	  cli_events_replay, 0, cli_replay_options },
};
const size_t cli_events_command_count =
	sizeof(cli_events_commands) / sizeof(cli_events_commands[0]);
