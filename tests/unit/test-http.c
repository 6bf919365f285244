/*
 * test-http.c: http.c against a real server on 127.0.0.1 (tests/lib/httpd.py, plain and
 * TLS with a CA made by the openssl CLI in a temporary directory): statuses, bodies and
 * their cap, headers, TLS verification (fails without the CA, passes with it pinned or with
 * insecure), resolve and connect_to, timeouts, refusals, cancel, many requests at once, TCP
 * probes, and URL redaction.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "jsonpath.h"
#include "loop.h"
#include "util.h"
#include "testlib.h"
#include "httplib.h"

#define WAIT_MS 15000

static char *tmp;
static struct hl_httpd server;
static unsigned plain_port, tls_port;
static char *ca_file, *other_ca_file;

struct waiter {
	int calls;
	struct http_req *req;
	const struct http_response *res;
};

/* Start the server (plain and TLS, with a fresh CA) and read its ports. */
static int
group_setup(void **state)
{
	(void)state;
	tmp = tl_tmpdir();
	if (!hl_httpd_spawn(&server, tmp,
	    "{\"/api/status\": {\"body\": {\"status\": \"ok\", \"chainId\": 11155111, "
	    "\"vms\": [{\"name\": \"kms\", \"boot_progress\": \"done\"}]}},"
	    " \"/api/html\": {\"status\": 200, \"body\": \"<html>onboard</html>\","
	    " \"headers\": {\"Content-Type\": \"text/html\"}}}", true) ||
	    !hl_httpd_wait(&server))
		return -1;
	plain_port = server.port;
	tls_port = server.tls_port;
	ca_file = xprintf("%s/ca.pem", tmp);
	other_ca_file = xprintf("%s/other-ca.pem", tmp);
	return 0;
}

/* Stop the server and remove the temporary directory. */
static int
group_teardown(void **state)
{
	(void)state;
	hl_httpd_stop(&server);
	tl_rmrf(tmp);
	free(tmp);
	free(ca_file);
	free(other_ca_file);
	return 0;
}

/* Done callback: count and keep the response. */
static void
on_done(void *data, struct http_req *req, const struct http_response *res)
{
	struct waiter *w = data;

	w->calls++;
	w->req = req;
	w->res = res;
}

/* Turn the loop until cond is true or WAIT_MS passed; fail if it is not. */
#define LOOP_UNTIL(f, cond) do {                                                  \
	HL_LOOP_UNTIL((f)->loop, cond, WAIT_MS);                                  \
	assert_true(cond);                                                        \
} while (0)

/* Start rq and wait for its end; the caller frees w->req. */
static void
fetch(struct hl_fx *f, const struct http_request *rq, struct waiter *w)
{
	char *cause = NULL;
	struct http_req *r;

	memset(w, 0, sizeof *w);
	r = http_start(f->http, rq, on_done, w, &cause);
	if (r == NULL)
		fail_msg("http_start: %s", cause);
	assert_int_equal(w->calls, 0);   /* never from inside http_start */
	LOOP_UNTIL(f, w->calls > 0);
	assert_ptr_equal(w->req, r);
	assert_ptr_equal(http_req_response(r), w->res);
	/* One more turn: the callback never comes twice. */
	loop_run_once(f->loop, 0);
	assert_int_equal(w->calls, 1);
}

/* A URL on the plain port. */
static char *
plain(const char *path)
{
	return xprintf("http://127.0.0.1:%u%s", plain_port, path);
}

