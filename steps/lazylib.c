/*
 * lazylib.c: libcurl, libssh2, nettle and libyaml, loaded when first used.
 *
 * Linked the usual way, libcurl and libssh2 pull some 35 shared libraries into every start
 * (TLS, Kerberos, LDAP, IDN, compression...); mapping and relocating them was most of the
 * wizard's start-up time, for a first frame and headless commands that need neither library.
 * nettle is one library, but a start does not hash anything either, and loading it cost
 * about 0.2 ms (its pages, relocations and CPU probe) of a 10 ms first frame. So the binary
 * does not link them: this file defines each of their functions the wizard calls, with
 * the prototype of the library's header (the compiler holds the two to each other), and the
 * first call of one opens its library with dlopen() and forwards to the real function.
 * libyaml too: a start that takes the chain's image from the cache parses no YAML.
 */
#include "config.h"

#define CURL_DISABLE_TYPECHECK          /* curl_easy_setopt is defined here, not a macro */
#include <curl/curl.h>
#include <dlfcn.h>
#include <libssh2.h>
#include <nettle/base64.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>
#include <stdarg.h>
#include <stddef.h>
#include <yaml.h>

#include "util.h"

enum net_lib { NET_CURL, NET_SSH2, NET_NETTLE, NET_YAML };

/* The address of a function of lib; a library that cannot be loaded is fatal. */
static void *
net_sym(enum net_lib lib, const char *name)
{
	static void *handle[4];
	static const char *const soname[4] = { CURL_SONAME, SSH2_SONAME, NETTLE_SONAME,
	    YAML_SONAME };
	static const char *const package[4] = { "libcurl4", "libssh2-1", "libnettle8",
	    "libyaml-0-2" };
	void *p;

	if (handle[lib] == NULL) {
		handle[lib] = dlopen(soname[lib], RTLD_NOW | RTLD_LOCAL);
		if (handle[lib] == NULL)
			fatal("cannot load %s: %s (install the Debian package %s)", soname[lib],
			    dlerror(), package[lib]);
	}
	p = dlsym(handle[lib], name);
	if (p == NULL)
		fatal("%s has no %s: %s", soname[lib], name, dlerror());
	return p;
}

/* Define name with its header's prototype, forwarding to the library's own. */
#define NET_FN(lib, ret, name, params, args)                                             \
	ret name params                                                                  \
	{                                                                                \
		static ret (*real) params;                                               \
                                                                                         \
		if (real == NULL)                                                        \
			*(void **)&real = net_sym(lib, #name);                           \
		return real args;                                                        \
	}
#define NET_VOID_FN(lib, name, params, args)                                             \
	void name params                                                                 \
	{                                                                                \
		static void (*real) params;                                              \
                                                                                         \
		if (real == NULL)                                                        \
			*(void **)&real = net_sym(lib, #name);                           \
		real args;                                                               \
	}

/* ---- libcurl ---- */
NET_FN(NET_CURL, CURLcode, curl_global_init, (long flags), (flags))
NET_FN(NET_CURL, CURL *, curl_easy_init, (void), ())
NET_VOID_FN(NET_CURL, curl_easy_cleanup, (CURL *curl), (curl))
NET_FN(NET_CURL, const char *, curl_easy_strerror, (CURLcode code), (code))
NET_VOID_FN(NET_CURL, curl_free, (void *p), (p))
NET_FN(NET_CURL, CURLM *, curl_multi_init, (void), ())
NET_FN(NET_CURL, CURLMcode, curl_multi_cleanup, (CURLM *m), (m))
NET_FN(NET_CURL, CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *c), (m, c))
NET_FN(NET_CURL, CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *c), (m, c))
NET_FN(NET_CURL, CURLMcode, curl_multi_assign, (CURLM *m, curl_socket_t s, void *p),
    (m, s, p))
NET_FN(NET_CURL, CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left))
NET_FN(NET_CURL, CURLMcode, curl_multi_socket_action,
    (CURLM *m, curl_socket_t s, int ev_bitmask, int *running), (m, s, ev_bitmask, running))
NET_FN(NET_CURL, const char *, curl_multi_strerror, (CURLMcode code), (code))
NET_FN(NET_CURL, struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s),
    (l, s))
