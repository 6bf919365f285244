/*
 * jsonrpc.c: Ethereum JSON-RPC calls on http.c, the checks built on them, and the exact
 * 256-bit arithmetic used to compare wei amounts.
 *
 * A call is one HTTP POST of {"jsonrpc":"2.0","id":N,"method":...,"params":[...]}. Its
 * answer is read with cJSON (inside this file only) and becomes a jsonrpc_result: the
 * result as JSON text, or a reason. A check is a small state machine of calls: eth_chainId,
 * then (unless it only wanted the chain) the call of its kind; each call's callback frees it
 * and starts the next, and the check's own callback is the last thing that touches it.
 */
#include "config.h"

#include "jsonrpc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "jsonpath.h"
#include "util.h"

#define JSONRPC_MAX_MESSAGE 200
#define JSONRPC_MAX_ANSWER (8u << 20)   /* eth_getCode of a big contract is ~50 KB */

struct jsonrpc_call {
	struct http_req *req;
	jsonrpc_done_cb done;
	void *data;
	char *method;
	char *where;                /* the redacted URL */
	struct jsonrpc_result res;
};

enum jsonrpc_stage { STAGE_CHAIN, STAGE_MAIN, STAGE_DONE };

struct jsonrpc_check {
	struct http *h;
	enum jsonrpc_check_kind kind;
	char *url;
	uint64_t want_chain;
	char *address;              /* lowercase */
	struct jsonrpc_u256 min_wei;
	char *min_eth;
	char *data_hex;
	char *expect;
	unsigned timeout_ms;

	enum jsonrpc_stage stage;
	struct jsonrpc_call *call;
	jsonrpc_check_cb done;
	void *cbdata;
	uint64_t started;
	struct jsonrpc_check_result res;
};

static unsigned jsonrpc_next_id = 1;

/* ---------------------------------------------------------------------------------------
 * 256-bit integers.
 */

/* Set u = u * 10 + d; false on overflow. */
static bool
u256_mul10_add(struct jsonrpc_u256 *u, unsigned d)
{
	uint64_t carry = d;

	for (int i = 0; i < 8; i++) {
		uint64_t t = (uint64_t)u->w[i] * 10 + carry;

		u->w[i] = (uint32_t)t;
		carry = t >> 32;
	}
	return carry == 0;
}

/* Divide u by 10 in place; return the remainder. */
static unsigned
u256_div10(struct jsonrpc_u256 *u)
{
	uint64_t rem = 0;

	for (int i = 7; i >= 0; i--) {
		uint64_t cur = (rem << 32) | u->w[i];

		u->w[i] = (uint32_t)(cur / 10);
		rem = cur % 10;
	}
	return (unsigned)rem;
}

/* True if u is zero. */
static bool
u256_zero(const struct jsonrpc_u256 *u)
{
	for (int i = 0; i < 8; i++) {
		if (u->w[i] != 0)
			return false;
	}
	return true;
}

