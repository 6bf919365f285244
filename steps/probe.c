/*
 * probe.c: HTTP, TCP and JSON-RPC probes as runner jobs. A probe job prints what it saw, so
 * the log shows the evidence and captures and hints can match it, then judges: the HTTP
 * status, each JSON assertion, the body regex, the RPC check. The first failure is the
 * job's end message; the runner shows it as the command's reason.
 */
#include "config.h"

#include "probe.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jsonpath.h"
#include "jsonrpc.h"
#include "loop.h"
#include "rx.h"
#include "util.h"

#define PROBE_BODY_LINES 200     /* body lines printed to the log at most */

struct probe_t {
	struct probe p;
	struct http *http;
	char *connect_to;
	char *ca_file;
};

struct tjob {
	struct probe_t *pt;
	struct loop *loop;
	struct tjob_cbs cbs;
	struct http_req *req;
	struct jsonrpc_check *chk;
	uint64_t timer;
	bool ended;
};

static void
emit(struct tjob *j, int stream, const char *text)
{
	if (j->cbs.output)
		j->cbs.output(j->cbs.data, stream, text, strlen(text));
}

static void
emitf(struct tjob *j, int stream, const char *fmt, ...) DW_PRINTF(3, 4);

static void
emitf(struct tjob *j, int stream, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	emit(j, stream, s);
	free(s);
}

/* End the job: exit 0, or 1 with the reason. */
static void
finish(struct tjob *j, const char *reason)
{
	if (j->ended)
		return;
	j->ended = true;
	if (reason != NULL)    /* as output too: hints match output lines */
		emitf(j, STREAM_ERR, "%s\n", reason);
	if (j->cbs.end)
		j->cbs.end(j->cbs.data, TJOB_EXITED, reason ? 1 : 0, reason);
}

/* Judge a JSON document against the probe's assertions; the first failure, or NULL. */
static char *
judge_json(struct tjob *j, const char *json, size_t len)
{
	char *first = NULL;

	for (size_t i = 0; i < j->pt->p.njson; i++) {
		char *why = NULL;
		int r = jsonpath_assert(j->pt->p.json[i], json, len, &why);

		if (r == 1)
			emitf(j, STREAM_OUT, "holds: %s\n", j->pt->p.json[i]);
		else {
			emitf(j, STREAM_ERR, "fails: %s: %s\n", j->pt->p.json[i], why ? why : "");
			if (first == NULL)
				first = xprintf("%s", why ? why : j->pt->p.json[i]);
		}
		free(why);
	}
	return first;
}

/* Print a body, at most PROBE_BODY_LINES lines. */
static void
emit_body(struct tjob *j, const char *body, size_t len)
{
	size_t lines = 0, i = 0;

	while (i < len && lines < PROBE_BODY_LINES) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - body - i) : len - i;

		if (j->cbs.output) {
			j->cbs.output(j->cbs.data, STREAM_OUT, body + i, n);
			j->cbs.output(j->cbs.data, STREAM_OUT, "\n", 1);
		}
		i += n + 1;
		lines++;
	}
	if (i < len)
		emitf(j, STREAM_OUT, "... (%zu more bytes of body not shown)\n", len - i);
}

static void
http_done(void *data, struct http_req *req, const struct http_response *res)
{
	struct tjob *j = data;
	const struct probe *p = &j->pt->p;
	char *why = NULL;

	if (res->status != 0)
		emitf(j, STREAM_OUT, "HTTP %ld (%llu ms)\n", res->status,
		    (unsigned long long)res->duration_ms);
	for (size_t i = 0; i < res->nheaders; i++)
		emitf(j, STREAM_OUT, "%s: %s\n", res->headers[i].name, res->headers[i].value);
	emit_body(j, res->body, res->body_len);
	if (!res->ok) {
		finish(j, res->reason ? res->reason : "request failed");
		return;
	}
	if (p->kind == PROBE_TCP) {
		emitf(j, STREAM_OUT, "connected to %s (%llu ms)\n", p->target,
		    (unsigned long long)res->duration_ms);
		finish(j, NULL);
		return;
	}
	why = judge_json(j, res->body, res->body_len);
	if (why == NULL && p->body_match != NULL) {
		char *bad = NULL;
		struct rx *re = rx_new(p->body_match, RX_LINES, &bad);
		int m;

		if (re == NULL)
			why = xprintf("body_match /%s/ does not compile: %s", p->body_match, bad);
		else if ((m = rx_match(re, res->body, res->body_len, NULL, NULL)) == 0)
			why = xprintf("body did not match /%s/", p->body_match);
		else if (m < 0)
			why = xprintf("matching the body against /%s/ took too long (the regex "
			    "backtracks too much)", p->body_match);
		rx_free(&re);
		free(bad);
	}
	finish(j, why);
	free(why);
}

