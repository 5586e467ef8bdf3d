/* The webhook sink: not built yet; its type is refused at startup. */
#include "events/sink.h"

const struct sink_type_desc sink_type_webhook = {
	.name = "webhook",
	.type = SINK_TYPE_WEBHOOK,
};