/* Parse a 0x quantity. */
int
jsonrpc_u256_from_hex(struct jsonrpc_u256 *out, const char *hex)
{
	size_t n, i;

	memset(out, 0, sizeof *out);
	if (hex == NULL || hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X'))
		return -1;
	hex += 2;
	n = strlen(hex);
	for (i = 0; i < n; i++) {
		if (hex_digit((unsigned char)hex[i]) < 0)
			return -1;
	}
	while (*hex == '0') {
		hex++;
		n--;
	}
	if (n > 64)
		return -1;
	for (i = 0; i < n; i++) {
		size_t bit = (n - 1 - i) * 4;

		out->w[bit / 32] |= (uint32_t)hex_digit((unsigned char)hex[i]) << (bit % 32);
	}
	return 0;
}

/* Parse a decimal ETH amount into wei. */
int
jsonrpc_u256_from_ether(struct jsonrpc_u256 *out, const char *eth, char **cause)
{
	const char *p = eth, *dot;
	size_t intlen, fraclen;

	memset(out, 0, sizeof *out);
	if (eth == NULL || *eth == '\0')
		return set_cause(cause, "no amount (wanted decimal ETH, e.g. 0.05)");
	dot = strchr(eth, '.');
	intlen = dot ? (size_t)(dot - eth) : strlen(eth);
	fraclen = dot ? strlen(dot + 1) : 0;
	if (intlen + fraclen == 0 || (dot != NULL && fraclen == 0 && intlen == 0))
		return set_cause(cause, "bad amount \"%s\" (wanted decimal ETH, e.g. 0.05)", eth);
	for (size_t i = 0; eth[i] != '\0'; i++) {
		if (&eth[i] == dot)
			continue;
		if (!isdigit((unsigned char)eth[i]))
			return set_cause(cause, "bad amount \"%s\" (wanted decimal ETH, e.g. 0.05)",
			    eth);
	}
	for (size_t i = 18; i < fraclen; i++) {
		if (dot[1 + i] != '0')
			return set_cause(cause, "amount \"%s\" has more than 18 decimals (1 wei is "
			    "0.000000000000000001 ETH)", eth);
	}
	for (size_t i = 0; i < intlen; i++) {
		if (!u256_mul10_add(out, (unsigned)(p[i] - '0')))
			return set_cause(cause, "amount \"%s\" is too large", eth);
	}
	for (size_t i = 0; i < 18; i++) {
		unsigned d = i < fraclen ? (unsigned)(dot[1 + i] - '0') : 0;

		if (!u256_mul10_add(out, d))
			return set_cause(cause, "amount \"%s\" is too large", eth);
	}
	return 0;
}

/* Compare two 256-bit integers. */
int
jsonrpc_u256_cmp(const struct jsonrpc_u256 *a, const struct jsonrpc_u256 *b)
{
	for (int i = 7; i >= 0; i--) {
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	}
	return 0;
}

/* Return the decimal text of a. */
char *
jsonrpc_u256_dec(const struct jsonrpc_u256 *a)
{
	struct jsonrpc_u256 t = *a;
	char buf[80];
	size_t i = sizeof buf - 1;

	buf[i] = '\0';
	do
		buf[--i] = (char)('0' + u256_div10(&t));
	while (!u256_zero(&t));
	return xstrdup(buf + i);
}

/* Return wei as decimal ETH. */
char *
jsonrpc_wei_to_ether(const struct jsonrpc_u256 *wei)
{
	char *dec = jsonrpc_u256_dec(wei), *r;
	size_t n = strlen(dec), fe;
	struct strbuf sb = {0};

	if (n <= 18) {
		sb_adds(&sb, "0");
		fe = 0;
		sb_adds(&sb, ".");
		for (size_t i = n; i < 18; i++)
			sb_addc(&sb, '0');
		sb_adds(&sb, dec);
	} else {
		sb_add(&sb, dec, n - 18);
		sb_adds(&sb, ".");
		sb_adds(&sb, dec + n - 18);
	}
	free(dec);
	r = sb_detach(&sb);
	/* Drop trailing zeros, then a bare point. */
	fe = strlen(r);
	while (fe > 0 && r[fe - 1] == '0')
		fe--;
	if (fe > 0 && r[fe - 1] == '.')
		fe--;
	r[fe] = '\0';
	return r;
}

/* The name of a well-known chain. */
const char *
jsonrpc_chain_name(uint64_t id)
{
	switch (id) {
	case 1:
		return "Ethereum mainnet";
	case 11155111:
		return "Sepolia";
	case 17000:
		return "Holesky";
	case 560048:
		return "Hoodi";
	case 1337:
		return "a local development chain";
	case 31337:
		return "a local Hardhat/Anvil chain";
	default:
		return NULL;
	}
}

/* "11155111 (Sepolia)" or "5 (0x5)". */
static char *
jsonrpc_chain_text(uint64_t id)
{
	const char *name = jsonrpc_chain_name(id);

	if (name != NULL)
		return xprintf("%llu (%s)", (unsigned long long)id, name);
	return xprintf("%llu (0x%llx)", (unsigned long long)id, (unsigned long long)id);
}

/* ---------------------------------------------------------------------------------------
 * Calls.
 */

/* Turn an HTTP failure into the call's reason. */
static char *
jsonrpc_http_reason(const struct http_response *hr)
{
	switch (hr->status) {
	case 401:
	case 403:
		return xprintf("HTTP %ld: the RPC provider refused the request (check the API key "
		    "in the RPC URL)", hr->status);
	case 429:
		return xstrdup("HTTP 429: the RPC provider is rate-limiting (never use a public "
		    "demo key)");
	default:
		break;
	}
	if (hr->error == HTTP_ERR_STATUS)
		return xstrdup(hr->reason);
	return xprintf("cannot reach the RPC URL: %s", hr->reason ? hr->reason : "error");
}

/* Read a JSON-RPC answer into res. */
static void
jsonrpc_read(struct jsonrpc_call *c, const struct http_response *hr)
{
	struct jsonrpc_result *res = &c->res;
	const char *end = NULL;
	cJSON *doc, *result, *err;
	char *core = NULL, *t;

	doc = cJSON_ParseWithLengthOpts(hr->body, hr->body_len, &end, false);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		char *why = NULL;

		if (jsonpath_assert(". exists", hr->body, hr->body_len, &why) == 1) {
			free(why);
			why = xstrdup("the answer is not a JSON object");
		}
		core = xprintf("the RPC URL did not answer JSON-RPC (%s)", why);
		free(why);
		goto out;
	}
	err = cJSON_GetObjectItemCaseSensitive(doc, "error");
	result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	if (err != NULL && !cJSON_IsNull(err)) {
		cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
		cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
		char *m;

		res->rpc_error = true;
		res->rpc_code = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;
		m = xstrndup(cJSON_IsString(msg) && msg->valuestring ? msg->valuestring :
		    "(no message)", JSONRPC_MAX_MESSAGE);
		for (char *q = m; *q != '\0'; q++) {
			if ((unsigned char)*q < 0x20)
				*q = ' ';
		}
		res->rpc_message = m;
		if (res->rpc_code == 429 || res->rpc_code == -32005)
			core = xprintf("RPC error %ld: %s: the RPC provider is rate-limiting (never "
			    "use a public demo key)", res->rpc_code, m);
		else
			core = xprintf("RPC error %ld: %s", res->rpc_code, m);
		goto out;
	}
	if (result == NULL) {
		core = xstrdup("the answer has neither a result nor an error");
		goto out;
	}
	t = cJSON_PrintUnformatted(result);
	res->result = xstrdup(t ? t : "null");
	cJSON_free(t);
	if (cJSON_IsString(result) && result->valuestring != NULL)
		res->value = xstrdup(result->valuestring);
	res->ok = true;
out:
	if (core != NULL)
		res->reason = xprintf("%s (%s at %s)", core, c->method, c->where);
	free(core);
	cJSON_Delete(doc);
}

