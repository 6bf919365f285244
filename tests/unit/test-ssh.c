/*
 * test-ssh.c: the SSH transport against a real OpenSSH sshd on 127.0.0.1 (started by
 * tests/lib/sshd.sh; a second one is the jump host of ProxyJump), plus its offline parts:
 * targets through the real ssh -G and the parser of its output, known_hosts, key files,
 * fingerprints, the pre-flight judgements.
 *
 * DW_SSH_BIG_MB sets the size of the big-output case (default 20, many times the SSH
 * window; smaller under valgrind).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "loop.h"
#include "ssh.h"
#include "transport.h"
#include "util.h"

#include "testlib.h"

#define WAIT_MS 20000

/* The sshd and the test's temporary world. */
static struct {
	char *tmp;
	char *sshd_dir;
	char *home;
	int port;
	char *user;
	char *log;
	char *host_pub;
	char *known_hosts;
	char *user_key;
	char *enc_key;
	char *pem_key;
	char *rsa_key;
	char *other_key;
	char *passphrase;
	struct loop *loop;
	unsigned char *hostkey;     /* the host key blob */
	size_t hostkey_len;
} g;

/* What the callbacks saw. */
struct seen {
	unsigned hostkey_calls;
	char *hostkey_fp;
	char *hostkey_host;
	int hostkey_answer;          /* 1 yes, 0 no */
	unsigned pass_calls;
	unsigned pass_attempts[8];
	const char *pass_answers[8]; /* NULL entry: answer NULL */
	struct strvec states;        /* "state:message" */
	struct ssh_conn *conn;
	uint64_t answer_timer;
};

static struct seen S;

/* A command's collected result. */
struct res {
	struct strbuf out;
	struct strbuf err;
	bool ended;
	enum tjob_end how;
	int code;
	char *msg;
	bool hash;                   /* hash stdout instead of keeping it */
	struct sha256_ctx sha;
	uint64_t out_bytes;
	const char *watch;           /* set flag when stdout contains this */
	bool watch_seen;
	bool watch_seen_before_end;
	struct tjob *job;
};

