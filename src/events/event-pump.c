#include "events/event-pump.h"

#include <stdbool.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define PUMP_BATCH 512

struct pump_consumer {
	event_pump_consumer_fn *fn;
	void *ctx;
};

struct event_pump {
	struct store *store;
	int64_t last_seq;
	int64_t data_version;
	struct pump_consumer *consumers;
	size_t consumer_count;
	bool running;
};

struct event_pump *event_pump_create(struct store *store)
{
	struct event_pump *pump = xcalloc(1, sizeof(*pump));
	struct store_error err;
	pump->store = store;
	if (store_outbox_last_seq(store, &pump->last_seq, &err) < 0)
		log_error("event pump: reading the outbox: %s", err.msg);
	store_data_version(store, &pump->data_version);
	return pump;
}

void event_pump_destroy(struct event_pump **pumpp)
{
	struct event_pump *pump = *pumpp;
	if (pump == NULL)
		return;
	*pumpp = NULL;
	free(pump->consumers);
	free(pump);
}

void event_pump_add_consumer(struct event_pump *pump,
			     event_pump_consumer_fn *fn, void *ctx)
{
	pump->consumers = xrealloc(pump->consumers,
		(pump->consumer_count + 1) * sizeof(*pump->consumers));
	pump->consumers[pump->consumer_count].fn = fn;
	pump->consumers[pump->consumer_count].ctx = ctx;
	pump->consumer_count++;
}

struct pump_batch {
	struct event_pump *pump;
	size_t count;
};

static void pump_dispatch(const struct store_outbox_event *ev, void *ctx)
{
	struct pump_batch *batch = ctx;
	struct event_pump *pump = batch->pump;
	batch->count++;
	pump->last_seq = ev->seq;
	for (size_t i = 0; i < pump->consumer_count; i++)
		pump->consumers[i].fn(ev, pump->consumers[i].ctx);
}

int event_pump_run(struct event_pump *pump)
{
	/* A consumer may cause a commit (claiming \Recent); that commit's
	 * events are picked up by the loop below, not by recursion. */
	if (pump->running)
		return 0;
	pump->running = true;
	int ret = 0;
	for (;;) {
		struct pump_batch batch = { pump, 0 };
		struct store_error err;
		if (store_outbox_read(pump->store, pump->last_seq, PUMP_BATCH,
				      pump_dispatch, &batch, &err) < 0) {
			log_error("event pump: reading the outbox: %s", err.msg);
			ret = -1;
			break;
		}
		if (batch.count < PUMP_BATCH)
			break;
	}
	pump->running = false;
	return ret;
}

int event_pump_poll(struct event_pump *pump)
{
	int64_t version;
	if (store_data_version(pump->store, &version) < 0)
		return -1;
	if (version == pump->data_version)
		return 0;
	pump->data_version = version;
	return event_pump_run(pump);
}

int64_t event_pump_last_seq(const struct event_pump *pump)
{
	return pump->last_seq;
}