/* The HTTP request of a call ended. */
static void
jsonrpc_http_done(void *data, struct http_req *req, const struct http_response *hr)
{
	struct jsonrpc_call *c = data;
	struct jsonrpc_result *res = &c->res;

	res->http_status = hr->status;
	res->duration_ms = hr->duration_ms;
	if (hr->error == HTTP_ERR_CANCELED)
		res->reason = xstrdup("canceled");
	else if (!hr->ok || hr->truncated) {
		char *core = hr->ok ? xstrdup("the answer is too large") : jsonrpc_http_reason(hr);

		res->reason = xprintf("%s (%s at %s)", core, c->method, c->where);
		free(core);
	} else
		jsonrpc_read(c, hr);
	/* Last touch: the callback may free c. */
	c->done(c->data, c, res);
}

/* Start a JSON-RPC call. */
struct jsonrpc_call *
jsonrpc_start(struct http *h, const char *url, const char *method, const char *params_json,
    unsigned timeout_ms, jsonrpc_done_cb done, void *data, char **cause)
{
	struct http_request rq;
	struct jsonrpc_call *c;
	cJSON *params = NULL;
	char *body, *p;

	if (url == NULL || *url == '\0') {
		set_cause(cause, "no RPC URL");
		return NULL;
	}
	if (method == NULL || *method == '\0') {
		set_cause(cause, "no JSON-RPC method");
		return NULL;
	}
	for (const char *q = method; *q != '\0'; q++) {
		if (!isalnum((unsigned char)*q) && *q != '_') {
			set_cause(cause, "bad JSON-RPC method name \"%s\"", method);
			return NULL;
		}
	}
	if (params_json != NULL) {
		params = cJSON_Parse(params_json);
		if (params == NULL || !cJSON_IsArray(params)) {
			cJSON_Delete(params);
			set_cause(cause, "the params of %s are not a JSON array", method);
			return NULL;
		}
	}
	p = params ? cJSON_PrintUnformatted(params) : NULL;
	cJSON_Delete(params);
	body = xprintf("{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\",\"params\":%s}",
	    jsonrpc_next_id++, method, p ? p : "[]");
	cJSON_free(p);

	c = xcalloc(1, sizeof *c);
	c->done = done;
	c->data = data;
	c->method = xstrdup(method);
	c->where = http_redact_url(url);
	memset(&rq, 0, sizeof rq);
	rq.method = "POST";
	rq.url = url;
	rq.body = body;
	rq.content_type = "application/json";
	rq.timeout_ms = timeout_ms ? timeout_ms : JSONRPC_DEFAULT_TIMEOUT_MS;
	rq.max_body = JSONRPC_MAX_ANSWER;
	c->req = http_start(h, &rq, jsonrpc_http_done, c, cause);
	free(body);
	if (c->req == NULL) {
		jsonrpc_free(&c);
		return NULL;
	}
	return c;
}

