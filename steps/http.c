/*
 * http.c: HTTP(S) requests and TCP connect probes on one libcurl multi handle, in the loop.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: loop_add_fd,
 * loop_set_events, loop_del_fd) and when to wake it (CURLMOPT_TIMERFUNCTION: one loop timer).
 * Both loop callbacks call curl_multi_socket_action and then collect finished transfers with
 * curl_multi_info_read; each finished request gets its response built, its easy handle
 * cleaned up (closing its connection unless curl keeps it for reuse) and then its done
 * callback, which is the last thing that touches the request, so the callback may free it.
 * Curl is never called from inside one of its own callbacks.
 *
 * A cancel removes the transfer at once and delivers the canceled response from a 0 ms
 * timer, so the caller's done callback never runs inside http_cancel.
 *
 * The body is kept up to max_body bytes; more data stops the transfer (the status still
 * decides), so a huge or endless answer costs no more than the cap. Captured headers are
 * reset at each new status line (redirects, 100 Continue), so they belong to the final
 * response.
 *
 * TCP probes are connect-only transfers of an http:// URL (CURLOPT_CONNECT_ONLY): curl
 * resolves the name asynchronously, connects and stops; nothing is sent.
 *
 * Secrets: CURLOPT_VERBOSE stays off. Messages carry the redacted URL; libcurl's error text
 * and body snippets have the URL's secret parts replaced before they reach a reason.
 */
#include "config.h"

#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "loop.h"
#include "util.h"

#define HTTP_MAX_REDIRS 5L
#define HTTP_SNIPPET 120           /* body characters shown in a status reason */
#define HTTP_TCP_TIMEOUT_MS 10000u

struct http {
	struct loop *loop;
	CURLM *multi;
	uint64_t timer;             /* curl's timeout; 0: none */
	struct http_req *reqs;      /* every request not freed, running or ended */
	size_t nactive;
};

struct http_req {
	struct http *h;
	struct http_req *prev, *next;
	CURL *easy;                 /* NULL once ended */
	http_done_cb done;
	void *data;

	struct curl_slist *hdrs;    /* libcurl does not copy lists: they live here */
	struct curl_slist *resolve;
	struct curl_slist *connect_to;

	bool connect_only;
	long expect_status;
	unsigned timeout_ms;
	unsigned connect_timeout_ms;
	size_t max_body;
	char **capture;             /* header names wanted */
	char **capvals;             /* their values, same index; NULL until seen */
	size_t ncapture;

	char *where;                /* "host:port" for messages */
	struct strvec secrets;      /* the URL's secret parts */
	struct strbuf body;
	bool truncated;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t started;

	bool ended;
	uint64_t deliver_timer;     /* pending delivery of a canceled response */
	struct http_response res;
};

static bool http_global_done;

/* Initialise libcurl once per process. */
static void
http_global_init(void)
{
	if (http_global_done)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
	http_global_done = true;
}

/* ---------------------------------------------------------------------------------------
 * URL redaction.
 */