NET_VOID_FN(NET_CURL, curl_slist_free_all, (struct curl_slist *l), (l))
NET_FN(NET_CURL, CURLU *, curl_url, (void), ())
NET_VOID_FN(NET_CURL, curl_url_cleanup, (CURLU *u), (u))
NET_FN(NET_CURL, CURLUcode, curl_url_get,
    (CURLU *u, CURLUPart what, char **part, unsigned int flags), (u, what, part, flags))
NET_FN(NET_CURL, CURLUcode, curl_url_set,
    (CURLU *u, CURLUPart what, const char *part, unsigned int flags), (u, what, part, flags))

/*
 * The variadic ones take exactly one argument after the option, of a type the option's number
 * tells (curl.h: CURLOPTTYPE_*); it is read as that type and passed on as that type.
 */
typedef void (*net_fnptr)(void);

#define NET_OPT_FORWARD(call_real, option, ap)                                            \
	do {                                                                             \
		if ((option) < CURLOPTTYPE_OBJECTPOINT)                                  \
			return call_real(va_arg(ap, long));                              \
		else if ((option) < CURLOPTTYPE_FUNCTIONPOINT)                           \
			return call_real(va_arg(ap, void *));                            \
		else if ((option) < CURLOPTTYPE_OFF_T)                                   \
			return call_real(va_arg(ap, net_fnptr));                         \
		else if ((option) < CURLOPTTYPE_BLOB)                                    \
			return call_real(va_arg(ap, curl_off_t));                        \
		return call_real(va_arg(ap, void *));                                    \
	} while (0)

CURLcode
curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	static CURLcode (*real)(CURL *, CURLoption, ...);
	CURLcode rc;
	va_list ap;

	if (real == NULL)
		*(void **)&real = net_sym(NET_CURL, "curl_easy_setopt");
	va_start(ap, option);
#define CALL(v) (rc = real(curl, option, v), va_end(ap), rc)
	NET_OPT_FORWARD(CALL, option, ap);
#undef CALL
}

CURLMcode
curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	static CURLMcode (*real)(CURLM *, CURLMoption, ...);
	CURLMcode rc;
	va_list ap;

	if (real == NULL)
		*(void **)&real = net_sym(NET_CURL, "curl_multi_setopt");
	va_start(ap, option);
#define CALL(v) (rc = real(multi, option, v), va_end(ap), rc)
	NET_OPT_FORWARD(CALL, option, ap);
#undef CALL
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	static CURLcode (*real)(CURL *, CURLINFO, ...);
	void *out;
	va_list ap;

	if (real == NULL)
		*(void **)&real = net_sym(NET_CURL, "curl_easy_getinfo");
	va_start(ap, info);
	out = va_arg(ap, void *);
	va_end(ap);
	return real(curl, info, out);
}

/* ---- libssh2 ---- */
NET_FN(NET_SSH2, int, libssh2_init, (int flags), (flags))
NET_VOID_FN(NET_SSH2, libssh2_free, (LIBSSH2_SESSION *s, void *p), (s, p))
NET_FN(NET_SSH2, LIBSSH2_SESSION *, libssh2_session_init_ex,
    (void *(*my_alloc)(size_t count, void **abstract),
    void (*my_free)(void *ptr, void **abstract),
    void *(*my_realloc)(void *ptr, size_t count, void **abstract), void *abstract),
    (my_alloc, my_free, my_realloc, abstract))
NET_FN(NET_SSH2, int, libssh2_session_free, (LIBSSH2_SESSION *s), (s))
NET_FN(NET_SSH2, int, libssh2_session_handshake, (LIBSSH2_SESSION *s, libssh2_socket_t sock),
    (s, sock))
NET_FN(NET_SSH2, int, libssh2_session_disconnect_ex,
    (LIBSSH2_SESSION *s, int reason, const char *description, const char *lang),
    (s, reason, description, lang))
NET_VOID_FN(NET_SSH2, libssh2_session_set_blocking, (LIBSSH2_SESSION *s, int blocking),
    (s, blocking))
