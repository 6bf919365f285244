/*
 * test-runner.c: the event loop, the local transport and the runner, with real processes
 * on a real pty.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logbuf.h"
#include "loop.h"
#include "runner.h"
#include "transport.h"
#include "rx.h"
#include "util.h"

#include "testlib.h"

#define DEADLINE_MS 15000

/* What a run handed out. */
struct ctx {
	struct loop *loop;
	struct run *run;
	bool done;
	const struct run_result *res;
	struct strvec lines;         /* "O:text", "E:text", "M:text" in order */
	size_t nstart;
	size_t nend;
	/* Hooks. */
	const char *touch_on;        /* create touch_path when a line equals this */
	char *touch_path;
	const char *cancel_on;       /* run_cancel when a line equals this */
	uint64_t cancel_at_ms;       /* or this long after the start (timer) */
	uint64_t canceled_at;
	bool free_in_done;           /* run_free from the done callback */
	bool quiet;                  /* keep no lines (big outputs) */
	uint64_t lines_at_done;
};

/* Record a line; run the touch and cancel hooks. */
static void
ctx_line(void *data, int stream, const char *text, size_t len)
{
	struct ctx *c = data;
	char tag = stream == STREAM_OUT ? 'O' : stream == STREAM_ERR ? 'E' : 'M';

	assert_int_equal(strlen(text), len);   /* NUL-terminated, no embedded NUL here */
	assert_null(memchr(text, '\n', len));
	if (!c->quiet)
		sv_push_take(&c->lines, xprintf("%c:%s", tag, text));
	if (c->touch_on != NULL && stream == STREAM_OUT && strcmp(text, c->touch_on) == 0) {
		FILE *f = fopen(c->touch_path, "w");

		assert_non_null(f);
		fclose(f);
	}
	if (c->cancel_on != NULL && strcmp(text, c->cancel_on) == 0 && c->canceled_at == 0) {
		c->canceled_at = now_ms();
		run_cancel(c->run);
	}
}

/* Count command starts, checking their order. */
static void
ctx_cmd_start(void *data, size_t index, const struct run_cmd *cmd)
{
	struct ctx *c = data;

	assert_int_equal(index, c->nstart);
	assert_non_null(cmd);
	c->nstart++;
}

/* Count command ends, checking their order. */
static void
ctx_cmd_end(void *data, size_t index, const struct cmd_result *res)
{
	struct ctx *c = data;

	assert_int_equal(index, c->nend);
	assert_non_null(res);
	c->nend++;
}

/* Keep the result; done must come once. */
static void
ctx_done(void *data, const struct run_result *res)
{
	struct ctx *c = data;

	assert_false(c->done);
	c->done = true;
	c->res = res;
	if (c->free_in_done) {
		c->lines_at_done = res->lines;
		c->res = NULL;
		run_free(&c->run);
	}
}

/* Cancel the run from a timer. */
static void
ctx_cancel_timer(void *data)
{
	struct ctx *c = data;

	c->canceled_at = now_ms();
	run_cancel(c->run);
}

/* Run cmds to the end (or fail the test after DEADLINE_MS). */
static void
run_sync(struct ctx *c, const struct run_cmd *cmds, size_t n, const struct run_opts *opts)
{
	struct run_cbs cbs = { ctx_line, ctx_cmd_start, ctx_cmd_end, ctx_done, c };
	char *cause = NULL;
	uint64_t t0 = now_ms();

	c->loop = loop_new();
	c->run = run_start(c->loop, cmds, n, opts, &cbs, &cause);
	if (c->run == NULL)
		fail_msg("run_start: %s", cause);
	assert_false(c->done);   /* never done from inside run_start */
	if (c->cancel_at_ms != 0)
		loop_add_timer(c->loop, c->cancel_at_ms, ctx_cancel_timer, c);
	while (!c->done) {
		assert_true(loop_run_once(c->loop, 100) >= 0);
		if (now_ms() - t0 > DEADLINE_MS)
			fail_msg("the run did not finish in %d ms", DEADLINE_MS);
	}
	assert_true(run_finished(c->run));
	assert_ptr_equal(run_result(c->run), c->res);
}

/* Free the run, the loop and what the callbacks kept. */
static void
ctx_free(struct ctx *c)
{
	run_free(&c->run);
	assert_null(c->run);
	loop_free(&c->loop);
	sv_free(&c->lines);
	free(c->touch_path);
}

/* Index of the first line equal to want (e.g. "O:hi"), or -1. */
static int
ctx_find(const struct ctx *c, const char *want)
{
	for (size_t i = 0; i < c->lines.n; i++) {
		if (strcmp(c->lines.v[i], want) == 0)
			return (int)i;
	}
	return -1;
}

/* Index of the first line that starts with prefix, or -1. */
static int
ctx_find_prefix(const struct ctx *c, const char *prefix)
{
	for (size_t i = 0; i < c->lines.n; i++) {
		if (str_has_prefix(c->lines.v[i], prefix))
			return (int)i;
	}
	return -1;
}

/* Fill c with a command running script (everything allocated, as run_cmd_clear wants). */
static void
mkcmd(struct run_cmd *c, const char *script)
{
	memset(c, 0, sizeof *c);
	c->tc.script = xstrdup(script);
	c->display = xstrdup(script);
}

/* run_cmd_clear each command. */
static void
clear_cmds(struct run_cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_cmd_clear(&cmds[i]);
}

/* Set c's env to the given NULL-terminated list of NAME=VALUE. */
static void
set_env(struct run_cmd *c, const char *const *env)
{
	size_t n = 0;
	char **v;

	while (env[n] != NULL)
		n++;
	v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = xstrdup(env[i]);
	c->tc.env = v;
}

/* ---- loop ---- */

struct order {
	int seen[16];
	int n;
	struct loop *loop;
	uint64_t victim;
	int added_fired;
};