/* True if c may appear in an API key. */
static bool
http_keychar(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* True if the path segment s[0..n) looks like an API key; prev is the segment before it. */
static bool
http_keylike(const char *s, size_t n, const char *prev, size_t prevn)
{
	bool alpha = false, digit = false, versioned;

	for (size_t i = 0; i < n; i++) {
		if (!http_keychar(s[i]))
			return false;
		if (isdigit((unsigned char)s[i]))
			digit = true;
		else if (isalpha((unsigned char)s[i]))
			alpha = true;
	}
	versioned = prevn == 2 && (prev[0] == 'v' || prev[0] == 'V') && prev[1] >= '1' &&
	    prev[1] <= '3';
	if (versioned && n >= 16)
		return true;
	return n >= 24 && alpha && digit;
}

/* Called for each piece of a URL in order; secret pieces have secret set. */
typedef void (*http_url_emit)(void *ctx, const char *s, size_t n, bool secret);

/* Cut url into plain and secret pieces. Returns false if it does not look like a URL. */
static bool
http_url_walk(const char *url, http_url_emit emit, void *ctx)
{
	const char *p = strstr(url, "://"), *auth, *at = NULL, *end, *prev = NULL;
	size_t prevn = 0;

	if (p == NULL || p == url)
		return false;
	for (const char *q = url; q < p; q++) {
		if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
			return false;
	}
	p += 3;
	emit(ctx, url, (size_t)(p - url), false);

	/* Authority: userinfo@host:port. */
	auth = p;
	end = auth + strcspn(auth, "/?#");
	for (const char *q = auth; q < end; q++) {
		if (*q == '@')
			at = q;
	}
	if (at != NULL) {
		emit(ctx, auth, (size_t)(at - auth), true);
		auth = at;
	}
	emit(ctx, auth, (size_t)(end - auth), false);
	p = end;

	/* Path segments. */
	while (*p == '/') {
		size_t n;

		emit(ctx, p, 1, false);
		p++;
		n = strcspn(p, "/?#");
		emit(ctx, p, n, n > 0 && http_keylike(p, n, prev, prevn));
		prev = p;
		prevn = n;
		p += n;
	}

	/* Query: every value is secret. */
	if (*p == '?') {
		emit(ctx, p, 1, false);
		p++;
		while (*p != '\0' && *p != '#') {
			size_t n = strcspn(p, "&#"), k = strcspn(p, "=&#");

			if (k < n) {
				emit(ctx, p, k + 1, false);
				emit(ctx, p + k + 1, n - k - 1, n - k - 1 > 0);
			} else
				emit(ctx, p, n, false);
			p += n;
			if (*p == '&') {
				emit(ctx, p, 1, false);
				p++;
			}
		}
	}
	if (*p == '#') {
		emit(ctx, p, 1, false);
		p++;
		emit(ctx, p, strlen(p), *p != '\0');
	}
	return true;
}

/* Append a piece to the redacted URL. */
static void
http_redact_emit(void *ctx, const char *s, size_t n, bool secret)
{
	struct strbuf *sb = ctx;

	if (secret)
		sb_adds(sb, "****");
	else
		sb_add(sb, s, n);
}

/* Return url with its secret parts replaced by "****". */
char *
http_redact_url(const char *url)
{
	struct strbuf sb = {0};

	if (url == NULL || *url == '\0')
		return xstrdup("");
	if (!http_url_walk(url, http_redact_emit, &sb)) {
		sb_free(&sb);
		return xstrdup("****");
	}
	return sb_detach(&sb);
}

/* Collect the secret pieces of a URL (and a userinfo's password on its own). */
static void
http_secret_emit(void *ctx, const char *s, size_t n, bool secret)
{
	struct strvec *sv = ctx;
	const char *colon;

	if (!secret || n == 0)
		return;
	/* A short query value ("1", "true") would mangle every log line it appears in. */
	if (s[-1] == '=' && n < 6)
		return;
	sv_push_take(sv, xstrndup(s, n));
	/* A userinfo's password on its own, unless it is too short to look for. */
	colon = memchr(s, ':', n);
	if (colon != NULL && s[n] == '@' && (size_t)(s + n - colon - 1) >= 4)
		sv_push_take(sv, xstrndup(colon + 1, (size_t)(s + n - colon - 1)));
}

/* Push the secret parts of url onto out. */
void
http_url_secrets(const char *url, struct strvec *out)
{
	if (url == NULL || *url == '\0')
		return;
	if (!http_url_walk(url, http_secret_emit, out))
		sv_push(out, url);
}

/* ---------------------------------------------------------------------------------------
 * The multi handle in the loop.
 */

static void http_check_done(struct http *h);

/* A watched socket is ready: let curl act on it. */
static void
http_on_fd(int fd, short revents, void *data)
{
	struct http *h = data;
	int flags = 0, running;

	if (revents & (POLLIN | POLLHUP))
		flags |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLNVAL))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	http_check_done(h);
}

/* Curl's timeout expired. */
static void
http_on_timer(void *data)
{
	struct http *h = data;
	int running;

	h->timer = 0;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's wishes into the loop. */
static int
http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	short events = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(h->loop, s);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= POLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= POLLOUT;
	if (socketp == NULL) {
		loop_add_fd(h->loop, s, events, http_on_fd, h);
		curl_multi_assign(h->multi, s, h);
	} else
		loop_set_events(h->loop, s, events);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: keep one loop timer at curl's deadline. */
static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	if (h->timer != 0) {
		loop_del_timer(h->loop, h->timer);
		h->timer = 0;
	}
	if (timeout_ms >= 0)
		h->timer = loop_add_timer(h->loop, (uint64_t)timeout_ms, http_on_timer, h);
	return 0;
}