/* GET: status, body, timings, peer address. */
static void
test_get_ok(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *url = plain("/api/status"), *reason = NULL;

	rq.url = url;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_int_equal(w.res->error, HTTP_OK);
	assert_int_equal(w.res->status, 200);
	assert_null(w.res->reason);
	assert_false(w.res->truncated);
	assert_int_equal(w.res->body_len, strlen(w.res->body));
	assert_int_equal(jsonpath_assert(".status == \"ok\"", w.res->body, w.res->body_len,
	    &reason), 1);
	assert_int_equal(jsonpath_assert(".vms[name=kms].boot_progress == \"done\"",
	    w.res->body, w.res->body_len, &reason), 1);
	assert_string_equal(w.res->primary_ip, "127.0.0.1");
	assert_true(w.res->connect_ms >= 1);
	assert_true(w.res->first_byte_ms >= w.res->connect_ms);
	assert_int_equal(w.res->tls_ms, 0);
	assert_true(w.res->duration_ms < WAIT_MS);
	assert_int_equal(w.res->nheaders, 0);
	http_req_free(&w.req);
	assert_null(w.req);
	free(url);
}

/* Statuses other than wanted fail with the status and the start of the body. */
static void
test_status(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *u404 = plain("/status/404"), *u500 = plain("/status/500"), *uhtml = plain("/api/html");

	rq.url = u404;
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->error, HTTP_ERR_STATUS);
	assert_int_equal(w.res->status, 404);
	assert_string_equal(w.res->reason, "HTTP 404 (wanted 2xx): {\"status\": 404}");
	http_req_free(&w.req);

	rq.expect_status = 404;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	http_req_free(&w.req);

	rq.url = u500;
	rq.expect_status = 200;
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_string_equal(w.res->reason, "HTTP 500 (wanted 200): {\"status\": 500}");
	http_req_free(&w.req);

	/* 200 with HTML where JSON was expected: the status passes, the assertion says why. */
	rq.url = uhtml;
	rq.expect_status = 200;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	{
		char *reason = NULL;

		assert_int_equal(jsonpath_assert(".status == \"ok\"", w.res->body, w.res->body_len,
		    &reason), 0);
		assert_string_equal(reason, "body is not JSON at byte 0");
		free(reason);
	}
	http_req_free(&w.req);
	free(u404);
	free(u500);
	free(uhtml);
}

/* POST with a JSON body and headers; other methods. */
static void
test_methods_and_body(void **state)
{
	struct hl_fx *f = *state;
	const char *hdrs[] = { "X-Probe: one", "Accept: application/json", NULL };
	struct http_request rq = {0};
	struct waiter w;
	char *url = plain("/echo"), *reason = NULL;

	rq.url = url;
	rq.body = "{\"domain\":\"kms.example.test\"}";
	rq.headers = hdrs;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_int_equal(jsonpath_assert(".method == \"POST\"", w.res->body, w.res->body_len,
	    &reason), 1);
	assert_int_equal(jsonpath_assert(".body == \"{\\\"domain\\\":\\\"kms.example.test\\\"}\"",
	    w.res->body, w.res->body_len, &reason), 1);
	assert_int_equal(jsonpath_assert(".headers.\"content-type\" == \"application/json\"",
	    w.res->body, w.res->body_len, &reason), 1);
	assert_int_equal(jsonpath_assert(".headers.\"x-probe\" == \"one\"", w.res->body,
	    w.res->body_len, &reason), 1);
	assert_int_equal(jsonpath_assert(".headers.\"user-agent\" =~ /^dstack-wizard\\//",
	    w.res->body, w.res->body_len, &reason), 1);
	assert_int_equal(jsonpath_assert(".headers.expect exists", w.res->body, w.res->body_len,
	    &reason), 0);
	free(reason);
	reason = NULL;
	http_req_free(&w.req);

	/* PUT with a typed body; POST without a body; HEAD. */
	rq.method = "PUT";
	rq.body = "a=1";
	rq.content_type = "application/x-www-form-urlencoded";
	fetch(f, &rq, &w);
	assert_int_equal(jsonpath_assert(".method == \"PUT\"", w.res->body, w.res->body_len,
	    &reason), 1);
	assert_int_equal(jsonpath_assert(".headers.\"content-type\" == "
	    "\"application/x-www-form-urlencoded\"", w.res->body, w.res->body_len, &reason), 1);
	assert_int_equal(jsonpath_assert(".body == \"a=1\"", w.res->body, w.res->body_len,
	    &reason), 1);
	http_req_free(&w.req);

	memset(&rq, 0, sizeof rq);
	rq.url = url;
	rq.method = "POST";
	fetch(f, &rq, &w);
	assert_int_equal(jsonpath_assert(".method == \"POST\"", w.res->body, w.res->body_len,
	    &reason), 1);
	assert_int_equal(jsonpath_assert(".body == \"\"", w.res->body, w.res->body_len,
	    &reason), 1);
	http_req_free(&w.req);

	rq.method = "HEAD";
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_int_equal(w.res->body_len, 0);
	assert_string_equal(w.res->body, "");
	http_req_free(&w.req);
	free(url);
}

