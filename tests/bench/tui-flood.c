/*
 * tui-flood.c: the load of tests/bench/tui-latency. Prints RATE numbered lines per second
 * for SECONDS, paced in 1 ms slices (so the rate is steady, not one burst), then exits 0.
 *
 *   tui-flood RATE SECONDS
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Seconds since start, on the monotonic clock. */
static double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Write all of buf. */
static int
write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct timespec t0, slice = { 0, 1000000 };
	long rate, total, sent = 0;
	double secs;

	if (argc != 3 || (rate = atol(argv[1])) <= 0 || (secs = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: tui-flood RATE SECONDS\n");
		return 2;
	}
	total = (long)((double)rate * secs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < total) {
		long due = (long)((double)rate * elapsed(&t0));
		size_t len = 0;

		if (due > total)
			due = total;
		while (sent < due) {
			if (len + 80 > sizeof buf) {
				if (write_all(buf, len) != 0)
					return 1;
				len = 0;
			}
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    "flood line %08ld: the quick brown fox jumps over the lazy dog\n", ++sent);
		}
		if (len > 0 && write_all(buf, len) != 0)
			return 1;
		nanosleep(&slice, NULL);
	}
	return 0;
}