/* Run a shell command line, return its exit status. */
static int
sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = xvprintf(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Run a command and capture its stdout (first line, newline stripped). */
static char *
sh_out(const char *fmt, ...)
{
	va_list ap;
	char *cmd, line[4096];
	FILE *f;

	va_start(ap, fmt);
	cmd = xvprintf(fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	free(cmd);
	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

/* One variable from sshd.env. */
static char *
env_var(const char *name)
{
	return sh_out("bash -c '. \"%s/sshd.env\"; printf \"%%s\\n\" \"$%s\"'", g.sshd_dir, name);
}

/* Decode the key blob of a .pub file. */
static unsigned char *
pub_blob(const char *path, size_t *len)
{
	char *text = NULL, *cause = NULL, *b64, *end;
	struct base64_decode_ctx ctx;
	unsigned char *blob;
	size_t n;

	if (read_file(path, 1 << 16, &text, NULL, &cause) != 0)
		fail_msg("%s", cause);
	b64 = strchr(text, ' ') + 1;
	end = strchr(b64, ' ');
	if (end == NULL)
		end = b64 + strcspn(b64, "\n");
	blob = xmalloc(BASE64_DECODE_LENGTH(end - b64) + 1);
	n = BASE64_DECODE_LENGTH(end - b64) + 1;
	base64_decode_init(&ctx);
	assert_true(base64_decode_update(&ctx, &n, blob, (size_t)(end - b64), b64));
	assert_true(base64_decode_final(&ctx));
	*len = n;
	free(text);
	return blob;
}

/* Start sshd once for the whole group. */
static int
group_setup(void **state)
{
	char *port;

	g.tmp = tl_tmpdir();
	g.sshd_dir = xprintf("%s/sshd", g.tmp);
	g.home = xprintf("%s/home", g.tmp);
	mkdir(g.home, 0700);
	setenv("HOME", g.home, 1);
	unsetenv("SSH_AUTH_SOCK");
	signal(SIGPIPE, SIG_IGN);
	if (sh("SSHD_WATCH_PID=%d bash '%s/tests/lib/sshd.sh' start '%s' >&2", (int)getpid(),
	    tl_srcdir(), g.sshd_dir) != 0) {
		fprintf(stderr, "cannot start sshd\n");
		return -1;
	}
	port = env_var("SSHD_PORT");
	g.port = atoi(port);
	free(port);
	g.user = env_var("SSHD_USER");
	g.log = env_var("SSHD_LOG");
	g.host_pub = env_var("SSHD_HOST_PUB");
	g.known_hosts = env_var("SSHD_KNOWN_HOSTS");
	g.user_key = env_var("SSHD_USER_KEY");
	g.enc_key = env_var("SSHD_ENC_KEY");
	g.pem_key = env_var("SSHD_PEM_KEY");
	g.rsa_key = env_var("SSHD_RSA_KEY");
	g.other_key = env_var("SSHD_OTHER_KEY");
	g.passphrase = env_var("SSHD_PASSPHRASE");
	g.hostkey = pub_blob(g.host_pub, &g.hostkey_len);
	g.loop = loop_new();
	return g.port > 0 ? 0 : -1;
}

/* Stop sshd and remove everything. */
static int
group_teardown(void **state)
{
	sh("bash '%s/tests/lib/sshd.sh' stop '%s'", tl_srcdir(), g.sshd_dir);
	loop_free(&g.loop);
	if (getenv("DW_TEST_KEEP") == NULL)
		tl_rmrf(g.tmp);
	else
		fprintf(stderr, "kept %s\n", g.tmp);
	free(g.tmp);
	free(g.sshd_dir);
	free(g.home);
	free(g.user);
	free(g.log);
	free(g.host_pub);
	free(g.known_hosts);
	free(g.user_key);
	free(g.enc_key);
	free(g.pem_key);
	free(g.rsa_key);
	free(g.other_key);
	free(g.passphrase);
	free(g.hostkey);
	return 0;
}

/* Reset what the callbacks saw. */
static int
case_setup(void **state)
{
	free(S.hostkey_fp);
	free(S.hostkey_host);
	sv_free(&S.states);
	memset(&S, 0, sizeof S);
	S.hostkey_answer = 1;
	return 0;
}

/* Forget the case's leftovers. */
static int
case_teardown(void **state)
{
	if (S.answer_timer != 0)
		loop_del_timer(g.loop, S.answer_timer);
	free(S.hostkey_fp);
	free(S.hostkey_host);
	sv_free(&S.states);
	memset(&S, 0, sizeof S);
	return 0;
}

/* Answer the host key question from the loop, like a person would. */
static void
answer_hostkey_cb(void *data)
{
	S.answer_timer = 0;
	ssh_conn_answer_hostkey(S.conn, S.hostkey_answer == 1);
}

/* The host key is unknown. */
static void
cb_hostkey(void *data, struct ssh_conn *c, const struct ssh_hostkey *k)
{
	S.hostkey_calls++;
	free(S.hostkey_fp);
	free(S.hostkey_host);
	S.hostkey_fp = xstrdup(k->fingerprint);
	S.hostkey_host = xstrdup(k->host);
	assert_string_equal(k->type, "ssh-ed25519");
	S.conn = c;
	S.answer_timer = loop_add_timer(g.loop, 10, answer_hostkey_cb, NULL);
}

/* A passphrase is needed: answer at once (synchronously). */
static void
cb_pass(void *data, struct ssh_conn *c, const char *file, unsigned attempt)
{
	unsigned i = S.pass_calls++;

	assert_true(i < 8);
	S.pass_attempts[i] = attempt;
	ssh_conn_answer_passphrase(c, S.pass_answers[i]);
}

/* Record state changes. */
static void
cb_state(void *data, struct ssh_conn *c, enum ssh_state st, const char *message)
{
	sv_push_take(&S.states, xprintf("%d:%s", (int)st, message != NULL ? message : ""));
}

/* Did the state callback report st? */
static bool
saw_state(enum ssh_state st)
{
	char pre[8];

	snprintf(pre, sizeof pre, "%d:", (int)st);
	for (size_t i = 0; i < S.states.n; i++) {
		if (str_has_prefix(S.states.v[i], pre))
			return true;
	}
	return false;
}

/* A connection to the test sshd. */
static struct ssh_conn *
mkconn(const char *identity, const char *known_hosts, bool accept_new, bool with_hostkey_cb,
    bool with_pass_cb)
{
	struct ssh_target t;
	struct ssh_cbs cbs = { NULL, NULL, cb_state, NULL };
	struct ssh_conn *c;
	char *spec = xprintf("%s@127.0.0.1:%d", g.user, g.port), *cause = NULL;

	if (ssh_target_resolve(spec, "none", &t, &cause) != 0)
		fail_msg("%s", cause);
	free(spec);
	t.identity = identity != NULL ? xstrdup(identity) : NULL;
	t.known_hosts = xstrdup(known_hosts != NULL ? known_hosts : g.known_hosts);
	t.accept_new = accept_new;
	if (with_hostkey_cb)
		cbs.hostkey = cb_hostkey;
	if (with_pass_cb)
		cbs.passphrase = cb_pass;
	c = ssh_conn_new(g.loop, &t, &cbs);
	ssh_target_clear(&t);
	S.conn = c;
	return c;
}

/* Collect output. */
static void
r_output(void *data, int stream, const char *buf, size_t len)
{
	struct res *r = data;

	assert_false(r->ended);
	if (stream == STREAM_OUT) {
		r->out_bytes += len;
		if (r->hash)
			sha256_update(&r->sha, len, (const uint8_t *)buf);
		else
			sb_add(&r->out, buf, len);
		if (r->watch != NULL && !r->watch_seen && !r->hash &&
		    strstr(sb_str(&r->out), r->watch) != NULL) {
			r->watch_seen = true;
			r->watch_seen_before_end = !r->ended;
		}
	} else
		sb_add(&r->err, buf, len);
}

/* The end. */
static void
r_end(void *data, enum tjob_end how, int code, const char *message)
{
	struct res *r = data;

	assert_false(r->ended);
	r->ended = true;
	r->how = how;
	r->code = code;
	r->msg = message != NULL ? xstrdup(message) : NULL;
}

/* Start a command on c. */
static void
start(struct ssh_conn *c, const struct transport_cmd *tc, struct res *r)
{
	struct tjob_cbs cbs = { r_output, r_end, r };
	char *cause = NULL;

	if (r->hash)
		sha256_init(&r->sha);
	r->job = transport_ssh_ops.start(c, g.loop, tc, &cbs, &cause);
	if (r->job == NULL)
		fail_msg("start: %s", cause);
}

/* Turn the loop until *flag or the deadline; returns *flag. */
static bool
spin(const bool *flag, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (!*flag && now_ms() < end)
		loop_run_once(g.loop, 50);
	return *flag;
}

/* Turn the loop for ms. */
static void
spin_for(unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		loop_run_once(g.loop, (int)(end - now_ms()));
}

/* Free a result (and its job). */
static void
res_clear(struct res *r)
{
	if (r->job != NULL)
		transport_ssh_ops.free(r->job);
	sb_free(&r->out);
	sb_free(&r->err);
	free(r->msg);
	memset(r, 0, sizeof *r);
}

/* Run one script to its end. */
static void
run_script(struct ssh_conn *c, const char *script, struct res *r)
{
	struct transport_cmd tc;

	memset(&tc, 0, sizeof tc);
	tc.script = script;
	start(c, &tc, r);
	if (!spin(&r->ended, WAIT_MS)) {
		/* How far it got tells a stall from a slow run. */
		uint64_t out = r->hash ? r->out_bytes : r->out.len;
		size_t err = r->err.len;

		/* Free the job first: its callbacks must not reach this frame after the jump. */
		res_clear(r);
		fail_msg("\"%s\" did not end in %u ms (%llu bytes of stdout, %zu of stderr seen)",
		    script, WAIT_MS, (unsigned long long)out, err);
	}
}

/* The text of a file ("" if missing). */
static char *
slurp(const char *path)
{
	char *text = NULL, *cause = NULL;

	if (read_file(path, 1 << 20, &text, NULL, &cause) != 0) {
		free(cause);
		return xstrdup("");
	}
	return text;
}

/* Count the lines of a string. */
static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* ------------------------------------------------------------------ offline */

/* Is s one of the strings of sv? */
static bool
sv_has(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++) {
		if (strcmp(sv->v[i], s) == 0)
			return true;
	}
	return false;
}

/* Targets from specs, through the real ssh -G with no config file ("none"). */
static void
test_target_spec(void **state)
{
	struct ssh_target t;
	char *cause = NULL, *s;

	assert_int_equal(ssh_target_resolve("alice@example.org:2222", "none", &t, &cause), 0);
	assert_string_equal(t.user, "alice");
	assert_string_equal(t.host, "example.org");
	assert_string_equal(t.hostname, "example.org");
	assert_int_equal(t.port, 2222);
	assert_null(t.identity);
	assert_null(t.proxy_jump);
	assert_null(t.proxy_command);
	assert_string_equal(t.config, "none");
	/* No IdentityFile: OpenSSH's defaults, which the wizard tries without a word if missing. */
	assert_true(t.identity_defaults);
	s = xprintf("%s/.ssh/id_ed25519", g.home);
	assert_true(sv_has(&t.identity_files, s));
	free(s);
	assert_true(t.known_hosts_files.n >= 1);
	assert_true(str_has_suffix(t.known_hosts_files.v[0], "/.ssh/known_hosts"));
	s = ssh_target_string(&t);
	assert_string_equal(s, "alice@example.org:2222");
	free(s);
	ssh_target_clear(&t);

	assert_int_equal(ssh_target_resolve("[::1]:2200", "none", &t, &cause), 0);
	assert_string_equal(t.hostname, "::1");
	assert_int_equal(t.port, 2200);
	assert_non_null(t.user);
	s = ssh_target_string(&t);
	assert_true(strstr(s, "@[::1]:2200") != NULL);
	free(s);
	ssh_target_clear(&t);

	assert_int_equal(ssh_target_resolve("fe80::1", "none", &t, &cause), 0);
	assert_string_equal(t.hostname, "fe80::1");
	assert_int_equal(t.port, 22);
	ssh_target_clear(&t);

	/* The last @ separates the user (user names may hold one). */
	assert_int_equal(ssh_target_resolve("a@b@host", "none", &t, &cause), 0);
	assert_string_equal(t.user, "a@b");
	assert_string_equal(t.host, "host");
	ssh_target_clear(&t);

	/* Refused before ssh runs; a host that would be an option of ssh among them. */
	const char *bad[] = { "", "host:0", "host:65536", "host:x", "@host", "[::1", "u@", "a b",
	    "-oProxyCommand=x", "u@-F" };
	for (size_t i = 0; i < nitems(bad); i++) {
		assert_int_equal(ssh_target_resolve(bad[i], "none", &t, &cause), -1);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
	}
}

/*
 * A config with what the wizard's own reader used to miss: a Host defined only in an
 * Included file, Match, HostKeyAlias, UserKnownHostsFile, tokens, ProxyJump, ProxyCommand;
 * ssh -G resolves it all, the wizard parses its answer.
 */
static void
test_target_config(void **state)
{
	struct ssh_target t;
	char *cause = NULL, *dir, *cfg, *inc, *s, *text;

	dir = xprintf("%s/sshcfg", g.tmp);
	assert_int_equal(mkdir_p(dir, 0700, &cause), 0);
	text = xprintf(
	    "Host tdx\n"
	    "    HostName tdx.lab.example\n"
	    "    User ubuntu\n"
	    "    HostKeyAlias TDX-Alias\n"
	    "    UserKnownHostsFile %s/kh1 %s/kh2\n", dir, dir);
	inc = tl_write(dir, "tdx.conf", text);
	free(text);
	text = xprintf(
	    "# A Host from an Included file, Match, tokens, proxies.\n"
	    "Include %s/*.conf\n"
	    "Host jumped\n"
	    "    HostName 10.0.0.9\n"
	    "    ProxyJump ops@bastion:2201,ssh://inner\n"
	    "Host viacmd\n"
	    "    ProxyCommand exec relay %%h %%p %%r %%n 100%%%%\n"
	    "Match host tdx.lab.example user root\n"
	    "    Port 2299\n"
	    "Host *\n"
	    "    IdentityFile %%d/.ssh/id_%%r@%%h\n"
	    "    Port 2202\n", dir);
	cfg = tl_write(g.tmp, "ssh_config", text);
	free(text);

	assert_int_equal(ssh_target_resolve("tdx", cfg, &t, &cause), 0);
	assert_string_equal(t.host, "tdx");
	assert_string_equal(t.hostname, "tdx.lab.example");
	assert_string_equal(t.user, "ubuntu");
	assert_int_equal(t.port, 2202);
	assert_string_equal(t.hostkey_alias, "tdx-alias");   /* ssh lowercases it */
	assert_int_equal(t.identity_files.n, 1);
	s = xprintf("%s/.ssh/id_ubuntu@tdx.lab.example", g.home);
	assert_string_equal(t.identity_files.v[0], s);
	free(s);
	assert_false(t.identity_defaults);
	assert_int_equal(t.known_hosts_files.n, 2);
	s = xprintf("%s/kh2", dir);
	assert_string_equal(t.known_hosts_files.v[1], s);
	free(s);
	assert_string_equal(t.config, cfg);
	ssh_target_clear(&t);

	/* The spec's user wins, and Match sees it. */
	assert_int_equal(ssh_target_resolve("root@tdx", cfg, &t, &cause), 0);
	assert_string_equal(t.user, "root");
	assert_int_equal(t.port, 2299);
	ssh_target_clear(&t);
	assert_int_equal(ssh_target_resolve("root@tdx:22", cfg, &t, &cause), 0);
	assert_int_equal(t.port, 22);
	ssh_target_clear(&t);

	assert_int_equal(ssh_target_resolve("jumped", cfg, &t, &cause), 0);
	assert_string_equal(t.hostname, "10.0.0.9");
	assert_string_equal(t.proxy_jump, "ops@bastion:2201,inner");   /* as ssh writes it */
	assert_null(t.proxy_command);
	ssh_target_clear(&t);

	assert_int_equal(ssh_target_resolve("me@viacmd", cfg, &t, &cause), 0);
	assert_string_equal(t.proxy_command, "exec relay %h %p %r %n 100%%");
	assert_null(t.proxy_jump);
	ssh_target_clear(&t);

	/* A missing explicit config, and a bad one: ssh's own words. */
	assert_int_equal(ssh_target_resolve("h", "/nonexistent/config", &t, &cause), -1);
	assert_non_null(strstr(cause, "ssh -G h failed: "));
	assert_non_null(strstr(cause, "/nonexistent/config"));
	free(cause);
	cause = NULL;
	s = tl_write(g.tmp, "bad_config", "Host *\n  HostName x\n  Port nope\n");
	assert_int_equal(ssh_target_resolve("h", s, &t, &cause), -1);
	assert_non_null(strstr(cause, "ssh -G h failed: "));
	assert_non_null(strstr(cause, "line 3"));
	assert_null(strchr(cause, '\n'));
	free(cause);
	cause = NULL;
	free(s);
	/* No config given: ssh's own files (none in this HOME). */
	assert_int_equal(ssh_target_resolve("h", NULL, &t, &cause), 0);
	assert_null(t.config);
	ssh_target_clear(&t);

	free(inc);
	free(cfg);
	free(dir);
}

/* Without ssh on PATH: "none" takes the spec as written; a config cannot be read. */
static void
test_target_no_ssh(void **state)
{
	struct ssh_target t;
	char *cause = NULL, *path = xstrdup(getenv("PATH")), *empty;

	empty = xprintf("%s/empty-path", g.tmp);
	assert_int_equal(mkdir_p(empty, 0700, &cause), 0);
	setenv("PATH", empty, 1);
	assert_int_equal(ssh_target_resolve("bob@example.org:2200", "none", &t, &cause), 0);
	assert_string_equal(t.user, "bob");
	assert_string_equal(t.hostname, "example.org");
	assert_int_equal(t.port, 2200);
	assert_true(t.identity_defaults);
	ssh_target_clear(&t);
	assert_int_equal(ssh_target_resolve("example.org", NULL, &t, &cause), -1);
	assert_non_null(strstr(cause, "ssh (OpenSSH's client) is not installed"));
	assert_non_null(strstr(cause, "--ssh-config none"));
	free(cause);
	setenv("PATH", path, 1);
	free(path);
	free(empty);
}

/* The parser of ssh -G's output on its own: what it refuses, and why. */
static void
test_target_parse_config(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "user u\nport 22\n", "did not say" },
		{ "user u\nhostname h\nport 99999\n", "the port" },
		{ "user u\nhostname h\nhostname i\nport 22\n", "twice" },
		{ "user u\nhostname h\nport 22\nnospace\n", "keyword value" },
		{ "user u\nhostname h\x1b[2J\nport 22\n", "plain text" },
		{ "user u\nhostname h\xc3\xa9\nport 22\n", "unusable" },
		{ "user u\nhostname h\nport 22\nproxyusefdpass yes\n", "ProxyUseFdpass" },
		{ "user u\nhostname h\nport 22\nproxyjump j\nproxycommand c\n", "both" },
		{ "user u\nhostname h\nport 22\nproxyjump a,,b\n", "ProxyJump" },
		{ "user u\nhostname h\nport 22\nproxyjump a:0\n", "ProxyJump a:0" },
		{ "user u\nhostname h\nport 22\nproxycommand nc %C\n", "unknown token %C" },
		{ "user u\nhostname h\nport 22\nidentityfile ~/.ssh/%C\n", "token %C" },
	};
	struct ssh_target t;
	char *cause = NULL;
	static const char good[] =
	    "user u\nhostname h.example\nport 2222\nidentityfile ~/k_%r_%p_%%\n"
	    "identityfile none\nuserknownhostsfile /a /b\nunknownkeyword whatever\n";

	for (size_t i = 0; i < nitems(bad); i++) {
		if (ssh_target_parse_config("h", bad[i].text, strlen(bad[i].text), &t, &cause) != -1)
			fail_msg("case %zu was taken", i);
		if (strstr(cause, bad[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, cause, bad[i].why);
		assert_null(t.host);   /* cleared */
		free(cause);
		cause = NULL;
	}
	/* A NUL inside is refused, not cut short. */
	assert_int_equal(ssh_target_parse_config("h", "user u\0x\nhostname h\nport 1\n", 23, &t,
	    &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(ssh_target_parse_config("h", good, sizeof good - 1, &t, &cause), 0);
	assert_int_equal(t.identity_files.n, 1);   /* "none" is no file */
	assert_true(str_has_suffix(t.identity_files.v[0], "/k_u_2222_%"));
	assert_int_equal(t.known_hosts_files.n, 2);
	assert_string_equal(t.known_hosts_files.v[1], "/b");
	ssh_target_clear(&t);
}

/* Fingerprints agree with ssh-keygen -l. */
static void
test_fingerprint(void **state)
{
	char *fp = ssh_fingerprint(g.hostkey, g.hostkey_len);
	char *want = sh_out("ssh-keygen -lf '%s' | cut -d' ' -f2", g.host_pub);

	assert_true(str_has_prefix(fp, "SHA256:"));
	assert_null(strchr(fp, '='));
	assert_string_equal(fp, want);
	free(fp);
	free(want);
	assert_string_equal(ssh_key_type_name(LIBSSH2_HOSTKEY_TYPE_ED25519), "ssh-ed25519");
	assert_string_equal(ssh_key_type_name(LIBSSH2_HOSTKEY_TYPE_ECDSA_256), "ecdsa-sha2-nistp256");
	assert_null(ssh_key_type_name(99));
}

/* Key files: type and encryption, OpenSSH and PEM. */
static void
test_key_inspect(void **state)
{
	struct ssh_keyinfo ki;
	char *cause = NULL, *p;

	assert_int_equal(ssh_key_inspect(g.user_key, &ki, &cause), 0);
	assert_true(ki.exists);
	assert_false(ki.encrypted);
	assert_string_equal(ki.type, "ssh-ed25519");
	assert_false(ki.is_rsa);

	assert_int_equal(ssh_key_inspect(g.enc_key, &ki, &cause), 0);
	assert_true(ki.encrypted);
	assert_string_equal(ki.type, "ssh-ed25519");

	assert_int_equal(ssh_key_inspect(g.pem_key, &ki, &cause), 0);
	assert_true(ki.encrypted);
	assert_string_equal(ki.type, "ecdsa");

	assert_int_equal(ssh_key_inspect(g.rsa_key, &ki, &cause), 0);
	assert_false(ki.encrypted);
	assert_true(ki.is_rsa);

	p = xprintf("%s/missing", g.tmp);
	assert_int_equal(ssh_key_inspect(p, &ki, &cause), 0);
	assert_false(ki.exists);
	free(p);
}

/* known_hosts on its own: the four outcomes, line numbers, skipped lines, appending. */
static void
test_known_hosts_file(void **state)
{
	unsigned char *other;
	size_t other_len;
	unsigned line = 99;
	char *cause = NULL, *path, *text, *before, *b64, *other_pub;
	int types[8];

	other_pub = xprintf("%s.pub", g.other_key);
	other = pub_blob(other_pub, &other_len);
	path = xprintf("%s/kh-unit", g.tmp);

	/* Missing file: NOTFOUND. */
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.1", 22, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_NOTFOUND);

	/* Append to a file whose last line has no newline: one new line, old text kept. */
	b64 = sh_out("cut -d' ' -f2 '%s'", other_pub);
	before = xprintf("# mine\n@cert-authority *.example ssh-ed25519 %s\n"
	    "garbage line that libssh2 cannot parse\n"
	    "[10.0.0.1]:2222,10.0.0.9 ssh-ed25519 %s\n"
	    "10.0.0.2 ssh-ed25519 %s", b64, b64, b64);
	free(tl_write(g.tmp, "kh-unit", before));
	assert_int_equal(ssh_known_hosts_add(path, "10.0.0.1", 22, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &cause), 0);
	text = slurp(path);
	assert_true(str_has_prefix(text, before));
	assert_int_equal(count_lines(text), 6);
	assert_true(str_has_suffix(text, "\n"));
	assert_non_null(strstr(text, "\n10.0.0.1 ssh-ed25519 "));

	/* MATCH on port 22's plain name. */
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.1", 22, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_MATCH);
	/* A port-22 line does not vouch for port 2200 (as in OpenSSH). */
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.1", 2200, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_NOTFOUND);
	/* MISMATCH names the line (the 4th: a line with two names). */
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.1", 2222, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_MISMATCH);
	assert_int_equal(line, 4);
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.9", 22, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_MISMATCH);
	assert_int_equal(line, 4);
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.2", 22, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_MISMATCH);
	assert_int_equal(line, 5);
	/* The known types of a host. */
	assert_int_equal(ssh_known_hosts_types(path, "10.0.0.2", 22, types, 8), 1);
	assert_int_equal(types[0], LIBSSH2_HOSTKEY_TYPE_ED25519);
	assert_int_equal(ssh_known_hosts_types(path, "10.9.9.9", 22, types, 8), 0);
	/* An ECDSA key of a host known by its ed25519 key: not found (another type). */
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.2", 22, other, other_len,
	    LIBSSH2_HOSTKEY_TYPE_ECDSA_256, &line, &cause), SSH_KH_NOTFOUND);
	free(text);

	/* @revoked keys are refused whatever else the file says. */
	text = xprintf("10.0.0.3 ssh-ed25519 %s\n@revoked * ssh-ed25519 %s\n", b64, b64);
	free(tl_write(g.tmp, "kh-unit", text));
	free(text);
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.3", 22, other, other_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_REVOKED);
	assert_int_equal(line, 2);

	/* FAILURE: unreadable (a directory), unknown key type. */
	assert_int_equal(ssh_known_hosts_check(g.tmp, "10.0.0.1", 22, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause), SSH_KH_FAILURE);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_int_equal(ssh_known_hosts_check(path, "10.0.0.1", 22, g.hostkey, g.hostkey_len,
	    77, &line, &cause), SSH_KH_FAILURE);
	free(cause);
	cause = NULL;

	/* Adding creates the directory (0700) and the file (0600). */
	free(path);
	path = xprintf("%s/newdir/.ssh/known_hosts", g.tmp);
	assert_int_equal(ssh_known_hosts_add(path, "10.0.0.1", 2222, g.hostkey, g.hostkey_len,
	    LIBSSH2_HOSTKEY_TYPE_ED25519, &cause), 0);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	text = slurp(path);
	assert_true(str_has_prefix(text, "[10.0.0.1]:2222 ssh-ed25519 AAAA"));
	assert_int_equal(count_lines(text), 1);
	free(text);
	free(path);
	free(before);
	free(b64);
	free(other);
	free(other_pub);
}

/* The pre-flight judgements, on made-up outputs. */
static void
test_preflight_judge(void **state)
{
	struct ssh_pf_item it;
	struct ssh_pf_opts o = {0};
	time_t now = time(NULL);
	char out[64];
	size_t n;
	const struct ssh_pf_probe *p = ssh_preflight_probes(&n);

	assert_int_equal(n, 4);
	assert_string_equal(p[0].id, "sudo");

	ssh_preflight_judge("sudo", 0, "ok ubuntu\n", now, &o, &it);
	assert_int_equal(it.status, SSH_PF_OK);
	ssh_pf_item_clear(&it);
	ssh_preflight_judge("sudo", 0, "password ubuntu\n", now, &o, &it);
	assert_int_equal(it.status, SSH_PF_FAIL);
	assert_non_null(strstr(it.fix, "ubuntu ALL=(ALL) NOPASSWD:ALL"));
	assert_non_null(strstr(it.fix, "/etc/sudoers.d/ubuntu"));
	ssh_pf_item_clear(&it);

	ssh_preflight_judge("os", 0, "Linux\nubuntu|24.04|Ubuntu 24.04.1 LTS\n", now, &o, &it);
	assert_int_equal(it.status, SSH_PF_OK);
	assert_string_equal(it.detail, "Ubuntu 24.04.1 LTS");
	ssh_pf_item_clear(&it);
	ssh_preflight_judge("os", 0, "Linux\ndebian|12|Debian GNU/Linux 12 (bookworm)\n", now, &o, &it);
	assert_int_equal(it.status, SSH_PF_WARN);
	ssh_pf_item_clear(&it);
	ssh_preflight_judge("os", 0, "Darwin\n", now, &o, &it);
	assert_int_equal(it.status, SSH_PF_FAIL);
	ssh_pf_item_clear(&it);

	snprintf(out, sizeof out, "%lld\n", (long long)now + 1);
	ssh_preflight_judge("clock", 0, out, now, &o, &it);
	assert_int_equal(it.status, SSH_PF_OK);
	ssh_pf_item_clear(&it);
	snprintf(out, sizeof out, "%lld\n", (long long)now - 30);
	ssh_preflight_judge("clock", 0, out, now, &o, &it);
	assert_int_equal(it.status, SSH_PF_WARN);
	assert_non_null(strstr(it.detail, "30 s behind"));
	ssh_pf_item_clear(&it);
	snprintf(out, sizeof out, "%lld\n", (long long)now + 600);
	ssh_preflight_judge("clock", 0, out, now, &o, &it);
	assert_int_equal(it.status, SSH_PF_FAIL);
	assert_non_null(strstr(it.fix, "timedatectl set-ntp true"));
	ssh_pf_item_clear(&it);

	ssh_preflight_judge("disk", 0, "10485760 /home\n", now, &o, &it);   /* 10 GiB */
	assert_int_equal(it.status, SSH_PF_FAIL);
	assert_non_null(strstr(it.detail, "10.0 GiB free on /home"));
	ssh_pf_item_clear(&it);
	ssh_preflight_judge("disk", 0, "104857600 /\n", now, &o, &it);       /* 100 GiB */
	assert_int_equal(it.status, SSH_PF_OK);
	ssh_pf_item_clear(&it);
	ssh_preflight_judge("disk", 1, "", now, &o, &it);
	assert_int_equal(it.status, SSH_PF_FAIL);
	ssh_pf_item_clear(&it);
}

/* ------------------------------------------------------------------ host keys */

/* MATCH: the known key goes through, the file is untouched. */
static void
test_hostkey_match(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, true, false);
	struct res r = {0};
	char *before = slurp(g.known_hosts), *after, *fp;

	run_script(c, "echo hello", &r);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_int_equal(r.code, 0);
	assert_string_equal(sb_str(&r.out), "hello\n");
	assert_int_equal(S.hostkey_calls, 0);
	assert_int_equal(ssh_conn_state(c), SSH_STATE_CONNECTED);
	assert_true(saw_state(SSH_STATE_CONNECTING));
	fp = ssh_fingerprint(g.hostkey, g.hostkey_len);
	assert_string_equal(ssh_conn_fingerprint(c), fp);
	free(fp);
	after = slurp(g.known_hosts);
	assert_string_equal(before, after);
	res_clear(&r);
	ssh_conn_free(&c);
	assert_null(c);
	free(before);
	free(after);
}

/* NOTFOUND: asked with the fingerprint; yes appends one line; next time it matches. */
static void
test_hostkey_unknown_yes(void **state)
{
	char *kh = xprintf("%s/kh-yes", g.tmp), *text, *fp, *name;
	struct ssh_conn *c = mkconn(g.user_key, kh, false, true, false);
	struct res r = {0};

	S.hostkey_answer = 1;
	run_script(c, "echo trusted", &r);
	assert_int_equal(S.hostkey_calls, 1);
	fp = sh_out("ssh-keygen -lf '%s' | cut -d' ' -f2", g.host_pub);
	assert_string_equal(S.hostkey_fp, fp);
	name = xprintf("[127.0.0.1]:%d", g.port);
	assert_string_equal(S.hostkey_host, name);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_string_equal(sb_str(&r.out), "trusted\n");
	text = slurp(kh);
	assert_int_equal(count_lines(text), 1);
	assert_true(str_has_prefix(text, name));
	/* ssh-keygen finds it under the same name, with the same key. */
	free(fp);
	fp = sh_out("ssh-keygen -F '%s' -f '%s' -l | grep -v '^#' | cut -d' ' -f3", name, kh);
	assert_string_equal(fp, S.hostkey_fp);
	res_clear(&r);
	ssh_conn_free(&c);

	/* A second connection matches without asking. */
	S.hostkey_calls = 0;
	c = mkconn(g.user_key, kh, false, true, false);
	run_script(c, "true", &r);
	assert_int_equal(r.code, 0);
	assert_int_equal(S.hostkey_calls, 0);
	free(text);
	text = slurp(kh);
	assert_int_equal(count_lines(text), 1);
	res_clear(&r);
	ssh_conn_free(&c);
	free(text);
	free(fp);
	free(name);
	free(kh);
}

/* NOTFOUND answered no: refused, nothing written. */
static void
test_hostkey_unknown_no(void **state)
{
	char *kh = xprintf("%s/kh-no", g.tmp);
	struct ssh_conn *c = mkconn(g.user_key, kh, false, true, false);
	struct res r = {0};
	const char *msg;

	S.hostkey_answer = 0;
	run_script(c, "echo never", &r);
	assert_int_equal(S.hostkey_calls, 1);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_non_null(strstr(r.msg, "not trusted"));
	assert_int_equal(r.out.len, 0);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_HOSTKEY_UNKNOWN);
	assert_int_equal(ssh_conn_state(c), SSH_STATE_FAILED);
	assert_int_equal(access(kh, F_OK), -1);
	res_clear(&r);
	ssh_conn_free(&c);
	free(kh);
}

