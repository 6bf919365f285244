/*
 * demo.c: the demo host (--demo). Owns the sandbox (created once by assets/demo/init.sh), the
 * demo server (assets/demo/server.py) and the port map it writes, and the two ways commands
 * reach the simulation: every command gets the demo environment (stand-ins first on PATH, HOME
 * in the sandbox), and every probe that names a simulated port is sent to the loopback port
 * that answers for it.
 *
 * Nothing here touches anything outside the sandbox. The server is shared by the wizard
 * processes of a sandbox (a headless walk runs one process per command): each holds a shared
 * flock on sandbox/server.lock while it is open, the first one that needs the server starts it
 * (in its own session), later ones find it through server.pid, and the server exits by itself
 * a few seconds after the last wizard let go of the lock. The speed and the injected failure
 * are written to the sandbox by the wizard that gives them, where the server and every other
 * wizard read them: a command that gives none leaves them as they are.
 */
#include "config.h"

#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "runner.h"
#include "util.h"

#define DEMO_START_WAIT_MS  15000
#define DEMO_DEAD_PORT      9       /* "discard": nothing listens, so a connection is refused */

struct demo_portmap {
	unsigned port;      /* the simulated service port (8083, 443, ...) */
	unsigned lport;     /* the loopback port the demo server bound for it */
};

struct demo {
	char *assets;
	char *sandbox;
	char *root;
	char *home;
	char *ca_file;
	double speed;
	char *fail;
	int lock_fd;                /* shared flock on sandbox/server.lock while open */
	pid_t server;               /* the demo server (started by us or by another wizard) */
	pid_t child;                /* a server this process started (reaped at close) */
	struct demo_portmap *ports;
	size_t nports;
};

/*
 * The demo's inputs. Every value is public and for tests only: the private key is the first
 * account's of the well-known hardhat/anvil test mnemonic ("test test ... junk"), printed by
 * every anvil; it must never hold real funds on a real chain. The wallet is the account of the
 * key in use (engine_set_secret), this one's or one given.
 */
const struct demo_preset demo_presets[] = {
	{ "root", NULL, false, true },
	{ "server_ip", "127.0.0.1", false, false },
	{ "ssh_user", "ubuntu", false, false },
	{ "base_domain", DEMO_DOMAIN, false, false },
	{ "acme_email", "operator@" DEMO_DOMAIN, false, false },
	{ "local_repo_dir", "~/dstack", false, false },
	{ "eth_rpc_url", "http://127.0.0.1:8545", true, false },
	{ "cf_zone_id", "0123456789abcdef0123456789abcdef", false, false },
	{ "private_key", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
	    true, false },
	{ "intel_api_key", "deadbeefdeadbeefdeadbeefdeadbeef", true, false },
	{ "cf_api_token", "demo-cloudflare-token-0000000000000000", true, false },
	{ "kms_eth_rpc_url", "http://127.0.0.1:8545", true, false },
};
const unsigned demo_npresets = nitems(demo_presets);

/* Make path absolute (relative to the working directory). */
static char *
absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return xstrdup(path);
	return xprintf("%s/%s", cwd, path);
}

/* In a forked child: default signals, nothing blocked, no inherited descriptors but 0-2. */
static void
child_reset(const char *log_path)
{
	sigset_t none;
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		close(fd);
}

/* Put the demo variables into the current (child) environment. */
static void
child_env(const struct demo *d, const char *step)
{
	char speed[32];

	snprintf(speed, sizeof speed, "%g", d->speed);
	setenv("DEMO", "1", 1);
	setenv("DEMO_ASSETS", d->assets, 1);
	setenv("DEMO_SANDBOX", d->sandbox, 1);
	setenv("DEMO_SPEED", speed, 1);
	setenv("DEMO_FAIL", d->fail ? d->fail : "", 1);
	setenv("DEMO_STEP", step ? step : "", 1);
	setenv("PYTHONDONTWRITEBYTECODE", "1", 1);    /* nothing written next to the assets */
}

