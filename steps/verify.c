/*
 * verify.c: the network verifications of input values (verify.h). A verdict is kept per
 * (address, RPC URL): the address lower-cased, the URL (a secret, it usually carries an API
 * key) held in memory only and wiped when forgotten. A failure to reach the RPC endpoint is a
 * failed verdict too (the gate stays shut, saying why), not a pass. A failed verdict is asked
 * again after VERIFY_RETRY_MS; a good one is kept.
 */
#include "config.h"

#include "verify.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "util.h"

#define VERIFY_TIMEOUT_MS 10000u
#define VERIFY_RETRY_MS 30000u     /* a failed verdict is checked again after this */

struct verdict_entry {
	struct verify *v;
	char *address;             /* lower case */
	char *url;                 /* secret: wiped */
	enum verify_state state;
	uint64_t at;               /* when the verdict came */
	char *why;
	struct jsonrpc_check *chk;
};

struct verify {
	struct http *h;
	struct verdict_entry **e;
	size_t n;
	void (*on_verdict)(void *data);
	void *data;
};

/* Create the cache. */
struct verify *
verify_new(struct http *h)
{
	struct verify *v = xcalloc(1, sizeof *v);

	v->h = h;
	return v;
}

/* Free one entry (its check stopped without a callback). */
static void
verify_entry_free(struct verdict_entry *en)
{
	jsonrpc_check_free(&en->chk);
	secret_free(&en->url);
	free(en->address);
	free(en->why);
	free(en);
}

/* Forget every verdict. */
void
verify_forget(struct verify *v)
{
	for (size_t i = 0; i < v->n; i++)
		verify_entry_free(v->e[i]);
	free(v->e);
	v->e = NULL;
	v->n = 0;
}

void
verify_free(struct verify **vp)
{
	if (*vp == NULL)
		return;
	verify_forget(*vp);
	free(*vp);
	*vp = NULL;
}

void
verify_on_verdict(struct verify *v, void (*fn)(void *data), void *data)
{
	v->on_verdict = fn;
	v->data = data;
}

/* A check ended: keep its verdict. */
static void
verify_done(void *data, struct jsonrpc_check *chk, const struct jsonrpc_check_result *res)
{
	struct verdict_entry *en = data;

	free(en->why);
	en->why = NULL;
	en->at = now_ms();
	if (res->ok)
		en->state = VERIFY_OK;
	else {
		en->state = VERIFY_FAILED;
		if (res->value != NULL && strcmp(res->value, "0x") == 0 && res->chain_id != 0)
			en->why = xprintf("no contract at this address on chain %" PRIu64,
			    res->chain_id);
		else
			en->why = xprintf("cannot check for contract code at this address: %s",
			    res->reason != NULL ? res->reason : "the RPC call failed");
	}
	jsonrpc_check_free(&chk);
	en->chk = NULL;
	if (en->v->on_verdict != NULL)
		en->v->on_verdict(en->v->data);
}

/* The verdict for address on rpc_url. */
enum verify_state
verify_contract(struct verify *v, const char *address, const char *rpc_url, const char **why)
{
	struct jsonrpc_check_req rq = {0};
	struct verdict_entry *en;
	char *addr = xstrdup(address), *cause = NULL;

	*why = NULL;
	for (char *p = addr; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < v->n; i++) {
		en = v->e[i];
		if (strcmp(en->address, addr) == 0 && strcmp(en->url, rpc_url) == 0) {
			if (en->state == VERIFY_FAILED && now_ms() - en->at > VERIFY_RETRY_MS) {
				/* The node may answer now, or the contract be deployed: ask again. */
				verify_entry_free(en);
				v->e[i] = v->e[--v->n];
				break;
			}
			free(addr);
			*why = en->why;
			return en->state;
		}
	}
	en = xcalloc(1, sizeof *en);
	en->v = v;
	en->address = addr;
	en->url = xstrdup(rpc_url);
	en->state = VERIFY_PENDING;
	v->e = xreallocarray(v->e, v->n + 1, sizeof *v->e);
	v->e[v->n++] = en;
	rq.kind = JSONRPC_CODE;
	rq.url = rpc_url;
	rq.address = address;
	rq.timeout_ms = VERIFY_TIMEOUT_MS;
	en->chk = jsonrpc_check_start(v->h, &rq, verify_done, en, &cause);
	if (en->chk == NULL) {
		en->state = VERIFY_FAILED;
		en->at = now_ms();
		en->why = xprintf("cannot check for contract code at this address: %s", cause);
		free(cause);
	}
	*why = en->why;
	return en->state;
}

/* Is any check still running? */
bool
verify_pending(const struct verify *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (v->e[i]->state == VERIFY_PENDING)
			return true;
	}
	return false;
}
