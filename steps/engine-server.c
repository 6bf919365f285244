/*
 * engine-server.c: the server the server steps run on, and changing it while the wizard is
 * open (the server screen). The target is "[user@]host[:port]" (resolved by ssh -G, so an
 * ssh config Host alias works too), "local" (this machine), or none; with it go the SSH key
 * file (none: the agent, then ssh's IdentityFiles) and the known_hosts file (none: ssh's).
 * All three are remembered in the profile's state.
 *
 * The target is how the wizard reaches the server; server_ip is the public address written
 * into DNS records and configurations. They are often the same address, so when the target's
 * host (after ssh -G) is an IP address, it is server_ip's default.
 */
#include "config.h"

#include "engine.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "engine-int.h"
#include "remote.h"
#include "util.h"

/* Is host a loopback address (127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6)? */
static bool
is_loopback_address(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

/* Is host an IP address? */
static bool
is_ip_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * A connection to an SSH target (made by its first command). The demo host behind an SSH
 * target (demo): the sandbox and the demo server are on this machine, so the target must be
 * this machine's loopback (the address it connects to, after the ssh config's HostName);
 * supervised commands keep their files in the sandbox, and the pre-flight asks the
 * simulated host (once it is open).
 */
int
server_remote_new(struct engine *e, bool demo, const char *t, const char *identity,
    const char *known_hosts, struct remote **out, char **cause)
{
	struct remote_opts ro = { t, identity, known_hosts, e->ssh_config, e->accept_new };
	const struct ssh_target *st;
	const char *dir = getenv("DSTACK_WIZARD_REMOTE_DIR"), *host;
	struct ssh_opts so = {0};
	struct remote *r;
	char *remote_dir;

	*out = NULL;
	if (remote_new(e->loop, &ro, &r, cause) != 0)
		return -1;
	if (!demo) {
		*out = r;
		return 0;
	}
	st = ssh_conn_target(remote_conn(r));
	host = st->hostname != NULL ? st->hostname : st->host;
	if (host == NULL || !is_loopback_address(host)) {
		set_cause(cause, "the demo host is simulated on this machine, so its SSH target "
		    "must be a loopback address (127.0.0.0/8 or ::1), not %s",
		    host != NULL ? host : "(none)");
		remote_free(&r);
		return -1;
	}
	remote_dir = dir != NULL && *dir != '\0' ? xstrdup(dir) : xprintf("%s/sandbox/remote",
	    e->dir);
	so.remote_dir = remote_dir;
	ssh_conn_set_opts(remote_conn(r), &so);
	free(remote_dir);
	if (e->demo != NULL)
		remote_set_preflight_env(r, demo_env(e->demo, "preflight"));
	*out = r;
	return 0;
}

/* Remember the server in use (copies), and server_ip's default from it. */
void
server_in_use(struct engine *e, const char *t, const char *identity,
    const char *known_hosts)
{
	const struct ssh_target *st;
	const char *host;

	server_free(e);
	e->srv_target = t != NULL ? xstrdup(t) : NULL;
	e->srv_identity = identity != NULL ? xstrdup(identity) : NULL;
	e->srv_known_hosts = known_hosts != NULL ? xstrdup(known_hosts) : NULL;
	if (e->remote == NULL)
		return;
	st = ssh_conn_target(remote_conn(e->remote));
	host = st->hostname != NULL ? st->hostname : st->host;
	if (host != NULL && is_ip_address(host))
		e->server_ip = xstrdup(host);
}

/* Forget the server in use (not the ssh config and the host key policy). */
void
server_free(struct engine *e)
{
	freep(&e->srv_target);
	freep(&e->srv_identity);
	freep(&e->srv_known_hosts);
	freep(&e->server_ip);
}

/* The server in use; its strings are the engine's. */
void
engine_server(const struct engine *e, struct engine_server *out)
{
	out->target = e->srv_target;
	out->identity = e->srv_identity;
	out->known_hosts = e->srv_known_hosts;
}

/* server_ip's default: the target's address when it is an IP (NULL otherwise). */
const char *
engine_server_ip(const struct engine *e)
{
	return e->server_ip;
}

/*
 * Change the server: a new connection (made by the first command or pre-flight), remembered
 * in the profile. Refused while a step runs; an empty target means none.
 */
int
engine_set_server(struct engine *e, const struct engine_server *s, char **cause)
{
	const char *t = s->target != NULL && *s->target != '\0' ? s->target : NULL;
	const char *id = s->identity != NULL && *s->identity != '\0' ? s->identity : NULL;
	const char *kh = s->known_hosts != NULL && *s->known_hosts != '\0' ? s->known_hosts :
	    NULL;
	struct remote *r = NULL;

	if (e->readonly != NULL)
		return set_cause(cause, "%s", e->readonly);
	if (engine_busy(e) || e->pf != NULL)
		return set_cause(cause, "a step is running: change the server when it is over");
	if (t != NULL && strcmp(t, "local") == 0) {
		if (e->demo != NULL)
			return set_cause(cause, "the demo runs the server steps on its simulated host; "
			    "an SSH target on the loopback is allowed, local is not");
		id = kh = NULL;
	} else if (t != NULL && server_remote_new(e, e->demo != NULL, t, id, kh, &r, cause) != 0)
		return -1;
	remote_free(&e->remote);
	e->remote = r;
	e->target_local = e->demo != NULL || (t != NULL && strcmp(t, "local") == 0);
	server_in_use(e, t, id, kh);
	update_begin(e);
	free(e->state->target);
	free(e->state->identity);
	free(e->state->known_hosts);
	e->state->target = t != NULL ? xstrdup(t) : NULL;
	e->state->identity = id != NULL ? xstrdup(id) : NULL;
	e->state->known_hosts = kh != NULL ? xstrdup(kh) : NULL;
	return update_end(e, cause);
}
