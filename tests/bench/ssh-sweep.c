/*
 * ssh-sweep.c: the driver of tests/bench/sweep. Connects once to an SSH server with the
 * wizard's transport and runs N copies of a probe in parallel on that one session (the
 * transport's channel limit applies), checking that every probe exits 0 with the same
 * non-empty output. Prints the wall time in milliseconds, connection included:
 *
 *   ssh-sweep USER@HOST:PORT KEY KNOWN_HOSTS N PROBE
 *   -> "sweep_ms=123.4 probes=30 connects=1 max_parallel=8"
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "ssh.h"
#include "transport.h"
#include "util.h"

struct probe {
	struct strbuf out;
	bool ended;
	enum tjob_end how;
	int code;
	char *msg;
};

/* Keep stdout. */
static void
sweep_output(void *data, int stream, const char *buf, size_t len)
{
	struct probe *p = data;

	if (stream == STREAM_OUT)
		sb_add(&p->out, buf, len);
}

/* A probe ended. */
static void
sweep_end(void *data, enum tjob_end how, int code, const char *message)
{
	struct probe *p = data;

	p->ended = true;
	p->how = how;
	p->code = code;
	p->msg = message != NULL ? xstrdup(message) : NULL;
}

/* Wall clock in ms with a fraction. */
static double
sweep_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	struct ssh_target t;
	struct ssh_conn *c;
	struct ssh_stats st;
	struct loop *l;
	struct probe *p;
	struct tjob **jobs;
	char *cause = NULL;
	double t0, t1;
	int n, bad = 0;
	bool all;

	if (argc != 6 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: %s USER@HOST:PORT KEY KNOWN_HOSTS N PROBE\n", argv[0]);
		return 2;
	}
	if (ssh_target_resolve(argv[1], "none", &t, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return 2;
	}
	t.identity = xstrdup(argv[2]);
	t.known_hosts = xstrdup(argv[3]);
	l = loop_new();
	p = xcalloc((size_t)n, sizeof *p);
	jobs = xcalloc((size_t)n, sizeof *jobs);

	t0 = sweep_now();
	c = ssh_conn_new(l, &t, NULL);
	for (int i = 0; i < n; i++) {
		struct transport_cmd tc;
		struct tjob_cbs cbs = { sweep_output, sweep_end, &p[i] };

		memset(&tc, 0, sizeof tc);
		tc.script = argv[5];
		jobs[i] = transport_ssh_ops.start(c, l, &tc, &cbs, &cause);
		if (jobs[i] == NULL) {
			fprintf(stderr, "start: %s\n", cause);
			return 1;
		}
	}
	do {
		all = true;
		for (int i = 0; i < n; i++)
			all &= p[i].ended;
		if (!all && loop_run_once(l, 1000) < 0)
			break;
	} while (!all && sweep_now() - t0 < 60000);
	t1 = sweep_now();

	for (int i = 0; i < n; i++) {
		if (!p[i].ended || p[i].how != TJOB_EXITED || p[i].code != 0 || p[i].out.len == 0 ||
		    strcmp(sb_str(&p[i].out), sb_str(&p[0].out)) != 0) {
			if (bad++ == 0)
				fprintf(stderr, "probe %d: %s\n", i, p[i].msg != NULL ? p[i].msg :
				    (p[i].ended ? "bad exit or output" : "did not end"));
		}
	}
	ssh_conn_stats(c, &st);
	printf("sweep_ms=%.1f probes=%d connects=%u max_parallel=%u\n", t1 - t0, n, st.connects,
	    st.max_parallel);
	for (int i = 0; i < n; i++) {
		transport_ssh_ops.free(jobs[i]);
		sb_free(&p[i].out);
		free(p[i].msg);
	}
	ssh_conn_free(&c);
	loop_free(&l);
	ssh_target_clear(&t);
	free(p);
	free(jobs);
	return bad == 0 ? 0 : 1;
}