/* NOTFOUND with nobody to ask: a clear refusal; accept_new records it. */
static void
test_hostkey_unknown_headless(void **state)
{
	char *kh = xprintf("%s/kh-headless", g.tmp), *text, *fp;
	struct ssh_conn *c = mkconn(g.user_key, kh, false, false, false);
	struct res r = {0};

	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	fp = ssh_fingerprint(g.hostkey, g.hostkey_len);
	assert_non_null(strstr(r.msg, "is not known"));
	assert_non_null(strstr(r.msg, fp));
	assert_non_null(strstr(r.msg, "ssh-ed25519"));
	assert_int_equal(ssh_conn_failure(c, NULL), SSH_FAIL_HOSTKEY_UNKNOWN);
	assert_int_equal(access(kh, F_OK), -1);
	res_clear(&r);
	ssh_conn_free(&c);

	c = mkconn(g.user_key, kh, true, false, false);
	run_script(c, "echo accepted", &r);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_string_equal(sb_str(&r.out), "accepted\n");
	text = slurp(kh);
	assert_int_equal(count_lines(text), 1);
	free(text);
	res_clear(&r);
	ssh_conn_free(&c);
	free(fp);
	free(kh);
}

/* MISMATCH: refused with the plain warning naming the line; the file is untouched. */
static void
test_hostkey_changed(void **state)
{
	char *kh, *pub = xprintf("%s.pub", g.other_key), *b64, *text, *after;
	struct ssh_conn *c;
	struct res r = {0};
	const char *msg;

	b64 = sh_out("cut -d' ' -f2 '%s'", pub);
	text = xprintf("# the test's file\n127.0.0.1 ssh-ed25519 %s\n[127.0.0.1]:%d ssh-ed25519 %s\n",
	    b64, g.port, b64);
	kh = tl_write(g.tmp, "kh-changed", text);
	c = mkconn(g.user_key, kh, true, true, false);
	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(S.hostkey_calls, 0);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_HOSTKEY_CHANGED);
	assert_non_null(strstr(msg, "CHANGED"));
	assert_non_null(strstr(msg, "man-in-the-middle"));
	assert_non_null(strstr(msg, "line 3 of"));
	assert_non_null(strstr(msg, kh));
	assert_non_null(strstr(r.msg, "CHANGED"));
	after = slurp(kh);
	assert_string_equal(after, text);
	res_clear(&r);
	ssh_conn_free(&c);
	free(after);
	free(text);
	free(b64);
	free(pub);
	free(kh);
}

