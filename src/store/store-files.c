/* Message bodies: one immutable file per body, data_dir/mail/<hh>/<id>,
 * where hh is the low byte of the id in hex (256 directories, filled
 * evenly).  A body is written to data_dir/tmp first, fsynced, renamed into
 * place and its directory fsynced, all before the row naming it commits:
 * an index row never names a file that could be lost in a crash. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* A temporary file older than this is abandoned whoever wrote it. */
#define STORE_TMP_MAX_AGE (24 * 60 * 60)

static int mkdir_p(const char *path)
{
	char *copy = xstrdup(path);
	int ret = 0;
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return ret;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int store_files_init(struct store *store, struct store_error *err)
{
	const char *subdirs[] = { "", "/mail", "/tmp" };
	struct strbuf path = STRBUF_INIT;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		strbuf_reset(&path);
		strbuf_appends(&path, store->data_dir);
		strbuf_appends(&path, subdirs[i]);
		if (mkdir_p(path.s) < 0) {
			log_error("store: cannot create %s: %s", path.s,
				  strerror(errno));
			strbuf_free(&path);
			store_error_internal(err);
			return -1;
		}
	}
	strbuf_free(&path);
	return 0;
}

void store_files_body_path(const struct store *store, int64_t body_id,
			   struct strbuf *out)
{
	strbuf_printf(out, "%s/mail/%02x/%" PRId64, store->data_dir,
		      (unsigned int)(body_id & 0xff), body_id);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_files_write_tmp(struct store *store, const char *data, size_t len,
			  char **path_r, struct store_error *err)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)&rnd << 16);
	/* the pid leads the name so that the sweep can tell whether the
	 * writer is still alive */
	struct strbuf path = STRBUF_INIT;
	strbuf_printf(&path, "%s/tmp/%ld.%" PRIu64 ".%016" PRIx64,
		      store->data_dir, (long)getpid(), ++store->tmp_counter,
		      rnd);
	int fd = open(path.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("store: cannot create %s: %s", path.s,
			  strerror(errno));
		strbuf_free(&path);
		store_error_internal(err);
		return -1;
	}
	/* with group commit the body is synced later, with the others of
	 * its commit, once installed (store-sync.c) */
	if (write_all(fd, data, len) < 0 ||
	    (!store->sync_defer && fsync(fd) < 0)) {
		int saved = errno;
		close(fd);
		unlink(path.s);
		log_error("store: cannot write %s: %s", path.s,
			  strerror(saved));
		strbuf_free(&path);
		if (saved == ENOSPC || saved == EDQUOT)
			store_error_set(err, STORE_ERR_OVERQUOTA,
					"Not enough disk space");
		else
			store_error_internal(err);
		return -1;
	}
	if (close(fd) < 0) {
		log_error("store: cannot close %s: %s", path.s,
			  strerror(errno));
		unlink(path.s);
		strbuf_free(&path);
		store_error_internal(err);
		return -1;
	}
	*path_r = strbuf_detach(&path, NULL);
	return 0;
}

int store_files_install(struct store *store, const char *tmp_path,
			int64_t body_id, struct store_error *err)
{
	struct strbuf path = STRBUF_INIT;
	struct strbuf dir = STRBUF_INIT;
	store_files_body_path(store, body_id, &path);
	strbuf_printf(&dir, "%s/mail/%02x", store->data_dir,
		      (unsigned int)(body_id & 0xff));
	int ret = rename(tmp_path, path.s);
	if (ret < 0 && errno == ENOENT && access(tmp_path, F_OK) == 0) {
		/* first body in this directory: create it, and make its
		 * entry in mail/ durable too */
		if (mkdir(dir.s, 0700) < 0 && errno != EEXIST) {
			log_error("store: cannot create %s: %s", dir.s,
				  strerror(errno));
		} else {
			struct strbuf mail = STRBUF_INIT;
			strbuf_printf(&mail, "%s/mail", store->data_dir);
			if (fsync_dir(mail.s) < 0)
				log_error("store: fsync %s: %s", mail.s,
					  strerror(errno));
			strbuf_free(&mail);
			ret = rename(tmp_path, path.s);
		}
	}
	if (ret < 0) {
		log_error("store: cannot rename %s to %s: %s", tmp_path,
			  path.s, strerror(errno));
		unlink(tmp_path);
		goto fail;
	}
	if (store->sync_defer) {
		/* synced by store_group_commit() before its COMMIT */
		store_sync_add(store, path.s, false);
		store_sync_add(store, dir.s, true);
	} else if (fsync_dir(dir.s) < 0) {
		log_error("store: fsync %s: %s", dir.s, strerror(errno));
		unlink(path.s);
		goto fail;
	}
	strbuf_free(&path);
	strbuf_free(&dir);
	return 0;
fail:
	strbuf_free(&path);
	strbuf_free(&dir);
	store_error_internal(err);
	return -1;
}