/* Asked-for headers are kept (any case), others not; redirects reset them. */
static void
test_headers(void **state)
{
	struct hl_fx *f = *state;
	const char *want[] = { "docker-content-digest", "X-Missing", "x-two", NULL };
	struct http_request rq = {0};
	struct waiter w;
	char *url = plain("/headers"), *redir = plain("/redirect");

	rq.url = url;
	rq.capture_headers = want;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_int_equal(w.res->nheaders, 2);
	assert_string_equal(w.res->headers[0].name, "docker-content-digest");
	assert_string_equal(http_response_header(w.res, "Docker-Content-Digest"),
	    "sha256:abababababababababababababababababababababababababababababababab");
	assert_string_equal(http_response_header(w.res, "X-TWO"), "second");
	assert_null(http_response_header(w.res, "X-Missing"));
	assert_null(http_response_header(w.res, "Content-Length"));
	http_req_free(&w.req);

	/* Without following, the 302 is the answer. */
	rq.url = redir;
	rq.capture_headers = (const char *[]){ "Location", NULL };
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->status, 302);
	assert_string_equal(http_response_header(w.res, "location"), "/status/200");
	http_req_free(&w.req);

	rq.follow_redirects = true;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_int_equal(w.res->status, 200);
	assert_null(http_response_header(w.res, "location"));
	http_req_free(&w.req);
	free(url);
	free(redir);
}

/* A body over the cap is cut and the transfer stopped; the status still decides. */
static void
test_body_cap(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *url = plain("/big/300000");

	rq.url = url;
	rq.max_body = 1000;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_true(w.res->truncated);
	assert_int_equal(w.res->body_len, 1000);
	assert_int_equal(strlen(w.res->body), 1000);
	assert_int_equal(w.res->body[0], 'x');
	assert_int_equal(w.res->body[999], 'x');
	http_req_free(&w.req);

	rq.max_body = 0;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_false(w.res->truncated);
	assert_int_equal(w.res->body_len, 300000);
	http_req_free(&w.req);
	free(url);
}

/* A server that answers too late: a timeout, well before the answer would come. */
static void
test_timeout(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *url = plain("/delay/3000");

	rq.url = url;
	rq.timeout_ms = 300;
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->error, HTTP_ERR_TIMEOUT);
	assert_string_equal(w.res->reason, "timed out after 0.3 s");
	assert_true(w.res->duration_ms >= 250);
	assert_true(w.res->duration_ms < 2000);
	assert_true(w.res->connect_ms >= 1);
	http_req_free(&w.req);

	/* The server closes without answering. */
	free(url);
	url = plain("/close");
	rq.url = url;
	rq.timeout_ms = 5000;
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->error, HTTP_ERR_OTHER);
	assert_non_null(w.res->reason);
	http_req_free(&w.req);
	free(url);
}

/* Connection refused. */
static void
test_refused(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	unsigned port = hl_free_port();
	char *url = xprintf("http://127.0.0.1:%u/", port), *want;

	rq.url = url;
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->error, HTTP_ERR_CONNECT);
	assert_int_equal(w.res->status, 0);
	want = xprintf("connection refused by 127.0.0.1:%u", port);
	assert_string_equal(w.res->reason, want);
	http_req_free(&w.req);
	free(want);
	free(url);
}