/* FAILURE: known_hosts cannot be read: an error, not a question. */
static void
test_hostkey_failure(void **state)
{
	char *kh = xprintf("%s/kh-dir", g.tmp);
	struct ssh_conn *c;
	struct res r = {0};
	const char *msg;

	mkdir(kh, 0700);
	c = mkconn(g.user_key, kh, true, true, false);
	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(S.hostkey_calls, 0);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_HOSTKEY_ERROR);
	assert_non_null(strstr(msg, "cannot check the host key"));
	res_clear(&r);
	ssh_conn_free(&c);
	free(kh);
}

/* ------------------------------------------------------------------ commands */

/* Output streams while the command runs; stdout and stderr stay apart. */
static void
test_streaming(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct transport_cmd tc;
	char *flag = xprintf("%s/flag-stream", g.tmp), *script;
	uint64_t t0;

	script = xprintf("echo first; echo to-err >&2; while [ ! -e '%s' ]; do sleep 0.02; done; "
	    "echo second", flag);
	memset(&tc, 0, sizeof tc);
	tc.script = script;
	r.watch = "first\n";
	start(c, &tc, &r);
	t0 = now_ms();
	assert_true(spin(&r.watch_seen, WAIT_MS));
	/* The command cannot end before the flag exists: the line came while it ran. */
	assert_true(r.watch_seen_before_end);
	assert_false(r.ended);
	free(tl_write(g.tmp, "flag-stream", ""));
	assert_true(spin(&r.ended, WAIT_MS));
	assert_int_equal(r.how, TJOB_EXITED);
	assert_int_equal(r.code, 0);
	assert_string_equal(sb_str(&r.out), "first\nsecond\n");
	assert_string_equal(sb_str(&r.err), "to-err\n");
	assert_true(now_ms() - t0 < WAIT_MS);
	res_clear(&r);
	ssh_conn_free(&c);
	free(script);
	free(flag);
}

/* Exit codes, signals, a bad cwd. */
static void
test_exit_and_signals(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct transport_cmd tc;

	run_script(c, "exit 3", &r);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_int_equal(r.code, 3);
	res_clear(&r);

	run_script(c, "echo before; kill -TERM $$; echo after", &r);
	assert_int_equal(r.how, TJOB_SIGNALED);
	assert_int_equal(r.code, SIGTERM);
	assert_string_equal(sb_str(&r.out), "before\n");
	res_clear(&r);

	run_script(c, "kill -KILL $$", &r);
	assert_int_equal(r.how, TJOB_SIGNALED);
	assert_int_equal(r.code, SIGKILL);
	res_clear(&r);

	/* 125 from the script itself is an exit status, not a bootstrap error. */
	run_script(c, "echo oops >&2; exit 125", &r);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_int_equal(r.code, 125);
	res_clear(&r);

	memset(&tc, 0, sizeof tc);
	tc.script = "echo never";
	tc.cwd = "/nonexistent/dir";
	start(c, &tc, &r);
	assert_true(spin(&r.ended, WAIT_MS));
	assert_int_equal(r.how, TJOB_FAILED);
	assert_non_null(strstr(r.msg, "cannot change to directory /nonexistent/dir"));
	assert_int_equal(r.out.len, 0);
	res_clear(&r);
	ssh_conn_free(&c);
}

