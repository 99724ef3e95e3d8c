// SPDX-License-Identifier: MIT
/*
 * Password hashes through libxcrypt, and the worker threads that compute
 * them off the loop: the SHA-crypt specification's vector, hashes we make
 * verify, wrong passwords and malformed hashes do not; jobs complete on the
 * loop, and a worker freed with jobs pending reports them cancelled.
 */
#include <string.h>
#include <unistd.h>

#include "passwd.h"
#include "unit.h"
#include "worker.h"

static void test_verify(void)
{
	/* From Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512". */
	static const char vector[] = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIF"
				     "NjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
	char hash[PASSWD_HASH_MAX], err[160];

	CHECK(passwd_verify("Hello world!", vector), "the sha512-crypt vector");
	CHECK(!passwd_verify("Hello world", vector), "a wrong password");
	CHECK(passwd_hash("correct horse", "yescrypt", hash, err, sizeof(err)) == 0, "%s", err);
	CHECK(strncmp(hash, "$y$", 3) == 0, "yescrypt: %s", hash);
	CHECK(passwd_verify("correct horse", hash) && !passwd_verify("correct hors", hash),
	      "a yescrypt hash we made");
	CHECK(passwd_hash("x", "sha512", hash, err, sizeof(err)) == 0 &&
		      strncmp(hash, "$6$", 3) == 0 && passwd_verify("x", hash),
	      "sha512-crypt: %s", hash);
	CHECK(passwd_hash("x", "md5", hash, err, sizeof(err)) < 0 && strstr(err, "md5"),
	      "an unknown method: %s", err);
	CHECK(!passwd_verify("x", "") && !passwd_verify("x", "*") && !passwd_verify("x", "$y$"),
	      "malformed hashes verify nothing");
}

struct job {
	struct worker_job job;
	int *done_count, *cancelled_count;
	bool ran;
};

static void run_job(struct worker_job *j)
{
	usleep(20000);
	((struct job *)j)->ran = true;
}

static void job_done(struct worker_job *j)
{
	struct job *x = (struct job *)j;

	(*x->done_count)++;
	if (j->cancelled)
		(*x->cancelled_count)++;
}

static void test_worker(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *w = worker_new(loop);
	struct job jobs[6];
	int done = 0, cancelled = 0;
	double t0 = ev_time();

	CHECK(w != NULL, "worker starts");
	for (int i = 0; i < 6; i++) {
		jobs[i] = (struct job){
			{ run_job, job_done, false, NULL }, &done, &cancelled, false
		};
		CHECK(worker_submit(w, &jobs[i].job) == 0, "submit %d", i);
	}
	while (done < 4 && ev_time() - t0 < 5)
		ev_run(loop, EVRUN_ONCE);
	CHECK(done >= 4 && cancelled == 0, "jobs complete on the loop: %d", done);
	worker_free(w);
	CHECK(done == 6, "every job is reported by the end: %d", done);
	for (int i = 0; i < 6; i++)
		CHECK(jobs[i].ran || jobs[i].job.cancelled, "job %d ran or was cancelled", i);
	w = worker_new(loop);
	done = cancelled = 0;
	for (int i = 0; i < 6; i++) {
		jobs[i] = (struct job){
			{ run_job, job_done, false, NULL }, &done, &cancelled, false
		};
		(void)!worker_submit(w, &jobs[i].job);
	}
	worker_free(w); /* at once: most never ran */
	CHECK(done == 6 && cancelled >= 2, "freed early: %d done, %d cancelled", done, cancelled);
	ev_loop_destroy(loop);
}

int main(void)
{
	test_verify();
	test_worker();
	return unit_report("test_passwd");
}