bool store_files_body_exists(struct store *store, int64_t body_id)
{
	struct strbuf path = STRBUF_INIT;
	store_files_body_path(store, body_id, &path);
	bool exists = access(path.s, F_OK) == 0;
	strbuf_free(&path);
	return exists;
}

void store_files_unlink_body(struct store *store, int64_t body_id)
{
	struct strbuf path = STRBUF_INIT;
	store_hdrcache_forget(store, body_id);
	store_files_body_path(store, body_id, &path);
	if (unlink(path.s) < 0 && errno != ENOENT)
		log_error("store: cannot remove %s: %s", path.s,
			  strerror(errno));
	strbuf_free(&path);
}

/* What store_body.priv_ points to. */
struct store_body_map {
	void *addr;
	size_t len;
};

static const char empty_body[1] = "";

int store_files_body_open(struct store *store, int64_t body_id,
			  struct store_body *body_r, struct store_error *err)
{
	body_r->data = empty_body;
	body_r->len = 0;
	body_r->priv_ = NULL;
	if (body_id <= 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"No such message");
		return -1;
	}
	struct strbuf path = STRBUF_INIT;
	store_files_body_path(store, body_id, &path);
	int fd = open(path.s, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			/* expunged and reaped under our feet */
			store_error_set(err, STORE_ERR_EXPUNGED,
					"Message has been expunged");
		} else {
			log_error("store: cannot open %s: %s", path.s,
				  strerror(errno));
			store_error_internal(err);
		}
		strbuf_free(&path);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		log_error("store: cannot stat %s: %s", path.s,
			  strerror(errno));
		goto fail;
	}
	if (st.st_size == 0) {
		close(fd);
		strbuf_free(&path);
		return 0;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		log_error("store: %s is too large to map", path.s);
		goto fail;
	}
	size_t len = (size_t)st.st_size;
	void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (addr == MAP_FAILED) {
		log_error("store: cannot map %s: %s", path.s, strerror(errno));
		goto fail;
	}
	close(fd);
	strbuf_free(&path);
	struct store_body_map *map = xmalloc(sizeof(*map));
	map->addr = addr;
	map->len = len;
	body_r->data = addr;
	body_r->len = len;
	body_r->priv_ = map;
	return 0;
fail:
	close(fd);
	strbuf_free(&path);
	store_error_internal(err);
	return -1;
}

void store_body_close(struct store_body *body)
{
	if (body == NULL)
		return;
	struct store_body_map *map = body->priv_;
	if (map != NULL) {
		munmap(map->addr, map->len);
		free(map);
	}
	body->data = empty_body;
	body->len = 0;
	body->priv_ = NULL;
}

void store_files_sweep_tmp(struct store *store)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_printf(&path, "%s/tmp", store->data_dir);
	size_t dir_len = path.len;
	DIR *dir = opendir(path.s);
	if (dir == NULL) {
		strbuf_free(&path);
		return;
	}
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path.len = dir_len;
		strbuf_appendc(&path, '/');
		strbuf_appends(&path, de->d_name);
		struct stat st;
		if (lstat(path.s, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		bool writer_gone = *end != '.' || pid <= 0 ||
			(pid != (long)getpid() && kill((pid_t)pid, 0) < 0 &&
			 errno == ESRCH);
		if (writer_gone || now - st.st_mtime > STORE_TMP_MAX_AGE) {
			if (unlink(path.s) == 0)
				log_info("store: removed stale %s", path.s);
		}
	}
	closedir(dir);
	strbuf_free(&path);
}