/* Timer callbacks that record their order. */
static void
timer_record(void *data)
{
	struct order *o = data;

	o->seen[o->n++] = 1;
}

static void
timer_record2(void *data)
{
	struct order *o = data;

	o->seen[o->n++] = 2;
}

static void
timer_record3(void *data)
{
	struct order *o = data;

	o->seen[o->n++] = 3;
}

static void
timer_added(void *data)
{
	struct order *o = data;

	o->added_fired++;
}

/* Deletes the victim timer and adds a 0 ms timer while dispatching. */
static void
timer_meddler(void *data)
{
	struct order *o = data;

	o->seen[o->n++] = 9;
	loop_del_timer(o->loop, o->victim);
	loop_add_timer(o->loop, 0, timer_added, o);
}

/* Timers fire in deadline order; callbacks may delete and add timers safely. */
static void
test_loop_timers(void **state)
{
	struct loop *l = loop_new();
	struct order o = { .loop = l };
	uint64_t a, b, c, d;
	uint64_t t0 = now_ms();

	(void)state;
	a = loop_add_timer(l, 60, timer_record3, &o);
	b = loop_add_timer(l, 20, timer_record, &o);
	c = loop_add_timer(l, 40, timer_record2, &o);
	d = loop_add_timer(l, 30, timer_meddler, &o);
	o.victim = c;
	assert_true(a > 0 && b > 0 && c > 0 && d > 0);
	assert_true(a != b && b != c && c != d);
	while (now_ms() - t0 < 1000 && (o.n < 3 || o.added_fired == 0))
		loop_run_once(l, 200);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.seen[0], 1);
	assert_int_equal(o.seen[1], 9);
	assert_int_equal(o.seen[2], 3);   /* 2 was deleted by the meddler */
	assert_int_equal(o.added_fired, 1);
	assert_true(now_ms() - t0 >= 60);
	loop_del_timer(l, 12345);          /* unknown: ignored */
	loop_free(&l);
	assert_null(l);
}

/* An idle loop sleeps: no busy loop, and the timeout is honoured. */
static void
test_loop_idle(void **state)
{
	struct loop *l = loop_new();
	uint64_t t0 = now_ms();
	int ran;

	(void)state;
	ran = loop_run_once(l, 80);
	assert_int_equal(ran, 0);
	assert_true(now_ms() - t0 >= 75);
	loop_free(&l);
}

struct fdctx {
	struct loop *loop;
	int p1[2];
	int p2[2];
	int calls1;
	int calls2;
};

/* Count calls. */
static void
fd_cb2(int fd, short revents, void *data)
{
	struct fdctx *f = data;

	f->calls2++;
}

/* Reads its byte, deletes the other watch, then deletes itself. */
static void
fd_cb1(int fd, short revents, void *data)
{
	struct fdctx *f = data;
	char b;

	assert_true(revents & POLLIN);
	assert_int_equal(read(fd, &b, 1), 1);
	f->calls1++;
	loop_del_fd(f->loop, f->p2[0]);
	loop_del_fd(f->loop, fd);
}

/* A callback that deletes another ready watch, and itself, is safe: the other is skipped. */
static void
test_loop_fd_delete(void **state)
{
	struct fdctx f = { 0 };

	(void)state;
	f.loop = loop_new();
	assert_int_equal(pipe(f.p1), 0);
	assert_int_equal(pipe(f.p2), 0);
	assert_int_equal(write(f.p1[1], "x", 1), 1);
	assert_int_equal(write(f.p2[1], "y", 1), 1);
	/* Replace a watch: only the second registration counts. */
	loop_add_fd(f.loop, f.p1[0], POLLIN, fd_cb2, &f);
	loop_add_fd(f.loop, f.p1[0], POLLIN, fd_cb1, &f);
	loop_add_fd(f.loop, f.p2[0], POLLIN, fd_cb2, &f);
	assert_int_equal(loop_run_once(f.loop, 100), 1);
	assert_int_equal(f.calls1, 1);
	assert_int_equal(f.calls2, 0);
	/* Nothing is watched any more: the loop just times out. */
	assert_int_equal(loop_run_once(f.loop, 10), 0);
	/* set_events to 0 silences a readable fd. */
	loop_add_fd(f.loop, f.p2[0], POLLIN, fd_cb2, &f);
	loop_set_events(f.loop, f.p2[0], 0);
	assert_int_equal(loop_run_once(f.loop, 10), 0);
	loop_set_events(f.loop, f.p2[0], POLLIN);
	assert_int_equal(loop_run_once(f.loop, 10), 1);
	assert_int_equal(f.calls2, 1);
	loop_free(&f.loop);
	close(f.p1[0]);
	close(f.p1[1]);
	close(f.p2[0]);
	close(f.p2[1]);
}

static volatile sig_atomic_t prior_hits;

/* The handler that was there before the loop. */
static void
prior_handler(int sig)
{
	prior_hits++;
}

struct sigctx {
	int a;
	int b;
	int sig;
};

/* Signal callbacks that count their calls. */
static void
sig_cb_a(int sig, void *data)
{
	struct sigctx *s = data;

	s->a++;
	s->sig = sig;
}

static void
sig_cb_b(int sig, void *data)
{
	struct sigctx *s = data;

	s->b++;
}

