/*
 * httplib.h: helpers shared by the HTTP and JSON-RPC tests (header-only): loopback ports,
 * the test server tests/lib/httpd.py, and turning the loop until something happened.
 * Include after <cmocka.h> and testlib.h.
 */
#ifndef DW_HTTPLIB_H
#define DW_HTTPLIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Turn the loop l until cond holds or ms milliseconds passed. */
#define HL_LOOP_UNTIL(l, cond, ms) do {                                           \
	uint64_t hl_until_ = now_ms() + (ms);                                     \
	while (!(cond) && now_ms() < hl_until_)                                   \
		loop_run_once((l), 100);                                          \
} while (0)

/* A loopback port nobody listens on: a fresh ephemeral port, closed again. */
static inline unsigned
hl_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* True if something accepts connections on 127.0.0.1:port. */
static inline bool
hl_port_open(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Run argv and wait; true if it exited 0. stdin is /dev/null. */
static inline bool
hl_run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The test server: tests/lib/httpd.py on 127.0.0.1. */
struct hl_httpd {
	pid_t pid;
	unsigned port;        /* plain HTTP */
	unsigned tls_port;    /* 0 without TLS */
	char *dir;            /* where its files are */
};

/*
 * Start the server with routes (JSON text, see httpd.py) in dir (which must exist). With
 * tls, first make dir/ca.pem, dir/other-ca.pem and the server's certificate with the
 * openssl CLI. Does not wait for the server: see hl_httpd_wait.
 */
static inline bool
hl_httpd_spawn(struct hl_httpd *h, const char *dir, const char *routes, bool tls)
{
	char script[PATH_MAX], portfile[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char where[PATH_MAX];
	char *rpath;

	h->pid = -1;
	h->port = h->tls_port = 0;
	h->dir = strdup(dir);
	snprintf(script, sizeof script, "%s/tests/lib/httpd.py", tl_srcdir());
	snprintf(portfile, sizeof portfile, "%s/ports", dir);
	snprintf(cert, sizeof cert, "%s/server.pem", dir);
	snprintf(key, sizeof key, "%s/server.key", dir);
	if (tls) {
		char *make[] = { "python3", script, "--make-certs", where, NULL };

		snprintf(where, sizeof where, "%s", dir);

		if (!hl_run(make)) {
			fprintf(stderr, "# cannot make certificates (python3 and openssl needed)\n");
			return false;
		}
	}
	rpath = tl_write(dir, "routes.json", routes ? routes : "{}");
	h->pid = fork();
	if (h->pid == 0) {
		if (tls)
			execlp("python3", "python3", script, "--port-file", portfile, "--routes",
			    rpath, "--tls-cert", cert, "--tls-key", key, (char *)NULL);
		else
			execlp("python3", "python3", script, "--port-file", portfile, "--routes",
			    rpath, (char *)NULL);
		_exit(127);
	}
	free(rpath);
	return h->pid > 0;
}

/* Wait (up to 20 s) for the server's ports; false if it did not come up. */
static inline bool
hl_httpd_wait(struct hl_httpd *h)
{
	char portfile[PATH_MAX];
	uint64_t deadline = now_ms() + 20000;
	FILE *f = NULL;
	bool ok;

	snprintf(portfile, sizeof portfile, "%s/ports", h->dir);
	while ((f = fopen(portfile, "r")) == NULL && now_ms() < deadline) {
		if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
			h->pid = -1;
			break;
		}
		usleep(20000);
	}
	ok = f != NULL && fscanf(f, "%u %u", &h->port, &h->tls_port) == 2;
	if (f != NULL)
		fclose(f);
	if (!ok)
		fprintf(stderr, "# tests/lib/httpd.py did not start (python3 needed)\n");
	return ok;
}

/* Stop the server. */
static inline void
hl_httpd_stop(struct hl_httpd *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		waitpid(h->pid, NULL, 0);
	}
	h->pid = -1;
	free(h->dir);
	h->dir = NULL;
}

#endif
