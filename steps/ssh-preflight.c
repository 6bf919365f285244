/*
 * ssh-preflight.c: can the wizard work on this server? The connection itself answers
 * "reachable", "host-key" and "login"; four probes, run in parallel on the one session,
 * answer "sudo" (passwordless), "os", "clock" (skew against the local clock) and "disk"
 * (free space in the home directory). Each result says what was found and, when it is not
 * fine, exactly how to fix it.
 */
#include "config.h"

#include "ssh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "util.h"

#define PF_MIN_FREE_GIB 20
#define PF_WARN_FREE_GIB 50
#define PF_MAX_SKEW_S 60
#define PF_WARN_SKEW_S 5
#define PF_MAX_OUTPUT 4096

static const struct ssh_pf_probe pf_probes[] = {
	{ "sudo", "Passwordless sudo",
	  "u=$(id -un); if [ \"$(id -u)\" -eq 0 ]; then echo \"root $u\"; "
	  "elif ! command -v sudo >/dev/null 2>&1; then echo \"nosudo $u\"; "
	  "elif sudo -n true 2>/dev/null; then echo \"ok $u\"; else echo \"password $u\"; fi" },
	/* On the demo host (DEMO_SANDBOX set) the simulated server's os-release. */
	{ "os", "Operating system",
	  "uname -s; r=/etc/os-release; [ -z \"${DEMO_SANDBOX:-}\" ] || "
	  "r=$DEMO_SANDBOX/root/etc/os-release; if [ -r \"$r\" ]; then . \"$r\"; "
	  "printf '%s|%s|%s\\n' \"$ID\" \"$VERSION_ID\" \"$PRETTY_NAME\"; fi" },
	{ "clock", "Clock", "date +%s" },
	{ "disk", "Free disk space", "df -Pk ~ | awk 'NR==2 {print $4, $6}'" },
};

/* The probes. */
const struct ssh_pf_probe *
ssh_preflight_probes(size_t *n)
{
	*n = nitems(pf_probes);
	return pf_probes;
}

/* Free an item's strings. */
void
ssh_pf_item_clear(struct ssh_pf_item *item)
{
	free(item->detail);
	free(item->fix);
	item->detail = item->fix = NULL;
}

/* Fill an item. */
static void
pf_set(struct ssh_pf_item *item, enum ssh_pf_status st, char *detail, char *fix)
{
	ssh_pf_item_clear(item);
	item->status = st;
	item->detail = detail;
	item->fix = fix;
}

/* The title of a probe or connection item. */
static const char *
pf_title(const char *id)
{
	if (strcmp(id, "reachable") == 0)
		return "Server reachable";
	if (strcmp(id, "host-key") == 0)
		return "Host key";
	if (strcmp(id, "login") == 0)
		return "Login with a key";
	for (size_t i = 0; i < nitems(pf_probes); i++) {
		if (strcmp(pf_probes[i].id, id) == 0)
			return pf_probes[i].title;
	}
	return id;
}