/* Run init.sh to create the sandbox; its output goes to sandbox/init.log. */
static int
demo_init(struct demo *d, char **cause)
{
	char *script = xprintf("%s/init.sh", d->assets), *log;
	int status = 0;
	pid_t pid;

	if (access(script, R_OK) != 0) {
		set_cause(cause, "the demo host's %s is missing: %s", script, strerror(errno));
		free(script);
		return -1;
	}
	if (mkdir_p(d->sandbox, 0700, cause) != 0) {
		free(script);
		return -1;
	}
	log = xprintf("%s/init.log", d->sandbox);
	pid = fork();
	if (pid < 0) {
		free(script);
		free(log);
		return set_cause(cause, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		child_reset(log);
		child_env(d, NULL);
		execlp("bash", "bash", script, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	free(script);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		set_cause(cause, "creating the demo sandbox failed (init.sh exit status %d); see %s",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1, log);
		free(log);
		return -1;
	}
	free(log);
	return 0;
}

/* Read a small setting file of the sandbox: its first line, or NULL if absent or empty. */
static char *
demo_get(const struct demo *d, const char *name)
{
	char *path = xprintf("%s/%s", d->sandbox, name), *text = NULL;
	size_t len;

	if (read_file(path, 4096, &text, &len, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		if (*text == '\0')
			freep(&text);
	}
	free(path);
	return text;
}

/* The speed kept in the sandbox (1 when none is). */
static double
demo_get_speed(const struct demo *d)
{
	char *s = demo_get(d, "demo-speed"), *end;
	double v = s != NULL ? strtod(s, &end) : 1;

	if (s != NULL && (end == s || !isfinite(v) || v < 0))
		v = 1;
	free(s);
	return v;
}

char *
demo_refusal(const struct demo *d, const char *name, const char *value)
{
	(void)d;
	/* The demo's certificates (assets/demo/init.sh) and DNS serve this domain and the names
	 * one label under it, nothing else: another value would fail at the first TLS probe. */
	if (strcmp(name, "base_domain") == 0 && strcmp(value, DEMO_DOMAIN) != 0)
		return xprintf("the demo host serves only %s (its certificates and DNS are made "
		    "for it); a real host takes any domain you own", DEMO_DOMAIN);
	if ((strcmp(name, "kms_domain") == 0 || strcmp(name, "gateway_rpc_domain") == 0 ||
	    strcmp(name, "registry_domain") == 0) && (!str_has_suffix(value, "." DEMO_DOMAIN) ||
	    strchr(value, '.') != value + strlen(value) - strlen("." DEMO_DOMAIN)))
		return xprintf("the demo host serves only names one label under %s (its "
		    "certificate is *.%s)", DEMO_DOMAIN, DEMO_DOMAIN);
	return NULL;
}

/* Write a small setting file into the sandbox (NULL: remove it). */
static void
demo_put(struct demo *d, const char *name, const char *value)
{
	char *path = xprintf("%s/%s", d->sandbox, name), *tmp = xprintf("%s.tmp", path);
	FILE *f;

	if (value == NULL)
		unlink(path);
	else if ((f = fopen(tmp, "w")) != NULL) {
		fputs(value, f);
		if (fclose(f) == 0)
			rename(tmp, path);
		else
			unlink(tmp);
	}
	free(tmp);
	free(path);
}

/* Open the demo. */
int
demo_open(const struct demo_opts *o, struct demo **out, char **cause)
{
	struct demo *d = xcalloc(1, sizeof *d);
	char *path, speed[32];
	struct stat sb;
	int rc;

	*out = NULL;
	d->assets = absolute(o->assets);
	d->sandbox = xprintf("%s/sandbox", o->state_dir);
	if (d->sandbox[0] != '/') {
		char *a = absolute(d->sandbox);

		free(d->sandbox);
		d->sandbox = a;
	}
	d->root = xprintf("%s/root", d->sandbox);
	d->home = xprintf("%s/home", d->sandbox);
	d->ca_file = xprintf("%s/ca/ca.pem", d->sandbox);
	d->speed = o->speed < 0 ? 0 : o->speed;
	d->fail = o->fail != NULL && *o->fail != '\0' ? xstrdup(o->fail) : NULL;
	d->server = -1;
	d->child = -1;
	d->lock_fd = -1;
	if (mkdir_p(d->sandbox, 0700, cause) != 0) {
		demo_close(&d);
		return -1;
	}
	path = xprintf("%s/server.lock", d->sandbox);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (d->lock_fd < 0) {
		set_cause(cause, "%s/server.lock: %s", d->sandbox, strerror(errno));
		demo_close(&d);
		return -1;
	}
	while (flock(d->lock_fd, LOCK_SH) != 0 && errno == EINTR)
		;
	path = xprintf("%s/.ready", d->sandbox);
	rc = stat(path, &sb) != 0 ? demo_init(d, cause) : 0;
	free(path);
	if (rc != 0) {
		demo_close(&d);
		return -1;
	}
	if (o->speed_set) {
		snprintf(speed, sizeof speed, "%g\n", d->speed);
		demo_put(d, "demo-speed", speed);
	} else
		d->speed = demo_get_speed(d);
	if (o->fail != NULL)
		demo_put(d, "demo-fail", d->fail);
	else
		d->fail = demo_get(d, "demo-fail");
	*out = d;
	return 0;
}

void
demo_close(struct demo **dp)
{
	struct demo *d = *dp;
	int status;

	if (d == NULL)
		return;
	/* The server stays for the other wizards; it exits once the lock is free. */
	if (d->child > 0)
		waitpid(d->child, &status, WNOHANG);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->assets);
	free(d->sandbox);
	free(d->root);
	free(d->home);
	free(d->ca_file);
	free(d->fail);
	free(d->ports);
	free(d);
	*dp = NULL;
}

/* The speed in use. */
double
demo_speed(const struct demo *d)
{
	return d->speed;
}

/* The step whose failure is injected, or NULL. */
const char *
demo_fail(const struct demo *d)
{
	return d->fail;
}

/* Change the speed, for this process's commands from now on and in the sandbox. */
void
demo_set_speed(struct demo *d, double speed)
{
	char buf[32];

	d->speed = speed < 0 ? 0 : speed;
	snprintf(buf, sizeof buf, "%g\n", d->speed);
	demo_put(d, "demo-speed", buf);
}

/* Inject step's failure (NULL or "": none), from now on and in the sandbox. */
void
demo_set_fail(struct demo *d, const char *step)
{
	free(d->fail);
	d->fail = step != NULL && *step != '\0' ? xstrdup(step) : NULL;
	demo_put(d, "demo-fail", d->fail);
}

const char *
demo_sandbox(const struct demo *d)
{
	return d->sandbox;
}

const char *
demo_root(const struct demo *d)
{
	return d->root;
}

/* Read the ports file the server wrote; -1 if it is not there (yet). */
static int
demo_read_ports(struct demo *d, const char *path)
{
	char *text = NULL, *line, *save = NULL;
	size_t len;

	if (read_file(path, 65536, &text, &len, NULL) != 0)
		return -1;
	free(d->ports);
	d->ports = NULL;
	d->nports = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned a, b;

		if (sscanf(line, "%u %u", &a, &b) != 2 || a == 0 || a > 65535 || b == 0 || b > 65535)
			continue;
		d->ports = xreallocarray(d->ports, d->nports + 1, sizeof *d->ports);
		d->ports[d->nports].port = a;
		d->ports[d->nports].lport = b;
		d->nports++;
	}
	free(text);
	return d->nports > 0 ? 0 : -1;
}

/* Is pid a live demo server (its command line names server.py)? */
static bool
demo_alive(pid_t pid)
{
	char path[64], *cmd = NULL;
	size_t len;
	bool ok;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if (read_file(path, 8192, &cmd, &len, NULL) != 0)
		return false;
	for (size_t i = 0; i + 1 < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	ok = strstr(cmd, "server.py") != NULL;
	free(cmd);
	return ok;
}

/* The pid in sandbox/server.pid, or -1. */
static pid_t
demo_server_pid(struct demo *d)
{
	char *path = xprintf("%s/server.pid", d->sandbox), *text = NULL;
	size_t len;
	long v = -1;

	if (read_file(path, 64, &text, &len, NULL) == 0)
		v = strtol(text, NULL, 10);
	free(text);
	free(path);
	return v > 0 ? (pid_t)v : -1;
}

/* The interpreter for the server: the one init.sh recorded (no shims), else python3. */
static char *
demo_python(struct demo *d)
{
	char *path = xprintf("%s/python3", d->sandbox), *text = NULL;
	size_t len;

	if (read_file(path, 4096, &text, &len, NULL) == 0) {
		text[strcspn(text, "\r\n")] = '\0';
		if (text[0] == '/' && access(text, X_OK) == 0) {
			free(path);
			return text;
		}
	}
	free(text);
	free(path);
	return xstrdup("python3");
}

/* Find the running demo server, or start one; load its port map. */
static int
demo_server(struct demo *d, char **cause)
{
	char *script, *ports, *log, *py;
	uint64_t t0;
	pid_t pid;
	int status;

	ports = xprintf("%s/ports", d->sandbox);
	if (d->server > 0 && demo_alive(d->server)) {
		free(ports);
		return 0;
	}
	pid = demo_server_pid(d);
	if (demo_alive(pid) && demo_read_ports(d, ports) == 0) {
		d->server = pid;
		free(ports);
		return 0;
	}
	if (d->child > 0 && waitpid(d->child, &status, WNOHANG) != 0)
		d->child = -1;
	script = xprintf("%s/server.py", d->assets);
	log = xprintf("%s/server.log", d->sandbox);
	py = demo_python(d);
	unlink(ports);
	pid = fork();
	if (pid < 0) {
		set_cause(cause, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		setsid();
		child_reset(log);
		child_env(d, NULL);
		execlp(py, "python3", script, (char *)NULL);
		_exit(127);
	}
	d->child = pid;
	t0 = now_ms();
	for (;;) {
		if (demo_server_pid(d) == pid && demo_read_ports(d, ports) == 0)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->child = -1;
			set_cause(cause, "the demo server exited at start-up; see %s", log);
			goto fail;
		}
		if (now_ms() - t0 > DEMO_START_WAIT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			d->child = -1;
			set_cause(cause, "the demo server did not start within %d s; see %s",
			    DEMO_START_WAIT_MS / 1000, log);
			goto fail;
		}
		usleep(10 * 1000);
	}
	d->server = pid;
	free(script);
	free(ports);
	free(log);
	free(py);
	return 0;
fail:
	free(script);
	free(ports);
	free(log);
	free(py);
	return -1;
}

unsigned
demo_port(struct demo *d, unsigned port)
{
	if (demo_server(d, NULL) != 0)
		return 0;
	for (size_t i = 0; i < d->nports; i++)
		if (d->ports[i].port == port)
			return d->ports[i].lport;
	return 0;
}

/* Add the demo environment for a step's commands to env. */
static void
demo_env_add(const struct demo *d, const char *step_id, struct strvec *env)
{
	const char *path = getenv("PATH");
	char speed[32];

	snprintf(speed, sizeof speed, "%g", d->speed);
	sv_push(env, "DEMO=1");
	sv_push_take(env, xprintf("DEMO_ASSETS=%s", d->assets));
	sv_push_take(env, xprintf("DEMO_SANDBOX=%s", d->sandbox));
	sv_push_take(env, xprintf("DEMO_SPEED=%s", speed));
	sv_push_take(env, xprintf("DEMO_FAIL=%s", d->fail ? d->fail : ""));
	sv_push_take(env, xprintf("DEMO_STEP=%s", step_id));
	sv_push(env, "PYTHONDONTWRITEBYTECODE=1");
	sv_push_take(env, xprintf("PATH=%s/bin:%s", d->assets,
	    path && *path ? path : "/usr/local/bin:/usr/bin:/bin"));
	sv_push_take(env, xprintf("HOME=%s", d->home));
}

/* The demo environment alone (the SSH pre-flight's probes run in it). */
char **
demo_env(const struct demo *d, const char *step_id)
{
	struct strvec env = {0};

	demo_env_add(d, step_id, &env);
	return env.v;
}

/* Give a command the demo environment. */
int
demo_cmd(struct demo *d, const char *step_id, struct run_cmd *rc, char **cause)
{
	struct strvec env = {0};

	if (demo_server(d, cause) != 0)
		return -1;
	if (rc->tc.env != NULL) {
		for (size_t i = 0; rc->tc.env[i] != NULL; i++)
			sv_push_take(&env, rc->tc.env[i]);
		free((void *)(uintptr_t)rc->tc.env);
	}
	demo_env_add(d, step_id, &env);
	rc->tc.env = env.v;
	if (rc->tc.cwd == NULL)
		rc->tc.cwd = xstrdup(d->home);
	else if (rc->tc.cwd[0] == '~' && (rc->tc.cwd[1] == '/' || rc->tc.cwd[1] == '\0')) {
		char *c = xprintf("%s%s", d->home, rc->tc.cwd + 1);

		free((void *)(uintptr_t)rc->tc.cwd);
		rc->tc.cwd = c;
	}
	return 0;
}

/* Split a URL into scheme, host and port; *rest points after the authority. */
static int
split_url(const char *url, char **host, unsigned *port, const char **auth, const char **rest)
{
	const char *p = strstr(url, "://"), *h, *e, *at;
	bool tls;

	if (p == NULL)
		return -1;
	tls = strncasecmp(url, "https", 5) == 0;
	h = p + 3;
	e = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(e - h));
	if (at != NULL)
		h = at + 1;
	*auth = h;
	*rest = e;
	*port = tls ? 443 : 80;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(e - h));

		if (rb == NULL)
			return -1;
		*host = xstrndup(h + 1, (size_t)(rb - h - 1));
		if (rb[1] == ':')
			*port = (unsigned)strtoul(rb + 2, NULL, 10);
		return 0;
	}
	p = memchr(h, ':', (size_t)(e - h));
	if (p != NULL) {
		*host = xstrndup(h, (size_t)(p - h));
		*port = (unsigned)strtoul(p + 1, NULL, 10);
	} else
		*host = xstrndup(h, (size_t)(e - h));
	return 0;
}

