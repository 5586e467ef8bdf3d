/* The event pump: reads new rows of the outbox, in seq order, and hands each
 * to its consumers (the IMAP sessions' matcher now; sinks and NOTIFY later).
 *
 * Run it right after every commit this process makes, and poll it: another
 * process (the tidings CLI) may have committed; event_pump_poll() notices
 * that cheaply (PRAGMA data_version) and runs the pump only then. */
#ifndef TIDINGS_EVENT_PUMP_H
#define TIDINGS_EVENT_PUMP_H

#include <stdint.h>

#include "store/store.h"

typedef void event_pump_consumer_fn(const struct store_outbox_event *ev,
				    void *ctx);

struct event_pump;

/* Starts after the outbox's current last event: history is the sinks'
 * business (their own cursors), not the live sessions'. */
struct event_pump *event_pump_create(struct store *store);
void event_pump_destroy(struct event_pump **pump);
void event_pump_add_consumer(struct event_pump *pump,
			     event_pump_consumer_fn *fn, void *ctx);
/* Dispatch every event committed since the last run.  0 / -1. */
int event_pump_run(struct event_pump *pump);
/* Run only when another connection has committed since the last check. */
int event_pump_poll(struct event_pump *pump);
int64_t event_pump_last_seq(const struct event_pump *pump);

#endif
