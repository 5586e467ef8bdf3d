/* libFuzzer target: the configuration file parser (config_load) and the
 * [sink NAME] section checks, on arbitrary file contents. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "events/sink.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0) {
		log_set_level(LOG_LEVEL_ERROR);
		fd = memfd_create("tidings-config", 0);
		if (fd < 0)
			return 0;
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	struct config cfg;
	char err[1024];
	config_init_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) == 0)
		(void)sink_config_check_all(&cfg, err, sizeof(err));
	config_free(&cfg);
	return 0;
}
