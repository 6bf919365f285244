/*
 * httplib.h: helpers shared by the HTTP and JSON-RPC tests (header-only): loopback ports,
 * the test server tests/lib/httpd.py, turning the loop until something happened, the
 * per-test fixture (a loop and its HTTP client), and making a JSON-RPC call or check and
 * waiting for its one callback. Include after <cmocka.h> and testlib.h.
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
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "jsonrpc.h"
#include "loop.h"
#include "util.h"

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

/* What a test gets as its state: a loop and an HTTP client on it. */
struct hl_fx {
	struct loop *loop;
	struct http *http;
};

/* Make the fixture of one test. */
static inline int
hl_setup(void **state)
{
	struct hl_fx *f = xcalloc(1, sizeof *f);

	f->loop = loop_new();
	f->http = http_new(f->loop);
	*state = f;
	return 0;
}

/* Free the fixture: no request may be left running. */
static inline int
hl_teardown(void **state)
{
	struct hl_fx *f = *state;

	assert_int_equal(http_active(f->http), 0);
	http_free(&f->http);
	assert_null(f->http);
	loop_free(&f->loop);
	free(f);
	return 0;
}

/* How long a JSON-RPC call or check may take. */
#define HL_RPC_WAIT_MS 20000

/* The end of one JSON-RPC call, as its callback saw it. */
struct hl_rpcw {
	int calls;
	struct jsonrpc_call *call;
	const struct jsonrpc_result *res;
};

/* The end of one JSON-RPC check; with free_in_cb the callback frees the check. */
struct hl_chkw {
	int calls;
	struct jsonrpc_check *chk;
	const struct jsonrpc_check_result *res;
	bool free_in_cb;
};

/* Done callback of a call. */
static inline void
hl_on_rpc(void *data, struct jsonrpc_call *call, const struct jsonrpc_result *res)
{
	struct hl_rpcw *w = data;

	w->calls++;
	w->call = call;
	w->res = res;
}

/* Done callback of a check. */
static inline void
hl_on_check(void *data, struct jsonrpc_check *chk, const struct jsonrpc_check_result *res)
{
	struct hl_chkw *w = data;

	w->calls++;
	w->chk = chk;
	w->res = res;
	if (w->free_in_cb) {
		jsonrpc_check_free(&chk);
		w->res = NULL;
	}
}

/* Make one call and wait; the caller frees w->call. */
static inline void
hl_rpc_wait(struct loop *l, struct http *h, const char *url, const char *method,
    const char *params, struct hl_rpcw *w)
{
	char *cause = NULL;
	struct jsonrpc_call *c;

	memset(w, 0, sizeof *w);
	c = jsonrpc_start(h, url, method, params, 0, hl_on_rpc, w, &cause);
	if (c == NULL)
		fail_msg("jsonrpc_start %s: %s", method, cause);
	assert_int_equal(w->calls, 0);
	HL_LOOP_UNTIL(l, w->calls > 0, HL_RPC_WAIT_MS);
	assert_int_equal(w->calls, 1);
	assert_ptr_equal(w->call, c);
}

/* Run a check and wait for its end; the caller frees w->chk. */
static inline void
hl_check_wait(struct hl_fx *f, const struct jsonrpc_check_req *rq, struct hl_chkw *w)
{
	char *cause = NULL;
	struct jsonrpc_check *k;

	memset(w, 0, sizeof *w);
	k = jsonrpc_check_start(f->http, rq, hl_on_check, w, &cause);
	if (k == NULL)
		fail_msg("jsonrpc_check_start: %s", cause);
	assert_int_equal(w->calls, 0);
	HL_LOOP_UNTIL(f->loop, w->calls > 0, HL_RPC_WAIT_MS);
	assert_int_equal(w->calls, 1);
	assert_ptr_equal(w->chk, k);
	loop_run_once(f->loop, 0);
	assert_int_equal(w->calls, 1);
	assert_true(w->res->duration_ms < HL_RPC_WAIT_MS);
}

#endif