/* Stop a call. */
void
jsonrpc_cancel(struct jsonrpc_call *c)
{
	if (c != NULL && c->req != NULL)
		http_cancel(c->req);
}

/* Free a call. */
void
jsonrpc_free(struct jsonrpc_call **cp)
{
	struct jsonrpc_call *c = *cp;

	if (c == NULL)
		return;
	http_req_free(&c->req);
	free(c->method);
	free(c->where);
	free(c->res.reason);
	free(c->res.result);
	free(c->res.value);
	free(c->res.rpc_message);
	free(c);
	*cp = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Checks.
 */

static void jsonrpc_check_next(struct jsonrpc_check *k);

/* End the check and tell the caller (the last touch). */
static void
jsonrpc_check_end(struct jsonrpc_check *k)
{
	k->stage = STAGE_DONE;
	k->res.duration_ms = now_ms() - k->started;
	k->done(k->cbdata, k, &k->res);
}

/* End the check with a failure. */
static void
jsonrpc_check_fail(struct jsonrpc_check *k, char *reason)
{
	k->res.ok = false;
	free(k->res.reason);
	k->res.reason = reason;
	jsonrpc_check_end(k);
}

/* True if a hex data string is empty ("0x", "0x0"). */
static bool
jsonrpc_empty_code(const char *v)
{
	if (v == NULL || strncasecmp(v, "0x", 2) != 0)
		return true;
	v += 2;
	while (*v == '0')
		v++;
	return *v == '\0';
}

/* Judge the answer of the main call. */
static void
jsonrpc_check_judge(struct jsonrpc_check *k, const struct jsonrpc_result *r)
{
	struct jsonrpc_u256 bal;
	char *chain = jsonrpc_chain_text(k->res.chain_id), *have, *want;

	switch (k->kind) {
	case JSONRPC_CODE:
		if (r->value == NULL || jsonrpc_empty_code(r->value)) {
			free(k->res.value);
			k->res.value = xstrdup("0x");
			jsonrpc_check_fail(k, xprintf("no contract at %s on chain %s", k->address,
			    chain));
			break;
		}
		k->res.value = xstrdup(r->value);
		k->res.ok = true;
		jsonrpc_check_end(k);
		break;
	case JSONRPC_BALANCE:
		if (r->value == NULL || jsonrpc_u256_from_hex(&bal, r->value) != 0) {
			jsonrpc_check_fail(k, xprintf("eth_getBalance answered %s, not a quantity",
			    r->result));
			break;
		}
		k->res.value = jsonrpc_u256_dec(&bal);
		if (jsonrpc_u256_cmp(&bal, &k->min_wei) >= 0) {
			k->res.ok = true;
			jsonrpc_check_end(k);
			break;
		}
		have = jsonrpc_wei_to_ether(&bal);
		want = jsonrpc_wei_to_ether(&k->min_wei);
		jsonrpc_check_fail(k, xprintf("balance of %s is %s ETH, wanted at least %s ETH "
		    "(chain %s)", k->address, have, want, chain));
		free(have);
		free(want);
		break;
	case JSONRPC_CALL:
		if (r->value == NULL) {
			jsonrpc_check_fail(k, xprintf("eth_call to %s answered %s, not hex data",
			    k->address, r->result));
			break;
		}
		k->res.value = xstrdup(r->value);
		if (k->expect != NULL && strcasecmp(k->expect, r->value) != 0) {
			jsonrpc_check_fail(k, xprintf("eth_call to %s returned %.80s%s, wanted %.80s%s",
			    k->address, r->value, strlen(r->value) > 80 ? "..." : "", k->expect,
			    strlen(k->expect) > 80 ? "..." : ""));
			break;
		}
		k->res.ok = true;
		jsonrpc_check_end(k);
		break;
	default:
		k->res.ok = true;
		jsonrpc_check_end(k);
		break;
	}
	free(chain);
}

/* A call of the check ended. */
static void
jsonrpc_check_call_done(void *data, struct jsonrpc_call *call, const struct jsonrpc_result *r)
{
	struct jsonrpc_check *k = data;
	struct jsonrpc_u256 id;
	char *reason;

	if (!r->ok) {
		k->res.canceled = strcmp(r->reason, "canceled") == 0;
		reason = xstrdup(r->reason);
		jsonrpc_free(&k->call);
		jsonrpc_check_fail(k, reason);
		return;
	}
	if (k->stage == STAGE_CHAIN) {
		bool fits = r->value != NULL && jsonrpc_u256_from_hex(&id, r->value) == 0;

		for (int i = 2; fits && i < 8; i++)
			fits = id.w[i] == 0;
		if (!fits) {
			reason = xprintf("eth_chainId answered %s, not a chain id", r->result);
			jsonrpc_free(&k->call);
			jsonrpc_check_fail(k, reason);
			return;
		}
		k->res.chain_id = ((uint64_t)id.w[1] << 32) | id.w[0];
		jsonrpc_free(&k->call);
		if (k->want_chain != 0 && k->res.chain_id != k->want_chain) {
			char *have = jsonrpc_chain_text(k->res.chain_id);
			char *want = jsonrpc_chain_text(k->want_chain);

			if (k->kind == JSONRPC_CHAIN_ID)
				k->res.value = xprintf("%llu", (unsigned long long)k->res.chain_id);
			jsonrpc_check_fail(k, xprintf("wrong chain: the RPC URL serves chain %s, wanted "
			    "%s", have, want));
			free(have);
			free(want);
			return;
		}
		if (k->kind == JSONRPC_CHAIN_ID) {
			k->res.value = xprintf("%llu", (unsigned long long)k->res.chain_id);
			k->res.ok = true;
			jsonrpc_check_end(k);
			return;
		}
		k->stage = STAGE_MAIN;
		jsonrpc_check_next(k);
		return;
	}
	/* The call (and r) stays until the check is freed: the judge ends the check, and
	 * its callback may free k. */
	(void)call;
	jsonrpc_check_judge(k, r);
}

/* Start the call of the current stage; false with *cause if it cannot start. */
static bool
jsonrpc_check_call(struct jsonrpc_check *k, char **cause)
{
	char *params = NULL;
	const char *method;

	switch (k->stage == STAGE_CHAIN ? JSONRPC_CHAIN_ID : k->kind) {
	case JSONRPC_CHAIN_ID:
		method = "eth_chainId";
		break;
	case JSONRPC_CODE:
		method = "eth_getCode";
		params = xprintf("[\"%s\",\"latest\"]", k->address);
		break;
	case JSONRPC_BALANCE:
		method = "eth_getBalance";
		params = xprintf("[\"%s\",\"latest\"]", k->address);
		break;
	case JSONRPC_CALL:
	default:
		method = "eth_call";
		params = xprintf("[{\"to\":\"%s\",\"data\":\"%s\"},\"latest\"]", k->address,
		    k->data_hex);
		break;
	}
	k->call = jsonrpc_start(k->h, k->url, method, params, k->timeout_ms,
	    jsonrpc_check_call_done, k, cause);
	free(params);
	return k->call != NULL;
}

/* Go on with the main call, from the chain call's callback. */
static void
jsonrpc_check_next(struct jsonrpc_check *k)
{
	char *cause = NULL;

	if (!jsonrpc_check_call(k, &cause))
		jsonrpc_check_fail(k, cause);
}

/* True if s is 0x followed by an even number of hex digits (at least min_digits). */
static bool
jsonrpc_hexdata(const char *s, size_t min_digits, size_t max_digits)
{
	size_t n;

	if (s == NULL || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	for (n = 0; s[2 + n] != '\0'; n++) {
		if (hex_digit((unsigned char)s[2 + n]) < 0)
			return false;
	}
	return n >= min_digits && n <= max_digits && n % 2 == 0;
}

/* Free a check. */
void
jsonrpc_check_free(struct jsonrpc_check **chkp)
{
	struct jsonrpc_check *k = *chkp;

	if (k == NULL)
		return;
	jsonrpc_free(&k->call);
	free(k->url);
	free(k->address);
	free(k->min_eth);
	free(k->data_hex);
	free(k->expect);
	free(k->res.reason);
	free(k->res.value);
	free(k);
	*chkp = NULL;
}

/* Start a check. */
struct jsonrpc_check *
jsonrpc_check_start(struct http *h, const struct jsonrpc_check_req *rq, jsonrpc_check_cb done,
    void *data, char **cause)
{
	struct jsonrpc_check *k;

	if (rq->url == NULL || *rq->url == '\0') {
		set_cause(cause, "no RPC URL");
		return NULL;
	}
	if (rq->kind == JSONRPC_CHAIN_ID && rq->chain_id == 0) {
		set_cause(cause, "no chain id to check");
		return NULL;
	}
	if (rq->kind != JSONRPC_CHAIN_ID && !jsonrpc_hexdata(rq->address, 40, 40)) {
		set_cause(cause, "bad address \"%s\" (wanted 0x and 40 hex digits)",
		    rq->address ? rq->address : "");
		return NULL;
	}
	if (rq->kind == JSONRPC_CALL && !jsonrpc_hexdata(rq->data, 0, 1u << 20)) {
		set_cause(cause, "bad call data (wanted 0x and an even number of hex digits)");
		return NULL;
	}
	if (rq->kind == JSONRPC_CALL && rq->expect != NULL &&
	    !jsonrpc_hexdata(rq->expect, 0, 1u << 20)) {
		set_cause(cause, "bad expected result (wanted 0x and hex digits)");
		return NULL;
	}

	k = xcalloc(1, sizeof *k);
	if (rq->kind == JSONRPC_BALANCE &&
	    jsonrpc_u256_from_ether(&k->min_wei, rq->min_eth, cause) != 0) {
		free(k);
		return NULL;
	}
	k->h = h;
	k->kind = rq->kind;
	k->url = xstrdup(rq->url);
	k->want_chain = rq->chain_id;
	if (rq->kind != JSONRPC_CHAIN_ID) {
		k->address = xstrdup(rq->address);
		for (char *q = k->address; *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
	}
	k->min_eth = xstrdup(rq->min_eth);
	k->data_hex = xstrdup(rq->data);
	k->expect = xstrdup(rq->expect);
	k->timeout_ms = rq->timeout_ms;
	k->done = done;
	k->cbdata = data;
	k->started = now_ms();
	k->stage = STAGE_CHAIN;
	if (!jsonrpc_check_call(k, cause)) {
		jsonrpc_check_free(&k);
		return NULL;
	}
	return k;
}

/* Stop a check: its callback comes, from the loop, with canceled set. */
void
jsonrpc_check_cancel(struct jsonrpc_check *k)
{
	if (k != NULL && k->stage != STAGE_DONE && k->call != NULL)
		jsonrpc_cancel(k->call);
}
