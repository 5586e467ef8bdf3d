/* Deferred, parallel fsyncs of message bodies for group commit.
 *
 * With store_group_enable() every change of a loop turn shares one SQLite
 * transaction and one COMMIT.  The bodies those changes installed must be
 * durable before that COMMIT (an index row must never name a file a crash
 * could lose), but syncing them one after the other costs one disk flush
 * each: most of the time of a delivery.  Instead each installed body and
 * its directory are listed here, and store_sync_pending() syncs them all
 * at once from a few threads, so the file system folds them into one or
 * two journal commits.  The order is still body, directory, then index. */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* Enough to keep a disk's queue full; more only adds thread start-up. */
#define STORE_SYNC_THREADS 8

void store_sync_add(struct store *store, const char *path, bool dir)
{
	if (dir) {
		for (size_t i = 0; i < store->sync_count; i++)
			if (store->sync_dirs[i] &&
			    strcmp(store->sync_paths[i], path) == 0)
				return;
	}
	if (store->sync_count == store->sync_cap) {
		store->sync_cap = store->sync_cap ? store->sync_cap * 2 : 32;
		store->sync_paths = xrealloc(store->sync_paths,
					     store->sync_cap *
					     sizeof(*store->sync_paths));
		store->sync_dirs = xrealloc(store->sync_dirs,
					    store->sync_cap *
					    sizeof(*store->sync_dirs));
	}
	store->sync_paths[store->sync_count] = xstrdup(path);
	store->sync_dirs[store->sync_count] = dir;
	store->sync_count++;
}

struct sync_job {
	char **paths;
	bool *dirs;
	size_t count;
	atomic_size_t next;
	atomic_int failed;
};

static void sync_one(struct sync_job *job, size_t i)
{
	int flags = O_RDONLY | O_CLOEXEC | (job->dirs[i] ? O_DIRECTORY : 0);
	int fd = open(job->paths[i], flags);
	if (fd < 0) {
		/* a body unlinked by a rolled-back change: nothing names it */
		if (errno == ENOENT && !job->dirs[i])
			return;
		log_error("store: cannot open %s to sync it: %s",
			  job->paths[i], strerror(errno));
		atomic_store(&job->failed, 1);
		return;
	}
	if (fsync(fd) < 0) {
		log_error("store: fsync %s: %s", job->paths[i],
			  strerror(errno));
		atomic_store(&job->failed, 1);
	}
	close(fd);
}

static void *sync_worker(void *arg)
{
	struct sync_job *job = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&job->next, 1);
		if (i >= job->count)
			break;
		sync_one(job, i);
	}
	return NULL;
}

int store_sync_pending(struct store *store, struct store_error *err)
{
	size_t count = store->sync_count;
	if (count == 0)
		return 0;
	struct sync_job job = {
		.paths = store->sync_paths, .dirs = store->sync_dirs,
		.count = count,
	};
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	pthread_t threads[STORE_SYNC_THREADS];
	size_t nthreads = 0;
	/* this thread works too: one item needs no helper at all */
	size_t want = count - 1 < STORE_SYNC_THREADS ? count - 1
						     : STORE_SYNC_THREADS;
	for (; nthreads < want; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, sync_worker,
				   &job) != 0)
			break;
	sync_worker(&job);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < count; i++)
		free(store->sync_paths[i]);
	store->sync_count = 0;
	if (atomic_load(&job.failed)) {
		store_error_internal(err);
		return -1;
	}
	return 0;
}

void store_sync_free(struct store *store)
{
	for (size_t i = 0; i < store->sync_count; i++)
		free(store->sync_paths[i]);
	free(store->sync_paths);
	free(store->sync_dirs);
	store->sync_paths = NULL;
	store->sync_dirs = NULL;
	store->sync_count = store->sync_cap = 0;
}
