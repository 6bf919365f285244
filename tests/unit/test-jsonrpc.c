/*
 * test-jsonrpc.c: jsonrpc.c without an Ethereum node: tests/lib/httpd.py on loopback stands
 * in for providers that refuse (401, 403, 429), rate-limit in a JSON-RPC error, answer
 * something that is not JSON-RPC, or answer slowly (cancel); a canned eth_chainId answer
 * drives a whole check. The 256-bit arithmetic and the refusal of bad requests are tested on
 * their own. test-eth.c runs the checks against real nodes.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jsonpath.h"
#include "jsonrpc.h"
#include "loop.h"
#include "util.h"
#include "testlib.h"
#include "httplib.h"

#define EMPTY_ADDR "0x000000000000000000000000000000000000dEaD"

static char *tmp;
static struct hl_httpd provider;   /* the fake RPC provider */
static unsigned httpd_port;

/* Turn the loop until cond or HL_RPC_WAIT_MS. */
#define LOOP_UNTIL(l, cond) HL_LOOP_UNTIL(l, cond, HL_RPC_WAIT_MS)

/* Start the fake provider (httpd.py) with JSON-RPC-ish canned answers. */
static int
group_setup(void **state)
{
	(void)state;
	tmp = tl_tmpdir();
	if (!hl_httpd_spawn(&provider, tmp,
	    "{\"/limited\": {\"body\": {\"jsonrpc\": \"2.0\", \"id\": 1, \"error\": "
	    "{\"code\": -32005, \"message\": \"daily request count exceeded\"}}},"
	    " \"/odd\": {\"body\": {\"jsonrpc\": \"2.0\", \"id\": 1}},"
	    " \"/array\": {\"body\": [1, 2]},"
	    " \"/chain\": {\"body\": {\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": \"0xaa36a7\"}},"
	    " \"/chain-junk\": {\"body\": {\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": \"banana\"}},"
	    " \"/chain-huge\": {\"body\": {\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": "
	    "\"0x10000000000000000\"}}}", false) || !hl_httpd_wait(&provider))
		return -1;
	httpd_port = provider.port;
	return 0;
}

/* Stop the fake provider. */
static int
group_teardown(void **state)
{
	(void)state;
	hl_httpd_stop(&provider);
	tl_rmrf(tmp);
	free(tmp);
	return 0;
}

/* Cancel: the callback comes from the loop, saying canceled. Free: no callback. */
static void
test_cancel(void **state)
{
	struct hl_fx *f = *state;
	struct jsonrpc_check_req rq = { .kind = JSONRPC_BALANCE, .chain_id = JSONRPC_SEPOLIA };
	struct jsonrpc_check *k;
	struct hl_chkw w = {0};
	char *cause = NULL, *url = xprintf("http://127.0.0.1:%u/delay/3000", httpd_port);
	uint64_t t0 = now_ms();

	rq.url = url;
	rq.address = "0x000000000000000000000000000000000000dEaD";
	rq.min_eth = "1";
	k = jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause);
	assert_non_null(k);
	for (int i = 0; i < 3; i++)
		loop_run_once(f->loop, 20);
	jsonrpc_check_cancel(k);
	assert_int_equal(w.calls, 0);
	LOOP_UNTIL(f->loop, w.calls > 0);
	assert_int_equal(w.calls, 1);
	assert_false(w.res->ok);
	assert_true(w.res->canceled);
	assert_string_equal(w.res->reason, "canceled");
	assert_true(now_ms() - t0 < 2500);
	jsonrpc_check_cancel(k);   /* after the end: nothing */
	loop_run_once(f->loop, 20);
	assert_int_equal(w.calls, 1);
	jsonrpc_check_free(&k);

	/* Freed while running: no callback. */
	memset(&w, 0, sizeof w);
	k = jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause);
	loop_run_once(f->loop, 10);
	jsonrpc_check_free(&k);
	for (int i = 0; i < 5; i++)
		loop_run_once(f->loop, 20);
	assert_int_equal(w.calls, 0);

	/* A raw call, canceled. */
	{
		struct hl_rpcw rw = {0};
		struct jsonrpc_call *c = jsonrpc_start(f->http, url, "eth_chainId", NULL, 0, hl_on_rpc,
		    &rw, &cause);

		assert_non_null(c);
		jsonrpc_cancel(c);
		LOOP_UNTIL(f->loop, rw.calls > 0);
		assert_false(rw.res->ok);
		assert_string_equal(rw.res->reason, "canceled");
		jsonrpc_free(&c);
	}
	free(url);
}

/* A whole check on canned answers: /chain answers 0xaa36a7 to every method, so a balance
 * check there sees chain 11155111 and a balance of 11155111 wei. */
