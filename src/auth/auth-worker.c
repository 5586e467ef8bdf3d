#include "auth/auth-worker.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "lib/xalloc.h"

struct auth_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct auth_job *queue, *queue_tail;
	struct auth_job *done, *done_tail;
	pthread_t *threads;
	unsigned int thread_count;
	bool stopping;
	int pipe_fds[2];     /* written once per finished job: wakes the loop */
};

static void list_push(struct auth_job **head, struct auth_job **tail,
		      struct auth_job *job)
{
	job->next = NULL;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void *worker_main(void *arg)
{
	struct auth_worker *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->queue == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->queue == NULL && w->stopping)
			break;
		struct auth_job *job = w->queue;
		w->queue = job->next;
		if (w->queue == NULL)
			w->queue_tail = NULL;
		pthread_mutex_unlock(&w->lock);

		job->ok = job->encoded != NULL && job->encoded[0] != '\0' ?
			  auth_password_verify(job->encoded, job->password) : false;
		if (job->encoded == NULL || job->encoded[0] == '\0')
			auth_password_verify_dummy(job->password);
		explicit_bzero(job->password, strlen(job->password));

		pthread_mutex_lock(&w->lock);
		list_push(&w->done, &w->done_tail, job);
		char b = 1;
		ssize_t r = write(w->pipe_fds[1], &b, 1);
		(void)r;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct auth_worker *auth_worker_create(unsigned int threads)
{
	struct auth_worker *w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pipe2(w->pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(w);
		return NULL;
	}
	w->thread_count = threads ? threads : 1;
	w->threads = xcalloc(w->thread_count, sizeof(*w->threads));
	for (unsigned int i = 0; i < w->thread_count; i++)
		pthread_create(&w->threads[i], NULL, worker_main, w);
	return w;
}

void auth_job_free(struct auth_job *job)
{
	if (job == NULL)
		return;
	free(job->encoded);
	if (job->password != NULL) {
		explicit_bzero(job->password, strlen(job->password));
		free(job->password);
	}
	free(job->tag);
	free(job->user);
	free(job->authzid);
	free(job);
}

void auth_worker_destroy(struct auth_worker **wp)
{
	struct auth_worker *w = *wp;
	if (w == NULL)
		return;
	*wp = NULL;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned int i = 0; i < w->thread_count; i++)
		pthread_join(w->threads[i], NULL);
	for (struct auth_job *j = w->queue, *n; j != NULL; j = n) {
		n = j->next;
		auth_job_free(j);
	}
	for (struct auth_job *j = w->done, *n; j != NULL; j = n) {
		n = j->next;
		auth_job_free(j);
	}
	close(w->pipe_fds[0]);
	close(w->pipe_fds[1]);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

int auth_worker_fd(const struct auth_worker *w)
{
	return w->pipe_fds[0];
}

void auth_worker_submit(struct auth_worker *w, struct auth_job *job)
{
	pthread_mutex_lock(&w->lock);
	list_push(&w->queue, &w->queue_tail, job);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void auth_worker_collect(struct auth_worker *w)
{
	char buf[256];
	while (read(w->pipe_fds[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	struct auth_job *list = w->done;
	w->done = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list != NULL) {
		struct auth_job *job = list;
		list = job->next;
		job->next = NULL;
		job->done(job);
	}
}
