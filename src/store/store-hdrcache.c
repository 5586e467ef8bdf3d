/* The top-level header of a message body, read without mapping the whole
 * file and kept in a small cache.
 *
 * A SEARCH on header fields (SUBJECT, FROM, HEADER, SENT*) over a mailbox
 * used to open, map, parse and unmap every message: most of the time of a
 * typical client's SEARCH.  Bodies are immutable and a body id is never
 * given to another body while its file exists, so a header read once
 * stays right for as long as the id names a body; a slot is only ever
 * replaced, never invalidated.  The cache is direct-mapped by body id,
 * with a bound on each entry, so its memory has a hard ceiling
 * (STORE_HDRCACHE_SLOTS * STORE_HDRCACHE_ENTRY_MAX). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define STORE_HDRCACHE_SLOTS 4096
/* a longer header is read each time, not kept */
#define STORE_HDRCACHE_ENTRY_MAX 8192
/* read at most this much looking for the end of the header */
#define STORE_HDR_READ_MAX 65536

struct hdrcache_slot {
	int64_t body_id;   /* 0: empty */
	char *data;
	size_t len;
};

struct store_hdrcache {
	struct hdrcache_slot slots[STORE_HDRCACHE_SLOTS];
};

/* The length of the header including the empty line that ends it (the
 * part mime_parse() takes as the top-level header), or 0 when none ends
 * within len.  A header may also be the whole message (no body). */
static size_t header_length(const char *d, size_t len)
{
	if (len >= 1 && d[0] == '\n')
		return 1;
	if (len >= 2 && d[0] == '\r' && d[1] == '\n')
		return 2;
	for (const char *p = d; (p = memchr(p, '\n', (size_t)(d + len - p)));
	     p++) {
		size_t i = (size_t)(p - d) + 1;
		if (i < len && d[i] == '\n')
			return i + 1;
		if (i + 1 < len && d[i] == '\r' && d[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

static int header_read(struct store *store, int64_t body_id,
		       struct strbuf *out, struct store_error *err)
{
	struct strbuf path = STRBUF_INIT;
	store_files_body_path(store, body_id, &path);
	int fd = open(path.s, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			/* as store_body_open(): a message expunged meanwhile */
			store_error_set(err, STORE_ERR_NONEXISTENT,
					"Message no longer exists");
		} else {
			log_error("store: cannot open %s: %s", path.s,
				  strerror(errno));
			store_error_internal(err);
		}
		strbuf_free(&path);
		return -1;
	}
	char *buf = xmalloc(STORE_HDR_READ_MAX);
	size_t got = 0;
	bool eof = false;
	while (got < STORE_HDR_READ_MAX) {
		ssize_t n = read(fd, buf + got, STORE_HDR_READ_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("store: cannot read %s: %s", path.s,
				  strerror(errno));
			close(fd);
			free(buf);
			strbuf_free(&path);
			store_error_internal(err);
			return -1;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	strbuf_free(&path);
	size_t hlen = header_length(buf, got);
	if (hlen == 0 && !eof) {
		/* a header longer than we read: the caller uses the body */
		free(buf);
		return 1;
	}
	strbuf_append(out, buf, hlen > 0 ? hlen : got);
	free(buf);
	return 0;
}

int store_body_header(struct store *store, int64_t body_id, struct strbuf *out,
		      struct store_error *err)
{
	memset(err, 0, sizeof(*err));
	strbuf_reset(out);
	if (store->hdrcache == NULL)
		store->hdrcache = xcalloc(1, sizeof(*store->hdrcache));
	struct hdrcache_slot *slot =
		&store->hdrcache->slots[(uint64_t)body_id % STORE_HDRCACHE_SLOTS];
	if (body_id != 0 && slot->body_id == body_id) {
		strbuf_append(out, slot->data, slot->len);
		return 0;
	}
	int ret = header_read(store, body_id, out, err);
	if (ret != 0 || out->len > STORE_HDRCACHE_ENTRY_MAX)
		return ret;
	free(slot->data);
	slot->data = xmalloc(out->len + 1);
	memcpy(slot->data, out->s, out->len);
	slot->data[out->len] = '\0';
	slot->len = out->len;
	slot->body_id = body_id;
	return 0;
}

void store_hdrcache_forget(struct store *store, int64_t body_id)
{
	if (store->hdrcache == NULL)
		return;
	struct hdrcache_slot *slot =
		&store->hdrcache->slots[(uint64_t)body_id % STORE_HDRCACHE_SLOTS];
	if (slot->body_id == body_id) {
		free(slot->data);
		slot->data = NULL;
		slot->len = 0;
		slot->body_id = 0;
	}
}

void store_hdrcache_free(struct store *store)
{
	if (store->hdrcache == NULL)
		return;
	for (size_t i = 0; i < STORE_HDRCACHE_SLOTS; i++)
		free(store->hdrcache->slots[i].data);
	free(store->hdrcache);
	store->hdrcache = NULL;
}