/* stdin, cwd ("~/"), environment values with every awkward character. */
static void
test_stdin_cwd_env(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct transport_cmd tc;
	char *sub = xprintf("%s/sub dir", g.home);
	static const char input[] = "line one\n\tline 'two' \"x\" $HOME \\\n\x01\xff end";
	char *env[] = { "ODD=a b\nc'd\"e$f\\g", "EMPTY=", "UTF8=h\xc3\xa9llo", NULL };

	mkdir(sub, 0700);
	memset(&tc, 0, sizeof tc);
	tc.script = "pwd; printf '%s|' \"$ODD\" \"$EMPTY\" \"$UTF8\"; echo; "
	    "[ \"${EMPTY+set}\" = set ] && echo empty-set; cat | od -An -c | tr -s ' '";
	tc.cwd = sub;
	tc.env = env;
	tc.stdin_data = input;
	tc.stdin_len = sizeof input - 1;
	start(c, &tc, &r);
	assert_true(spin(&r.ended, WAIT_MS));
	if (r.how != TJOB_EXITED || r.code != 0)
		fail_msg("%d %d %s: %s", r.how, r.code, r.msg, sb_str(&r.err));
	assert_true(str_has_prefix(sb_str(&r.out), sub));
	assert_non_null(strstr(sb_str(&r.out), "a b\nc'd\"e$f\\g||h\xc3\xa9llo|\nempty-set\n"));
	/* od shows every byte of stdin, the binary ones too. */
	assert_non_null(strstr(sb_str(&r.out), "001 377"));
	assert_non_null(strstr(sb_str(&r.out), "$ H O M E"));
	res_clear(&r);

	/* "~/" is the remote user's home. */
	memset(&tc, 0, sizeof tc);
	tc.script = "[ \"$(pwd)\" = \"$HOME\" ] && echo at-home";
	tc.cwd = "~/.";
	start(c, &tc, &r);
	assert_true(spin(&r.ended, WAIT_MS));
	assert_string_equal(sb_str(&r.out), "at-home\n");
	res_clear(&r);

	/* Without stdin_data, stdin is empty at once. */
	run_script(c, "cat; echo done", &r);
	assert_string_equal(sb_str(&r.out), "done\n");
	res_clear(&r);

	/* Bad environment names are refused at start. */
	{
		char *bad[] = { "1X=y", NULL };
		char *bad2[] = { "dw_mode=x", NULL };
		char *cause = NULL;
		struct tjob_cbs cbs = { r_output, r_end, &r };

		tc.env = bad;
		assert_null(transport_ssh_ops.start(c, g.loop, &tc, &cbs, &cause));
		assert_non_null(cause);
		free(cause);
		cause = NULL;
		tc.env = bad2;
		assert_null(transport_ssh_ops.start(c, g.loop, &tc, &cbs, &cause));
		free(cause);
	}
	ssh_conn_free(&c);
	free(sub);
}

/* 20 MB of output (DW_SSH_BIG_MB), counted and checksummed. */
static void
test_big_output(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	const char *env = getenv("DW_SSH_BIG_MB");
	unsigned mb = env != NULL && atoi(env) > 0 ? (unsigned)atoi(env) : 20;
	char *script, hex[65];
	uint8_t digest[SHA256_DIGEST_SIZE];
	uint64_t t0;

	/* Straight from the pipe (tee to stdout, the hash to stderr at the end): no file, so a
	 * slow or full disk cannot be what the test measures. */
	script = xprintf("set -o pipefail; { head -c %uM /dev/urandom | tee /dev/fd/3 | sha256sum | "
	    "cut -d' ' -f1 >&2; } 3>&1", mb);
	r.hash = true;
	t0 = now_ms();
	run_script(c, script, &r);
	print_message("# %u MB in %llu ms\n", mb, (unsigned long long)(now_ms() - t0));
	if (r.how != TJOB_EXITED || r.code != 0 || r.out_bytes != (uint64_t)mb << 20 ||
	    r.err.len != 65)
		fail_msg("end %d (%s), code %d, %llu of %llu bytes of stdout, stderr \"%.300s\"",
		    (int)r.how, r.msg != NULL ? r.msg : "-", r.code,
		    (unsigned long long)r.out_bytes, (unsigned long long)mb << 20, sb_str(&r.err));
	sha256_digest(&r.sha, sizeof digest, digest);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	hex[64] = '\0';
	assert_memory_equal(sb_str(&r.err), hex, 64);
	res_clear(&r);
	ssh_conn_free(&c);
	free(script);
}

/* 20 checks at once on one session, at most 8 channels at a time. */
static void
test_parallel(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r[20];
	char *scripts[20];
	struct ssh_stats st;
	uint64_t t0;
	bool all;

	memset(r, 0, sizeof r);
	/* Connect first, so the timing measures the commands. */
	run_script(c, "true", &r[0]);
	res_clear(&r[0]);
	t0 = now_ms();
	for (int i = 0; i < 20; i++) {
		struct transport_cmd tc;

		memset(&tc, 0, sizeof tc);
		scripts[i] = xprintf("sleep 0.3; echo probe-%d", i);
		tc.script = scripts[i];
		start(c, &tc, &r[i]);
	}
	do {
		all = true;
		for (int i = 0; i < 20; i++)
			all &= r[i].ended;
		if (!all)
			loop_run_once(g.loop, 50);
	} while (!all && now_ms() - t0 < WAIT_MS);
	assert_true(all);
	/* Serially that is 6 s; 8 at a time, three waves of 0.3 s plus overhead. */
	assert_true(now_ms() - t0 < 4000);
	for (int i = 0; i < 20; i++) {
		char *want = xprintf("probe-%d\n", i);

		assert_int_equal(r[i].how, TJOB_EXITED);
		assert_int_equal(r[i].code, 0);
		assert_string_equal(sb_str(&r[i].out), want);
		free(want);
		res_clear(&r[i]);
		free(scripts[i]);
	}
	ssh_conn_stats(c, &st);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.channels, 21);
	assert_int_equal(st.max_parallel, 8);
	ssh_conn_free(&c);
}

/* Is text anywhere in a process's command line on this machine? */
static bool
in_any_cmdline(const char *text)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		char path[300], buf[65536];
		FILE *f;
		size_t n;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		if (memmem(buf, n, text, strlen(text)) != NULL)
			found = true;
	}
	closedir(d);
	return found;
}

/* A secret in env and stdin reaches the command but no argv and no log. */
static void
test_secret_not_in_argv(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct transport_cmd tc;
	char secret[64], *envs[2], *script, *flag = xprintf("%s/flag-secret", g.tmp), *log;

	snprintf(secret, sizeof secret, "s3cr3t-%d-%ld-Zq", (int)getpid(), (long)time(NULL));
	envs[0] = xprintf("API_TOKEN=%s", secret);
	envs[1] = NULL;
	script = xprintf("printf '%%s' \"$API_TOKEN\" | wc -c; head -c %zu | wc -c; echo ready; "
	    "while [ ! -e '%s' ]; do sleep 0.02; done", strlen(secret), flag);
	memset(&tc, 0, sizeof tc);
	tc.script = script;
	tc.env = envs;
	tc.stdin_data = secret;
	tc.stdin_len = strlen(secret);
	r.watch = "ready\n";
	start(c, &tc, &r);
	assert_true(spin(&r.watch_seen, WAIT_MS));
	/* The command is running now, with the secret in its environment. */
	assert_false(in_any_cmdline(secret));
	free(tl_write(g.tmp, "flag-secret", ""));
	assert_true(spin(&r.ended, WAIT_MS));
	assert_int_equal(r.code, 0);
	{
		char *want = xprintf("%zu\n%zu\nready\n", strlen(secret), strlen(secret));

		assert_string_equal(sb_str(&r.out), want);
		free(want);
	}
	log = slurp(g.log);
	assert_null(strstr(log, secret));
	free(log);
	res_clear(&r);
	ssh_conn_free(&c);
	free(envs[0]);
	free(script);
	free(flag);
}

/* A local-only secret is refused wherever it hides; nothing is sent. */
static void
test_forbid(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct transport_cmd tc;
	struct ssh_stats st;
	static const char key[] = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
	char *env[] = { "X=1", "PRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318", NULL };
	char *script = xprintf("echo %s", key), *cwd = xprintf("/tmp/%s", key);

	ssh_conn_forbid(c, key);
	ssh_conn_forbid(c, "");
	run_script(c, "echo fine", &r);
	assert_string_equal(sb_str(&r.out), "fine\n");
	res_clear(&r);
	ssh_conn_stats(c, &st);
	assert_int_equal(st.channels, 1);

	for (int i = 0; i < 4; i++) {
		memset(&tc, 0, sizeof tc);
		tc.script = i == 0 ? script : "cat >/dev/null";
		if (i == 1)
			tc.env = env;
		if (i == 2)
			tc.cwd = cwd;
		if (i == 3) {
			tc.stdin_data = key;
			tc.stdin_len = sizeof key - 1;
		}
		start(c, &tc, &r);
		assert_false(r.ended);   /* never from inside start */
		assert_true(spin(&r.ended, WAIT_MS));
		assert_int_equal(r.how, TJOB_FAILED);
		assert_string_equal(r.msg,
		    "refused: command would send a local-only secret to the server");
		res_clear(&r);
	}
	ssh_conn_stats(c, &st);
	assert_int_equal(st.channels, 1);
	ssh_conn_free(&c);
	free(script);
	free(cwd);
}

/* Cancel: TERM to the remote process group, which really goes away. */
static void
test_cancel(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct transport_cmd tc;
	char *pidfile = xprintf("%s/cancel.pid", g.tmp), *script, *pid;
	uint64_t t0;

	script = xprintf("sleep 30 & echo $! >'%s'; echo started; wait", pidfile);
	memset(&tc, 0, sizeof tc);
	tc.script = script;
	r.watch = "started\n";
	start(c, &tc, &r);
	assert_true(spin(&r.watch_seen, WAIT_MS));
	pid = slurp(pidfile);
	assert_true(atoi(pid) > 0);
	t0 = now_ms();
	transport_ssh_ops.cancel(r.job, 5000);
	assert_true(spin(&r.ended, WAIT_MS));
	if (now_ms() - t0 >= 3000 || r.how != TJOB_SIGNALED)
		fail_msg("took %llu ms: %d %d %s", (unsigned long long)(now_ms() - t0), r.how, r.code, r.msg);
	assert_int_equal(r.code, SIGTERM);
	/* The background sleep was in the group too (gone, or a zombie nobody reaped yet). */
	spin_for(100);
	{
		char *stat = xprintf("/proc/%d/stat", atoi(pid)), *text = slurp(stat);
		const char *p = strrchr(text, ')');

		assert_true(*text == '\0' || (p != NULL && p[1] == ' ' && p[2] == 'Z'));
		free(text);
		free(stat);
	}
	res_clear(&r);

	/* The session still works. */
	run_script(c, "echo alive", &r);
	assert_string_equal(sb_str(&r.out), "alive\n");
	res_clear(&r);
	ssh_conn_free(&c);
	free(pid);
	free(script);
	free(pidfile);
}