static void
rpc_done(void *data, struct jsonrpc_check *chk, const struct jsonrpc_check_result *res)
{
	struct tjob *j = data;
	char *why = NULL;

	if (res->chain_id != 0)
		emitf(j, STREAM_OUT, "chain %llu%s%s%s\n", (unsigned long long)res->chain_id,
		    jsonrpc_chain_name(res->chain_id) ? " (" : "",
		    jsonrpc_chain_name(res->chain_id) ? jsonrpc_chain_name(res->chain_id) : "",
		    jsonrpc_chain_name(res->chain_id) ? ")" : "");
	if (res->value != NULL)
		emitf(j, STREAM_OUT, "%s: %.200s%s\n", j->pt->p.call, res->value,
		    strlen(res->value) > 200 ? "..." : "");
	if (!res->ok) {
		finish(j, res->reason ? res->reason : "the RPC check failed");
		return;
	}
	if (j->pt->p.njson > 0) {
		char *doc = xprintf("{\"result\":\"%s\"}", res->value ? res->value : "");

		why = judge_json(j, doc, strlen(doc));
		free(doc);
	}
	finish(j, why);
	free(why);
}

/* Split "host:port" (or "[v6]:port"). */
static int
split_target(const char *t, char **host, unsigned *port)
{
	const char *colon = strrchr(t, ':');
	char *end;
	unsigned long v;

	if (colon == NULL || colon == t)
		return -1;
	v = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	if (t[0] == '[' && colon[-1] == ']')
		*host = xstrndup(t + 1, (size_t)(colon - t - 2));
	else
		*host = xstrndup(t, (size_t)(colon - t));
	return 0;
}

static const char *const *
strs0(char **v, size_t n, const char **buf, size_t cap)
{
	size_t k;

	if (n == 0)
		return NULL;
	for (k = 0; k < n && k + 1 < cap; k++)
		buf[k] = v[k];
	buf[k] = NULL;
	return buf;
}

/* Start a probe job. */
static struct tjob *
probe_start(void *tdata, struct loop *l, const struct transport_cmd *cmd,
    const struct tjob_cbs *cbs, char **cause)
{
	struct probe_t *pt = tdata;
	const struct probe *p = &pt->p;
	struct tjob *j = xcalloc(1, sizeof *j);
	const char *hb[33], *rb[33], *cb[33];

	j->pt = pt;
	j->loop = l;
	j->cbs = *cbs;
	switch (p->kind) {
	case PROBE_HTTP: {
		struct http_request rq = {0};

		rq.method = p->method;
		rq.url = p->url;
		rq.headers = strs0(p->headers, p->nheaders, hb, nitems(hb));
		rq.body = p->body;
		rq.insecure = p->insecure;
		if (!p->insecure && pt->ca_file != NULL && str_has_prefix(p->url, "https:"))
			rq.ca_file = pt->ca_file;
		rq.resolve = strs0(p->resolve, p->nresolve, rb, nitems(rb));
		rq.connect_to = pt->connect_to;
		rq.capture_headers = strs0(p->capture_headers, p->ncapture_headers, cb, nitems(cb));
		rq.expect_status = p->status;
		rq.timeout_ms = 24 * 3600 * 1000u;    /* the runner's timeout rules */
		j->req = http_start(pt->http, &rq, http_done, j, cause);
		if (j->req == NULL)
			goto fail;
		break;
	}
	case PROBE_TCP: {
		char *host;
		unsigned port;

		if (split_target(p->target, &host, &port) != 0) {
			set_cause(cause, "tcp: '%s' is not host:port", p->target);
			goto fail;
		}
		j->req = http_connect_start(pt->http, host, port, 0, NULL, http_done, j, cause);
		free(host);
		if (j->req == NULL)
			goto fail;
		break;
	}
	case PROBE_RPC: {
		struct jsonrpc_check_req rq = {0};

		if (strcmp(p->call, "chain_id") == 0)
			rq.kind = JSONRPC_CHAIN_ID;
		else if (strcmp(p->call, "code") == 0)
			rq.kind = JSONRPC_CODE;
		else if (strcmp(p->call, "balance") == 0)
			rq.kind = JSONRPC_BALANCE;
		else
			rq.kind = JSONRPC_CALL;
		rq.url = p->url;
		rq.chain_id = p->chain_id ? strtoull(p->chain_id, NULL, 10) : 0;
		rq.address = p->address;
		rq.min_eth = p->min_eth;
		rq.data = p->data;
		j->chk = jsonrpc_check_start(pt->http, &rq, rpc_done, j, cause);
		if (j->chk == NULL)
			goto fail;
		break;
	}
	default:
		set_cause(cause, "not a probe");
		goto fail;
	}
	return j;
fail:
	free(j);
	return NULL;
}