/* TLS: the test CA is unknown to the system, so verification fails by default. */
static void
test_tls_verify(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *url = xprintf("https://127.0.0.1:%u/status/200", tls_port);

	rq.url = url;
	fetch(f, &rq, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->error, HTTP_ERR_TLS);
	assert_true(str_has_prefix(w.res->reason, "TLS: "));
	assert_non_null(strstr(w.res->reason, "certificate"));
	http_req_free(&w.req);

	/* Pinned to the right CA: passes, with a handshake time. */
	rq.ca_file = ca_file;
	fetch(f, &rq, &w);
	if (!w.res->ok)
		fail_msg("pinned CA: %s", w.res->reason);
	assert_int_equal(w.res->status, 200);
	assert_true(w.res->tls_ms >= w.res->connect_ms);
	assert_true(w.res->tls_ms >= 1);
	http_req_free(&w.req);

	/* Pinned to another CA: fails. */
	rq.ca_file = other_ca_file;
	fetch(f, &rq, &w);
	assert_int_equal(w.res->error, HTTP_ERR_TLS);
	http_req_free(&w.req);

	/* A CA file that does not exist: a TLS error, not a crash. */
	rq.ca_file = "/nonexistent/ca.pem";
	fetch(f, &rq, &w);
	assert_int_equal(w.res->error, HTTP_ERR_TLS);
	http_req_free(&w.req);

	/* Insecure: no verification at all (a self-signed KMS or PCCS). */
	rq.ca_file = NULL;
	rq.insecure = true;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	http_req_free(&w.req);
	free(url);
}

/* resolve maps a name to 127.0.0.1 (no DNS); the certificate must match the name. */
static void
test_resolve(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *url = xprintf("https://kms.example.test:%u/api/status", tls_port);
	char *map = xprintf("kms.example.test:%u:127.0.0.1", tls_port);
	char *wrong_url = xprintf("https://wrong.example.test:%u/status/200", tls_port);
	char *wrong_map = xprintf("wrong.example.test:%u:127.0.0.1", tls_port);
	const char *resolve[] = { map, NULL };
	const char *wrong[] = { wrong_map, NULL };
	char *reason = NULL;

	rq.url = url;
	rq.resolve = resolve;
	rq.ca_file = ca_file;
	fetch(f, &rq, &w);
	if (!w.res->ok)
		fail_msg("resolve: %s", w.res->reason);
	assert_string_equal(w.res->primary_ip, "127.0.0.1");
	assert_int_equal(jsonpath_assert(".chainId == 11155111", w.res->body, w.res->body_len,
	    &reason), 1);
	http_req_free(&w.req);

	/* A name the certificate does not carry. */
	rq.url = wrong_url;
	rq.resolve = wrong;
	fetch(f, &rq, &w);
	assert_int_equal(w.res->error, HTTP_ERR_TLS);
	http_req_free(&w.req);

	/* The same with insecure passes. */
	rq.insecure = true;
	fetch(f, &rq, &w);
	assert_true(w.res->ok);
	assert_int_equal(w.res->status, 200);
	http_req_free(&w.req);
	free(url);
	free(map);
	free(wrong_url);
	free(wrong_map);
}

/* connect_to sends a name's requests to another host and port; Host stays the name. */
static void
test_connect_to(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	char *ct = xprintf("svc.example.test:80:127.0.0.1:%u", plain_port), *reason = NULL;

	rq.url = "http://svc.example.test/echo";
	rq.connect_to = ct;
	fetch(f, &rq, &w);
	if (!w.res->ok)
		fail_msg("connect_to: %s", w.res->reason);
	assert_int_equal(jsonpath_assert(".headers.host == \"svc.example.test\"", w.res->body,
	    w.res->body_len, &reason), 1);
	http_req_free(&w.req);
	free(ct);
}

