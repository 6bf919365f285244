/*
 * log-ingest-child.c: the runner half of tests/bench/log-ingest. Runs the command given on
 * the command line (its words joined by spaces, run by bash -c) through the real runner:
 * local transport on a pty, a 1 MiB log ring, a log file in a temporary directory, and two
 * secrets to redact, as a step's action would. Prints
 *   lines=N seconds=S maxrss_kib=K log_bytes=B
 * and exits 0 if the command succeeded.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logbuf.h"
#include "loop.h"
#include "runner.h"
#include "util.h"

struct bench {
	bool done;
	const struct run_result *res;
};

/* Keep the result. */
static void
bench_done(void *data, const struct run_result *res)
{
	struct bench *b = data;

	b->done = true;
	b->res = res;
}

/* Run argv[1..] through the runner and report. */
int
main(int argc, char **argv)
{
	/* Realistic secrets (a private key, an API key) that do not occur in the output. */
	const char *secrets[] = {
		"0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
		"Ab3dE6gH9jK2mN5pQ8sT",
	};
	struct bench b = { 0 };
	struct run_cbs cbs = { .done = bench_done, .data = &b };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	struct strbuf script = { 0 };
	struct logbuf *ring;
	struct loop *l;
	struct run *r;
	struct rusage ru;
	struct stat sb;
	const char *tmp = getenv("TMPDIR");
	char *dir, *log, *cause = NULL;
	uint64_t t0, ms;
	int ok;

	if (argc < 2) {
		fprintf(stderr, "usage: %s command [args...]\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			sb_addc(&script, ' ');
		sb_adds(&script, argv[i]);
	}
	dir = xprintf("%s/dw-bench-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	log = xprintf("%s/run.log", dir);

	memset(&cmd, 0, sizeof cmd);
	cmd.tc.script = sb_str(&script);
	cmd.display = (char *)(uintptr_t)"log-ingest";
	ring = logbuf_new(1 << 20);
	opts.log_path = log;
	opts.title = "log-ingest benchmark";
	opts.secrets = secrets;
	opts.nsecrets = nitems(secrets);
	opts.ring = ring;
	opts.stop_on_failure = true;

	l = loop_new();
	t0 = now_ms();
	r = run_start(l, &cmd, 1, &opts, &cbs, &cause);
	if (r == NULL) {
		fprintf(stderr, "run_start: %s\n", cause);
		return 2;
	}
	while (!b.done) {
		if (loop_run_once(l, -1) < 0) {
			perror("poll");
			return 2;
		}
	}
	ms = now_ms() - t0;
	getrusage(RUSAGE_SELF, &ru);
	if (stat(log, &sb) != 0)
		sb.st_size = 0;
	printf("lines=%llu seconds=%.3f maxrss_kib=%ld log_bytes=%lld\n",
	    (unsigned long long)b.res->lines, (double)ms / 1000.0, ru.ru_maxrss,
	    (long long)sb.st_size);
	if (!b.res->ok)
		fprintf(stderr, "the command failed: %s\n",
		    b.res->cmds[0].reason != NULL ? b.res->cmds[0].reason : "?");
	ok = b.res->ok;

	run_free(&r);
	loop_free(&l);
	logbuf_free(&ring);
	unlink(log);
	rmdir(dir);
	free(log);
	free(dir);
	sb_free(&script);
	return ok ? 0 : 1;
}