/* ------------------------------------------------------------------ supervised */

/* The remote directory of supervised commands in this test. */
static char *
remote_dir(void)
{
	return xprintf("%s/remote", g.tmp);
}

/* A connection with the test's remote dir. */
static struct ssh_conn *
mkconn_sup(void)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct ssh_opts o;
	char *rd = remote_dir();

	memset(&o, 0, sizeof o);
	o.remote_dir = rd;
	ssh_conn_set_opts(c, &o);
	free(rd);
	return c;
}

/* A supervised command: output, status, stdin, env; its directory is removed after. */
static void
test_supervised_basic(void **state)
{
	struct ssh_conn *c = mkconn_sup();
	struct res r = {0};
	struct transport_cmd tc;
	char *id = xprintf("basic-%d", (int)getpid()), *dir, *rd = remote_dir();
	char *env[] = { "GREETING=hi there", NULL };
	char *cause = NULL;
	struct tjob_cbs cbs = { r_output, r_end, &r };

	memset(&tc, 0, sizeof tc);
	tc.script = "echo \"$GREETING\"; cat; echo to-err >&2; exit 7";
	tc.env = env;
	tc.stdin_data = "from stdin\n";
	tc.stdin_len = 11;
	tc.supervised = true;
	tc.id = id;
	start(c, &tc, &r);
	assert_true(spin(&r.ended, WAIT_MS));
	assert_int_equal(r.how, TJOB_EXITED);
	assert_int_equal(r.code, 7);
	assert_string_equal(sb_str(&r.out), "hi there\nfrom stdin\n");
	assert_string_equal(sb_str(&r.err), "to-err\n");
	res_clear(&r);
	/* The cleanup runs on its own channel after the end. */
	dir = xprintf("%s/%s", rd, id);
	for (int i = 0; i < 100 && access(dir, F_OK) == 0; i++)
		spin_for(20);
	assert_int_equal(access(dir, F_OK), -1);

	/* Ids that are no directory name are refused. */
	tc.id = "../x";
	assert_null(transport_ssh_ops.start(c, g.loop, &tc, &cbs, &cause));
	free(cause);
	ssh_conn_free(&c);
	free(dir);
	free(rd);
	free(id);
}

/* The connection drops mid-command: the plain job fails, the supervised one re-attaches. */
static void
test_supervised_reconnect(void **state)
{
	struct ssh_conn *c = mkconn_sup();
	struct res sup = {0}, plain = {0};
	struct transport_cmd tc;
	struct strbuf want = {0};
	struct ssh_stats st;
	char *id = xprintf("reconnect-%d", (int)getpid()), *script, *go;

	memset(&tc, 0, sizeof tc);
	/* After line 6 the script waits for the go file, made once the drop was seen: however
	 * slow the machine, the supervised job is still running when the connection goes. */
	script = xprintf("for i in $(seq 1 40); do echo line $i; echo err $i >&2; "
	    "if [ $i = 6 ]; then while [ ! -e '%s/go' ]; do sleep 0.05; done; fi; sleep 0.05; done",
	    g.tmp);
	tc.script = script;
	tc.supervised = true;
	tc.id = id;
	sup.watch = "line 5\n";
	start(c, &tc, &sup);
	memset(&tc, 0, sizeof tc);
	tc.script = "sleep 10";
	start(c, &tc, &plain);
	assert_true(spin(&sup.watch_seen, WAIT_MS));
	assert_int_equal(sh("bash '%s/tests/lib/sshd.sh' drop '%s'", tl_srcdir(), g.sshd_dir), 0);
	assert_true(spin(&plain.ended, WAIT_MS));
	assert_int_equal(plain.how, TJOB_FAILED);
	assert_non_null(strstr(plain.msg, "connection"));
	assert_non_null(strstr(plain.msg, "lost"));
	assert_false(sup.ended);
	go = xprintf("%s/go", g.tmp);
	free(tl_write(g.tmp, "go", ""));
	assert_true(spin(&sup.ended, WAIT_MS));
	assert_int_equal(sup.how, TJOB_EXITED);
	assert_int_equal(sup.code, 0);
	/* Every line exactly once, in order, on both streams. */
	for (int i = 1; i <= 40; i++)
		sb_addf(&want, "line %d\n", i);
	assert_string_equal(sb_str(&sup.out), sb_str(&want));
	sb_reset(&want);
	for (int i = 1; i <= 40; i++)
		sb_addf(&want, "err %d\n", i);
	assert_string_equal(sb_str(&sup.err), sb_str(&want));
	assert_true(saw_state(SSH_STATE_RECONNECTING));
	ssh_conn_stats(c, &st);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.reattached, 1);
	res_clear(&sup);
	res_clear(&plain);
	sb_free(&want);
	ssh_conn_free(&c);
	unlink(go);
	free(go);
	free(script);
	free(id);
}

/* Cancel a supervised command: its process group gets TERM through a second exec. */
static void
test_supervised_cancel(void **state)
{
	struct ssh_conn *c = mkconn_sup();
	struct res r = {0};
	struct transport_cmd tc;
	char *id = xprintf("cancel-%d", (int)getpid());
	uint64_t t0;

	memset(&tc, 0, sizeof tc);
	tc.script = "echo started; sleep 30; echo never";
	tc.supervised = true;
	tc.id = id;
	r.watch = "started\n";
	start(c, &tc, &r);
	assert_true(spin(&r.watch_seen, WAIT_MS));
	t0 = now_ms();
	transport_ssh_ops.cancel(r.job, 2000);
	assert_true(spin(&r.ended, WAIT_MS));
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(r.how, TJOB_SIGNALED);
	assert_int_equal(r.code, SIGTERM);
	assert_string_equal(sb_str(&r.out), "started\n");
	res_clear(&r);
	ssh_conn_free(&c);
	free(id);
}

/* A drop while idle: noticed, and the next command reconnects. */
static void
test_idle_drop(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct res r = {0};
	struct ssh_stats st;
	uint64_t t0;

	run_script(c, "true", &r);
	res_clear(&r);
	assert_int_equal(sh("bash '%s/tests/lib/sshd.sh' drop '%s'", tl_srcdir(), g.sshd_dir), 0);
	t0 = now_ms();
	while (ssh_conn_state(c) != SSH_STATE_IDLE && now_ms() - t0 < 5000)
		loop_run_once(g.loop, 50);
	assert_int_equal(ssh_conn_state(c), SSH_STATE_IDLE);
	assert_int_equal(ssh_conn_failure(c, NULL), SSH_FAIL_LOST);
	run_script(c, "echo again", &r);
	assert_string_equal(sb_str(&r.out), "again\n");
	ssh_conn_stats(c, &st);
	assert_int_equal(st.connects, 2);
	res_clear(&r);
	ssh_conn_free(&c);
}

/* ------------------------------------------------------------------ proxies */

/* One variable of the sshd.env in dir. */
static char *
env_in(const char *dir, const char *name)
{
	return sh_out("bash -c '. \"%s/sshd.env\"; printf \"%%s\\n\" \"$%s\"'", dir, name);
}

/* A process as /proc/PID/stat tells it. */
struct proc {
	pid_t pid;
	pid_t ppid;
	pid_t sid;
	int tty;
	char state;                  /* 'Z': dead, not yet reaped */
};

/* Read /proc/PID/stat; false if the process is gone. */
static bool
proc_read(pid_t pid, struct proc *p)
{
	char path[64], buf[1024], *rp;
	size_t n;
	FILE *f;
	int ppid, pgrp, sid, tty;
	char st;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((rp = strrchr(buf, ')')) == NULL ||
	    sscanf(rp + 1, " %c %d %d %d %d", &st, &ppid, &pgrp, &sid, &tty) != 5)
		return false;
	p->pid = pid;
	p->ppid = ppid;
	p->sid = sid;
	p->tty = tty;
	p->state = st;
	return true;
}

/*
 * The processes whose parent is parent (zombies too: the parent has to reap them), or, with
 * sid > 0, the live ones of session sid (a dead one's reaping is its new parent's).
 */