/* Judge one probe's output. */
void
ssh_preflight_judge(const char *id, int exit_code, const char *output, time_t local_now,
    const struct ssh_pf_opts *o, struct ssh_pf_item *item)
{
	unsigned min_gib = o != NULL && o->min_free_gib != 0 ? o->min_free_gib : PF_MIN_FREE_GIB;
	unsigned warn_gib = o != NULL && o->warn_free_gib != 0 ? o->warn_free_gib : PF_WARN_FREE_GIB;
	unsigned max_skew = o != NULL && o->max_skew_s != 0 ? o->max_skew_s : PF_MAX_SKEW_S;
	char *out = xstrdup(output != NULL ? output : ""), word[32], user[256];
	size_t n = strlen(out);

	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	item->id = id;
	item->title = pf_title(id);
	item->detail = item->fix = NULL;
	item->status = SSH_PF_FAIL;
	if (exit_code != 0 && strcmp(id, "os") != 0) {
		pf_set(item, SSH_PF_FAIL, xprintf("the probe failed (exit status %d): %s", exit_code,
		    n > 0 ? out : "no output"), xstrdup("run the probe by hand on the server to see why"));
		free(out);
		return;
	}
	if (strcmp(id, "sudo") == 0) {
		if (sscanf(out, "%31s %255s", word, user) != 2) {
			pf_set(item, SSH_PF_FAIL, xprintf("unexpected output \"%s\"", out), NULL);
		} else if (strcmp(word, "root") == 0) {
			pf_set(item, SSH_PF_OK, xstrdup("logged in as root: sudo is not needed"), NULL);
		} else if (strcmp(word, "ok") == 0) {
			pf_set(item, SSH_PF_OK, xprintf("%s may use sudo without a password", user), NULL);
		} else if (strcmp(word, "nosudo") == 0) {
			pf_set(item, SSH_PF_FAIL, xprintf("sudo is not installed, and %s is not root",
			    user), xprintf("as root on the server: apt-get install -y sudo, then "
			    "echo '%s ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/%s && chmod 0440 "
			    "/etc/sudoers.d/%s", user, user, user));
		} else {
			pf_set(item, SSH_PF_FAIL, xprintf("sudo asks %s for a password (the wizard "
			    "cannot type it)", user), xprintf("on the server: echo '%s ALL=(ALL) "
			    "NOPASSWD:ALL' | sudo tee /etc/sudoers.d/%s && sudo chmod 0440 "
			    "/etc/sudoers.d/%s", user, user, user));
		}
	} else if (strcmp(id, "os") == 0) {
		char *nl = strchr(out, '\n'), *rel = nl != NULL ? nl + 1 : NULL;
		char *f1, *f2;

		if (nl != NULL)
			*nl = '\0';
		if (strcmp(out, "Linux") != 0) {
			pf_set(item, SSH_PF_FAIL, xprintf("the server runs %s, not Linux", n > 0 ? out :
			    "an unknown system"), xstrdup("dstack needs a Linux TDX host (Ubuntu 24.04)"));
		} else if (rel == NULL || (f1 = strchr(rel, '|')) == NULL ||
		    (f2 = strchr(f1 + 1, '|')) == NULL) {
			pf_set(item, SSH_PF_WARN, xstrdup("Linux without /etc/os-release"),
			    xstrdup("dstack's host setup is made for Ubuntu 24.04; other systems may need "
			    "manual work"));
		} else {
			*f1 = *f2 = '\0';
			if (strcmp(rel, "ubuntu") == 0 && (strcmp(f1 + 1, "24.04") == 0 ||
			    strcmp(f1 + 1, "25.04") == 0))
				pf_set(item, SSH_PF_OK, xstrdup(f2 + 1), NULL);
			else
				pf_set(item, SSH_PF_WARN, xprintf("%s (dstack's TDX host setup targets "
				    "Ubuntu 24.04)", *(f2 + 1) != '\0' ? f2 + 1 : rel),
				    xstrdup("install Ubuntu 24.04 on the host, or expect to adapt the "
				    "TDX setup steps by hand"));
		}
	} else if (strcmp(id, "clock") == 0) {
		char *end;
		long long remote = strtoll(out, &end, 10), skew;

		if (n == 0 || *end != '\0') {
			pf_set(item, SSH_PF_FAIL, xprintf("unexpected output \"%s\"", out), NULL);
		} else {
			skew = remote - (long long)local_now;
			if (llabs(skew) <= PF_WARN_SKEW_S)
				pf_set(item, SSH_PF_OK, xprintf("the clocks agree (%+lld s)", skew), NULL);
			else
				pf_set(item, llabs(skew) <= (long long)max_skew ? SSH_PF_WARN : SSH_PF_FAIL,
				    xprintf("the server's clock is %lld s %s this machine's", llabs(skew),
				    skew > 0 ? "ahead of" : "behind"),
				    xstrdup("turn on time synchronisation on the server (sudo timedatectl "
				    "set-ntp true; timedatectl must show \"System clock synchronized: yes\"), "
				    "and on this machine too: attestation and TLS certificates check the time"));
		}
	} else if (strcmp(id, "disk") == 0) {
		unsigned long long kib;
		char mount[256];

		if (sscanf(out, "%llu %255s", &kib, mount) != 2) {
			pf_set(item, SSH_PF_FAIL, xprintf("unexpected output \"%s\"", out), NULL);
		} else {
			double gib = (double)kib / (1024.0 * 1024.0);
			enum ssh_pf_status st = gib < min_gib ? SSH_PF_FAIL :
			    (gib < warn_gib ? SSH_PF_WARN : SSH_PF_OK);

			pf_set(item, st, xprintf("%.1f GiB free on %s", gib, mount), st == SSH_PF_OK ?
			    NULL : xprintf("free space on %s (docker system prune, sudo apt-get clean) or "
			    "grow the disk: the guest images, container images and the Rust build need "
			    "about %u GiB", mount, warn_gib));
		}
	} else
		pf_set(item, SSH_PF_FAIL, xprintf("unknown probe %s", id), NULL);
	free(out);
}

