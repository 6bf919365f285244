/*
 * test-remote.c: the engine's side of the server (steps/remote.c) and the input verifications
 * (steps/verify.c), without a server: targets, how server-side probes are routed (a tunnel
 * listening on 127.0.0.1 for http, a command on the server for tcp, direct otherwise), the
 * tunnel cache, and verdicts of an RPC endpoint that does not answer. The tunnels and
 * verdicts against a real sshd and a real node are in tests/cli/test-ssh-cli.sh.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chain.h"
#include "http.h"
#include "loop.h"
#include "remote.h"
#include "runner.h"
#include "util.h"
#include "verify.h"

#include "testlib.h"

struct fix {
	struct loop *l;
	struct remote *r;
};

static int
setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof *f);
	struct remote_opts o = { "tester@127.0.0.1:2222", NULL, NULL, "none", false };
	char *cause = NULL;

	f->l = loop_new();
	if (remote_new(f->l, &o, &f->r, &cause) != 0)
		fail_msg("remote_new: %s", cause);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	remote_free(&f->r);
	loop_free(&f->l);
	free(f);
	return 0;
}

/* Route a probe; returns remote_probe's result. */
static int
route(struct fix *f, enum probe_kind kind, const char *what, struct run_cmd *rc, char **ct)
{
	struct probe p;
	char *cause = NULL;
	int r;

	memset(&p, 0, sizeof p);
	memset(rc, 0, sizeof *rc);
	p.kind = kind;
	if (kind == PROBE_HTTP)
		p.url = (char *)(uintptr_t)what;
	else
		p.target = (char *)(uintptr_t)what;
	r = remote_probe(f->r, &p, rc, ct, &cause);
	if (r < 0)
		fail_msg("remote_probe %s: %s", what, cause);
	return r;
}

/* Does something accept connections on 127.0.0.1:port? */
static bool
accepts(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
	close(fd);
	return rc == 0;
}

/* Targets: user, host and port from the spec; a bad one is refused. */
static void
test_target(void **state)
{
	struct fix *f = *state;
	struct remote_opts bad = { "user@host:0", NULL, NULL, "none", false };
	struct remote *r = NULL;
	char *cause = NULL;

	assert_string_equal(remote_label(f->r), "tester@127.0.0.1:2222");
	assert_ptr_equal(remote_transport(f->r)->ops, &transport_ssh_ops);
	assert_ptr_equal(remote_transport(f->r)->data, remote_conn(f->r));
	assert_false(remote_checked(f->r));
	assert_false(remote_hostkey_refused(f->r));
	assert_int_equal(remote_new(f->l, &bad, &r, &cause), -1);
	assert_null(r);
	assert_non_null(strstr(cause, "bad SSH target"));
	free(cause);
}

/* http probes of the server's loopback get a tunnel that listens here; one per destination. */
static void
test_http_tunnel(void **state)
{
	struct fix *f = *state;
	struct run_cmd rc;
	char *ct = NULL, *ct2 = NULL, *ct3 = NULL, want[64];
	int lport, lport3;

	assert_int_equal(route(f, PROBE_HTTP, "http://127.0.0.1:9080/prpc/Version?json", &rc, &ct), 1);
	assert_null(rc.transport);
	assert_non_null(ct);
	assert_int_equal(sscanf(ct, "127.0.0.1:9080:127.0.0.1:%d", &lport), 1);
	snprintf(want, sizeof want, "127.0.0.1:9080:127.0.0.1:%d", lport);
	assert_string_equal(ct, want);
	assert_true(lport > 0 && lport != 9080);
	assert_true(accepts(lport));
	/* The same destination by its other name: the same tunnel. */
	assert_int_equal(route(f, PROBE_HTTP, "http://localhost:9080/", &rc, &ct2), 1);
	snprintf(want, sizeof want, "localhost:9080:127.0.0.1:%d", lport);
	assert_string_equal(ct2, want);
	/* Default ports, user info, another port: another tunnel. */
	assert_int_equal(route(f, PROBE_HTTP, "https://u:p@127.0.0.1/x", &rc, &ct3), 1);
	assert_int_equal(sscanf(ct3, "127.0.0.1:443:127.0.0.1:%d", &lport3), 1);
	assert_int_not_equal(lport3, lport);
	free(ct);
	free(ct2);
	free(ct3);
	ct = NULL;
	assert_int_equal(route(f, PROBE_HTTP, "http://127.0.0.1/", &rc, &ct), 1);
	assert_non_null(strstr(ct, "127.0.0.1:80:127.0.0.1:"));
	free(ct);
}

