/*
 * jsonrpc.h: Ethereum JSON-RPC over http.h, in the loop: single calls, and the checks the
 * chain's steps make of an RPC endpoint (chain id, code at an address, a balance threshold,
 * eth_call).
 *
 * The RPC URL usually holds an API key: it appears in reasons only in its redacted form.
 * HTTP refusals get clear reasons ("HTTP 429: the RPC provider is rate-limiting (never use a
 * public demo key)"), and so do JSON-RPC error objects ("RPC error -32601: ...").
 *
 * Quantities are compared exactly, in wei, with 256-bit integers (struct jsonrpc_u256); a
 * threshold in ETH is a decimal string ("0.05"), never a floating-point number.
 */
#ifndef DW_JSONRPC_H
#define DW_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http;
struct jsonrpc_call;
struct jsonrpc_check;

#define JSONRPC_DEFAULT_TIMEOUT_MS 15000u
#define JSONRPC_SEPOLIA 11155111u   /* 0xaa36a7 */

/* The outcome of one call. Valid until the call is freed. */
struct jsonrpc_result {
	bool ok;                 /* a "result" came */
	char *reason;            /* when !ok: one line, the URL redacted */
	char *result;            /* the "result" member as compact JSON (ok only) */
	char *value;             /* the result when it is a JSON string ("0xaa36a7"); else NULL */
	long http_status;        /* 0 if no HTTP answer */
	bool rpc_error;          /* an "error" object came */
	long rpc_code;
	char *rpc_message;       /* the error's message (cut to 200 characters) */
	uint64_t duration_ms;
};

typedef void (*jsonrpc_done_cb)(void *data, struct jsonrpc_call *call,
    const struct jsonrpc_result *res);

/*
 * Call method with params_json (a JSON array text; NULL: []) on url. Returns NULL and sets
 * *cause if the params are not a JSON array or the URL is unusable. done runs once, from the
 * loop; it may free the call.
 */
struct jsonrpc_call *jsonrpc_start(struct http *h, const char *url, const char *method,
    const char *params_json, unsigned timeout_ms, jsonrpc_done_cb done, void *data,
    char **cause);
/* Stop a call: done comes (from the loop) with reason "canceled". */
void jsonrpc_cancel(struct jsonrpc_call *c);
/* Free a call; one still running is stopped without a callback. */
void jsonrpc_free(struct jsonrpc_call **cp);

/* What a check verifies. */
enum jsonrpc_check_kind {
	JSONRPC_CHAIN_ID,        /* eth_chainId equals chain_id */
	JSONRPC_CODE,            /* eth_getCode(address) is not empty */
	JSONRPC_BALANCE,         /* eth_getBalance(address) >= min_eth */
	JSONRPC_CALL,            /* eth_call(address, data) succeeds (and equals expect) */
};

struct jsonrpc_check_req {
	enum jsonrpc_check_kind kind;
	const char *url;
	uint64_t chain_id;       /* the chain wanted; 0: any (JSONRPC_CHAIN_ID needs one) */
	const char *address;     /* 0x + 40 hex digits (any case) */
	const char *min_eth;     /* JSONRPC_BALANCE: decimal ETH, e.g. "0.05" */
	const char *data;        /* JSONRPC_CALL: calldata, 0x + hex */
	const char *expect;      /* JSONRPC_CALL: wanted result, 0x + hex (any case); NULL: any */
	unsigned timeout_ms;     /* per call; 0: JSONRPC_DEFAULT_TIMEOUT_MS */
};

/* The outcome of a check. Valid until the check is freed. */
struct jsonrpc_check_result {
	bool ok;
	bool canceled;
	char *reason;            /* when !ok: "no contract at 0x... on chain 11155111 (Sepolia)" */
	char *value;             /* what was found: the chain id (decimal), the code (hex), the
	                            balance (wei, decimal), the call's result (hex); NULL if none */
	uint64_t chain_id;       /* the chain the URL serves (0 if unknown) */
	uint64_t duration_ms;
};

typedef void (*jsonrpc_check_cb)(void *data, struct jsonrpc_check *chk,
    const struct jsonrpc_check_result *res);

/*
 * Start a check: eth_chainId first (the chain must be chain_id when set; reasons name the
 * chain), then the call of its kind. Returns NULL and sets *cause for a bad request (no URL,
 * bad address, bad min_eth). done runs once, from the loop; it may free the check.
 */
struct jsonrpc_check *jsonrpc_check_start(struct http *h, const struct jsonrpc_check_req *rq,
    jsonrpc_check_cb done, void *data, char **cause);
void jsonrpc_check_cancel(struct jsonrpc_check *chk);
void jsonrpc_check_free(struct jsonrpc_check **chkp);

/* The name of a well-known chain ("Sepolia"), or NULL. */
const char *jsonrpc_chain_name(uint64_t id);

/* An unsigned 256-bit integer: w[0] holds the lowest 32 bits. */
struct jsonrpc_u256 {
	uint32_t w[8];
};

/* Parse a JSON-RPC quantity ("0x1bc16d674ec80000"; "0x" alone is 0). -1 if malformed or
 * wider than 256 bits. */
int jsonrpc_u256_from_hex(struct jsonrpc_u256 *out, const char *hex);
/* Parse a decimal ETH amount ("0.05", "1", "10.000000000000000001") into wei. -1 with *cause
 * if malformed, with more than 18 decimals, or too large. */
int jsonrpc_u256_from_ether(struct jsonrpc_u256 *out, const char *eth, char **cause);
/* -1, 0 or 1 as a <, ==, > b. */
int jsonrpc_u256_cmp(const struct jsonrpc_u256 *a, const struct jsonrpc_u256 *b);
/* Decimal text of a (allocated). */
char *jsonrpc_u256_dec(const struct jsonrpc_u256 *a);
/* wei as decimal ETH without trailing zeros ("0.05", "1000", "0.000000000000000001"). */
char *jsonrpc_wei_to_ether(const struct jsonrpc_u256 *wei);

#endif