/* The connection items: reachable, host-key, login. */
void
ssh_preflight_connection(struct ssh_conn *c, struct ssh_pf_item *items, size_t nitems_)
{
	static const char *ids[] = { "reachable", "host-key", "login" };
	const struct ssh_target *t = ssh_conn_target(c);
	const char *msg = NULL;
	enum ssh_failure f = ssh_conn_failure(c, &msg);
	const char *fp = ssh_conn_fingerprint(c);
	int stage;   /* 0: not reachable, 1: host key, 2: login, 3: all fine */

	for (size_t i = 0; i < nitems_ && i < nitems(ids); i++) {
		items[i].id = ids[i];
		items[i].title = pf_title(ids[i]);
		items[i].detail = items[i].fix = NULL;
	}
	switch (f) {
	case SSH_FAIL_RESOLVE:
	case SSH_FAIL_CONNECT:
	case SSH_FAIL_HANDSHAKE:
	case SSH_FAIL_LOST:
		stage = 0;
		break;
	case SSH_FAIL_HOSTKEY_UNKNOWN:
	case SSH_FAIL_HOSTKEY_CHANGED:
	case SSH_FAIL_HOSTKEY_ERROR:
		stage = 1;
		break;
	case SSH_FAIL_AUTH:
	case SSH_FAIL_AUTH_RSA:
		stage = 2;
		break;
	default:
		stage = ssh_conn_state(c) == SSH_STATE_CONNECTED ? 3 : 0;
		break;
	}
	if (nitems_ < 3)
		return;
	if (stage == 0) {
		const char *fix;

		switch (f) {
		case SSH_FAIL_RESOLVE:
			fix = "check the host name, or use the server's IP address";
			break;
		case SSH_FAIL_HANDSHAKE:
			fix = "check that this port is the server's sshd (OpenSSH), not another service";
			break;
		default:
			fix = "check the address and port, that sshd runs on the server (sudo systemctl "
			    "status ssh) and that no firewall blocks the port";
			break;
		}
		if (t->proxy_jump != NULL && f == SSH_FAIL_CONNECT)
			pf_set(&items[0], SSH_PF_FAIL, xstrdup(msg != NULL ? msg : "not connected"),
			    xprintf("check that ssh -J %s reaches port %d of %s from this machine; the "
			    "jump host's key must be known already (its ssh runs with BatchMode, and "
			    "cannot ask)", t->proxy_jump, t->port, t->hostname));
		else if (t->proxy_command != NULL && f == SSH_FAIL_CONNECT)
			pf_set(&items[0], SSH_PF_FAIL, xstrdup(msg != NULL ? msg : "not connected"),
			    xprintf("check the ProxyCommand of %s in the ssh config (ssh -G %s shows "
			    "it)", t->host, t->host));
		else
			pf_set(&items[0], SSH_PF_FAIL, xstrdup(msg != NULL ? msg : "not connected"),
			    xprintf("%s (port %d/tcp)", fix, t->port));
		pf_set(&items[1], SSH_PF_SKIPPED, xstrdup("not reached"), NULL);
		pf_set(&items[2], SSH_PF_SKIPPED, xstrdup("not reached"), NULL);
		return;
	}
	pf_set(&items[0], SSH_PF_OK, xprintf("%s answers", t->hostname), NULL);
	if (stage == 1) {
		pf_set(&items[1], SSH_PF_FAIL, xstrdup(msg), xstrdup(f == SSH_FAIL_HOSTKEY_CHANGED ?
		    "find out why the key changed before anything else (ask the server's administrator)" :
		    "compare the fingerprint with the server's own, then accept the host key"));
		pf_set(&items[2], SSH_PF_SKIPPED, xstrdup("not reached"), NULL);
		return;
	}
	pf_set(&items[1], SSH_PF_OK, xprintf("known (%s)", fp != NULL ? fp : "?"), NULL);
	if (stage == 2) {
		pf_set(&items[2], SSH_PF_FAIL, xstrdup(msg), xstrdup(f == SSH_FAIL_AUTH_RSA ?
		    "ssh-keygen -t ed25519, then add ~/.ssh/id_ed25519.pub to the server's "
		    "~/.ssh/authorized_keys" :
		    "add your public key to the server's ~/.ssh/authorized_keys (ssh-copy-id)"));
		return;
	}
	pf_set(&items[2], SSH_PF_OK, xprintf("logged in as %s", t->user), NULL);
}

#define PF_NITEMS 7

/* One probe's slot, for its callbacks. */
struct pf_slot {
	struct ssh_preflight *pf;
	size_t i;
};

struct ssh_preflight {
	struct ssh_conn *conn;
	struct ssh_pf_opts opts;
	ssh_preflight_cb cb;
	void *data;
	struct tjob *jobs[nitems(pf_probes)];
	struct strbuf out[nitems(pf_probes)];
	int code[nitems(pf_probes)];
	enum tjob_end how[nitems(pf_probes)];
	time_t when[nitems(pf_probes)];
	bool ended[nitems(pf_probes)];
	size_t nended;
	struct ssh_pf_item items[PF_NITEMS];
	struct pf_slot slots[nitems(pf_probes)];
	uint64_t timer;
};