/* Create a multi handle bound to l. */
struct http *
http_new(struct loop *l)
{
	struct http *h = xcalloc(1, sizeof *h);

	h->loop = l;
	return h;
}

/*
 * Set up libcurl and the multi handle on the first request, not in http_new: initialising
 * libcurl (and its TLS library) costs several milliseconds that the wizard's first frame
 * need not wait for.
 */
static void
http_multi_ready(struct http *h)
{
	if (h->multi != NULL)
		return;
	http_global_init();
	h->multi = curl_multi_init();
	if (h->multi == NULL)
		fatal("curl_multi_init failed");
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
}

/* Count the requests that have not ended. */
size_t
http_active(const struct http *h)
{
	return h->nactive;
}

/* ---------------------------------------------------------------------------------------
 * Requests.
 */

/* Release what a running transfer holds and leave the response alone. */
static void
http_req_stop(struct http_req *r)
{
	if (r->easy != NULL) {
		curl_multi_remove_handle(r->h->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	curl_slist_free_all(r->hdrs);
	curl_slist_free_all(r->resolve);
	curl_slist_free_all(r->connect_to);
	r->hdrs = r->resolve = r->connect_to = NULL;
	if (!r->ended) {
		r->ended = true;
		r->h->nactive--;
	}
}

/* Free a request. */
void
http_req_free(struct http_req **rp)
{
	struct http_req *r = *rp;
	struct http_response *res;

	if (r == NULL)
		return;
	http_req_stop(r);
	if (r->deliver_timer != 0)
		loop_del_timer(r->h->loop, r->deliver_timer);
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->h->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;

	for (size_t i = 0; i < r->ncapture; i++) {
		free(r->capture[i]);
		free(r->capvals[i]);
	}
	free(r->capture);
	free(r->capvals);
	free(r->where);
	sv_free(&r->secrets);
	sb_free(&r->body);

	res = &r->res;
	free(res->body);
	for (size_t i = 0; i < res->nheaders; i++) {
		free(res->headers[i].name);
		free(res->headers[i].value);
	}
	free(res->headers);
	free(res->reason);
	free(res->primary_ip);
	free(r);
	*rp = NULL;
}

/* Free h and every request left. */
void
http_free(struct http **hp)
{
	struct http *h = *hp;

	if (h == NULL)
		return;
	while (h->reqs != NULL) {
		struct http_req *r = h->reqs;

		http_req_free(&r);
	}
	/* Closing cached connections may still remove sockets, but must not arm a timer. */
	if (h->multi != NULL) {
		curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
		curl_multi_cleanup(h->multi);
	}
	if (h->timer != 0)
		loop_del_timer(h->loop, h->timer);
	free(h);
	*hp = NULL;
}

/* CURLOPT_WRITEFUNCTION: keep the body up to the cap. */
static size_t
http_write_cb(char *buf, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n, room = r->max_body - r->body.len;

	if (len <= room) {
		sb_add(&r->body, buf, len);
		return len;
	}
	sb_add(&r->body, buf, room);
	r->truncated = true;
	return 0;   /* stop the transfer: CURLE_WRITE_ERROR */
}

/* CURLOPT_HEADERFUNCTION: keep the headers asked for, of the last response only. */
static size_t
http_header_cb(char *buf, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n, namelen;
	const char *colon, *v, *e;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		for (size_t i = 0; i < r->ncapture; i++)
			freep(&r->capvals[i]);
		return len;
	}
	colon = memchr(buf, ':', len);
	if (colon == NULL)
		return len;
	namelen = (size_t)(colon - buf);
	v = colon + 1;
	e = buf + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (size_t i = 0; i < r->ncapture; i++) {
		if (strlen(r->capture[i]) == namelen &&
		    strncasecmp(r->capture[i], buf, namelen) == 0) {
			free(r->capvals[i]);
			r->capvals[i] = xstrndup(v, (size_t)(e - v));
		}
	}
	return len;
}

/* Append "Name: value" lines to a curl list; false if one is malformed. */
static bool
http_add_lines(struct curl_slist **list, const char *const *lines, bool header)
{
	if (lines == NULL)
		return true;
	for (size_t i = 0; lines[i] != NULL; i++) {
		struct curl_slist *l;

		if (header && (strchr(lines[i], ':') == NULL || lines[i][0] == ':' ||
		    strpbrk(lines[i], "\r\n") != NULL))
			return false;
		l = curl_slist_append(*list, lines[i]);
		if (l == NULL)
			fatal("out of memory (curl_slist_append)");
		*list = l;
	}
	return true;
}

/* True if a resolve entry looks like "[+-]host:port:address[,address...]" (or "-host:port"). */
static bool
http_resolve_ok(const char *e)
{
	const char *port, *addr;
	bool remove = *e == '-';

	if (*e == '+' || *e == '-')
		e++;
	port = strchr(e, ':');
	if (port == NULL || port == e)
		return false;
	port++;
	if (!isdigit((unsigned char)*port))
		return false;
	addr = port + strspn(port, "0123456789");
	if (remove)
		return *addr == '\0';
	return *addr == ':' && addr[1] != '\0' && strpbrk(addr, " \t\r\n") == NULL;
}

/* True if the header name is among lines (any case). */
static bool
http_has_header(const char *const *lines, const char *name)
{
	size_t n = strlen(name);

	if (lines == NULL)
		return false;
	for (size_t i = 0; lines[i] != NULL; i++) {
		if (strncasecmp(lines[i], name, n) == 0 && lines[i][n] == ':')
			return true;
	}
	return false;
}

/* True if host is a loopback name or address (no proxy ever applies). */
static bool
http_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	    strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

/* Set a curl option or fail with a cause. */
#define HTTP_SET(opt, val) do {                                                  \
	if (curl_easy_setopt(e, opt, val) != CURLE_OK) {                         \
		set_cause(cause, "libcurl refused option %s", #opt);             \
		goto fail;                                                       \
	}                                                                        \
} while (0)

/* Build and add a transfer; the common part of http_start and http_connect_start. */
static struct http_req *
http_launch(struct http *h, const struct http_request *rq, bool connect_only,
    http_done_cb done, void *data, char **cause)
{
	struct http_req *r;
	CURL *e;
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *shown;
	const char *method;
	size_t body_len = 0;
	CURLMcode mc;

	if (rq->url == NULL || *rq->url == '\0') {
		set_cause(cause, "no URL");
		return NULL;
	}
	http_multi_ready(h);
	r = xcalloc(1, sizeof *r);
	r->h = h;
	r->done = done;
	r->data = data;
	r->connect_only = connect_only;
	r->expect_status = rq->expect_status;
	r->timeout_ms = rq->timeout_ms ? rq->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	r->connect_timeout_ms = rq->connect_timeout_ms;
	if (r->connect_timeout_ms == 0)
		r->connect_timeout_ms = r->timeout_ms < HTTP_MAX_CONNECT_TIMEOUT_MS ?
		    r->timeout_ms : HTTP_MAX_CONNECT_TIMEOUT_MS;
	r->max_body = rq->max_body ? rq->max_body : HTTP_MAX_BODY;
	http_url_secrets(rq->url, &r->secrets);
	h->nactive++;   /* http_req_stop takes it back on failure */

	e = r->easy = curl_easy_init();
	if (e == NULL)
		fatal("curl_easy_init failed");

	/* Parse the URL first, for a clear refusal and the host:port of messages. */
	u = curl_url();
	if (u == NULL)
		fatal("curl_url failed");
	if (curl_url_set(u, CURLUPART_URL, rq->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		shown = http_redact_url(rq->url);
		set_cause(cause, "bad URL: %s", shown);
		free(shown);
		goto fail;
	}
	r->where = xprintf("%s:%s", host, port);

	HTTP_SET(CURLOPT_URL, rq->url);
	HTTP_SET(CURLOPT_PRIVATE, r);
	HTTP_SET(CURLOPT_ERRORBUFFER, r->errbuf);
	HTTP_SET(CURLOPT_NOSIGNAL, 1L);
	HTTP_SET(CURLOPT_VERBOSE, 0L);
	HTTP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	HTTP_SET(CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	HTTP_SET(CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
	HTTP_SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	HTTP_SET(CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SET(CURLOPT_WRITEDATA, r);
	HTTP_SET(CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SET(CURLOPT_HEADERDATA, r);
	if (connect_only)
		HTTP_SET(CURLOPT_CONNECT_ONLY, 1L);

	/* Requests aimed at a given address never go through a proxy. */
	if (connect_only || rq->resolve != NULL || rq->connect_to != NULL ||
	    http_loopback(host))
		HTTP_SET(CURLOPT_PROXY, "");

	if (rq->insecure) {
		HTTP_SET(CURLOPT_SSL_VERIFYPEER, 0L);
		HTTP_SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (rq->ca_file != NULL) {
		HTTP_SET(CURLOPT_CAINFO, rq->ca_file);
		HTTP_SET(CURLOPT_CAPATH, NULL);
	}

	if (!http_add_lines(&r->resolve, rq->resolve, false)) {
		set_cause(cause, "bad resolve entry");
		goto fail;
	}
	for (struct curl_slist *l = r->resolve; l != NULL; l = l->next) {
		if (!http_resolve_ok(l->data)) {
			set_cause(cause, "bad resolve entry \"%s\" (wanted host:port:address)",
			    l->data);
			goto fail;
		}
	}
	if (r->resolve != NULL)
		HTTP_SET(CURLOPT_RESOLVE, r->resolve);
	if (rq->connect_to != NULL) {
		const char *ct[] = { rq->connect_to, NULL };

		if (strchr(rq->connect_to, ':') == NULL ||
		    strpbrk(rq->connect_to, " \t\r\n") != NULL) {
			set_cause(cause, "bad connect_to \"%s\" (wanted "
			    "host:port:connect-host:connect-port)", rq->connect_to);
			goto fail;
		}
		http_add_lines(&r->connect_to, ct, false);
		HTTP_SET(CURLOPT_CONNECT_TO, r->connect_to);
	}

	if (!connect_only) {
		if (!http_add_lines(&r->hdrs, rq->headers, true)) {
			set_cause(cause, "bad header line (wanted \"Name: value\")");
			goto fail;
		}
		method = rq->method;
		if (method == NULL || *method == '\0')
			method = rq->body != NULL ? "POST" : "GET";
		if (rq->body != NULL) {
			const char *ct[2] = { NULL, NULL };

			body_len = rq->body_len ? rq->body_len : strlen(rq->body);
			if (!http_has_header(rq->headers, "Content-Type")) {
				ct[0] = shown = xprintf("Content-Type: %s", rq->content_type ?
				    rq->content_type : "application/json");
				http_add_lines(&r->hdrs, ct, false);
				free(shown);
			}
			ct[0] = "Expect:";
			http_add_lines(&r->hdrs, ct, false);
		}
		if (strcmp(method, "GET") == 0 && rq->body == NULL)
			HTTP_SET(CURLOPT_HTTPGET, 1L);
		else if (strcmp(method, "HEAD") == 0)
			HTTP_SET(CURLOPT_NOBODY, 1L);
		else {
			if (strcmp(method, "POST") != 0)
				HTTP_SET(CURLOPT_CUSTOMREQUEST, method);
			if (rq->body != NULL || strcmp(method, "POST") == 0) {
				HTTP_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
				HTTP_SET(CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "");
			}
		}
		if (r->hdrs != NULL)
			HTTP_SET(CURLOPT_HTTPHEADER, r->hdrs);
		HTTP_SET(CURLOPT_ACCEPT_ENCODING, "");
		if (rq->follow_redirects) {
			HTTP_SET(CURLOPT_FOLLOWLOCATION, 1L);
			HTTP_SET(CURLOPT_MAXREDIRS, HTTP_MAX_REDIRS);
		}
		if (rq->capture_headers != NULL) {
			while (rq->capture_headers[r->ncapture] != NULL)
				r->ncapture++;
			r->capture = xcalloc(r->ncapture + 1, sizeof *r->capture);
			r->capvals = xcalloc(r->ncapture + 1, sizeof *r->capvals);
			for (size_t i = 0; i < r->ncapture; i++)
				r->capture[i] = xstrdup(rq->capture_headers[i]);
		}
	}

	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	host = port = NULL;
	u = NULL;

	r->started = now_ms();
	if ((mc = curl_multi_add_handle(h->multi, e)) != CURLM_OK) {
		set_cause(cause, "cannot start the request: %s", curl_multi_strerror(mc));
		goto fail;
	}
	r->next = h->reqs;
	if (h->reqs != NULL)
		h->reqs->prev = r;
	h->reqs = r;
	return r;

fail:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	/* Not in the list yet: unhook by hand. */
	curl_easy_cleanup(r->easy);
	r->easy = NULL;
	http_req_stop(r);
	for (size_t i = 0; i < r->ncapture; i++)
		free(r->capture[i]);
	free(r->capture);
	free(r->capvals);
	free(r->where);
	sv_free(&r->secrets);
	free(r);
	return NULL;
}
#undef HTTP_SET

/* Start a request. */
struct http_req *
http_start(struct http *h, const struct http_request *rq, http_done_cb done, void *data,
    char **cause)
{
	return http_launch(h, rq, false, done, data, cause);
}

/* Start a TCP connect probe of host:port. */
struct http_req *
http_connect_start(struct http *h, const char *host, unsigned port, unsigned timeout_ms,
    const char *const *resolve, http_done_cb done, void *data, char **cause)
{
	struct http_request rq;
	struct http_req *r;
	char *url;

	if (host == NULL || *host == '\0' || strpbrk(host, "/?#@ \t\r\n") != NULL) {
		set_cause(cause, "bad host \"%s\"", host ? host : "");
		return NULL;
	}
	if (port == 0 || port > 65535) {
		set_cause(cause, "bad port %u", port);
		return NULL;
	}
	if (strchr(host, ':') != NULL && host[0] != '[')
		url = xprintf("http://[%s]:%u/", host, port);
	else
		url = xprintf("http://%s:%u/", host, port);
	memset(&rq, 0, sizeof rq);
	rq.url = url;
	rq.timeout_ms = timeout_ms ? timeout_ms : HTTP_TCP_TIMEOUT_MS;
	rq.connect_timeout_ms = rq.timeout_ms;
	rq.resolve = resolve;
	r = http_launch(h, &rq, true, done, data, cause);
	free(url);
	return r;
}

/* The text of a duration for messages: "2 s", "0.5 s", "1.25 s". */
static char *
http_seconds(unsigned ms)
{
	if (ms % 1000 == 0)
		return xprintf("%u s", ms / 1000);
	if (ms % 100 == 0)
		return xprintf("%u.%u s", ms / 1000, (ms % 1000) / 100);
	return xprintf("%u.%03u s", ms / 1000, ms % 1000);
}

/* Milliseconds from a curl microsecond timing; at least 1 when anything happened. */
static uint64_t
http_ms(CURL *e, CURLINFO what)
{
	curl_off_t us = 0;

	if (curl_easy_getinfo(e, what, &us) != CURLE_OK || us <= 0)
		return 0;
	return ((uint64_t)us + 999) / 1000;
}

/* The response body's first line, cut short and redacted, for a status reason. */
static char *
http_snippet(struct http_req *r)
{
	const char *b = r->res.body;
	size_t n = 0, outlen;
	char *cut, *red;

	while (n < r->res.body_len && n < HTTP_SNIPPET && b[n] != '\n' && b[n] != '\r' &&
	    (isprint((unsigned char)b[n]) || b[n] == '\t' || (unsigned char)b[n] >= 0x80))
		n++;
	if (n == 0)
		return NULL;
	cut = xstrndup(b, n);
	red = str_redact(cut, n, (const char *const *)r->secrets.v, r->secrets.n, &outlen);
	free(cut);
	if (n < r->res.body_len && b[n] != '\n' && b[n] != '\r') {
		cut = xprintf("%s...", red);
		free(red);
		red = cut;
	}
	return red;
}

/* The error text of libcurl for this transfer, redacted. */
static char *
http_errtext(struct http_req *r, CURLcode rc)
{
	const char *t = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc);
	size_t n = strlen(t), outlen;

	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
		n--;
	return str_redact(t, n, (const char *const *)r->secrets.v, r->secrets.n, &outlen);
}

/* Set the response's error and reason from the transfer's result. */
static void
http_classify(struct http_req *r, CURLcode rc, long oserr)
{
	struct http_response *res = &r->res;
	char *t, *s, *snip;

	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && r->truncated)) {
		bool good;

		if (r->connect_only) {
			res->error = HTTP_OK;
			return;
		}
		if (r->expect_status != 0)
			good = res->status == r->expect_status;
		else
			good = res->status >= 200 && res->status <= 299;
		if (good) {
			res->error = HTTP_OK;
			return;
		}
		res->error = HTTP_ERR_STATUS;
		snip = http_snippet(r);
		if (r->expect_status != 0)
			t = xprintf("HTTP %ld (wanted %ld)", res->status, r->expect_status);
		else
			t = xprintf("HTTP %ld (wanted 2xx)", res->status);
		if (snip != NULL) {
			res->reason = xprintf("%s: %s", t, snip);
			free(t);
		} else
			res->reason = t;
		free(snip);
		return;
	}

	t = http_errtext(r, rc);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		res->error = HTTP_ERR_TIMEOUT;
		if (res->connect_ms == 0 && !r->connect_only &&
		    r->connect_timeout_ms < r->timeout_ms) {
			s = http_seconds(r->connect_timeout_ms);
			res->reason = xprintf("no connection to %s within %s", r->where, s);
		} else {
			s = http_seconds(r->timeout_ms);
			if (r->connect_only)
				res->reason = xprintf("no connection to %s within %s", r->where, s);
			else
				res->reason = xprintf("timed out after %s", s);
		}
		free(s);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		res->error = HTTP_ERR_RESOLVE;
		res->reason = xprintf("cannot resolve the host name: %s", t);
		break;
	case CURLE_COULDNT_CONNECT:
		res->error = HTTP_ERR_CONNECT;
		if (oserr == ECONNREFUSED)
			res->reason = xprintf("connection refused by %s", r->where);
		else if (oserr != 0)
			res->reason = xprintf("cannot connect to %s: %s", r->where, strerror((int)oserr));
		else
			res->reason = xprintf("cannot connect to %s: %s", r->where, t);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		res->error = HTTP_ERR_TLS;
		res->reason = xprintf("TLS: %s", t);
		break;
	default:
		res->error = HTTP_ERR_OTHER;
		res->reason = xstrdup(t);
		break;
	}
	free(t);
}

/* Fill the response of a finished transfer and release the transfer. */
static void
http_finish(struct http_req *r, CURLcode rc)
{
	struct http_response *res = &r->res;
	CURL *e = r->easy;
	long status = 0, oserr = 0;
	char *ip = NULL;
	size_t k = 0;

	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip);
	res->status = status;
	res->primary_ip = xstrdup(ip ? ip : "");
	res->connect_ms = http_ms(e, CURLINFO_CONNECT_TIME_T);
	res->tls_ms = http_ms(e, CURLINFO_APPCONNECT_TIME_T);
	res->first_byte_ms = http_ms(e, CURLINFO_STARTTRANSFER_TIME_T);
	res->duration_ms = now_ms() - r->started;
	res->truncated = r->truncated;
	res->body_len = r->body.len;
	res->body = sb_detach(&r->body);

	res->headers = xcalloc(r->ncapture + 1, sizeof *res->headers);
	for (size_t i = 0; i < r->ncapture; i++) {
		if (r->capvals[i] == NULL)
			continue;
		res->headers[k].name = xstrdup(r->capture[i]);
		res->headers[k].value = r->capvals[i];
		r->capvals[i] = NULL;
		k++;
	}
	res->nheaders = k;

	http_classify(r, rc, oserr);
	res->ok = res->error == HTTP_OK;
	http_req_stop(r);
}

/* Deliver the response of every finished transfer. */
static void
http_check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_req *r = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r == NULL || r->ended)
			continue;
		http_finish(r, msg->data.result);
		/* Last touch: the callback may free r. */
		if (r->done != NULL)
			r->done(r->data, r, &r->res);
	}
}