/* Other hosts, IPv6 and bad ports go direct. */
static void
test_http_direct(void **state)
{
	struct fix *f = *state;
	static const char *direct[] = { "http://example.org:9080/", "https://kms.example.org/",
	    "http://127.0.0.2:80/", "http://[::1]:8080/", "http://127.0.0.1:99999/",
	    "ftp://127.0.0.1/", "http://127.0.0.10:80/", "http://localhostx/" };

	for (size_t i = 0; i < nitems(direct); i++) {
		struct run_cmd rc;
		char *ct = NULL;

		if (route(f, PROBE_HTTP, direct[i], &rc, &ct) != 0)
			fail_msg("%s was routed", direct[i]);
		assert_null(ct);
		assert_null(rc.transport);
	}
}

/* tcp probes of the server's loopback become a command on the server; others go direct. */
static void
test_tcp(void **state)
{
	struct fix *f = *state;
	struct run_cmd rc;
	char *ct = NULL;

	assert_int_equal(route(f, PROBE_TCP, "127.0.0.1:8081", &rc, &ct), 1);
	assert_null(ct);
	assert_ptr_equal(rc.transport, remote_transport(f->r));
	assert_non_null(strstr(rc.tc.script, "/dev/tcp/$1/$2"));
	assert_non_null(strstr(rc.tc.script, "'127.0.0.1' '8081'"));
	run_cmd_clear(&rc);
	assert_int_equal(route(f, PROBE_TCP, "example.org:22", &rc, &ct), 0);
	assert_null(rc.transport);
}

/* Count verdicts (verify_on_verdict). */
static void
count_verdict(void *data)
{
	(*(int *)data)++;
}

/* An RPC endpoint that refuses: pending at first, then a failed verdict that says why (and
 * the verdict callback runs once); the verdict is cached per (address, URL) and an address in
 * another case is the same one. */
static void
test_verify_unreachable(void **state)
{
	struct fix *f = *state;
	struct http *h = http_new(f->l);
	struct verify *v = verify_new(h);
	const char *why = NULL;
	uint64_t end = now_ms() + 10000;
	int verdicts = 0;
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	/* A port nothing listens on: bind, read it, close. */
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sin.sin_port));

	verify_on_verdict(v, count_verdict, &verdicts);
	assert_int_equal(verify_contract(v, "0x000000000000000000000000000000000000dEaD", url, &why),
	    VERIFY_PENDING);
	assert_true(verify_pending(v));
	assert_int_equal(verdicts, 0);
	while (verify_pending(v) && now_ms() < end)
		loop_run_once(f->l, 100);
	assert_false(verify_pending(v));
	assert_int_equal(verdicts, 1);
	assert_int_equal(verify_contract(v, "0x000000000000000000000000000000000000DEAD", url, &why),
	    VERIFY_FAILED);
	assert_non_null(why);
	assert_non_null(strstr(why, "cannot check for contract code"));
	verify_forget(v);
	assert_int_equal(verify_contract(v, "0x000000000000000000000000000000000000dEaD", url, &why),
	    VERIFY_PENDING);
	verify_free(&v);
	assert_null(v);
	http_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_tunnel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_unreachable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