NET_FN(NET_SSH2, int, libssh2_session_block_directions, (LIBSSH2_SESSION *s), (s))
NET_FN(NET_SSH2, const char *, libssh2_session_hostkey,
    (LIBSSH2_SESSION *s, size_t *len, int *type), (s, len, type))
NET_FN(NET_SSH2, int, libssh2_session_last_errno, (LIBSSH2_SESSION *s), (s))
NET_FN(NET_SSH2, int, libssh2_session_last_error,
    (LIBSSH2_SESSION *s, char **errmsg, int *errmsg_len, int want_buf),
    (s, errmsg, errmsg_len, want_buf))
NET_FN(NET_SSH2, int, libssh2_session_method_pref,
    (LIBSSH2_SESSION *s, int method_type, const char *prefs), (s, method_type, prefs))
NET_FN(NET_SSH2, int, libssh2_session_supported_algs,
    (LIBSSH2_SESSION *s, int method_type, const char ***algs), (s, method_type, algs))
NET_VOID_FN(NET_SSH2, libssh2_keepalive_config,
    (LIBSSH2_SESSION *s, int want_reply, unsigned interval), (s, want_reply, interval))
NET_FN(NET_SSH2, int, libssh2_keepalive_send, (LIBSSH2_SESSION *s, int *seconds_to_next),
    (s, seconds_to_next))
NET_FN(NET_SSH2, char *, libssh2_userauth_list,
    (LIBSSH2_SESSION *s, const char *username, unsigned int username_len),
    (s, username, username_len))
NET_FN(NET_SSH2, int, libssh2_userauth_authenticated, (LIBSSH2_SESSION *s), (s))
NET_FN(NET_SSH2, int, libssh2_userauth_publickey_fromfile_ex,
    (LIBSSH2_SESSION *s, const char *username, unsigned int username_len,
    const char *publickey, const char *privatekey, const char *passphrase),
    (s, username, username_len, publickey, privatekey, passphrase))
NET_FN(NET_SSH2, LIBSSH2_AGENT *, libssh2_agent_init, (LIBSSH2_SESSION *s), (s))
NET_FN(NET_SSH2, int, libssh2_agent_connect, (LIBSSH2_AGENT *a), (a))
NET_FN(NET_SSH2, int, libssh2_agent_disconnect, (LIBSSH2_AGENT *a), (a))
NET_VOID_FN(NET_SSH2, libssh2_agent_free, (LIBSSH2_AGENT *a), (a))
NET_FN(NET_SSH2, int, libssh2_agent_list_identities, (LIBSSH2_AGENT *a), (a))
NET_FN(NET_SSH2, int, libssh2_agent_get_identity,
    (LIBSSH2_AGENT *a, struct libssh2_agent_publickey **store,
    struct libssh2_agent_publickey *prev), (a, store, prev))
NET_FN(NET_SSH2, int, libssh2_agent_userauth,
    (LIBSSH2_AGENT *a, const char *username, struct libssh2_agent_publickey *identity),
    (a, username, identity))
NET_FN(NET_SSH2, LIBSSH2_KNOWNHOSTS *, libssh2_knownhost_init, (LIBSSH2_SESSION *s), (s))
NET_VOID_FN(NET_SSH2, libssh2_knownhost_free, (LIBSSH2_KNOWNHOSTS *h), (h))
NET_FN(NET_SSH2, int, libssh2_knownhost_readline,
    (LIBSSH2_KNOWNHOSTS *h, const char *line, size_t len, int type), (h, line, len, type))
NET_FN(NET_SSH2, int, libssh2_knownhost_get,
    (LIBSSH2_KNOWNHOSTS *h, struct libssh2_knownhost **store, struct libssh2_knownhost *prev),
    (h, store, prev))
NET_FN(NET_SSH2, int, libssh2_knownhost_checkp,
    (LIBSSH2_KNOWNHOSTS *h, const char *host, int port, const char *key, size_t keylen,
    int typemask, struct libssh2_knownhost **knownhost),
    (h, host, port, key, keylen, typemask, knownhost))
NET_FN(NET_SSH2, LIBSSH2_CHANNEL *, libssh2_channel_open_ex,
    (LIBSSH2_SESSION *s, const char *channel_type, unsigned int channel_type_len,
    unsigned int window_size, unsigned int packet_size, const char *message,
    unsigned int message_len),
    (s, channel_type, channel_type_len, window_size, packet_size, message, message_len))