/* Cancel: the callback comes later, from the loop, once. Free before the end: none. */
static void
test_cancel(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w = {0};
	char *url = plain("/delay/3000"), *cause = NULL;
	struct http_req *r;
	uint64_t t0 = now_ms();

	rq.url = url;
	r = http_start(f->http, &rq, on_done, &w, &cause);
	assert_non_null(r);
	assert_null(http_req_response(r));
	for (int i = 0; i < 5; i++)
		loop_run_once(f->loop, 20);
	assert_int_equal(http_active(f->http), 1);
	http_cancel(r);
	assert_int_equal(w.calls, 0);
	assert_int_equal(http_active(f->http), 0);
	http_cancel(r);
	LOOP_UNTIL(f, w.calls > 0);
	assert_int_equal(w.res->error, HTTP_ERR_CANCELED);
	assert_string_equal(w.res->reason, "canceled");
	assert_false(w.res->ok);
	assert_true(now_ms() - t0 < 2500);
	loop_run_once(f->loop, 50);
	assert_int_equal(w.calls, 1);
	/* Cancel after the end does nothing. */
	http_cancel(r);
	loop_run_once(f->loop, 20);
	assert_int_equal(w.calls, 1);
	http_req_free(&r);

	/* Canceled, then freed before the delivery: no callback at all. */
	memset(&w, 0, sizeof w);
	r = http_start(f->http, &rq, on_done, &w, &cause);
	http_cancel(r);
	http_req_free(&r);
	for (int i = 0; i < 5; i++)
		loop_run_once(f->loop, 20);
	assert_int_equal(w.calls, 0);

	/* Freed while running: no callback either. */
	r = http_start(f->http, &rq, on_done, &w, &cause);
	loop_run_once(f->loop, 20);
	http_req_free(&r);
	for (int i = 0; i < 5; i++)
		loop_run_once(f->loop, 20);
	assert_int_equal(w.calls, 0);
	assert_int_equal(http_active(f->http), 0);
	free(url);
}

#define NPAR 40

struct par {
	int done;
	int ok;
	int mismatched;
	char *want[NPAR];
	struct http_req *req[NPAR];
};

/* Done callback of a parallel request: check it got its own answer, then free it. */
static void
on_par_done(void *data, struct http_req *req, const struct http_response *res)
{
	struct par *p = data;
	int i;

	for (i = 0; i < NPAR && p->req[i] != req; i++)
		;
	assert_true(i < NPAR);
	if (res->ok)
		p->ok++;
	if (strstr(res->body, p->want[i]) == NULL)
		p->mismatched++;
	p->done++;
	http_req_free(&p->req[i]);
}

/* Many requests at once: each gets its own answer; slow ones overlap. */
static void
test_parallel(void **state)
{
	struct hl_fx *f = *state;
	struct par p = {0};
	uint64_t t0 = now_ms(), took;
	char *cause = NULL;

	for (int i = 0; i < NPAR; i++) {
		struct http_request rq = {0};
		char *url = xprintf("http://127.0.0.1:%u/echo?n=%d&pad=%d", plain_port, i, i * 7);

		rq.url = url;
		rq.body = i % 2 ? "{\"odd\":true}" : NULL;
		p.want[i] = xprintf("\"/echo?n=%d&pad=%d\"", i, i * 7);
		p.req[i] = http_start(f->http, &rq, on_par_done, &p, &cause);
		assert_non_null(p.req[i]);
		free(url);
	}
	assert_int_equal(http_active(f->http), NPAR);
	LOOP_UNTIL(f, p.done == NPAR);
	took = now_ms() - t0;
	assert_int_equal(p.ok, NPAR);
	assert_int_equal(p.mismatched, 0);
	for (int i = 0; i < NPAR; i++) {
		assert_null(p.req[i]);
		free(p.want[i]);
	}
	assert_true(took < WAIT_MS);

	/* Slow answers overlap. */
	{
		struct waiter ws[10];
		struct http_req *rs[10];
		char *url = plain("/delay/400");
		struct http_request rq = {0};

		rq.url = url;
		t0 = now_ms();
		memset(ws, 0, sizeof ws);
		for (int i = 0; i < 10; i++)
			rs[i] = http_start(f->http, &rq, on_done, &ws[i], &cause);
		LOOP_UNTIL(f, http_active(f->http) == 0);
		took = now_ms() - t0;
		for (int i = 0; i < 10; i++) {
			assert_int_equal(ws[i].calls, 1);
			assert_true(ws[i].res->ok);
			http_req_free(&rs[i]);
		}
		/* Ten in a row would take 4 s. */
		if (took >= 2500)
			fail_msg("10 overlapping 400 ms requests took %llu ms",
			    (unsigned long long)took);
		free(url);
	}
}

