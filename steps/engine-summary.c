/*
 * engine-summary.c: what the chain built and where to reach it, for the finish screen and
 * `summary`. Every value is made from the profile's inputs and captured values (never typed
 * again here, never a secret): the KMS's RPC and auth-api, the contracts (with their Sepolia
 * explorer page), the gateway's RPC and app URLs, the hello-world app, and the attestation
 * verdict; each with the step that builds it and whether that step is done.
 */
#include "config.h"

#include "engine.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"
#include "util.h"

#define EXPLORER "https://sepolia.etherscan.io/address/"

/* The items, in the order they are shown: key, label, step, template, explorer link, note. */
static const struct {
	const char *key, *label, *step, *tmpl;
	bool link;
	const char *note;
} summary_items[] = {
	{ "kms_rpc_url", "KMS RPC", "kms-cvm-deployment", "https://${kms_domain}:${kms_rpc_port}",
	    false, NULL },
	{ "kms_auth_api_url", "KMS auth-api", "kms-cvm-deployment",
	    "http://127.0.0.1:${auth_api_port}/", false, "on the server only (loopback)" },
	{ "kms_contract", "DstackKms contract", "contract-deploy", "${kms_contract_address}", true,
	    NULL },
	{ "app_implementation", "DstackApp implementation", "contract-deploy",
	    "${app_implementation}", true, NULL },
	{ "gateway_app", "Gateway app (DstackApp)", "gateway-build-configuration",
	    "${gateway_app_id}", true, NULL },
	{ "gateway_rpc_url", "Gateway RPC", "gateway-service", "https://${gateway_rpc_domain}:9202",
	    false, NULL },
	{ "gateway_app_urls", "Gateway app URLs", "gateway-service",
	    "https://<app id>.${base_domain}:9204/", false,
	    "an app's id in lower-case hex, without 0x" },
	{ "hello_app", "Hello-world app (DstackApp)", "hello-world-app", "${hello_app_id}", true,
	    NULL },
	{ "hello_url", "Hello-world app URL", "hello-world-app", NULL, false, NULL },
};

/* The hello-world app's URL through the gateway: its id in lower case, without 0x. */
static char *
summary_hello_url(const struct engine *e)
{
	bool missing = false;
	char *id = expand(e, "${hello_app_id}", EXPAND_MASK, 0, &missing), *dom, *url = NULL;
	const char *p = id;

	dom = expand(e, "${base_domain}", EXPAND_MASK, 0, &missing);
	if (!missing && strstr(id, "${") == NULL && strstr(dom, "${") == NULL) {
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		url = xprintf("https://%s.%s:9204/", p, dom);
		for (char *q = url + 8; *q != '.'; q++)
			*q = (char)tolower((unsigned char)*q);
	}
	free(dom);
	free(id);
	return url;
}

/* The attestation verdict, in words, from the last step's status. */
static char *
summary_verdict(const struct engine *e, int s)
{
	const struct state_step *ss;
	char t[32];

	if (s < 0)
		return NULL;
	ss = engine_step_state(e, (size_t)s);
	switch (engine_status(e, (size_t)s)) {
	case ST_DONE:
		return xprintf("verified: the app's measurements replay and the KMS's quote "
		    "verifies (%s)", ss != NULL && ss->done_at != 0 ?
		    iso_time(ss->done_at, t, sizeof t) : "done");
	case ST_FAILED:
		return xprintf("failed: %s", ss != NULL && ss->message != NULL ? ss->message :
		    "its check failed");
	case ST_STALE:
		return xstrdup("stale: verified once, then something it depends on changed");
	default:
		return xstrdup("not verified yet");
	}
}

/* What the chain built, as items (see engine.h); returns their number. */
size_t
engine_summary(const struct engine *e, struct summary_item **out)
{
	size_t n = 0;
	struct summary_item *it = xcalloc(nitems(summary_items) + 1, sizeof *it);
	int att = chain_step_index(e->chain, "attestation-verification");

	for (size_t i = 0; i < nitems(summary_items); i++) {
		int s = chain_step_index(e->chain, summary_items[i].step);
		bool missing = false;
		char *v;

		if (s < 0)
			continue;
		if (summary_items[i].tmpl == NULL)
			v = summary_hello_url(e);
		else {
			v = expand(e, summary_items[i].tmpl, EXPAND_MASK, 0, &missing);
			if (missing || strstr(v, "${") != NULL || strstr(v, "****") != NULL)
				freep(&v);
		}
		it[n].key = summary_items[i].key;
		it[n].label = summary_items[i].label;
		it[n].step = (size_t)s;
		it[n].done = engine_status(e, (size_t)s) == ST_DONE;
		it[n].value = v;
		it[n].note = summary_items[i].note;
		if (summary_items[i].link && v != NULL && !engine_is_demo(e))
			it[n].link = xprintf(EXPLORER "%s", v);
		n++;
	}
	if (att >= 0) {
		it[n].key = "attestation";
		it[n].label = "Attestation";
		it[n].step = (size_t)att;
		it[n].done = engine_status(e, (size_t)att) == ST_DONE;
		it[n].value = summary_verdict(e, att);
		n++;
	}
	*out = it;
	return n;
}

void
summary_items_free(struct summary_item **itp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((*itp)[i].value);
		free((*itp)[i].link);
	}
	free(*itp);
	*itp = NULL;
}

/* What to do next, one sentence each, into sv: the next step when some are not done; else
 * how to use what was built. */
void
engine_next_steps(const struct engine *e, struct strvec *sv)
{
	size_t left = 0, first = SIZE_MAX;
	char *url = summary_hello_url(e);

	for (size_t s = 0; s < e->chain->nsteps; s++)
		if (engine_status(e, s) != ST_DONE) {
			left++;
			if (first == SIZE_MAX)
				first = s;
		}
	if (left > 0)
		sv_push_take(sv, xprintf("%zu step%s not done yet; the next is %s (%s).", left,
		    left == 1 ? " is" : "s are", e->chain->steps[first].id,
		    e->chain->steps[first].title));
	if (left == 0 && url != NULL)
		sv_push_take(sv, xprintf("Open %s: the page is served by an attested CVM, through the "
		    "gateway.", url));
	if (left == 0) {
		sv_push_take(sv, xstrdup("Deploy your own app as hello-world-app did: register it on "
		    "chain (kms:create-app, app:add-hash), then vmm-cli.py compose and deploy with "
		    "--kms --gateway."));
		sv_push_take(sv, xstrdup("Back up the KMS CVM's disk: it holds the keys of the "
		    "bootstrapped KMS; never remove that VM."));
	}
	sv_push_take(sv, xstrdup("dstack-wizard report writes the deployment log; bundle packs it "
	    "for support, secrets taken out."));
	free(url);
}