static void
test_check_flow(void **state)
{
	struct hl_fx *f = *state;
	struct jsonrpc_check_req rq = { .kind = JSONRPC_BALANCE, .chain_id = JSONRPC_SEPOLIA };
	struct hl_chkw w;
	char *url = xprintf("http://127.0.0.1:%u/chain", httpd_port);

	rq.url = url;
	rq.address = "0x000000000000000000000000000000000000dEaD";
	rq.min_eth = "0.000000000011155111";
	hl_check_wait(f, &rq, &w);
	if (!w.res->ok)
		fail_msg("%s", w.res->reason);
	assert_string_equal(w.res->value, "11155111");
	assert_int_equal(w.res->chain_id, 11155111);
	jsonrpc_check_free(&w.chk);

	rq.min_eth = "0.000000000011155112";
	hl_check_wait(f, &rq, &w);
	assert_false(w.res->ok);
	assert_string_equal(w.res->reason, "balance of 0x000000000000000000000000000000000000dead "
	    "is 0.000000000011155111 ETH, wanted at least 0.000000000011155112 ETH (chain "
	    "11155111 (Sepolia))");
	jsonrpc_check_free(&w.chk);

	/* Code: "0xaa36a7" is code. eth_call: it is the result. */
	rq.kind = JSONRPC_CODE;
	hl_check_wait(f, &rq, &w);
	assert_true(w.res->ok);
	assert_string_equal(w.res->value, "0xaa36a7");
	jsonrpc_check_free(&w.chk);
	rq.kind = JSONRPC_CALL;
	rq.data = "0x";
	rq.expect = "0xAA36A7";
	hl_check_wait(f, &rq, &w);
	assert_true(w.res->ok);
	jsonrpc_check_free(&w.chk);

	/* The check's callback may free the check. */
	{
		char *cause = NULL;

		memset(&w, 0, sizeof w);
		w.free_in_cb = true;
		assert_non_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
		LOOP_UNTIL(f->loop, w.calls > 0);
		assert_int_equal(w.calls, 1);
		assert_null(w.res);
	}
	free(url);
}