struct chain {
	struct http *http;
	int left;
	int ok;
	char *url;
};

/* Done callback that frees its request and starts the next one. */
static void
on_chain_done(void *data, struct http_req *req, const struct http_response *res)
{
	struct chain *c = data;
	struct http_request rq = {0};

	if (res->ok)
		c->ok++;
	http_req_free(&req);
	if (--c->left > 0) {
		rq.url = c->url;
		assert_non_null(http_start(c->http, &rq, on_chain_done, c, NULL));
	}
}

/* A callback may free its request and start another. */
static void
test_callback_restarts(void **state)
{
	struct hl_fx *f = *state;
	struct chain c = { .http = f->http, .left = 6 };
	struct http_request rq = {0};

	c.url = plain("/status/200");
	rq.url = c.url;
	assert_non_null(http_start(f->http, &rq, on_chain_done, &c, NULL));
	LOOP_UNTIL(f, c.left == 0);
	assert_int_equal(c.ok, 6);
	assert_int_equal(http_active(f->http), 0);
	free(c.url);
}

/* A listener whose accept queue is full: new SYNs are dropped, so connects hang. */
static int
full_listener(unsigned *port, int *clients, int nclients)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 0), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	for (int i = 0; i < nclients; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(clients[i], (struct sockaddr *)&a, sizeof a);
	}
	usleep(50000);
	return fd;
}

