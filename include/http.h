/*
 * http.h: HTTP(S) requests and TCP connect probes through one libcurl multi handle that lives
 * in the shared loop (curl's sockets and timer are loop watches; nothing blocks).
 *
 * A request is opaque. Its done callback runs once, from the loop, with the response; the
 * callback may free the request (http_req_free) and start new ones. A request freed before
 * its end is stopped silently (no callback). Every string of struct http_request is copied
 * by http_start, so the caller's arrays may go away at once.
 *
 * URLs may hold secrets (an API key in the path, a token in the query, a password in the
 * userinfo): curl's verbose mode is never enabled, and every message built here shows the
 * URL in its redacted form (http_redact_url) and has the URL's secret parts replaced by
 * "****".
 */
#ifndef DW_HTTP_H
#define DW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct http;
struct http_req;
struct strvec;

#define HTTP_MAX_BODY (4u << 20)          /* default cap on a kept response body */
#define HTTP_DEFAULT_TIMEOUT_MS 30000u
#define HTTP_MAX_CONNECT_TIMEOUT_MS 10000u

/* What a request asks for. NULL / 0 / false fields take the default shown. */
struct http_request {
	const char *method;                  /* NULL: "GET", or "POST" when body is set */
	const char *url;                     /* http:// or https:// */
	const char *const *headers;          /* "Name: value" lines, NULL-terminated */
	const char *body;                    /* request body; NULL: none */
	size_t body_len;                     /* 0: strlen(body) */
	const char *content_type;            /* with a body; NULL: "application/json" */
	unsigned timeout_ms;                 /* whole request; 0: HTTP_DEFAULT_TIMEOUT_MS */
	unsigned connect_timeout_ms;         /* 0: min(timeout, HTTP_MAX_CONNECT_TIMEOUT_MS) */
	bool insecure;                       /* TLS: verify neither the peer nor its name */
	const char *ca_file;                 /* TLS: trust only this PEM file (a pinned CA) */
	const char *const *resolve;          /* "host:port:address" entries, NULL-terminated
	                                        (CURLOPT_RESOLVE: probe a domain via a tunnel) */
	const char *connect_to;              /* "host:port:connect-host:connect-port"; NULL */
	const char *const *capture_headers;  /* response header names to keep (any case) */
	size_t max_body;                     /* 0: HTTP_MAX_BODY; more is cut (truncated) */
	long expect_status;                  /* 0: any 2xx is ok; else exactly this status */
	bool follow_redirects;               /* at most 5 */
};

enum http_error {
	HTTP_OK = 0,
	HTTP_ERR_STATUS,      /* a response came, with another status than expected */
	HTTP_ERR_TIMEOUT,
	HTTP_ERR_RESOLVE,     /* the host name did not resolve */
	HTTP_ERR_CONNECT,     /* refused, unreachable */
	HTTP_ERR_TLS,         /* handshake or certificate verification */
	HTTP_ERR_CANCELED,
	HTTP_ERR_OTHER,       /* anything else libcurl reports (bad URL, reset, ...) */
};

struct http_header {
	char *name;           /* as the request asked for it (capture_headers spelling) */
	char *value;          /* trimmed */
};

/* How a request ended. Valid until the request is freed. */
struct http_response {
	bool ok;                     /* error == HTTP_OK */
	enum http_error error;
	long status;                 /* the final HTTP status; 0 if none came */
	char *body;                  /* NUL-terminated (also when empty); never NULL */
	size_t body_len;
	bool truncated;              /* the body was longer than max_body: the transfer was cut */
	struct http_header *headers; /* the captured headers that came, in request order */
	size_t nheaders;
	char *reason;                /* when !ok: one line, e.g. "HTTP 404 (wanted 200)",
	                                "timed out after 2 s", "connection refused: ..." */
	char *primary_ip;            /* the address connected to; "" if none */
	uint64_t duration_ms;        /* start to end */
	uint64_t connect_ms;         /* TCP connected, from start; 0 if never */
	uint64_t tls_ms;             /* TLS handshake done, from start; 0 if none */
	uint64_t first_byte_ms;      /* first response byte, from start; 0 if none */
};

typedef void (*http_done_cb)(void *data, struct http_req *req, const struct http_response *res);

/* A multi handle bound to l. */
struct http *http_new(struct loop *l);
/* Free h (before its loop); requests still there are stopped and freed (their pointers
 * become invalid). Never call it from a done callback. */
void http_free(struct http **hp);
/* The number of requests not yet ended. */
size_t http_active(const struct http *h);

/*
 * Start a request. Returns NULL and sets *cause if it cannot start (no URL, a bad resolve
 * entry). done runs later, from the loop, never from inside http_start.
 */
struct http_req *http_start(struct http *h, const struct http_request *rq, http_done_cb done,
    void *data, char **cause);

/*
 * A TCP probe: connect to host:port (no bytes sent) and close. ok means connected; a
 * refusal is HTTP_ERR_CONNECT, and no answer within timeout_ms (0: 10 s) HTTP_ERR_TIMEOUT.
 * Names resolve asynchronously; resolve may map them (as in struct http_request).
 */
struct http_req *http_connect_start(struct http *h, const char *host, unsigned port,
    unsigned timeout_ms, const char *const *resolve, http_done_cb done, void *data,
    char **cause);

/* Stop a request: its done callback comes from the loop with HTTP_ERR_CANCELED. A request
 * that has ended already is left as it is. */
void http_cancel(struct http_req *r);
/* Free a request; one that has not ended is stopped without a callback. */
void http_req_free(struct http_req **rp);
/* The response once the request has ended; NULL before. */
const struct http_response *http_req_response(const struct http_req *r);

/* The value of a captured header (name in any case); NULL if it did not come. */
const char *http_response_header(const struct http_response *res, const char *name);

/*
 * The URL with its secrets replaced by "****": the userinfo, every query value, the
 * fragment, and path segments that look like an API key (the segment after /v1/../v3/ as
 * Alchemy and Infura use, or any long mixed letter-and-digit segment). Returns an allocated
 * string; a string that is not a URL comes back redacted as a whole ("****").
 */
char *http_redact_url(const char *url);
/* Push (copies of) the secret parts of url, the ones http_redact_url hides, onto out, so a
 * caller can redact them from command output too. */
void http_url_secrets(const char *url, struct strvec *out);

#endif