static size_t
procs(pid_t parent, pid_t sid, struct proc *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct proc p;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || !proc_read(pid, &p))
			continue;
		if ((parent > 0 && p.ppid == parent) || (sid > 0 && p.sid == sid && p.state != 'Z')) {
			if (n < max)
				out[n] = p;
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Is the proxy p where it should be: its own session, no terminal, stdin a socket? */
static void
assert_proxy_alone(const struct proc *p)
{
	char path[64], link[256];
	ssize_t n;

	assert_int_equal(p->sid, p->pid);
	assert_int_equal(p->tty, 0);
	snprintf(path, sizeof path, "/proc/%d/fd/0", (int)p->pid);
	n = readlink(path, link, sizeof link - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_true(str_has_prefix(link, "socket:"));
}

/* How many lines of text contain needle. */
static size_t
count_has(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* A connection to spec as the config cfg resolves it, with the test's key and known_hosts. */
static struct ssh_conn *
mkconn_via(const char *spec, const char *cfg)
{
	struct ssh_target t;
	struct ssh_cbs cbs = { NULL, NULL, cb_state, NULL };
	struct ssh_conn *c;
	char *cause = NULL;

	if (ssh_target_resolve(spec, cfg, &t, &cause) != 0)
		fail_msg("%s", cause);
	t.identity = xstrdup(g.user_key);
	t.known_hosts = xstrdup(g.known_hosts);
	c = ssh_conn_new(g.loop, &t, &cbs);
	ssh_target_clear(&t);
	return c;
}

/*
 * ProxyJump: a second sshd on the loopback is the jump host. The jump sshd's log shows the
 * forward to the target (once per connection: a reconnect starts a new proxy, and the old
 * one is reaped); a two-hop chain goes through it twice; an unknown jump host key fails at
 * once (BatchMode: nothing asks); with the jump sshd stopped the target is not reached.
 */
static void
test_proxy_jump(void **state)
{
	char *jdir = xprintf("%s/jump", g.tmp), *jport, *jkey, *jkh, *jlog, *cfg, *text, *log;
	char *fwd, *fwd_self;
	struct ssh_conn *c;
	struct res r = {0};
	struct ssh_stats st;
	struct proc kid[4];
	const char *msg;
	uint64_t t0, t_jump, t_direct;

	assert_int_equal(sh("SSHD_LOGLEVEL=DEBUG1 SSHD_WATCH_PID=%d bash '%s/tests/lib/sshd.sh' "
	    "start '%s' >&2", (int)getpid(), tl_srcdir(), jdir), 0);
	jport = env_in(jdir, "SSHD_PORT");
	jkey = env_in(jdir, "SSHD_USER_KEY");
	jkh = env_in(jdir, "SSHD_KNOWN_HOSTS");
	jlog = env_in(jdir, "SSHD_LOG");
	text = xprintf(
	    "Host target\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  ProxyJump jumphost\n"
	    "Host target2\n  HostName 127.0.0.1\n  Port %d\n  User %s\n"
	    "  ProxyJump jumphost,jumphost\n"
	    "Host target3\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  ProxyJump stranger\n"
	    "Host jumphost stranger\n  HostName 127.0.0.1\n  Port %s\n  User %s\n"
	    "  IdentityFile %s\n  IdentitiesOnly yes\n"
	    "Host jumphost\n  UserKnownHostsFile %s\n"
	    "Host stranger\n  UserKnownHostsFile %s/none\n",
	    g.port, g.user, g.port, g.user, g.port, g.user, jport, g.user, jkey, jkh, jdir);
	cfg = tl_write(g.tmp, "jump_config", text);
	free(text);
	fwd = xprintf("target 127.0.0.1 port %d", g.port);
	fwd_self = xprintf("target 127.0.0.1 port %s", jport);

	c = mkconn_via("target", cfg);
	t0 = now_ms();
	run_script(c, "echo via-jump", &r);
	t_jump = now_ms() - t0;
	if (r.how != TJOB_EXITED)
		fail_msg("%s", r.msg);
	assert_string_equal(sb_str(&r.out), "via-jump\n");
	res_clear(&r);
	log = slurp(jlog);
	assert_int_equal(count_has(log, fwd), 1);
	free(log);
	/* The proxy: our one child, in a session of its own, no terminal, stdin a socket. */
	assert_int_equal(procs(getpid(), 0, kid, nitems(kid)), 1);
	assert_proxy_alone(&kid[0]);

	/* The target drops us: the old proxy ends and is reaped, the reconnect starts another. */
	assert_int_equal(sh("bash '%s/tests/lib/sshd.sh' drop '%s'", tl_srcdir(), g.sshd_dir), 0);
	t0 = now_ms();
	while (ssh_conn_state(c) != SSH_STATE_IDLE && now_ms() - t0 < 5000)
		loop_run_once(g.loop, 50);
	assert_int_equal(ssh_conn_state(c), SSH_STATE_IDLE);
	assert_int_equal(procs(getpid(), 0, kid, nitems(kid)), 0);
	run_script(c, "echo again", &r);
	assert_string_equal(sb_str(&r.out), "again\n");
	res_clear(&r);
	ssh_conn_stats(c, &st);
	assert_int_equal(st.connects, 2);
	log = slurp(jlog);
	assert_int_equal(count_has(log, fwd), 2);
	free(log);
	assert_int_equal(procs(getpid(), 0, kid, nitems(kid)), 1);
	assert_proxy_alone(&kid[0]);
	ssh_conn_free(&c);
	assert_int_equal(procs(getpid(), 0, kid, nitems(kid)), 0);

	/* The same target, direct, for the time it takes. */
	c = mkconn(g.user_key, NULL, false, false, false);
	t0 = now_ms();
	run_script(c, "echo direct", &r);
	t_direct = now_ms() - t0;
	assert_string_equal(sb_str(&r.out), "direct\n");
	res_clear(&r);
	ssh_conn_free(&c);
	fprintf(stderr, "# connect, authenticate, first command: direct %llu ms, through the "
	    "jump host %llu ms\n", (unsigned long long)t_direct, (unsigned long long)t_jump);

	/* Two hops: the first -J, the last -W; the jump sshd forwards to itself, then on. */
	c = mkconn_via("target2", cfg);
	run_script(c, "echo two-hops", &r);
	assert_string_equal(sb_str(&r.out), "two-hops\n");
	res_clear(&r);
	ssh_conn_free(&c);
	log = slurp(jlog);
	assert_int_equal(count_has(log, fwd), 3);
	assert_int_equal(count_has(log, fwd_self), 1);
	free(log);

	/* The jump host's key is not known: its ssh gives up at once rather than ask. */
	c = mkconn_via("target3", cfg);
	t0 = now_ms();
	run_script(c, "echo never", &r);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_CONNECT);
	assert_non_null(strstr(msg, "through ProxyJump stranger"));
	assert_non_null(strstr(msg, "Host key verification failed"));
	res_clear(&r);
	ssh_conn_free(&c);

	/* No jump sshd, no way through (the target itself still answers, directly). */
	sh("bash '%s/tests/lib/sshd.sh' stop '%s'", tl_srcdir(), jdir);
	c = mkconn_via("target", cfg);
	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_CONNECT);
	assert_non_null(strstr(msg, "through ProxyJump jumphost"));
	assert_non_null(strstr(msg, "Connection refused"));
	assert_null(strchr(msg, '\n'));
	res_clear(&r);
	ssh_conn_free(&c);
	assert_int_equal(procs(getpid(), 0, kid, nitems(kid)), 0);
	c = mkconn(g.user_key, NULL, false, false, false);
	run_script(c, "echo direct", &r);
	assert_string_equal(sb_str(&r.out), "direct\n");
	res_clear(&r);
	ssh_conn_free(&c);

	free(fwd);
	free(fwd_self);
	free(cfg);
	free(jport);
	free(jkey);
	free(jkh);
	free(jlog);
	free(jdir);
}

/*
 * ProxyCommand: a relay in bash (/dev/tcp) gets the tokens expanded, runs in a session of its
 * own, and its whole process group goes when the connection does; a failing one's stderr is
 * in the failure message.
 */
static void
test_proxy_command(void **state)
{
	char *cfg, *text, *log, *logf = xprintf("%s/relay.log", g.tmp);
	struct ssh_conn *c;
	struct res r = {0};
	struct proc kid[4], p;
	const char *msg;
	pid_t pid;
	int n;

	text = xprintf(
	    "Host relayed\n  HostName 127.0.0.1\n  Port %d\n  User %s\n"
	    "  ProxyCommand bash -c 'echo \"$$ $0 $1 $2 $3 $4\" >>%s; "
	    "exec 3<>/dev/tcp/$0/$1; "
	    "cat <&3 & exec cat >&3' %%h %%p %%r %%n 100%%%%\n"
	    "Host broken\n  HostName 127.0.0.1\n  Port %d\n"
	    "  ProxyCommand echo 'no route to the lab' >&2; exit 1\n",
	    g.port, g.user, logf, g.port);
	cfg = tl_write(g.tmp, "command_config", text);
	free(text);

	c = mkconn_via("relayed", cfg);
	run_script(c, "echo relayed", &r);
	if (r.how != TJOB_EXITED)
		fail_msg("%s", r.msg);
	assert_string_equal(sb_str(&r.out), "relayed\n");
	res_clear(&r);
	log = slurp(logf);
	text = xprintf(" 127.0.0.1 %d %s relayed 100%%\n", g.port, g.user);
	assert_non_null(strstr(log, text));
	free(text);
	n = atoi(log);
	free(log);
	pid = (pid_t)n;
	assert_true(proc_read(pid, &p));
	assert_int_equal(p.ppid, getpid());
	assert_proxy_alone(&p);
	/* The relay and its background cat share the session. */
	assert_int_equal(procs(0, pid, kid, nitems(kid)), 2);
	ssh_conn_free(&c);
	assert_int_equal(procs(getpid(), 0, kid, nitems(kid)), 0);
	/* The group got the TERM; the background cat may take a moment to die of it. */
	for (int i = 0; i < 100 && procs(0, pid, kid, nitems(kid)) > 0; i++)
		usleep(20000);
	assert_int_equal(procs(0, pid, kid, nitems(kid)), 0);

	c = mkconn_via("broken", cfg);
	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_CONNECT);
	assert_non_null(strstr(msg, "through ProxyCommand echo 'no route to the lab' >&2; exit 1"));
	assert_non_null(strstr(msg, "which said: no route to the lab"));
	res_clear(&r);
	ssh_conn_free(&c);
	free(cfg);
	free(logf);
}

/* ------------------------------------------------------------------ authentication */

/* An RSA key: the server refuses its SHA-1 signature; the message says what to do. */
static void
test_auth_rsa(void **state)
{
	struct ssh_conn *c = mkconn(g.rsa_key, NULL, false, false, false);
	struct res r = {0};
	const char *msg;

	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_AUTH_RSA);
	assert_non_null(strstr(msg, "ssh-keygen -t ed25519"));
	assert_non_null(strstr(msg, "SHA-1"));
	res_clear(&r);
	ssh_conn_free(&c);
}

/* A key the server does not know. */
static void
test_auth_refused(void **state)
{
	struct ssh_conn *c = mkconn(g.other_key, NULL, false, false, false);
	struct res r = {0};
	const char *msg;

	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_AUTH);
	assert_non_null(strstr(msg, "authorized_keys"));
	assert_non_null(strstr(msg, g.other_key));
	res_clear(&r);
	ssh_conn_free(&c);

	/* No key at all (HOME has none, no agent). */
	c = mkconn(NULL, NULL, false, false, false);
	run_script(c, "echo never", &r);
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_AUTH);
	assert_non_null(strstr(msg, "ssh-keygen -t ed25519"));
	res_clear(&r);
	ssh_conn_free(&c);
}

