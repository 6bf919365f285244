/*
 * first-frame.c: how long programs take from start to their first full frame in a bare
 * pseudo-terminal (80x24, no terminal emulator reading it), for tests/bench/tui-latency.
 *
 *   first-frame REPS NAME MARKER COMMAND [NAME MARKER COMMAND]...
 *
 * Each COMMAND runs under /bin/sh -c in a new pty; the time is taken from just before the
 * fork to the moment the text MARKER (the last text of the program's first frame) has been
 * read from the pty; then the program is killed. The commands take turns, REPS rounds, so
 * that a drift of the machine falls on all of them alike. Prints one line per command:
 *   NAME median P90 worst   (milliseconds)
 * Exits 1 if a marker did not come within 10 s, 2 on a usage error.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000
#define OUT_MAX (1 << 20)

/* Milliseconds on the monotonic clock. */
static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One run: ms until marker, or -1. */
static double
run_once(const char *marker, const char *cmd)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	static char buf[OUT_MAX];
	size_t len = 0, mlen = strlen(marker);
	double t0 = now_ms(), took = -1;
	int fd, st;
	pid_t pid;

	pid = forkpty(&fd, NULL, NULL, &ws);
	if (pid < 0) {
		perror("first-frame: forkpty");
		return -1;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = WAIT_MS - (int)(now_ms() - t0);
		size_t from = len > mlen ? len - mlen : 0;   /* the marker may straddle reads */
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = read(fd, buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memmem(buf + from, len - from, marker, mlen) != NULL) {
			took = now_ms() - t0;
			break;
		}
		if (len == sizeof buf)
			break;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(fd);
	return took;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 0, ncmd = (argc - 2) / 3;
	double *t;

	if (reps <= 0 || argc < 5 || (argc - 2) % 3 != 0) {
		fprintf(stderr, "usage: first-frame REPS NAME MARKER COMMAND [NAME MARKER COMMAND]...\n");
		return 2;
	}
	t = calloc((size_t)reps * (size_t)ncmd, sizeof *t);
	if (t == NULL)
		return 2;
	for (int r = 0; r < reps; r++) {
		for (int c = 0; c < ncmd; c++) {
			double ms = run_once(argv[3 + 3 * c], argv[4 + 3 * c]);

			if (ms < 0) {
				fprintf(stderr, "first-frame: %s showed no '%s' within %d ms\n",
				    argv[2 + 3 * c], argv[3 + 3 * c], WAIT_MS);
				free(t);
				return 1;
			}
			t[c * reps + r] = ms;
		}
	}
	for (int c = 0; c < ncmd; c++) {
		double *v = t + c * reps;
		int p90 = (reps * 9 + 9) / 10 - 1;

		qsort(v, (size_t)reps, sizeof *v, cmp_double);
		printf("%s %.2f %.2f %.2f\n", argv[2 + 3 * c], v[(reps - 1) / 2], v[p90],
		    v[reps - 1]);
	}
	free(t);
	return 0;
}