NET_FN(NET_SSH2, LIBSSH2_CHANNEL *, libssh2_channel_direct_tcpip_ex,
    (LIBSSH2_SESSION *s, const char *host, int port, const char *shost, int sport),
    (s, host, port, shost, sport))
NET_FN(NET_SSH2, int, libssh2_channel_process_startup,
    (LIBSSH2_CHANNEL *c, const char *request, unsigned int request_len, const char *message,
    unsigned int message_len), (c, request, request_len, message, message_len))
NET_FN(NET_SSH2, ssize_t, libssh2_channel_read_ex,
    (LIBSSH2_CHANNEL *c, int stream_id, char *buf, size_t buflen), (c, stream_id, buf, buflen))
NET_FN(NET_SSH2, ssize_t, libssh2_channel_write_ex,
    (LIBSSH2_CHANNEL *c, int stream_id, const char *buf, size_t buflen),
    (c, stream_id, buf, buflen))
NET_FN(NET_SSH2, int, libssh2_channel_send_eof, (LIBSSH2_CHANNEL *c), (c))
NET_FN(NET_SSH2, int, libssh2_channel_eof, (LIBSSH2_CHANNEL *c), (c))
NET_FN(NET_SSH2, int, libssh2_channel_wait_closed, (LIBSSH2_CHANNEL *c), (c))
NET_FN(NET_SSH2, int, libssh2_channel_get_exit_status, (LIBSSH2_CHANNEL *c), (c))
NET_FN(NET_SSH2, int, libssh2_channel_get_exit_signal,
    (LIBSSH2_CHANNEL *c, char **exitsignal, size_t *exitsignal_len, char **errmsg,
    size_t *errmsg_len, char **langtag, size_t *langtag_len),
    (c, exitsignal, exitsignal_len, errmsg, errmsg_len, langtag, langtag_len))
NET_FN(NET_SSH2, int, libssh2_channel_free, (LIBSSH2_CHANNEL *c), (c))

/* ---- nettle (its header names each function nettle_NAME through a macro: the real names are
 * spelled out here, as dlsym needs them) ---- */
NET_VOID_FN(NET_NETTLE, nettle_sha3_permute, (struct sha3_state *state), (state))
NET_VOID_FN(NET_NETTLE, nettle_sha256_init, (struct sha256_ctx *ctx), (ctx))
NET_VOID_FN(NET_NETTLE, nettle_sha256_update,
    (struct sha256_ctx *ctx, size_t length, const uint8_t *data), (ctx, length, data))
NET_VOID_FN(NET_NETTLE, nettle_sha256_digest,
    (struct sha256_ctx *ctx, size_t length, uint8_t *digest), (ctx, length, digest))
NET_VOID_FN(NET_NETTLE, nettle_base64_encode_raw, (char *dst, size_t length, const uint8_t *src),
    (dst, length, src))
NET_VOID_FN(NET_NETTLE, nettle_base64_decode_init, (struct base64_decode_ctx *ctx), (ctx))
NET_FN(NET_NETTLE, int, nettle_base64_decode_update,
    (struct base64_decode_ctx *ctx, size_t *dst_length, uint8_t *dst, size_t src_length,
    const char *src), (ctx, dst_length, dst, src_length, src))
NET_FN(NET_NETTLE, int, nettle_base64_decode_final, (struct base64_decode_ctx *ctx), (ctx))

/* ---- libyaml ---- */
NET_FN(NET_YAML, int, yaml_parser_initialize, (yaml_parser_t *parser), (parser))
NET_VOID_FN(NET_YAML, yaml_parser_set_input_string,
    (yaml_parser_t *parser, const unsigned char *input, size_t size), (parser, input, size))
NET_FN(NET_YAML, int, yaml_parser_parse, (yaml_parser_t *parser, yaml_event_t *event),
    (parser, event))
NET_VOID_FN(NET_YAML, yaml_event_delete, (yaml_event_t *event), (event))
NET_VOID_FN(NET_YAML, yaml_parser_delete, (yaml_parser_t *parser), (parser))
