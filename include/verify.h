/*
 * verify.h: extra verifications of input values that need the network (an input's
 * `verify:` in the chain). Today one: contract_code, the address must hold code on the chain
 * the RPC URL serves (eth_getCode). Checks run in the loop; their verdicts are kept per
 * (address, RPC URL) so that the gate (engine_blockers, synchronous) can read them at once.
 */
#ifndef DW_VERIFY_H
#define DW_VERIFY_H

#include <stdbool.h>

struct http;
struct verify;

/* The input a `verify: contract_code` asks the chain through (the chain loader insists). */
#define VERIFY_RPC_INPUT "eth_rpc_url"

enum verify_state {
	VERIFY_OK,         /* code is there */
	VERIFY_PENDING,    /* a check is running */
	VERIFY_FAILED,     /* *why says why: "no contract at this address on chain 11155111" */
};

struct verify *verify_new(struct http *h);
void verify_free(struct verify **vp);
/*
 * The verdict for address (0x + 40 hex) on rpc_url; starts a check when there is none yet.
 * *why (when failed) is valid until the next call. The URL (a secret) is only kept in memory.
 */
enum verify_state verify_contract(struct verify *v, const char *address, const char *rpc_url,
    const char **why);
/* Is any check still running? */
bool verify_pending(const struct verify *v);
/* Call fn(data) whenever a verdict arrives (a gate may open or close): the UI redraws. */
void verify_on_verdict(struct verify *v, void (*fn)(void *data), void *data);
/* Forget every verdict (e.g. after the contract was deployed): the next look-up checks again. */
void verify_forget(struct verify *v);

#endif