/* Deliver a canceled response. */
static void
http_deliver(void *data)
{
	struct http_req *r = data;

	r->deliver_timer = 0;
	if (r->done != NULL)
		r->done(r->data, r, &r->res);
}

/* Stop a request; its done callback comes from the loop. */
void
http_cancel(struct http_req *r)
{
	struct http_response *res;

	if (r == NULL || r->ended)
		return;
	res = &r->res;
	if (r->easy != NULL)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res->status);
	res->ok = false;
	res->error = HTTP_ERR_CANCELED;
	res->reason = xstrdup("canceled");
	res->body = sb_detach(&r->body);
	res->body_len = strlen(res->body);
	res->primary_ip = xstrdup("");
	res->duration_ms = now_ms() - r->started;
	http_req_stop(r);
	r->deliver_timer = loop_add_timer(r->h->loop, 0, http_deliver, r);
}

/* Return the response of an ended request, or NULL. */
const struct http_response *
http_req_response(const struct http_req *r)
{
	return r->ended && r->res.body != NULL ? &r->res : NULL;
}

/* Return a captured header's value, or NULL. */
const char *
http_response_header(const struct http_response *res, const char *name)
{
	for (size_t i = 0; i < res->nheaders; i++) {
		if (strcasecmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	}
	return NULL;
}