/* Encrypted keys: asked (a wrong answer asks again), OpenSSH and PEM formats. */
static void
test_auth_passphrase(void **state)
{
	struct ssh_conn *c = mkconn(g.enc_key, NULL, false, false, true);
	struct res r = {0};

	S.pass_answers[0] = "wrong";
	S.pass_answers[1] = g.passphrase;
	run_script(c, "echo unlocked", &r);
	if (r.how != TJOB_EXITED)
		fail_msg("%s (asked %u times)", r.msg, S.pass_calls);
	assert_string_equal(sb_str(&r.out), "unlocked\n");
	assert_int_equal(S.pass_calls, 2);
	assert_int_equal(S.pass_attempts[0], 1);
	assert_int_equal(S.pass_attempts[1], 2);
	res_clear(&r);
	ssh_conn_free(&c);

	case_setup(state);
	c = mkconn(g.pem_key, NULL, false, false, true);
	S.pass_answers[0] = g.passphrase;
	run_script(c, "echo pem", &r);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_string_equal(sb_str(&r.out), "pem\n");
	assert_int_equal(S.pass_calls, 1);
	res_clear(&r);
	ssh_conn_free(&c);

	/* Declined: the key is skipped, authentication fails. */
	case_setup(state);
	c = mkconn(g.enc_key, NULL, false, false, true);
	S.pass_answers[0] = NULL;
	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_int_equal(ssh_conn_failure(c, NULL), SSH_FAIL_AUTH);
	assert_int_equal(S.pass_calls, 1);
	res_clear(&r);
	ssh_conn_free(&c);

	/* Nobody to ask: skipped with a note. */
	case_setup(state);
	c = mkconn(g.enc_key, NULL, false, false, false);
	run_script(c, "echo never", &r);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_non_null(strstr(r.msg, "encrypted"));
	res_clear(&r);
	ssh_conn_free(&c);
}

/* ssh-agent first; default key files when no identity is given. */
static void
test_auth_agent_and_defaults(void **state)
{
	struct ssh_conn *c;
	struct res r = {0};
	char *sock = xprintf("%s/agent.sock", g.tmp), *pid, *keydir = xprintf("%s/.ssh", g.home);

	pid = sh_out("ssh-agent -a '%s' -s | sed -n 's/^SSH_AGENT_PID=\\([0-9]*\\);.*/\\1/p'", sock);
	assert_true(atoi(pid) > 0);
	assert_int_equal(sh("SSH_AUTH_SOCK='%s' ssh-add -q '%s' 2>/dev/null", sock, g.user_key), 0);
	setenv("SSH_AUTH_SOCK", sock, 1);
	c = mkconn(NULL, NULL, false, false, false);
	run_script(c, "echo via-agent", &r);
	assert_int_equal(r.how, TJOB_EXITED);
	assert_string_equal(sb_str(&r.out), "via-agent\n");
	res_clear(&r);
	ssh_conn_free(&c);
	unsetenv("SSH_AUTH_SOCK");
	kill(atoi(pid), SIGTERM);

	/* ~/.ssh/id_ed25519 of the (test's) home. */
	mkdir(keydir, 0700);
	assert_int_equal(sh("cp '%s' '%s/id_ed25519' && chmod 600 '%s/id_ed25519'", g.user_key,
	    keydir, keydir), 0);
	c = mkconn(NULL, NULL, false, false, false);
	run_script(c, "echo default-key", &r);
	assert_string_equal(sb_str(&r.out), "default-key\n");
	res_clear(&r);
	ssh_conn_free(&c);
	sh("rm -rf '%s'", keydir);
	free(keydir);
	free(pid);
	free(sock);
}

/* Nothing listens: a quick, clear failure. */
static void
test_connect_refused(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	struct ssh_target t;
	struct ssh_conn *c;
	struct res r = {0};
	char *spec, *cause = NULL;
	const char *msg;
	uint64_t t0;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);   /* now nothing listens there */
	spec = xprintf("nobody@127.0.0.1:%d", port);
	assert_int_equal(ssh_target_resolve(spec, "none", &t, &cause), 0);
	c = ssh_conn_new(g.loop, &t, NULL);
	ssh_target_clear(&t);
	t0 = now_ms();
	run_script(c, "echo never", &r);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(r.how, TJOB_FAILED);
	assert_non_null(strstr(r.msg, "cannot connect"));
	assert_int_equal(ssh_conn_failure(c, &msg), SSH_FAIL_CONNECT);
	assert_non_null(strstr(msg, "refused"));
	res_clear(&r);
	ssh_conn_free(&c);
	free(spec);
}

/* The pre-flight against the test server. */
struct pf_got {
	bool done;
	struct ssh_pf_item items[8];
	size_t n;
};

/* Copy the pre-flight's items. */
static void
pf_cb(void *data, const struct ssh_pf_item *items, size_t n)
{
	struct pf_got *got = data;

	got->done = true;
	got->n = n;
	for (size_t i = 0; i < n && i < 8; i++) {
		got->items[i] = items[i];
		got->items[i].detail = xstrdup(items[i].detail);
		got->items[i].fix = xstrdup(items[i].fix);
	}
}

static void
test_preflight_live(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct ssh_preflight *pf;
	struct pf_got got;
	const char *ids[] = { "reachable", "host-key", "login", "sudo", "os", "clock", "disk" };

	memset(&got, 0, sizeof got);
	pf = ssh_preflight_start(c, NULL, pf_cb, &got);
	assert_true(spin(&got.done, WAIT_MS));
	assert_int_equal(got.n, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(got.items[i].id, ids[i]);
		assert_non_null(got.items[i].detail);
	}
	assert_int_equal(got.items[0].status, SSH_PF_OK);
	assert_int_equal(got.items[1].status, SSH_PF_OK);
	assert_non_null(strstr(got.items[1].detail, "SHA256:"));
	assert_int_equal(got.items[2].status, SSH_PF_OK);
	if (getuid() == 0) {
		assert_int_equal(got.items[3].status, SSH_PF_OK);
		assert_non_null(strstr(got.items[3].detail, "root"));
	}
	assert_int_not_equal(got.items[4].status, SSH_PF_FAIL);     /* Linux */
	assert_int_equal(got.items[5].status, SSH_PF_OK);           /* same clock */
	assert_non_null(strstr(got.items[6].detail, "GiB free on"));
	for (size_t i = 0; i < 7; i++)
		ssh_pf_item_clear(&got.items[i]);
	ssh_preflight_free(&pf);

	/*
	 * The probes get opts.env: with DEMO_SANDBOX set (the demo host's environment) the OS is
	 * the sandbox's os-release; the disk probe still works with the environment's HOME.
	 */
	{
		char *etc = xprintf("%s/pfsandbox/root/etc", g.tmp), *f, *e1, *e2, *cause = NULL;
		char *env[3];
		struct ssh_pf_opts o = { .env = env };

		assert_int_equal(mkdir_p(etc, 0700, &cause), 0);
		f = tl_write(etc, "os-release", "ID=ubuntu\nVERSION_ID=\"24.04\"\n"
		    "PRETTY_NAME=\"Ubuntu 24.04 (pf sandbox)\"\n");
		env[0] = e1 = xprintf("DEMO_SANDBOX=%s/pfsandbox", g.tmp);
		env[1] = e2 = xprintf("HOME=%s", etc);
		env[2] = NULL;
		memset(&got, 0, sizeof got);
		pf = ssh_preflight_start(c, &o, pf_cb, &got);
		assert_true(spin(&got.done, WAIT_MS));
		assert_int_equal(got.n, 7);
		assert_int_equal(got.items[4].status, SSH_PF_OK);
		assert_string_equal(got.items[4].detail, "Ubuntu 24.04 (pf sandbox)");
		assert_non_null(strstr(got.items[6].detail, "GiB free on"));
		for (size_t i = 0; i < 7; i++)
			ssh_pf_item_clear(&got.items[i]);
		ssh_preflight_free(&pf);
		free(e1);
		free(e2);
		free(f);
		free(etc);
	}
	ssh_conn_free(&c);

	/* Unreachable: the first item says so, the rest is skipped. */
	{
		struct ssh_target t;
		char *cause = NULL;

		assert_int_equal(ssh_target_resolve("x@127.0.0.1:1", "none", &t, &cause), 0);
		c = ssh_conn_new(g.loop, &t, NULL);
		ssh_target_clear(&t);
		memset(&got, 0, sizeof got);
		pf = ssh_preflight_start(c, NULL, pf_cb, &got);
		assert_true(spin(&got.done, WAIT_MS));
		assert_int_equal(got.items[0].status, SSH_PF_FAIL);
		assert_non_null(strstr(got.items[0].fix, "sshd"));
		for (size_t i = 1; i < 7; i++)
			assert_int_equal(got.items[i].status, SSH_PF_SKIPPED);
		for (size_t i = 0; i < 7; i++)
			ssh_pf_item_clear(&got.items[i]);
		ssh_preflight_free(&pf);
		ssh_conn_free(&c);
	}
}

/* Keepalives on an idle session do not disturb it. */
static void
test_keepalive(void **state)
{
	struct ssh_conn *c = mkconn(g.user_key, NULL, false, false, false);
	struct ssh_opts o;
	struct res r = {0};
	struct ssh_stats st;

	memset(&o, 0, sizeof o);
	o.keepalive_s = 1;
	ssh_conn_set_opts(c, &o);
	run_script(c, "true", &r);
	res_clear(&r);
	spin_for(2300);
	assert_int_equal(ssh_conn_state(c), SSH_STATE_CONNECTED);
	run_script(c, "echo still", &r);
	assert_string_equal(sb_str(&r.out), "still\n");
	ssh_conn_stats(c, &st);
	assert_int_equal(st.connects, 1);
	res_clear(&r);
	ssh_conn_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_target_spec, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_target_config, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_target_no_ssh, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_target_parse_config, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_key_inspect, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_known_hosts_file, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_preflight_judge, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_match, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_unknown_yes, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_unknown_no, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_unknown_headless, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_changed, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_failure, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_streaming, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_exit_and_signals, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_stdin_cwd_env, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_big_output, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_parallel, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_secret_not_in_argv, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_forbid, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_supervised_basic, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_supervised_reconnect, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_supervised_cancel, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_idle_drop, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_jump, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_command, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_auth_rsa, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_auth_refused, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_auth_passphrase, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_auth_agent_and_defaults, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_preflight_live, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, case_setup, case_teardown),
	};

	if (getenv("DW_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("DW_TEST_FILTER"));
	return cmocka_run_group_tests_name("ssh", tests, group_setup, group_teardown);
}
