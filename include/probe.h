/*
 * probe.h: probes the wizard makes itself (HTTP, TCP connect, Ethereum JSON-RPC), run by the
 * runner like any command: each is a transport whose job prints what it saw (status line,
 * headers, body, each assertion's verdict) and ends with exit status 0 (the probe holds) or
 * 1 with the reason as the message.
 */
#ifndef DW_PROBE_H
#define DW_PROBE_H

#include <stdbool.h>

#include "chain.h"
#include "transport.h"

struct http;

extern const struct transport_ops transport_probe_ops;

/*
 * A transport that makes probe p (its ${name}s already resolved; p is taken over and zeroed)
 * through h. connect_to ("host:port:connect-host:connect-port", or NULL) sends an HTTP probe
 * elsewhere (a tunnel, the demo host); ca_file (or NULL) is the CA an https probe trusts
 * when it is not insecure.
 */
struct transport *probe_transport_new(struct probe *p, struct http *h, const char *connect_to,
    const char *ca_file);
void probe_transport_free(struct transport **tp);
bool transport_is_probe(const struct transport *t);

/* A one-line description for the operator, e.g. "GET http://127.0.0.1:9080/prpc/Version".
 * Secrets in the URL must already be masked in p. */
char *probe_describe(const struct probe *p);

#endif