/* Cancel: the request ends with "canceled" from the loop. */
static void
probe_cancel(struct tjob *j, unsigned grace_ms)
{
	if (j->req)
		http_cancel(j->req);
	if (j->chk)
		jsonrpc_check_cancel(j->chk);
}

static void
probe_job_free(struct tjob *j)
{
	if (j == NULL)
		return;
	if (j->req)
		http_req_free(&j->req);
	if (j->chk)
		jsonrpc_check_free(&j->chk);
	free(j);
}

const struct transport_ops transport_probe_ops = {
	.name = "probe",
	.start = probe_start,
	.cancel = probe_cancel,
	.free = probe_job_free,
};

struct transport *
probe_transport_new(struct probe *p, struct http *h, const char *connect_to, const char *ca_file)
{
	struct transport *t = xcalloc(1, sizeof *t);
	struct probe_t *pt = xcalloc(1, sizeof *pt);

	pt->p = *p;
	memset(p, 0, sizeof *p);
	pt->http = h;
	pt->connect_to = xstrdup(connect_to);
	pt->ca_file = xstrdup(ca_file);
	t->ops = &transport_probe_ops;
	t->data = pt;
	return t;
}

void
probe_transport_free(struct transport **tp)
{
	struct transport *t = *tp;
	struct probe_t *pt;

	if (t == NULL)
		return;
	pt = t->data;
	probe_clear(&pt->p);
	free(pt->connect_to);
	free(pt->ca_file);
	free(pt);
	free(t);
	*tp = NULL;
}

bool
transport_is_probe(const struct transport *t)
{
	return t != NULL && t->ops == &transport_probe_ops;
}

/* One line saying what the probe does. */
char *
probe_describe(const struct probe *p)
{
	struct strbuf sb = {0};

	switch (p->kind) {
	case PROBE_HTTP:
		sb_addf(&sb, "%s %s", p->method ? p->method : p->body ? "POST" : "GET", p->url);
		if (p->status)
			sb_addf(&sb, " (expect %d)", p->status);
		for (size_t i = 0; i < p->njson; i++)
			sb_addf(&sb, "%s %s", i ? "," : " ->", p->json[i]);
		if (p->body_match)
			sb_addf(&sb, " body =~ /%s/", p->body_match);
		break;
	case PROBE_TCP:
		sb_addf(&sb, "connect to %s", p->target);
		break;
	case PROBE_RPC:
		sb_addf(&sb, "JSON-RPC %s", p->call);
		if (p->address)
			sb_addf(&sb, " of %s", p->address);
		if (p->min_eth)
			sb_addf(&sb, " >= %s ETH", p->min_eth);
		if (p->chain_id)
			sb_addf(&sb, " == %s", p->chain_id);
		sb_addf(&sb, " at %s", p->url);
		break;
	default:
		sb_adds(&sb, "?");
	}
	return sb_detach(&sb);
}
