/* The journal sink: JSON lines appended to a file, fsynced per batch and
 * rotated by size (path -> path.1 -> ... -> path.KEEP). */
#include "events/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* How much of the file's end is read to find its last line. */
#define JOURNAL_TAIL_MAX (256 * 1024)

struct journal {
	struct sink_backend base;
	char *name;
	char *path;
	uint64_t rotate_size;
	unsigned int rotate_keep;
	int fd;
	uint64_t size;
	int64_t last_seq;
};

static const struct sink_backend_ops journal_ops;

static struct sink_backend *journal_create(const struct sink_config *sink)
{
	struct journal *j = xcalloc(1, sizeof(*j));
	j->base.ops = &journal_ops;
	j->name = xstrdup(sink->name);
	j->path = xstrdup(sink->path);
	j->rotate_size = sink->rotate_size;
	j->rotate_keep = sink->rotate_keep;
	j->fd = -1;
	return &j->base;
}

static void journal_destroy(struct sink_backend *b)
{
	struct journal *j = (struct journal *)b;
	if (j->fd >= 0)
		close(j->fd);
	free(j->name);
	free(j->path);
	free(j);
}

/* The directory part of the journal's path, for fsync after renames. */
static void journal_fsync_dir(const struct journal *j)
{
	char *dir = xstrdup(j->path);
	char *slash = strrchr(dir, '/');
	const char *d = ".";
	if (slash == dir)
		d = "/";
	else if (slash != NULL) {
		*slash = '\0';
		d = dir;
	}
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* The seq of the last complete line of fd (size bytes), 0 when none.
 * A partial last line (a crash in the middle of a write that was never
 * acknowledged) is cut off when TRUNCATE. */
static int64_t journal_scan_tail(int fd, uint64_t *size, bool truncate)
{
	if (*size == 0)
		return 0;
	size_t n = *size < JOURNAL_TAIL_MAX ? (size_t)*size : JOURNAL_TAIL_MAX;
	off_t start = (off_t)(*size - n);
	char *buf = xmalloc(n + 1);
	ssize_t got = pread(fd, buf, n, start);
	int64_t seq = 0;
	if (got != (ssize_t)n) {
		free(buf);
		return 0;
	}
	buf[n] = '\0';
	size_t end = n;
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (end < n && truncate) {
		uint64_t keep = (uint64_t)start + end;
		if (ftruncate(fd, (off_t)keep) == 0) {
			fsync(fd);
			log_warn("journal: cut a partial last line "
				 "(%zu bytes) left by a failed write", n - end);
			*size = keep;
		}
	}
	if (end > 0) {
		buf[end - 1] = '\0';
		char *line = strrchr(buf, '\n');
		line = line != NULL ? line + 1 : buf;
		static const char prefix[] = "{\"seq\":";
		if (strncmp(line, prefix, sizeof(prefix) - 1) == 0)
			seq = strtoll(line + sizeof(prefix) - 1, NULL, 10);
	}
	free(buf);
	return seq > 0 ? seq : 0;
}

static int journal_open_file(struct journal *j)
{
	j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (j->fd < 0) {
		log_error("sink %s: cannot open journal %s: %s", j->name,
			  j->path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(j->fd, &st) < 0) {
		log_error("sink %s: journal %s: %s", j->name, j->path,
			  strerror(errno));
		close(j->fd);
		j->fd = -1;
		return -1;
	}
	j->size = (uint64_t)st.st_size;
	return 0;
}

static int journal_open(struct sink_backend *b)
{
	struct journal *j = (struct journal *)b;
	if (j->fd >= 0)
		return 0;
	if (journal_open_file(j) < 0)
		return -1;
	/* O_APPEND fds cannot pread on every system; a second, read-only
	 * descriptor reads the tail. */
	int rfd = open(j->path, O_RDWR | O_CLOEXEC);
	if (rfd >= 0) {
		j->last_seq = journal_scan_tail(rfd, &j->size, true);
		close(rfd);
	}
	if (j->last_seq == 0 && j->size == 0 && j->rotate_keep > 0) {
		/* Just rotated: the last line is in path.1. */
		struct strbuf old = STRBUF_INIT;
		strbuf_printf(&old, "%s.1", j->path);
		int ofd = open(old.s, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (ofd >= 0 && fstat(ofd, &st) == 0) {
			uint64_t osize = (uint64_t)st.st_size;
			j->last_seq = journal_scan_tail(ofd, &osize, false);
		}
		if (ofd >= 0)
			close(ofd);
		strbuf_free(&old);
	}
	return 0;
}

static int64_t journal_last_seq(struct sink_backend *b)
{
	struct journal *j = (struct journal *)b;
	return j->last_seq;
}

static int journal_rotate(struct journal *j)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT;
	int ret = 0;
	if (j->rotate_keep == 0) {
		if (unlink(j->path) < 0 && errno != ENOENT)
			ret = -1;
	} else {
		for (unsigned int k = j->rotate_keep; k > 1; k--) {
			strbuf_reset(&from);
			strbuf_reset(&to);
			strbuf_printf(&from, "%s.%u", j->path, k - 1);
			strbuf_printf(&to, "%s.%u", j->path, k);
			if (rename(from.s, to.s) < 0 && errno != ENOENT) {
				ret = -1;
				break;
			}
		}
		strbuf_reset(&to);
		strbuf_printf(&to, "%s.1", j->path);
		if (ret == 0 && rename(j->path, to.s) < 0)
			ret = -1;
	}
	if (ret < 0)
		log_error("sink %s: rotating journal %s: %s", j->name,
			  j->path, strerror(errno));
	strbuf_free(&from);
	strbuf_free(&to);
	if (ret < 0)
		return -1;
	close(j->fd);
	j->fd = -1;
	journal_fsync_dir(j);
	return journal_open_file(j);
}

static int journal_deliver(struct sink_backend *b, const char *data,
			   size_t len, int64_t last_seq)
{
	struct journal *j = (struct journal *)b;
	if (j->fd < 0 && journal_open(b) < 0)
		return -1;
	if (j->rotate_size > 0 && j->size > 0 &&
	    j->size + len > j->rotate_size && journal_rotate(j) < 0)
		return -1;
	uint64_t before = j->size;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(j->fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("sink %s: writing journal %s: %s", j->name,
				  j->path, n < 0 ? strerror(errno) :
				  "short write");
			goto fail;
		}
		off += (size_t)n;
	}
	if (fdatasync(j->fd) < 0) {
		log_error("sink %s: fsync of journal %s: %s", j->name, j->path,
			  strerror(errno));
		goto fail;
	}
	j->size += len;
	j->last_seq = last_seq;
	return 0;
fail:
	/* No partial batch stays behind: it is written again whole. */
	if (ftruncate(j->fd, (off_t)before) < 0) {
		/* reopen next time, which cuts a partial last line */
	}
	close(j->fd);
	j->fd = -1;
	return -1;
}

static const struct sink_backend_ops journal_ops = {
	.open = journal_open,
	.last_seq = journal_last_seq,
	.deliver = journal_deliver,
	.destroy = journal_destroy,
};

static const char *const journal_keys[] = {
	"path", "rotate_size", "rotate_keep", NULL
};

static int journal_parse(const struct config *cfg,
			 const struct config_sink *raw,
			 struct sink_config *sink, char *err, size_t err_size)
{
	const struct config_option *o;
	sink->rotate_size = 64ull * 1024 * 1024;
	sink->rotate_keep = 5;
	if ((o = sink_config_option(raw, "path")) != NULL) {
		if (o->value[0] == '\0')
			return sink_config_error(err, err_size, cfg, o->line,
						 "path: must not be empty");
		sink->path = xstrdup(o->value);
	} else {
		struct strbuf sb = STRBUF_INIT;
		strbuf_printf(&sb, "%s/events.jsonl", cfg->data_dir);
		sink->path = strbuf_detach(&sb, NULL);
	}
	if ((o = sink_config_option(raw, "rotate_size")) != NULL &&
	    config_parse_size(o->value, &sink->rotate_size) < 0)
		return sink_config_error(err, err_size, cfg, o->line,
					 "rotate_size: expected a size such as "
					 "64M (0: never rotate)");
	if ((o = sink_config_option(raw, "rotate_keep")) != NULL) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(o->value, &end, 10);
		if (o->value[0] < '0' || o->value[0] > '9' || *end != '\0' ||
		    errno != 0 || v > 1000)
			return sink_config_error(err, err_size, cfg, o->line,
						 "rotate_keep: expected a "
						 "number from 0 to 1000");
		sink->rotate_keep = (unsigned int)v;
	}
	return 0;
}

const struct sink_type_desc sink_type_journal = {
	.name = "journal",
	.type = SINK_TYPE_JOURNAL,
	.keys = journal_keys,
	.parse = journal_parse,
	.create = journal_create,
};
