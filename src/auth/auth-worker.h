/* Password verification off the event loop: argon2id costs tens of
 * milliseconds and megabytes by design, so it runs on worker threads.
 *
 * The loop thread submits jobs and, when auth_worker_fd() is readable,
 * calls auth_worker_collect(), which runs each finished job's callback on
 * the loop thread.  A job whose owner went away is cancelled by setting
 * job->ctx to NULL; its callback still runs (and must only free it). */
#ifndef TIDINGS_AUTH_WORKER_H
#define TIDINGS_AUTH_WORKER_H

#include <stdbool.h>

struct auth_job {
	char *encoded;       /* the stored hash (owned by the job) */
	char *password;      /* wiped and freed after verification */
	bool ok;             /* the result */
	void (*done)(struct auth_job *job);
	void *ctx;           /* the owner; NULL when cancelled */
	char *tag;           /* for the owner's reply */
	char *user;          /* the user name, for the owner */
	char *authzid;       /* an admin acting as this user, or NULL */
	struct auth_job *next;
};

struct auth_worker;

struct auth_worker *auth_worker_create(unsigned int threads);
void auth_worker_destroy(struct auth_worker **worker);
int auth_worker_fd(const struct auth_worker *worker);
/* Takes ownership of job (and its strings). */
void auth_worker_submit(struct auth_worker *worker, struct auth_job *job);
void auth_worker_collect(struct auth_worker *worker);
void auth_job_free(struct auth_job *job);

#endif