/* Signals reach every watcher from the loop; the previous handler comes back. */
static void
test_loop_signals(void **state)
{
	struct loop *l = loop_new();
	struct sigctx s = { 0 };
	struct sigaction sa, cur;
	uint64_t ia, ib;

	(void)state;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = prior_handler;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
	prior_hits = 0;

	ia = loop_on_signal(l, SIGUSR1, sig_cb_a, &s);
	ib = loop_on_signal(l, SIGUSR1, sig_cb_b, &s);
	assert_true(ia != ib);
	raise(SIGUSR1);
	assert_int_equal(s.a, 0);          /* not from the handler */
	assert_int_equal(loop_run_once(l, 1000), 2);
	assert_int_equal(s.a, 1);
	assert_int_equal(s.b, 1);
	assert_int_equal(s.sig, SIGUSR1);
	assert_int_equal(prior_hits, 0);

	loop_del_signal(l, ib);
	raise(SIGUSR1);
	raise(SIGUSR1);                    /* coalesced or not, a runs at least once */
	assert_true(loop_run_once(l, 1000) >= 1);
	assert_true(s.a >= 2);
	assert_int_equal(s.b, 1);

	loop_del_signal(l, ia);            /* the last watcher: prior handler is back */
	assert_int_equal(sigaction(SIGUSR1, NULL, &cur), 0);
	assert_ptr_equal(cur.sa_handler, prior_handler);
	raise(SIGUSR1);
	assert_int_equal(prior_hits, 1);

	/* loop_free restores too. */
	loop_on_signal(l, SIGUSR2, sig_cb_a, &s);
	assert_int_equal(sigaction(SIGUSR2, NULL, &cur), 0);
	assert_ptr_not_equal(cur.sa_handler, prior_handler);
	loop_free(&l);
	assert_int_equal(sigaction(SIGUSR2, NULL, &cur), 0);
	assert_ptr_equal(cur.sa_handler, prior_handler);

	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
}

/* ---- runner ---- */

/* Output arrives while the child still runs: it waits for a file the line callback makes. */
static void
test_streaming(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	char *dir = tl_tmpdir(), *script;
	int iready, iafter;

	(void)state;
	c.touch_path = xprintf("%s/go", dir);
	c.touch_on = "ready";
	script = xprintf("echo ready; i=0; while [ ! -e '%s' ]; do sleep 0.02; i=$((i+1));"
	    " [ $i -gt 250 ] && exit 7; done; echo after", c.touch_path);
	mkcmd(&cmd, script);
	free(script);
	run_sync(&c, &cmd, 1, &opts);
	assert_true(c.res->ok);
	iready = ctx_find(&c, "O:ready");
	iafter = ctx_find(&c, "O:after");
	assert_true(iready >= 0);
	assert_true(iafter > iready);
	assert_true(c.res->cmds[0].duration_ms < 4000);
	assert_int_equal(c.res->lines, 2);
	assert_int_equal(c.nstart, 1);
	assert_int_equal(c.nend, 1);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
	tl_rmrf(dir);
	free(dir);
}