/* Output of a probe (stdout kept, bounded). */
static void
pf_output(void *data, int stream, const char *buf, size_t len)
{
	struct pf_slot *s = data;
	struct strbuf *sb = &s->pf->out[s->i];

	if (stream == STREAM_OUT && sb->len < PF_MAX_OUTPUT)
		sb_add(sb, buf, len < PF_MAX_OUTPUT - sb->len ? len : PF_MAX_OUTPUT - sb->len);
}

/* All probes ended: judge, then tell the caller. */
static void
pf_done_cb(void *data)
{
	struct ssh_preflight *pf = data;
	size_t k = 3;

	pf->timer = 0;
	ssh_preflight_connection(pf->conn, pf->items, 3);
	for (size_t i = 0; i < nitems(pf_probes); i++, k++) {
		if (pf->how[i] != TJOB_EXITED || pf->items[0].status != SSH_PF_OK ||
		    pf->items[2].status != SSH_PF_OK) {
			pf->items[k].id = pf_probes[i].id;
			pf->items[k].title = pf_probes[i].title;
			if (pf->items[2].status == SSH_PF_OK && pf->items[0].status == SSH_PF_OK)
				pf_set(&pf->items[k], SSH_PF_FAIL, xstrdup("the probe did not run to the "
				    "end"), xstrdup("run the pre-flight again"));
			else
				pf_set(&pf->items[k], SSH_PF_SKIPPED, xstrdup("not logged in"), NULL);
			continue;
		}
		ssh_preflight_judge(pf_probes[i].id, pf->code[i], sb_str(&pf->out[i]), pf->when[i],
		    &pf->opts, &pf->items[k]);
	}
	pf->cb(pf->data, pf->items, PF_NITEMS);
}

/* A probe ended. */
static void
pf_end(void *data, enum tjob_end how, int code, const char *message)
{
	struct pf_slot *s = data;
	struct ssh_preflight *pf = s->pf;

	pf->ended[s->i] = true;
	pf->how[s->i] = how;
	pf->code[s->i] = code;
	pf->when[s->i] = time(NULL);
	if (++pf->nended == nitems(pf_probes) && pf->timer == 0)
		pf->timer = loop_add_timer(ssh_conn_loop(pf->conn), 0, pf_done_cb, pf);
}

/* Run the pre-flight on a connection. */
struct ssh_preflight *
ssh_preflight_start(struct ssh_conn *c, const struct ssh_pf_opts *o, ssh_preflight_cb cb,
    void *data)
{
	struct ssh_preflight *pf = xcalloc(1, sizeof *pf);
	struct pf_slot *slots = pf->slots;

	pf->conn = c;
	if (o != NULL)
		pf->opts = *o;
	pf->cb = cb;
	pf->data = data;
	for (size_t i = 0; i < nitems(pf_probes); i++) {
		struct transport_cmd tc;
		struct tjob_cbs jc;
		char *cause = NULL;

		memset(&tc, 0, sizeof tc);
		tc.script = pf_probes[i].script;
		tc.env = pf->opts.env;
		slots[i].pf = pf;
		slots[i].i = i;
		jc.output = pf_output;
		jc.end = pf_end;
		jc.data = &slots[i];
		pf->jobs[i] = transport_ssh_ops.start(c, ssh_conn_loop(c), &tc, &jc, &cause);
		if (pf->jobs[i] == NULL) {
			free(cause);
			pf->ended[i] = true;
			pf->how[i] = TJOB_FAILED;
			pf->code[i] = -1;
			pf->nended++;
		}
	}
	if (pf->nended == nitems(pf_probes))
		pf->timer = loop_add_timer(ssh_conn_loop(c), 0, pf_done_cb, pf);
	return pf;
}

/* Free a pre-flight (its probes are stopped if still running). */
void
ssh_preflight_free(struct ssh_preflight **pp)
{
	struct ssh_preflight *pf = *pp;

	if (pf == NULL)
		return;
	*pp = NULL;
	if (pf->timer != 0)
		loop_del_timer(ssh_conn_loop(pf->conn), pf->timer);
	for (size_t i = 0; i < nitems(pf_probes); i++) {
		if (pf->jobs[i] != NULL)
			transport_ssh_ops.free(pf->jobs[i]);
		sb_free(&pf->out[i]);
	}
	for (size_t i = 0; i < PF_NITEMS; i++)
		ssh_pf_item_clear(&pf->items[i]);
	free(pf);
}