/* Providers that refuse, rate-limit, or do not speak JSON-RPC (the fake provider). */
static void
test_provider_errors(void **state)
{
	static const struct { const char *path; long status; const char *reason; } t[] = {
		{ "/status/429", 429, "HTTP 429: the RPC provider is rate-limiting (never use a "
		  "public demo key) (eth_chainId at http://127.0.0.1:" },
		{ "/status/401", 401, "HTTP 401: the RPC provider refused the request (check the "
		  "API key in the RPC URL)" },
		{ "/status/403", 403, "HTTP 403: the RPC provider refused" },
		{ "/status/502", 502, "HTTP 502 (wanted 2xx): {\"status\": 502}" },
		{ "/limited", 200, "RPC error -32005: daily request count exceeded: the RPC "
		  "provider is rate-limiting" },
		{ "/odd", 200, "the answer has neither a result nor an error" },
		{ "/array", 200, "the RPC URL did not answer JSON-RPC (the answer is not a JSON "
		  "object)" },
		{ "/big/20", 200, "the RPC URL did not answer JSON-RPC (body is not JSON at byte 0)" },
		{ "/headers", 200, "the answer has neither a result nor an error" },
	};
	struct hl_fx *f = *state;
	struct hl_rpcw w;

	for (size_t i = 0; i < nitems(t); i++) {
		char *url = xprintf("http://127.0.0.1:%u%s", httpd_port, t[i].path);

		hl_rpc_wait(f->loop, f->http, url, "eth_chainId", NULL, &w);
		assert_false(w.res->ok);
		assert_int_equal(w.res->http_status, t[i].status);
		if (strstr(w.res->reason, t[i].reason) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", t[i].path, w.res->reason, t[i].reason);
		jsonrpc_free(&w.call);
		free(url);
	}
}

/* Checks that get a bad answer to eth_chainId, and an unreachable URL. */
static void
test_check_bad_answers(void **state)
{
	struct hl_fx *f = *state;
	struct jsonrpc_check_req rq = { .kind = JSONRPC_CHAIN_ID, .chain_id = JSONRPC_SEPOLIA };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	struct hl_chkw w;
	char *url;
	int fd;

	url = xprintf("http://127.0.0.1:%u/chain-junk", httpd_port);
	rq.url = url;
	hl_check_wait(f, &rq, &w);
	assert_string_equal(w.res->reason, "eth_chainId answered \"banana\", not a chain id");
	jsonrpc_check_free(&w.chk);
	free(url);

	url = xprintf("http://127.0.0.1:%u/chain-huge", httpd_port);
	rq.url = url;
	hl_check_wait(f, &rq, &w);
	assert_non_null(strstr(w.res->reason, "not a chain id"));
	jsonrpc_check_free(&w.chk);
	free(url);

	/* Nobody listening. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	url = xprintf("http://127.0.0.1:%u/v3/0123456789abcdef0123456789abcdef",
	    ntohs(a.sin_port));
	close(fd);
	rq.url = url;
	hl_check_wait(f, &rq, &w);
	assert_false(w.res->ok);
	assert_false(w.res->canceled);
	assert_true(str_has_prefix(w.res->reason, "cannot reach the RPC URL: connection refused"));
	assert_non_null(strstr(w.res->reason, "/v3/****)"));
	assert_null(strstr(w.res->reason, "0123456789abcdef0123456789abcdef"));
	assert_int_equal(w.res->chain_id, 0);
	jsonrpc_check_free(&w.chk);
	free(url);
}

/* The API key in an RPC URL never reaches a reason, even when the provider echoes it. */
static void
test_key_redacted(void **state)
{
	struct hl_fx *f = *state;
	const char *key = "AbCdEf0123456789AbCdEf0123456789";
	char *url = xprintf("http://127.0.0.1:%u/v2/%s", httpd_port, key);
	struct hl_rpcw w;

	hl_rpc_wait(f->loop, f->http, url, "eth_chainId", NULL, &w);
	assert_false(w.res->ok);
	assert_int_equal(w.res->http_status, 401);
	assert_null(strstr(w.res->reason, key));
	assert_non_null(strstr(w.res->reason, "/v2/****"));
	jsonrpc_free(&w.call);
	free(url);
}

/* Requests refused before any call. */
static void
test_bad_requests(void **state)
{
	struct hl_fx *f = *state;
	struct jsonrpc_check_req rq = { .kind = JSONRPC_CODE, .url = "http://127.0.0.1:1" };
	struct hl_chkw w = {0};
	char *cause = NULL;

	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	assert_string_equal(cause, "bad address \"\" (wanted 0x and 40 hex digits)");
	rq.address = "0x1234";
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	rq.address = "0x000000000000000000000000000000000000dEaG";
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	rq.address = EMPTY_ADDR;
	rq.kind = JSONRPC_BALANCE;
	rq.min_eth = "0.05 ETH";
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	assert_string_equal(cause, "bad amount \"0.05 ETH\" (wanted decimal ETH, e.g. 0.05)");
	rq.min_eth = NULL;
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	rq.kind = JSONRPC_CALL;
	rq.data = "0x123";
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	assert_non_null(strstr(cause, "bad call data"));
	rq.data = "0x12";
	rq.expect = "zz";
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	rq.kind = JSONRPC_CHAIN_ID;
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	assert_string_equal(cause, "no chain id to check");
	rq.url = NULL;
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	assert_string_equal(cause, "no RPC URL");
	rq.url = "http://exa mple/";
	rq.chain_id = 1;
	assert_null(jsonrpc_check_start(f->http, &rq, hl_on_check, &w, &cause));
	assert_true(str_has_prefix(cause, "bad URL"));

	assert_null(jsonrpc_start(f->http, "http://127.0.0.1:1", "eth_call", "{\"a\":1}", 0,
	    hl_on_rpc, &w, &cause));
	assert_string_equal(cause, "the params of eth_call are not a JSON array");
	assert_null(jsonrpc_start(f->http, "http://127.0.0.1:1", "eth_call", "[", 0, hl_on_rpc, &w,
	    &cause));
	assert_null(jsonrpc_start(f->http, "http://127.0.0.1:1", "eth\"x", NULL, 0, hl_on_rpc, &w,
	    &cause));
	assert_non_null(strstr(cause, "bad JSON-RPC method name"));
	assert_null(jsonrpc_start(f->http, "http://127.0.0.1:1", "", NULL, 0, hl_on_rpc, &w, &cause));
	assert_null(jsonrpc_start(f->http, NULL, "eth_chainId", NULL, 0, hl_on_rpc, &w, &cause));
	assert_int_equal(w.calls, 0);
	assert_int_equal(http_active(f->http), 0);
	free(cause);
}

/* 256-bit quantities, ETH amounts and their text. */
static void
test_u256(void **state)
{
	static const struct { const char *hex; const char *dec; } hx[] = {
		{ "0x0", "0" },
		{ "0x", "0" },
		{ "0x00000001", "1" },
		{ "0xb1a2bc2ec50000", "50000000000000000" },
		{ "0x3635C9ADC5DEA00000", "1000000000000000000000" },
		{ "0xffffffffffffffff", "18446744073709551615" },
		{ "0x10000000000000000", "18446744073709551616" },
		{ "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		  "115792089237316195423570985008687907853269984665640564039457584007913129639935" },
		{ "0x0000ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		  "115792089237316195423570985008687907853269984665640564039457584007913129639935" },
	};
	static const char *badhex[] = {
		"", "12", "0", "x1", "0xg", "0x 1", "-0x1", NULL,
		"0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	};
	static const struct { const char *eth; const char *wei; const char *back; } ex[] = {
		{ "0.05", "50000000000000000", "0.05" },
		{ "1", "1000000000000000000", "1" },
		{ "1000", "1000000000000000000000", "1000" },
		{ "0", "0", "0" },
		{ "0.000000000000000001", "1", "0.000000000000000001" },
		{ "10.000000000000000001", "10000000000000000001", "10.000000000000000001" },
		{ "0.1000000000000000000000", "100000000000000000", "0.1" },
		{ "007.50", "7500000000000000000", "7.5" },
		{ ".5", "500000000000000000", "0.5" },
		{ "5.", "5000000000000000000", "5" },
		{ "115792089237316195423570985008.687907853269984665640564039457584007913129639935",
		  NULL, NULL },   /* more than 18 decimals */
	};
	static const char *badeth[] = {
		"", ".", "-1", "+1", "1e18", "0.0000000000000000001", "1.2.3", "0x10", " 1", "1 ",
		"1,5", "200000000000000000000000000000000000000000000000000000000000",
	};
	struct jsonrpc_u256 a, b;
	char *s, *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(hx); i++) {
		assert_int_equal(jsonrpc_u256_from_hex(&a, hx[i].hex), 0);
		s = jsonrpc_u256_dec(&a);
		if (strcmp(s, hx[i].dec) != 0)
			fail_msg("%s -> %s, wanted %s", hx[i].hex, s, hx[i].dec);
		free(s);
	}
	for (size_t i = 0; i < nitems(badhex); i++) {
		if (jsonrpc_u256_from_hex(&a, badhex[i]) != -1)
			fail_msg("\"%s\" was accepted", badhex[i] ? badhex[i] : "(null)");
	}
	for (size_t i = 0; i < nitems(ex); i++) {
		int rc = jsonrpc_u256_from_ether(&a, ex[i].eth, &cause);

		if (ex[i].wei == NULL) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(cause, "more than 18 decimals"));
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", ex[i].eth, cause);
		s = jsonrpc_u256_dec(&a);
		assert_string_equal(s, ex[i].wei);
		free(s);
		s = jsonrpc_wei_to_ether(&a);
		assert_string_equal(s, ex[i].back);
		free(s);
	}
	for (size_t i = 0; i < nitems(badeth); i++) {
		if (jsonrpc_u256_from_ether(&a, badeth[i], &cause) != -1)
			fail_msg("\"%s\" was accepted", badeth[i]);
	}
	assert_int_equal(jsonrpc_u256_from_ether(&a, "200000000000000000000000000000000000000000000"
	    "000000000000000", &cause), -1);
	assert_non_null(strstr(cause, "too large"));
	/* The largest amount that fits: (2^256 - 1) wei is not a whole number of ETH, so the
	 * largest whole-ETH amount is floor((2^256-1) / 1e18). */
	assert_int_equal(jsonrpc_u256_from_ether(&a, "115792089237316195423570985008687907853269"
	    "984665640564039457", &cause), 0);
	assert_int_equal(jsonrpc_u256_from_ether(&b, "115792089237316195423570985008687907853269"
	    "984665640564039458", &cause), -1);
	free(cause);

	/* Comparison, across limbs. */
	jsonrpc_u256_from_hex(&a, "0x100000000");
	jsonrpc_u256_from_hex(&b, "0xffffffff");
	assert_int_equal(jsonrpc_u256_cmp(&a, &b), 1);
	assert_int_equal(jsonrpc_u256_cmp(&b, &a), -1);
	assert_int_equal(jsonrpc_u256_cmp(&a, &a), 0);
	jsonrpc_u256_from_ether(&a, "0.05", NULL);
	jsonrpc_u256_from_hex(&b, "0xb1a2bc2ec50000");
	assert_int_equal(jsonrpc_u256_cmp(&a, &b), 0);
	jsonrpc_u256_from_hex(&b, "0xb1a2bc2ec4ffff");
	assert_int_equal(jsonrpc_u256_cmp(&a, &b), 1);

	assert_string_equal(jsonrpc_chain_name(11155111), "Sepolia");
	assert_string_equal(jsonrpc_chain_name(1), "Ethereum mainnet");
	assert_null(jsonrpc_chain_name(424242));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cancel, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_check_flow, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_provider_errors, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_check_bad_answers, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_key_redacted, hl_setup, hl_teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, hl_setup, hl_teardown),
		cmocka_unit_test(test_u256),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