/* An http(s) URL with its host and port replaced by the loopback port that answers for it. */
char *
demo_url(struct demo *d, const char *url)
{
	const char *auth, *rest;
	char *host = NULL, *u;
	unsigned port, lport;

	if (split_url(url, &host, &port, &auth, &rest) != 0)
		return xstrdup(url);
	free(host);
	lport = demo_port(d, port);
	u = xprintf("%.*s127.0.0.1:%u%s", (int)(auth - url), url, lport ? lport : DEMO_DEAD_PORT,
	    rest);
	return u;
}

/* Point a probe at the demo server. */
int
demo_probe(struct demo *d, struct probe *p, char **connect_to, char **ca_file, char **cause)
{
	char *host = NULL;
	const char *auth, *rest;
	unsigned port, lport;

	*connect_to = NULL;
	*ca_file = NULL;
	if (demo_server(d, cause) != 0)
		return -1;
	*ca_file = xstrdup(d->ca_file);
	switch (p->kind) {
	case PROBE_HTTP:
		if (p->url == NULL || split_url(p->url, &host, &port, &auth, &rest) != 0)
			return 0;
		lport = demo_port(d, port);
		*connect_to = xprintf("%s%s%s:%u:127.0.0.1:%u", strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port, lport ? lport : DEMO_DEAD_PORT);
		break;
	case PROBE_RPC:
		if (p->url != NULL) {
			char *u = demo_url(d, p->url);

			secret_free(&p->url);
			p->url = u;
		}
		break;
	case PROBE_TCP: {
		const char *colon = p->target ? strrchr(p->target, ':') : NULL;

		if (colon == NULL)
			return 0;
		port = (unsigned)strtoul(colon + 1, NULL, 10);
		lport = demo_port(d, port);
		free(p->target);
		p->target = xprintf("127.0.0.1:%u", lport ? lport : DEMO_DEAD_PORT);
		break;
	}
	default:
		break;
	}
	free(host);
	return 0;
}