/* TCP probes: connected, refused, no answer. */
static void
test_tcp_probe(void **state)
{
	struct hl_fx *f = *state;
	struct waiter w = {0};
	struct http_req *r;
	char *cause = NULL, *want;
	unsigned port = hl_free_port(), full;
	int clients[4], lfd;
	const char *map[] = { NULL, NULL };

	r = http_connect_start(f->http, "127.0.0.1", plain_port, 2000, NULL, on_done, &w, &cause);
	assert_non_null(r);
	LOOP_UNTIL(f, w.calls > 0);
	if (!w.res->ok)
		fail_msg("tcp probe: %s", w.res->reason);
	assert_int_equal(w.res->status, 0);
	assert_string_equal(w.res->primary_ip, "127.0.0.1");
	http_req_free(&r);

	memset(&w, 0, sizeof w);
	r = http_connect_start(f->http, "127.0.0.1", port, 2000, NULL, on_done, &w, &cause);
	LOOP_UNTIL(f, w.calls > 0);
	assert_int_equal(w.res->error, HTTP_ERR_CONNECT);
	want = xprintf("connection refused by 127.0.0.1:%u", port);
	assert_string_equal(w.res->reason, want);
	free(want);
	http_req_free(&r);

	/* A name mapped by resolve, as a domain probed through a tunnel. */
	map[0] = want = xprintf("kms.example.test:%u:127.0.0.1", plain_port);
	memset(&w, 0, sizeof w);
	r = http_connect_start(f->http, "kms.example.test", plain_port, 2000, map, on_done, &w,
	    &cause);
	LOOP_UNTIL(f, w.calls > 0);
	assert_true(w.res->ok);
	http_req_free(&r);
	free(want);

	/* IPv6 loopback: connected or refused (if the machine has no ::1), never a crash. */
	memset(&w, 0, sizeof w);
	r = http_connect_start(f->http, "::1", port, 2000, NULL, on_done, &w, &cause);
	assert_non_null(r);
	LOOP_UNTIL(f, w.calls > 0);
	assert_false(w.res->ok);
	http_req_free(&r);

	lfd = full_listener(&full, clients, 4);
	memset(&w, 0, sizeof w);
	r = http_connect_start(f->http, "127.0.0.1", full, 400, NULL, on_done, &w, &cause);
	LOOP_UNTIL(f, w.calls > 0);
	assert_int_equal(w.res->error, HTTP_ERR_TIMEOUT);
	want = xprintf("no connection to 127.0.0.1:%u within 0.4 s", full);
	assert_string_equal(w.res->reason, want);
	free(want);
	http_req_free(&r);
	for (int i = 0; i < 4; i++)
		close(clients[i]);
	close(lfd);

	/* Bad input is refused at once. */
	assert_null(http_connect_start(f->http, "", 80, 0, NULL, on_done, &w, &cause));
	assert_string_equal(cause, "bad host \"\"");
	assert_null(http_connect_start(f->http, "a/b", 80, 0, NULL, on_done, &w, &cause));
	assert_null(http_connect_start(f->http, "h", 0, 0, NULL, on_done, &w, &cause));
	assert_string_equal(cause, "bad port 0");
	assert_null(http_connect_start(f->http, "h", 70000, 0, NULL, on_done, &w, &cause));
	free(cause);
}

/* Requests that cannot start say why and leave nothing behind. */
static void
test_bad_requests(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w = {0};
	char *cause = NULL;

	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	assert_string_equal(cause, "no URL");
	rq.url = "http://exa mple.com/";
	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	assert_true(str_has_prefix(cause, "bad URL: "));
	rq.url = "ftp://127.0.0.1/x";
	{
		struct http_req *r = http_start(f->http, &rq, on_done, &w, &cause);

		/* Parsed fine, refused by protocol at run time. */
		assert_non_null(r);
		LOOP_UNTIL(f, w.calls > 0);
		assert_int_equal(w.res->error, HTTP_ERR_OTHER);
		http_req_free(&r);
	}
	rq.url = "https://user:hunter2hunter2@127.0.0.1:1/v2/AbCdEf0123456789AbCdEf0123456789";
	rq.resolve = (const char *[]){ "nonsense", NULL };
	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	assert_string_equal(cause, "bad resolve entry \"nonsense\" (wanted host:port:address)");
	rq.resolve = (const char *[]){ "h:x:1.2.3.4", NULL };
	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	rq.resolve = NULL;
	rq.headers = (const char *[]){ "NoColon", NULL };
	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	assert_non_null(strstr(cause, "bad header line"));
	rq.headers = (const char *[]){ "X-A: b\r\nX-Injected: c", NULL };
	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	rq.headers = NULL;
	rq.connect_to = "a b";
	assert_null(http_start(f->http, &rq, on_done, &w, &cause));
	assert_int_equal(http_active(f->http), 0);
	/* No cause pointer is fine. */
	rq.connect_to = NULL;
	rq.url = NULL;
	assert_null(http_start(f->http, &rq, on_done, &w, NULL));
	free(cause);
}