/* stdout and stderr are told apart; META lines frame the command; the log file format. */
static void
test_streams_and_log(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[2];
	struct logbuf *ring = logbuf_new(1 << 16);
	char *dir = tl_tmpdir(), *log = xprintf("%s/run.log", dir), *text = NULL;
	struct stat sb;
	regex_t re;
	struct logline ll;

	(void)state;
	mkcmd(&cmds[0], "echo out; sleep 0.05; echo err >&2; sleep 0.05; echo out2");
	mkcmd(&cmds[1], "echo second");
	free(cmds[1].display);
	cmds[1].display = xstrdup("show second\nand more");
	opts.log_path = log;
	opts.title = "check of test-step";
	opts.ring = ring;
	run_sync(&c, cmds, 2, &opts);
	assert_true(c.res->ok);
	assert_int_equal(c.res->ncmds, 2);
	assert_int_equal(c.res->lines, 4);
	assert_true(ctx_find(&c, "O:out") >= 0);
	assert_true(ctx_find(&c, "E:err") >= 0);
	assert_int_equal(ctx_find(&c, "O:err"), -1);
	assert_int_equal(ctx_find(&c, "E:out"), -1);
	assert_true(ctx_find(&c, "M:$ echo out; sleep 0.05; echo err >&2; sleep 0.05; echo out2") == 0);
	assert_true(ctx_find(&c, "M:$ show second") > ctx_find(&c, "O:out2"));
	assert_true(ctx_find(&c, "M:> and more") == ctx_find(&c, "M:$ show second") + 1);
	assert_string_equal(c.res->cmds[0].output, "out\nout2\n");
	assert_null(c.res->cmds[0].reason);
	assert_int_equal(c.res->cmds[0].how, TJOB_EXITED);
	assert_int_equal(c.res->cmds[0].code, 0);

	/* The ring got the same lines, streams included. */
	assert_int_equal(logbuf_end(ring), c.lines.n);
	for (uint64_t s = 0; s < logbuf_end(ring); s++) {
		char tag;

		assert_int_equal(logbuf_get(ring, s, &ll), 0);
		tag = ll.stream == STREAM_OUT ? 'O' : ll.stream == STREAM_ERR ? 'E' : 'M';
		assert_int_equal(c.lines.v[s][0], tag);
		assert_string_equal(c.lines.v[s] + 2, ll.text);
	}

	assert_int_equal(stat(log, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(read_file(log, 1 << 20, &text, NULL, NULL), 0);
	assert_true(str_has_prefix(text, "check of test-step\n# [1/2] echo out;"));
	assert_int_equal(regcomp(&re, "^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} O\\| out$",
	    REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(regcomp(&re, "^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} E\\| err$",
	    REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);
	assert_non_null(strstr(text, "\n# [1/2] ok ("));
	assert_non_null(strstr(text, "\n# [2/2] show second\n#   and more\n"));
	assert_non_null(strstr(text, "\n# result: ok (2 commands, 4 lines, "));

	free(text);
	clear_cmds(cmds, 2);
	ctx_free(&c);
	logbuf_free(&ring);
	free(log);
	tl_rmrf(dir);
	free(dir);
}

/* Exit codes and signals become reasons; every command runs when stop_on_failure is off. */
static void
test_exit_and_signal(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[3];

	(void)state;
	mkcmd(&cmds[0], "exit 3");
	mkcmd(&cmds[1], "kill -KILL $$");
	mkcmd(&cmds[2], "echo still");
	run_sync(&c, cmds, 3, &opts);
	assert_false(c.res->ok);
	assert_false(c.res->canceled);
	assert_false(c.res->cmds[0].ok);
	assert_int_equal(c.res->cmds[0].how, TJOB_EXITED);
	assert_int_equal(c.res->cmds[0].code, 3);
	assert_string_equal(c.res->cmds[0].reason, "exit status 3");
	assert_false(c.res->cmds[1].ok);
	assert_int_equal(c.res->cmds[1].how, TJOB_SIGNALED);
	assert_int_equal(c.res->cmds[1].code, SIGKILL);
	assert_string_equal(c.res->cmds[1].reason, "killed by signal 9 (SIGKILL)");
	assert_true(c.res->cmds[2].ok);
	assert_false(c.res->cmds[2].skipped);
	assert_true(ctx_find(&c, "O:still") >= 0);
	assert_true(ctx_find_prefix(&c, "M:-> failed: exit status 3 (") >= 0);
	assert_true(ctx_find_prefix(&c, "M:-> ok (") > ctx_find(&c, "O:still"));
	assert_true(ctx_find_prefix(&c, "M:== failed (") == (int)c.lines.n - 1);
	assert_int_equal(c.nend, 3);
	clear_cmds(cmds, 3);
	ctx_free(&c);
}

/* stop_on_failure skips the rest after a failure. */
static void
test_stop_on_failure(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { .stop_on_failure = true };
	struct run_cmd cmds[3];

	(void)state;
	mkcmd(&cmds[0], "echo first");
	mkcmd(&cmds[1], "false");
	mkcmd(&cmds[2], "echo never");
	run_sync(&c, cmds, 3, &opts);
	assert_false(c.res->ok);
	assert_true(c.res->cmds[0].ok);
	assert_false(c.res->cmds[1].ok);
	assert_string_equal(c.res->cmds[1].reason, "exit status 1");
	assert_false(c.res->cmds[2].ok);
	assert_true(c.res->cmds[2].skipped);
	assert_string_equal(c.res->cmds[2].reason, "skipped");
	assert_int_equal(ctx_find(&c, "O:never"), -1);
	assert_int_equal(c.nstart, 2);
	assert_int_equal(c.nend, 2);
	clear_cmds(cmds, 3);
	ctx_free(&c);
}

/* expect: exit 0 and stdout must match. */
static void
test_expect(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[3];
	const char *pats[3] = { "^version [0-9]+\\.[0-9]+", "^version", "^version" };

	(void)state;
	mkcmd(&cmds[0], "echo noise; echo version 1.2.3");
	mkcmd(&cmds[1], "echo nope; echo version >&2");   /* stderr does not count */
	mkcmd(&cmds[2], "echo version; exit 2");
	for (int i = 0; i < 3; i++) {
		cmds[i].expect = rx_new(pats[i], RX_LINES, NULL);
		assert_non_null(cmds[i].expect);
		cmds[i].expect_text = xstrdup(pats[i]);
	}
	run_sync(&c, cmds, 3, &opts);
	assert_true(c.res->cmds[0].ok);
	assert_string_equal(c.res->cmds[0].output, "noise\nversion 1.2.3\n");
	assert_false(c.res->cmds[1].ok);
	assert_int_equal(c.res->cmds[1].code, 0);
	assert_string_equal(c.res->cmds[1].reason, "output did not match /^version/");
	assert_false(c.res->cmds[2].ok);
	assert_string_equal(c.res->cmds[2].reason, "exit status 2");
	assert_false(c.res->ok);
	clear_cmds(cmds, 3);
	ctx_free(&c);
}

/* Cancel: `sleep 100` dies of SIGTERM at once; the rest is skipped. */
static void
test_cancel_term(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { .cancel_grace_ms = 5000 };
	struct run_cmd cmds[2];

	(void)state;
	mkcmd(&cmds[0], "sleep 100");
	mkcmd(&cmds[1], "echo never");
	c.cancel_at_ms = 200;
	run_sync(&c, cmds, 2, &opts);
	assert_true(c.res->canceled);
	assert_false(c.res->ok);
	assert_true(c.res->cmds[0].canceled);
	assert_int_equal(c.res->cmds[0].how, TJOB_SIGNALED);
	assert_int_equal(c.res->cmds[0].code, SIGTERM);
	assert_string_equal(c.res->cmds[0].reason, "canceled");
	assert_true(now_ms() - c.canceled_at < 2000);   /* well before the grace */
	assert_true(c.res->cmds[1].skipped);
	assert_int_equal(ctx_find(&c, "O:never"), -1);
	clear_cmds(cmds, 2);
	ctx_free(&c);
}

/* Cancel: a script that ignores SIGTERM is SIGKILLed after the grace. */
static void
test_cancel_kill(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { .cancel_grace_ms = 300 };
	struct run_cmd cmd;
	uint64_t took;

	(void)state;
	mkcmd(&cmd, "trap '' TERM; echo armed; sleep 100; echo survived");
	c.cancel_on = "armed";
	run_sync(&c, &cmd, 1, &opts);
	took = now_ms() - c.canceled_at;
	assert_true(c.res->canceled);
	assert_int_equal(c.res->cmds[0].how, TJOB_SIGNALED);
	assert_int_equal(c.res->cmds[0].code, SIGKILL);
	assert_true(took >= 290);
	assert_true(took < 3000);
	assert_int_equal(ctx_find(&c, "O:survived"), -1);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
}

/* A command over its timeout is stopped and says so. */
static void
test_timeout(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;

	(void)state;
	mkcmd(&cmd, "echo start; sleep 100");
	cmd.timeout_ms = 300;
	run_sync(&c, &cmd, 1, &opts);
	assert_false(c.res->ok);
	assert_false(c.res->canceled);
	assert_true(c.res->cmds[0].timed_out);
	assert_string_equal(c.res->cmds[0].reason, "timed out after 0.3 s");
	assert_true(c.res->cmds[0].duration_ms >= 290);
	assert_true(c.res->cmds[0].duration_ms < 3000);
	assert_true(ctx_find(&c, "O:start") >= 0);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
}

/* A background grandchild that keeps the pty and stderr open does not hang the run. */
static void
test_grandchild(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	long bg = 0;

	(void)state;
	mkcmd(&cmd, "(trap '' HUP; exec sleep 30) & echo \"bg=$!\"; echo bye");
	run_sync(&c, &cmd, 1, &opts);
	assert_true(c.res->ok);
	assert_true(c.res->cmds[0].duration_ms < 3000);
	assert_true(ctx_find(&c, "O:bye") >= 0);
	for (size_t i = 0; i < c.lines.n; i++) {
		if (str_has_prefix(c.lines.v[i], "O:bg="))
			bg = strtol(c.lines.v[i] + 5, NULL, 10);
	}
	assert_true(bg > 1);
	assert_int_equal(kill((pid_t)bg, 0), 0);   /* it really was still running */
	kill((pid_t)bg, SIGKILL);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
}

/* Does haystack hold any 3-byte piece of secret? */
static bool
leaks(const char *haystack, size_t len, const char *secret)
{
	for (size_t i = 0; i + 3 <= strlen(secret); i++) {
		if (memmem(haystack, len, secret + i, 3) != NULL)
			return true;
	}
	return false;
}

/*
 * Redaction: the secret, whole, split across two writes, on stderr and straddling the cut
 * of over-long lines, never reaches the ring, the log file, the callback or the output.
 */
static void
test_redaction(void **state)
{
	const char *secret = "Kq7ZpW2mYvHs";
	const char *secrets[] = { NULL, "", "Kq7ZpW2mYvHs", "Zp" };
	const char *env[] = { "SECRET=Kq7ZpW2mYvHs", NULL };
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	struct logbuf *ring = logbuf_new(8 << 20);
	char *dir = tl_tmpdir(), *log = xprintf("%s/secret.log", dir), *text = NULL;
	struct logline ll;
	struct stat sb;
	size_t tlen = 0, stars = 0;

	(void)state;
	mkcmd(&cmd,
	    "printf 'x%s' \"${SECRET:0:4}\"; sleep 0.1; printf '%s y\\n' \"${SECRET:4}\"; sleep 0.1\n"
	    "printf 'e%s' \"${SECRET:0:4}\" >&2; sleep 0.1; printf '%s f\\n' \"${SECRET:4}\" >&2;"
	    " sleep 0.1\n"
	    "printf 'a %s b\\n' \"$SECRET\"\n"
	    "printf 'e %s\\n' \"$SECRET\" >&2\n"
	    "for n in 65520 65525 65530 65533 65535 65536; do\n"
	    "  head -c $n /dev/zero | tr '\\0' '.'; printf '%s' \"$SECRET\"; echo tail\n"
	    "done\n"
	    "head -c 65530 /dev/zero | tr '\\0' '.'; printf '%s' \"${SECRET:0:6}\"; sleep 0.1;"
	    " printf '%s' \"${SECRET:6}\"; echo end\n");
	set_env(&cmd, env);
	opts.secrets = secrets;
	opts.nsecrets = 4;
	opts.ring = ring;
	opts.log_path = log;
	opts.title = "redaction";
	run_sync(&c, &cmd, 1, &opts);
	assert_true(c.res->ok);

	for (size_t i = 0; i < c.lines.n; i++) {
		assert_false(leaks(c.lines.v[i], strlen(c.lines.v[i]), secret));
		if (strstr(c.lines.v[i], "****") != NULL)
			stars++;
		assert_true(strlen(c.lines.v[i]) - 2 <= RUNNER_MAX_LINE + 4);
	}
	assert_true(ctx_find(&c, "O:a **** b") >= 0);
	assert_true(ctx_find(&c, "O:x**** y") >= 0);
	assert_true(ctx_find(&c, "E:e ****") >= 0);
	assert_true(ctx_find(&c, "E:e**** f") >= 0);
	assert_true(stars >= 11);
	for (uint64_t s = logbuf_first(ring); s < logbuf_end(ring); s++) {
		assert_int_equal(logbuf_get(ring, s, &ll), 0);
		assert_false(leaks(ll.text, ll.len, secret));
	}
	assert_false(leaks(c.res->cmds[0].output, strlen(c.res->cmds[0].output), secret));
	assert_int_equal(read_file(log, 16 << 20, &text, &tlen, NULL), 0);
	assert_false(leaks(text, tlen, secret));
	assert_non_null(strstr(text, "O| a **** b\n"));
	assert_int_equal(stat(log, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	free(text);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
	logbuf_free(&ring);
	free(log);
	tl_rmrf(dir);
	free(dir);
}

/* Captures: group 1 of the last matching line (stdout or stderr); hints: once each. */
static void
test_captures_hints(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	struct capture caps[2];
	struct hint hints[3];

	(void)state;
	memset(caps, 0, sizeof caps);
	memset(hints, 0, sizeof hints);
	caps[0].name = (char *)(uintptr_t)"addr";
	assert_non_null(caps[0].re = rx_new("addr: (0x[0-9a-f]+)", 0, NULL));
	caps[1].name = (char *)(uintptr_t)"never";
	assert_non_null(caps[1].re = rx_new("absent ([0-9]+)", 0, NULL));
	assert_non_null(hints[0].re = rx_new("boom", 0, NULL));
	assert_non_null(hints[1].re = rx_new("^warn", 0, NULL));
	assert_non_null(hints[2].re = rx_new("nothing like this", 0, NULL));
	mkcmd(&cmd, "echo 'addr: 0x1'; echo 'warn first'; sleep 0.05; echo 'addr: 0x2' >&2;"
	    " sleep 0.05; echo 'boom one'; echo 'boom two'; echo 'addr: 0x3'; echo 'warn again'");
	opts.captures = caps;
	opts.ncaptures = 2;
	opts.hints = hints;
	opts.nhints = 3;
	run_sync(&c, &cmd, 1, &opts);
	assert_true(c.res->ok);
	assert_int_equal(c.res->ncaptures, 1);
	assert_ptr_equal(c.res->captures[0].capture, &caps[0]);
	assert_string_equal(c.res->captures[0].value, "0x3");
	assert_int_equal(c.res->nhints, 2);
	assert_ptr_equal(c.res->hints[0].hint, &hints[1]);
	assert_string_equal(c.res->hints[0].line, "warn first");
	assert_ptr_equal(c.res->hints[1].hint, &hints[0]);
	assert_string_equal(c.res->hints[1].line, "boom one");
	clear_cmds(&cmd, 1);
	ctx_free(&c);
	rx_free(&caps[0].re);
	rx_free(&caps[1].re);
	for (int i = 0; i < 3; i++)
		rx_free(&hints[i].re);
}

/* A hint or a capture whose regex backtracks without end is given up at its first line (said
 * once), the others go on, and the run ends in about the time of its output; an expect: that
 * gives up fails its command with a reason. */
static void
test_regex_gives_up(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[2];
	struct capture cap;
	struct hint hints[2];
	uint64_t t0;
	int warned = 0;

	(void)state;
	memset(&cap, 0, sizeof cap);
	memset(hints, 0, sizeof hints);
	cap.name = (char *)(uintptr_t)"x";
	cap.regex = (char *)(uintptr_t)"((.*a){12})b";
	assert_non_null(cap.re = rx_new(cap.regex, 0, NULL));
	hints[0].match = (char *)(uintptr_t)"(a+)(a+)\\1\\2x|(.*a){12}b";
	assert_non_null(hints[0].re = rx_new(hints[0].match, 0, NULL));
	hints[1].match = (char *)(uintptr_t)"^done$";
	assert_non_null(hints[1].re = rx_new(hints[1].match, 0, NULL));
	/* 2000 lines of 100 a's then "cb": each would take its regex to the limit. */
	mkcmd(&cmds[0], "l=$(printf 'a%.0s' $(seq 100))cb; for i in $(seq 2000); do echo $l; done;"
	    " echo done");
	mkcmd(&cmds[1], "printf 'a%.0s' $(seq 100); echo cb");
	cmds[1].expect = rx_new("(.*a){12}b$", RX_LINES, NULL);
	cmds[1].expect_text = xstrdup("(.*a){12}b$");
	opts.captures = &cap;
	opts.ncaptures = 1;
	opts.hints = hints;
	opts.nhints = 2;
	t0 = now_ms();
	run_sync(&c, cmds, 2, &opts);
	if (now_ms() - t0 > 10000)
		fail_msg("the run took %llu ms", (unsigned long long)(now_ms() - t0));
	assert_true(c.res->cmds[0].ok);
	assert_int_equal(c.res->ncaptures, 0);
	assert_int_equal(c.res->nhints, 1);
	assert_ptr_equal(c.res->hints[0].hint, &hints[1]);
	for (size_t i = 0; i < c.lines.n; i++)
		warned += strstr(c.lines.v[i], "took too long on a line and is not tried again") != NULL;
	assert_int_equal(warned, 2);
	assert_false(c.res->cmds[1].ok);
	assert_non_null(strstr(c.res->cmds[1].reason, "took too long"));
	clear_cmds(cmds, 2);
	ctx_free(&c);
	rx_free(&cap.re);
	rx_free(&hints[0].re);
	rx_free(&hints[1].re);
}

/* stdin_data reaches the child, which sees EOF; env reaches it; TERM is dumb. */
static void
test_stdin_env(void **state)
{
	const char *env[] = { "FOO=bar baz", "DW_A=1", "DW_A=2", NULL };
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[3];
	char *big = xmalloc(200001);

	(void)state;
	mkcmd(&cmds[0], "cat; echo '[eof]'");
	cmds[0].tc.stdin_data = xstrdup("hello\nworld");
	cmds[0].tc.stdin_len = 11;
	mkcmd(&cmds[1], "echo \"foo=$FOO a=$DW_A term=$TERM\"; [ -t 1 ] && echo tty; [ -t 0 ] || echo notty0");
	set_env(&cmds[1], env);
	memset(big, 'z', 200000);
	big[200000] = '\0';
	mkcmd(&cmds[2], "wc -c");
	cmds[2].tc.stdin_data = big;
	cmds[2].tc.stdin_len = 200000;
	run_sync(&c, cmds, 3, &opts);
	assert_true(c.res->ok);
	assert_true(ctx_find(&c, "O:hello") >= 0);
	assert_true(ctx_find(&c, "O:world[eof]") >= 0);
	assert_true(ctx_find(&c, "O:foo=bar baz a=2 term=dumb") >= 0);
	assert_true(ctx_find(&c, "O:tty") >= 0);      /* stdout is the pty */
	assert_true(ctx_find(&c, "O:notty0") >= 0);   /* stdin is not */
	assert_true(ctx_find(&c, "O:200000") >= 0);
	clear_cmds(cmds, 3);
	ctx_free(&c);
}

/* The secret travels in the environment, not in bash's argv (/proc/PID/cmdline). */
static void
test_cmdline_has_no_secret(void **state)
{
	const char *env[] = { "SECRET=Zq9vX81LmN", NULL };
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };   /* no redaction: see the raw truth */
	struct run_cmd cmd;
	int found = 0;

	(void)state;
	mkcmd(&cmd, "printf 'cmdline: '; tr '\\0' ' ' </proc/$$/cmdline; echo; echo \"len=${#SECRET}\"");
	set_env(&cmd, env);
	run_sync(&c, &cmd, 1, &opts);
	assert_true(c.res->ok);
	assert_true(ctx_find(&c, "O:len=10") >= 0);
	for (size_t i = 0; i < c.lines.n; i++) {
		if (str_has_prefix(c.lines.v[i], "O:cmdline: ")) {
			found++;
			assert_non_null(strstr(c.lines.v[i], "bash -c "));
			assert_null(strstr(c.lines.v[i], "Zq9vX81LmN"));
		}
	}
	assert_int_equal(found, 1);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
}

/* cwd: "~/" is the home; none means the home; a missing one cannot start. */
static void
test_cwd(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[4];
	char *home = tl_tmpdir(), *sub = xprintf("%s/sub dir", home), *want;
	char *old = xstrdup(getenv("HOME"));

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	setenv("HOME", home, 1);
	mkcmd(&cmds[0], "pwd");
	cmds[0].tc.cwd = xstrdup("~/sub dir");
	mkcmd(&cmds[1], "pwd");
	mkcmd(&cmds[2], "echo never");
	cmds[2].tc.cwd = xstrdup("~/missing");
	mkcmd(&cmds[3], "pwd");
	cmds[3].tc.cwd = xstrdup(sub);
	run_sync(&c, cmds, 4, &opts);
	if (old != NULL)
		setenv("HOME", old, 1);
	else
		unsetenv("HOME");
	assert_true(c.res->cmds[0].ok);
	want = xprintf("%s\n", sub);
	assert_string_equal(c.res->cmds[0].output, want);
	free(want);
	want = xprintf("%s\n", home);
	assert_string_equal(c.res->cmds[1].output, want);
	free(want);
	assert_false(c.res->cmds[2].ok);
	assert_int_equal(c.res->cmds[2].how, TJOB_FAILED);
	assert_true(str_has_prefix(c.res->cmds[2].reason, "could not start: "));
	assert_non_null(strstr(c.res->cmds[2].reason, "missing"));
	assert_int_equal(ctx_find(&c, "O:never"), -1);
	assert_true(c.res->cmds[3].ok);   /* stop_on_failure is off */
	clear_cmds(cmds, 4);
	ctx_free(&c);
	tl_rmrf(home);
	free(home);
	free(sub);
	free(old);
}

/* "\r" progress redraws are lines; "\r\n" and "\r\r\n" end one line; a last line without
 * "\n" is kept; an over-long line is cut into RUNNER_MAX_LINE pieces. */
static void
test_line_cutting(void **state)
{
	struct ctx c = { 0 };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[2];
	size_t lens[8], nl = 0;

	(void)state;
	mkcmd(&cmds[0], "printf '10%%\\r50%%\\r100%%\\n'; printf '\\ra\\r\\nb\\r\\r\\n\\nc'");
	mkcmd(&cmds[1], "head -c 150000 /dev/zero | tr '\\0' x; echo; echo after");
	run_sync(&c, cmds, 2, &opts);
	assert_true(c.res->ok);
	assert_string_equal(c.res->cmds[0].output, "10%\n50%\n100%\na\nb\n\nc\n");
	for (size_t i = 0; i < c.lines.n; i++) {
		if (str_has_prefix(c.lines.v[i], "O:x") && nl < 8)
			lens[nl++] = strlen(c.lines.v[i]) - 2;
	}
	assert_int_equal(nl, 3);
	assert_int_equal(lens[0], RUNNER_MAX_LINE);
	assert_int_equal(lens[1], RUNNER_MAX_LINE);
	assert_int_equal(lens[2], 150000 - 2 * RUNNER_MAX_LINE);
	assert_true(ctx_find(&c, "O:after") >= 0);
	assert_int_equal(c.res->lines, 7 + 4);
	clear_cmds(cmds, 2);
	ctx_free(&c);
}

/* A log file that already exists is refused. */
static void
test_log_exists(void **state)
{
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	struct loop *l = loop_new();
	char *dir = tl_tmpdir(), *log = tl_write(dir, "x.log", "old\n"), *cause = NULL;
	struct run *r;

	(void)state;
	mkcmd(&cmd, "true");
	opts.log_path = log;
	r = run_start(l, &cmd, 1, &opts, NULL, &cause);
	assert_null(r);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "x.log"));
	free(cause);
	clear_cmds(&cmd, 1);
	loop_free(&l);
	free(log);
	tl_rmrf(dir);
	free(dir);
}

/* Run script with a log capped at cap bytes (0: the default); the log's text into *text. */
static void
run_capped(const char *script, uint64_t cap, char **text, size_t *len)
{
	struct ctx c = { .quiet = true };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	char *dir = tl_tmpdir(), *log = xprintf("%s/run.log", dir);

	mkcmd(&cmd, script);
	opts.log_path = log;
	opts.title = "action of big";
	opts.log_max = cap;
	run_sync(&c, &cmd, 1, &opts);
	assert_true(c.res->ok);
	assert_int_equal(read_file(log, 256 << 20, text, len, NULL), 0);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
	free(log);
	tl_rmrf(dir);   /* the tail's chunks were unlinked when made: only the log was there */
	free(dir);
}

/* A log past its cap keeps its head and its tail, in order, with a line saying what was left
 * out between them; below the cap nothing is left out. */
static void
test_log_cap(void **state)
{
	char *text = NULL, *cut, *last;
	size_t len = 0;

	(void)state;
	/* 5 MiB of numbered 1 KiB lines through a 1 MiB cap. */
	run_capped("for i in $(seq 1 5120); do printf 'line %05d %01013d\\n' $i 0; done", 1 << 20,
	    &text, &len);
	assert_true(len <= (1 << 20) + 4096);
	assert_true(len >= (1 << 20) * 3 / 4);
	assert_non_null(strstr(text, "O| line 00001 "));
	cut = strstr(text, "\n# ... ");
	assert_non_null(cut);
	assert_non_null(strstr(cut, "bytes) left out here"));
	assert_true(strstr(text, "O| line 00001 ") < cut);
	last = strstr(text, "O| line 05120 ");
	assert_non_null(last);
	assert_true(last > cut);
	assert_non_null(strstr(last, "\n# [1/1] ok ("));
	assert_non_null(strstr(last, "\n# result: ok (1 commands, 5120 lines, "));
	assert_null(strstr(text, "O| line 02600 "));   /* from the middle: left out */
	free(text);

	/* The default cap: 80 MiB of output make a log of at most 64 MiB. */
	run_capped("head -c 83886080 /dev/zero | tr '\\0' x | fold -w 1023", 0, &text, &len);
	assert_true(len <= ((size_t)64 << 20) + 4096);
	assert_true(len >= ((size_t)48 << 20));
	assert_non_null(strstr(text, "bytes) left out here"));
	assert_non_null(strstr(text, "\n# result: ok (1 commands, 82001 lines, "));
	free(text);

	/* Under the cap, everything. */
	run_capped("seq 1 1000", 1 << 20, &text, &len);
	assert_null(strstr(text, "left out"));
	assert_non_null(strstr(text, "O| 1000\n"));
	free(text);
}

/* Canceled before anything started: nothing runs, everything is skipped. */
static void
test_cancel_before_start(void **state)
{
	struct ctx c = { 0 };
	struct run_cbs cbs = { ctx_line, ctx_cmd_start, ctx_cmd_end, ctx_done, &c };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[2];
	uint64_t t0 = now_ms();

	(void)state;
	mkcmd(&cmds[0], "echo one");
	mkcmd(&cmds[1], "echo two");
	c.loop = loop_new();
	c.run = run_start(c.loop, cmds, 2, &opts, &cbs, NULL);
	assert_non_null(c.run);
	assert_null(run_result(c.run));
	run_cancel(c.run);
	assert_false(c.done);
	while (!c.done && now_ms() - t0 < 2000)
		loop_run_once(c.loop, 100);
	assert_true(c.done);
	assert_true(c.res->canceled);
	assert_false(c.res->ok);
	assert_true(c.res->cmds[0].skipped && c.res->cmds[1].skipped);
	assert_int_equal(c.nstart, 0);
	assert_int_equal(c.res->lines, 0);
	clear_cmds(cmds, 2);
	ctx_free(&c);
}

/* run_free while a command runs kills it, with no callbacks afterwards. */
static void
test_free_while_running(void **state)
{
	struct ctx c = { 0 };
	struct run_cbs cbs = { ctx_line, ctx_cmd_start, ctx_cmd_end, ctx_done, &c };
	struct run_opts opts = { 0 };
	struct run_cmd cmd;
	uint64_t t0 = now_ms();

	(void)state;
	mkcmd(&cmd, "echo up; exec sleep 100");
	c.loop = loop_new();
	c.run = run_start(c.loop, &cmd, 1, &opts, &cbs, NULL);
	while (ctx_find(&c, "O:up") < 0 && now_ms() - t0 < 5000)
		loop_run_once(c.loop, 100);
	assert_true(ctx_find(&c, "O:up") >= 0);
	run_free(&c.run);
	assert_null(c.run);
	assert_true(now_ms() - t0 < 5000);
	loop_run_once(c.loop, 50);   /* stale timers or signals must not call into the run */
	assert_false(c.done);
	clear_cmds(&cmd, 1);
	ctx_free(&c);
}

/* The done callback may free the run (from inside the job's end): nothing touches it after. */
static void
test_free_in_done(void **state)
{
	struct ctx c = { 0 };
	struct run_cbs cbs = { ctx_line, ctx_cmd_start, ctx_cmd_end, ctx_done, &c };
	struct run_opts opts = { 0 };
	struct run_cmd cmds[2];
	uint64_t t0 = now_ms();

	(void)state;
	mkcmd(&cmds[0], "echo a");
	mkcmd(&cmds[1], "echo b; exit 4");
	c.free_in_done = true;
	c.loop = loop_new();
	c.run = run_start(c.loop, cmds, 2, &opts, &cbs, NULL);
	while (!c.done && now_ms() - t0 < 5000)
		loop_run_once(c.loop, 100);
	assert_true(c.done);
	assert_null(c.run);
	assert_int_equal(c.lines_at_done, 2);
	loop_run_once(c.loop, 20);
	clear_cmds(cmds, 2);
	ctx_free(&c);
}

/* run_cmd_clear frees and zeroes everything (ASan/valgrind see the rest). */
static void
test_cmd_clear(void **state)
{
	const char *env[] = { "A=secret", NULL };
	struct run_cmd cmd;

	(void)state;
	mkcmd(&cmd, "true");
	cmd.label = xstrdup("label");
	cmd.tc.cwd = xstrdup("/");
	cmd.tc.stdin_data = xstrdup("pw");
	cmd.tc.stdin_len = 2;
	set_env(&cmd, env);
	cmd.expect = rx_new("x", 0, NULL);
	cmd.expect_text = xstrdup("x");
	cmd.timeout_ms = 5;
	run_cmd_clear(&cmd);
	assert_null(cmd.display);
	assert_null(cmd.tc.script);
	assert_null(cmd.tc.env);
	assert_null(cmd.expect);
	assert_int_equal(cmd.timeout_ms, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_timers),
		cmocka_unit_test(test_loop_idle),
		cmocka_unit_test(test_loop_fd_delete),
		cmocka_unit_test(test_loop_signals),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_streams_and_log),
		cmocka_unit_test(test_exit_and_signal),
		cmocka_unit_test(test_stop_on_failure),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_cancel_term),
		cmocka_unit_test(test_cancel_kill),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_grandchild),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_captures_hints),
		cmocka_unit_test(test_regex_gives_up),
		cmocka_unit_test(test_stdin_env),
		cmocka_unit_test(test_cmdline_has_no_secret),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_line_cutting),
		cmocka_unit_test(test_log_exists),
		cmocka_unit_test(test_log_cap),
		cmocka_unit_test(test_cancel_before_start),
		cmocka_unit_test(test_free_while_running),
		cmocka_unit_test(test_free_in_done),
		cmocka_unit_test(test_cmd_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
