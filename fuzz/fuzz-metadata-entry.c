/* libFuzzer target for METADATA entry names (RFC 5464 §3.2), the check
 * GETMETADATA and SETMETADATA apply to every name before the store sees
 * it (store_metadata_entry_valid).
 *
 * The input is split at '\n' into names; each is checked for reading and
 * for setting, against the rules restated here independently:
 * - a name valid for SETMETADATA is valid for GETMETADATA;
 * - a valid name starts with "/private" or "/shared" followed by '/' or
 *   its end, is at most STORE_METADATA_ENTRY_MAX bytes of printable
 *   ASCII without '*', '%', "//" or a trailing '/';
 * - a name valid for setting has at least two components. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-metadata.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static bool fuzz_scope_ok(const char *name)
{
	if (strncmp(name, "/private", 8) == 0)
		return name[8] == '\0' || name[8] == '/';
	if (strncmp(name, "/shared", 7) == 0)
		return name[7] == '\0' || name[7] == '/';
	return false;
}

static void fuzz_one(const char *name, size_t len)
{
	bool get = store_metadata_entry_valid(name, false);
	bool set = store_metadata_entry_valid(name, true);
	if (set)
		CHECK(get);
	if (!get)
		return;
	CHECK(len > 0 && len <= STORE_METADATA_ENTRY_MAX);
	CHECK(fuzz_scope_ok(name));
	CHECK(name[len - 1] != '/');
	CHECK(strstr(name, "//") == NULL);
	size_t slashes = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		CHECK(c >= 0x20 && c <= 0x7e && c != '*' && c != '%');
		slashes += c == '/';
	}
	if (set)
		CHECK(slashes >= 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	char *buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *p = buf;
	for (;;) {
		char *nl = memchr(p, '\n', (size_t)(buf + size - p));
		if (nl != NULL)
			*nl = '\0';
		/* a NUL inside ends the C string early: check what the
		 * server would see (it refuses names holding NUL first) */
		fuzz_one(p, strlen(p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	free(buf);
	return 0;
}