/* Secrets of a URL never reach a reason: a provider that echoes the key in its error. */
static void
test_reason_redacted(void **state)
{
	struct hl_fx *f = *state;
	struct http_request rq = {0};
	struct waiter w;
	const char *key = "AbCdEf0123456789AbCdEf0123456789";
	char *url = xprintf("http://127.0.0.1:%u/v2/%s", plain_port, key);

	rq.url = url;
	fetch(f, &rq, &w);
	assert_int_equal(w.res->status, 401);
	assert_non_null(strstr(w.res->body, key));   /* the body itself is left as it came */
	assert_null(strstr(w.res->reason, key));
	assert_non_null(strstr(w.res->reason, "/v2/****"));
	http_req_free(&w.req);
	free(url);
}

/* http_redact_url and http_url_secrets. */
static void
test_redact_url(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "https://eth-sepolia.g.alchemy.com/v2/AbCdEf0123456789AbCdEf0123456789",
		  "https://eth-sepolia.g.alchemy.com/v2/****" },
		{ "https://sepolia.infura.io/v3/0123456789abcdef0123456789abcdef",
		  "https://sepolia.infura.io/v3/****" },
		{ "https://eth-sepolia.g.alchemy.com/v2/demo", "https://eth-sepolia.g.alchemy.com/v2/demo" },
		{ "https://rpc.example/x/k_9aZ8bY7cX6dW5eV4fU3gT2hS1/y",
		  "https://rpc.example/x/****/y" },
		{ "https://user:pa55word@rpc.example:8545/", "https://****@rpc.example:8545/" },
		{ "https://rpc.example/?apikey=s3cr3t&json", "https://rpc.example/?apikey=****&json" },
		{ "https://rpc.example/path?a=1&b=&c=xyz#frag", "https://rpc.example/path?a=****&b=&c=****#****" },
		{ "http://127.0.0.1:8083/prpc/KMS.GetMeta?json", "http://127.0.0.1:8083/prpc/KMS.GetMeta?json" },
		{ "https://registry.example.test/v2/dstack-kms/manifests/latest",
		  "https://registry.example.test/v2/dstack-kms/manifests/latest" },
		{ "https://gw.example:9204/health", "https://gw.example:9204/health" },
		{ "http://127.0.0.1:8545", "http://127.0.0.1:8545" },
		{ "not a url", "****" },
		{ "://x", "****" },
		{ "", "" },
	};
	struct strvec sv = {0};
	char *r;

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		r = http_redact_url(t[i].in);
		if (strcmp(r, t[i].out) != 0)
			fail_msg("%s -> %s, wanted %s", t[i].in, r, t[i].out);
		free(r);
	}
	r = http_redact_url(NULL);
	assert_string_equal(r, "");
	free(r);

	http_url_secrets("https://eth-sepolia.g.alchemy.com/v2/AbCdEf0123456789AbCdEf0123456789",
	    &sv);
	assert_int_equal(sv.n, 1);
	assert_string_equal(sv.v[0], "AbCdEf0123456789AbCdEf0123456789");
	sv_free(&sv);
	http_url_secrets("https://me:pa55word@h/?token=abcdefgh&n=1", &sv);
	assert_int_equal(sv.n, 3);
	assert_string_equal(sv.v[0], "me:pa55word");
	assert_string_equal(sv.v[1], "pa55word");
	assert_string_equal(sv.v[2], "abcdefgh");   /* "1" is too short to redact in logs */
	sv_free(&sv);
	http_url_secrets("https://u:abc@h/", &sv);   /* "abc" alone is too short to look for */
	assert_int_equal(sv.n, 1);
	assert_string_equal(sv.v[0], "u:abc");
	sv_free(&sv);
	http_url_secrets("http://127.0.0.1:8083/prpc/Status?json", &sv);
	assert_int_equal(sv.n, 0);
	http_url_secrets("garbage", &sv);
	assert_int_equal(sv.n, 1);
	sv_free(&sv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_ok, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_status, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_methods_and_body, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_headers, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_body_cap, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_timeout, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_refused, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_tls_verify, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_resolve, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_connect_to, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_parallel, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_callback_restarts, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_probe, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_reason_redacted, hl_setup, hl_teardown),
		cmocka_unit_test(test_redact_url),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
