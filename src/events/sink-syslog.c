/* The syslog sink: not built yet; its type is refused at startup. */
#include "events/sink.h"

const struct sink_type_desc sink_type_syslog = {
	.name = "syslog",
	.type = SINK_TYPE_SYSLOG,
};
