/*
 * chain-step.c: one step file: its fields, its commands (run: scripts and http/tcp/rpc
 * probes), captures, hints and checklist, the inputs it uses, and the secret rules applied to
 * every ${name} a command references.
 */
#include "config.h"

#include "chain-int.h"

#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "util.h"

/* -------------------------------------------------------------------------------------- */
/* Step files. */

enum {
	TK_ID, TK_SECTION, TK_TITLE, TK_SUMMARY, TK_PLACE, TK_EFFECTS, TK_REQUIRES, TK_INPUTS,
	TK_GUIDE, TK_CHECKLIST, TK_CHECK, TK_ACTION, TK_CAPTURE, TK_HINTS, TK_NOTES, TK_TAKES,
	TK__N
};
static const char *const step_keys[] = {
	"id", "section", "title", "summary", "place", "effects", "requires", "inputs", "guide",
	"checklist", "check", "action", "capture", "hints", "notes", "takes"
};

enum { MK_NAME, MK_RUN, MK_HTTP, MK_TCP, MK_RPC, MK_CWD, MK_ENV, MK_STDIN, MK_EXPECT,
	MK_TIMEOUT, MK_ON, MK_VERSION, MK__N };
static const char *const command_keys[] = {
	"name", "run", "http", "tcp", "rpc", "cwd", "env", "stdin", "expect", "timeout", "on",
	"version"
};

enum { HP_URL, HP_METHOD, HP_BODY, HP_HEADERS, HP_STATUS, HP_INSECURE, HP_RESOLVE, HP_JSON,
	HP_BODY_MATCH, HP_CAPTURE_HEADERS, HP__N };
static const char *const http_keys[] = {
	"url", "method", "body", "headers", "status", "insecure", "resolve", "json",
	"body_match", "capture_headers"
};

enum { RP_URL, RP_CALL, RP_CHAIN_ID, RP_ADDRESS, RP_MIN_ETH, RP_DATA, RP_JSON, RP__N };
static const char *const rpc_keys[] = {
	"url", "call", "chain_id", "address", "min_eth", "data", "json"
};
static const char *const rpc_calls[] = { "chain_id", "code", "balance", "eth_call" };

enum { PK_NAME, PK_REGEX, PK_VERSION, PK__N };
static const char *const capture_keys[] = { "name", "regex", "version" };

enum { HK_MATCH, HK_SAY, HK_FIX, HK_VERSION, HK__N };
static const char *const hint_keys[] = { "match", "say", "fix", "version" };

static const char *const place_names[] = {
	[PLACE_LOCAL] = "local", [PLACE_SERVER] = "server", [PLACE_MANUAL] = "manual"
};
static const char *const on_names[] = {
	[PLACE_LOCAL] = "local", [PLACE_SERVER] = "server", [PLACE_MANUAL] = NULL
};
static const char *const effect_names[] = { "sudo", "transaction", "reboot", "long" };

/* Add input idx to the step's inputs unless it is there. */
static void
step_add_input(struct step *st, size_t idx)
{
	for (size_t i = 0; i < st->ninputs; i++) {
		if (st->inputs[i] == idx)
			return;
	}
	st->inputs = xreallocarray(st->inputs, st->ninputs + 1, sizeof *st->inputs);
	st->inputs[st->ninputs++] = idx;
}

/* Where a reference in a command sits. */
enum cfield { CF_RUN, CF_CWD, CF_ENV, CF_STDIN, CF_EXPECT, CF_PROBE };
static const char *const cfield_names[] = { "run", "cwd", "env", "stdin", "expect", "probe" };

/* Context of the references of one command field. */
struct cmdscan {
	struct step *st;
	enum cfield field;
	enum place on;
};

/* A command references an input: record it and apply the secret rules. */
static void
command_ref(struct refscan *rs, int idx, const char *name)
{
	struct cmdscan *cs = rs->data;
	struct loader *ld = rs->ld;
	const struct input_def *in = &ld->c->inputs[idx];

	step_add_input(cs->st, (size_t)idx);
	if (in->secret && (cs->field == CF_RUN || cs->field == CF_CWD)) {
		ref_err(rs, "secret input '%s' must not appear in %s: text; pass it to the "
		    "command through env: or stdin:", name, cfield_names[cs->field]);
	}
	if (in->secret && cs->field == CF_EXPECT) {
		ref_err(rs, "secret input '%s' cannot be used in expect: (output is redacted "
		    "before it is matched)", name);
	}
	if (cs->on == PLACE_SERVER && in->scope == SCOPE_LOCAL) {
		ref_err(rs, "command runs on the server but references %s, a local-only %s "
		    "(%s:%d:%d)", name, in->secret ? "secret" : "input", in->pos.file,
		    in->pos.line, in->pos.col);
	}
}

/* Scan one command field for references. */
static void
command_scan(struct loader *ld, struct step *st, const struct ynode *n, enum cfield field,
    enum place on)
{
	struct cmdscan cs = { st, field, on };

	scan_refs(ld, n, command_ref, &cs);
}

/* text with every ${name} replaced by the word `stand` (for syntax checks at load time). */
static char *
refs_blanked(const char *text, const char *stand)
{
	struct strbuf sb = {0};
	const char *p = text;

	while (*p != '\0') {
		if (p[0] == '$' && p[1] == '{' && p[2] >= 'a' && p[2] <= 'z') {
			const char *e = p + 3;

			while ((*e >= 'a' && *e <= 'z') || (*e >= '0' && *e <= '9') || *e == '_')
				e++;
			if (*e == '}') {
				sb_adds(&sb, stand);
				p = e + 1;
				continue;
			}
		}
		sb_addc(&sb, *p++);
	}
	return sb_detach(&sb);
}

/* Check that a regex (expect:, body_match:) compiles, each ${name} standing for a word. */
static void
check_regex_refs(struct loader *ld, const struct ynode *n, const char *key, const char *text)
{
	char *blank = refs_blanked(text, "x");
	struct rx *re = NULL;

	load_regex(ld, n, key, blank, &re, RX_LINES);
	rx_free(&re);
	free(blank);
}

/* Parse a timeout: a positive whole number of seconds. */
static void
load_timeout(struct loader *ld, const struct ynode *n, int *out)
{
	unsigned long v = 0;
	const char *s;

	if (ynull(n))
		return;
	if (n->kind != Y_SCALAR) {
		err_node(ld, n, "timeout must be a positive whole number of seconds, got %s",
		    ykind_name(n));
		return;
	}
	s = n->s;
	if (*s == '\0')
		goto bad;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > MAX_TIMEOUT) {
			err_node(ld, n, "timeout is more than %d seconds (a week)", MAX_TIMEOUT);
			return;
		}
	}
	if (v == 0)
		goto bad;
	*out = (int)v;
	return;
bad:
	err_node(ld, n, "timeout must be a positive whole number of seconds, got '%s'",
	    q(ld, n->s));
}

/*
 * Parse takes: how long the action typically takes on real hardware, as whole numbers with a
 * unit each, largest first ("15m", "1h30m", "90s"); at most a week.
 */
static void
load_takes(struct loader *ld, const struct ynode *n, int *out)
{
	static const char units[] = "hms";
	static const unsigned long mult[] = { 3600, 60, 1 };
	unsigned long total = 0, v;
	size_t last = 0;
	const char *s;
	bool digits;

	if (n == NULL)
		return;
	if (n->kind != Y_SCALAR || ynull(n)) {
		err_node(ld, n, "takes must be a duration such as 15m, 1h30m or 90s, got %s",
		    ykind_name(n));
		return;
	}
	s = n->s;
	if (*s == '\0')
		goto bad;
	while (*s != '\0') {
		const char *u;

		v = 0;
		digits = false;
		for (; *s >= '0' && *s <= '9'; s++) {
			v = v * 10 + (unsigned long)(*s - '0');
			digits = true;
			if (v > MAX_TIMEOUT)
				goto big;
		}
		if (!digits || *s == '\0' || (u = strchr(units, *s)) == NULL ||
		    (size_t)(u - units) < last)
			goto bad;
		last = (size_t)(u - units) + 1;
		total += v * mult[u - units];
		if (total > MAX_TIMEOUT)
			goto big;
		s++;
	}
	if (total == 0)
		goto bad;
	*out = (int)total;
	return;
big:
	err_node(ld, n, "takes is more than a week");
	return;
bad:
	err_node(ld, n, "takes must be a duration such as 15m, 1h30m or 90s (hours, minutes, "
	    "seconds, largest first), got '%s'", q(ld, n->s));
}

/* Is s an environment variable name: [A-Za-z_][A-Za-z0-9_]* ? */
static bool
valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/* Decode the env: mapping of a command. */
static void
load_env(struct loader *ld, struct step *st, const struct ynode *n, struct command *cmd)
{
	if (ynull(n))
		return;
	if (n->kind != Y_MAP) {
		err_node(ld, n, "expected a mapping of environment variables (NAME: value), got %s",
		    ykind_name(n));
		return;
	}
	cmd->env = xcalloc(n->n / 2 + 1, sizeof *cmd->env);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
		char *value;
		bool dup = false;

		if (!valid_env_name(k->s)) {
			err_node(ld, k, "'%s' is not a valid environment variable name", q(ld, k->s));
			continue;
		}
		for (size_t j = 0; j < cmd->nenv; j++)
			dup = dup || strcmp(cmd->env[j].name, k->s) == 0;
		if (dup) {
			err_node(ld, k, "environment variable '%s' is set twice", q(ld, k->s));
			continue;
		}
		if (v->kind != Y_SCALAR) {
			err_node(ld, v, "expected a string, got %s", ykind_name(v));
			continue;
		}
		value = ynull(v) ? xstrdup("") : xstrndup(v->s, v->len);
		command_scan(ld, st, v, CF_ENV, cmd->on);
		cmd->env[cmd->nenv].name = xstrdup(k->s);
		cmd->env[cmd->nenv].value = value;
		cmd->nenv++;
	}
}

static void load_strings(struct loader *ld, const struct ynode *list, const char *what,
    const char *itemwhat, char ***out, size_t *nout);

/* A probe's string field, scanned for ${name} references. */
static char *
probe_str(struct loader *ld, struct step *st, const struct ynode *n, enum place on)
{
	char *v = ystr(ld, n);

	if (v != NULL)
		command_scan(ld, st, n, CF_PROBE, on);
	return v;
}

/* A probe's list of strings, each scanned for references. */
static void
probe_strs(struct loader *ld, struct step *st, const struct ynode *n, enum place on,
    const char *what, char ***out, size_t *nout)
{
	if (ynull(n))
		return;
	load_strings(ld, n, what, "a string", out, nout);
	if (n->kind == Y_SEQ)
		for (size_t i = 0; i < n->n; i++)
			if (n->kids[i]->kind == Y_SCALAR)
				command_scan(ld, st, n->kids[i], CF_PROBE, on);
}

/* Check JSON assertions (jsonpath.h) at load time, each ${name} standing for 0. */
static void
check_assertions(struct loader *ld, const struct ynode *list, char **json, size_t n)
{
	for (size_t i = 0; i < n && list != NULL && list->kind == Y_SEQ; i++) {
		char *blank, *cause = NULL;
		size_t col = 0;

		blank = refs_blanked(json[i], "0");
		if (jsonpath_check(blank, &col, &cause) != 0)
			err_node(ld, list->kids[i], "bad JSON assertion '%s': %s", q(ld, json[i]),
			    cause ? cause : "malformed");
		free(cause);
		free(blank);
	}
}

/* Give the command its probe, of kind. */
static struct probe *
new_probe(struct command *cmd, enum probe_kind kind)
{
	cmd->probe = xcalloc(1, sizeof *cmd->probe);
	cmd->probe->kind = kind;
	return cmd->probe;
}

/* Decode http: { url, method, body, headers, status, insecure, resolve, json, ... }. */
static void
load_http(struct loader *ld, struct step *st, const struct ynode *n, struct command *cmd)
{
	struct probe *p = new_probe(cmd, PROBE_HTTP);
	struct field f[HP__N];
	char *status;

	if (n->kind == Y_SCALAR && !ynull(n)) {
		p->url = probe_str(ld, st, n, cmd->on);
		return;
	}
	if (n->kind != Y_MAP) {
		err_node(ld, n, "expected an HTTP probe (a URL, or a mapping with url:), got %s",
		    ykind_name(n));
		return;
	}
	ymap_fields(ld, n, http_keys, HP__N, f);
	p->url = ystr_req(ld, n, &f[HP_URL], "http probe", "url");
	if (p->url != NULL)
		command_scan(ld, st, f[HP_URL].val, CF_PROBE, cmd->on);
	p->method = probe_str(ld, st, f[HP_METHOD].val, cmd->on);
	p->body = probe_str(ld, st, f[HP_BODY].val, cmd->on);
	probe_strs(ld, st, f[HP_HEADERS].val, cmd->on, "a list of headers", &p->headers,
	    &p->nheaders);
	status = ystr(ld, f[HP_STATUS].val);
	if (status != NULL) {
		char *end;
		long v = strtol(status, &end, 10);

		if (*end != '\0' || v < 100 || v > 599)
			err_node(ld, f[HP_STATUS].val, "status must be an HTTP status (100-599), got "
			    "'%s'", q(ld, status));
		else
			p->status = (int)v;
		free(status);
	}
	ybool(ld, f[HP_INSECURE].val, &p->insecure);
	probe_strs(ld, st, f[HP_RESOLVE].val, cmd->on, "a list of host:port:address",
	    &p->resolve, &p->nresolve);
	probe_strs(ld, st, f[HP_JSON].val, cmd->on, "a list of JSON assertions", &p->json,
	    &p->njson);
	check_assertions(ld, f[HP_JSON].val, p->json, p->njson);
	p->body_match = probe_str(ld, st, f[HP_BODY_MATCH].val, cmd->on);
	if (p->body_match != NULL)
		check_regex_refs(ld, f[HP_BODY_MATCH].val, "body_match", p->body_match);
	probe_strs(ld, st, f[HP_CAPTURE_HEADERS].val, cmd->on, "a list of header names",
	    &p->capture_headers, &p->ncapture_headers);
}

/* Decode tcp: host:port. */
static void
load_tcp(struct loader *ld, struct step *st, const struct ynode *n, struct command *cmd)
{
	struct probe *p = new_probe(cmd, PROBE_TCP);

	p->target = ystr(ld, n);
	if (p->target == NULL || strrchr(p->target, ':') == NULL)
		err_node(ld, n, "tcp: wants host:port");
	else
		command_scan(ld, st, n, CF_PROBE, cmd->on);
}

/* Decode rpc: { url, call, chain_id, address, min_eth, data, json }. */
static void
load_rpc(struct loader *ld, struct step *st, const struct ynode *n, struct command *cmd)
{
	struct probe *p = new_probe(cmd, PROBE_RPC);
	struct field f[RP__N];
	int call = -1;

	if (n->kind != Y_MAP) {
		err_node(ld, n, "expected a JSON-RPC probe (a mapping with url: and call:), got %s",
		    ykind_name(n));
		return;
	}
	ymap_fields(ld, n, rpc_keys, RP__N, f);
	p->url = ystr_req(ld, n, &f[RP_URL], "rpc probe", "url");
	if (p->url != NULL)
		command_scan(ld, st, f[RP_URL].val, CF_PROBE, cmd->on);
	if (f[RP_CALL].key == NULL)
		err_node(ld, n, "rpc probe has no 'call' (one of chain_id, code, balance, eth_call)");
	else if (yenum(ld, f[RP_CALL].val, "call", rpc_calls, nitems(rpc_calls), &call) == 0)
		p->call = xstrdup(rpc_calls[call]);
	p->chain_id = probe_str(ld, st, f[RP_CHAIN_ID].val, cmd->on);
	p->address = probe_str(ld, st, f[RP_ADDRESS].val, cmd->on);
	p->min_eth = probe_str(ld, st, f[RP_MIN_ETH].val, cmd->on);
	p->data = probe_str(ld, st, f[RP_DATA].val, cmd->on);
	probe_strs(ld, st, f[RP_JSON].val, cmd->on, "a list of JSON assertions", &p->json,
	    &p->njson);
	check_assertions(ld, f[RP_JSON].val, p->json, p->njson);
	if (call == 0 && p->chain_id == NULL)
		err_node(ld, n, "rpc call chain_id needs 'chain_id' (the chain wanted)");
	if (call >= 1 && p->address == NULL)
		err_node(ld, n, "rpc call %s needs 'address'", rpc_calls[call]);
	if (call == 2 && p->min_eth == NULL)
		err_node(ld, n, "rpc call balance needs 'min_eth'");
	if (call == 3 && p->data == NULL)
		err_node(ld, n, "rpc call eth_call needs 'data'");
}

/* Decode one command; false when it cannot be kept. */
static bool
load_command(struct loader *ld, struct step *st, const struct ynode *n, struct command *cmd)
{
	struct field f[MK__N];
	int v;

	memset(cmd, 0, sizeof *cmd);
	cmd->on = st->place == PLACE_SERVER ? PLACE_SERVER : PLACE_LOCAL;
	cmd->pos = (struct srcpos){ ld->file, n->line, n->col };
	if (n->kind == Y_SCALAR && !ynull(n)) {
		cmd->run = xstrndup(n->s, n->len);
		command_scan(ld, st, n, CF_RUN, cmd->on);
		return true;
	}
	if (n->kind != Y_MAP) {
		err_node(ld, n, "expected a command (a string or a mapping with run:), got %s",
		    ykind_name(n));
		return false;
	}
	ymap_fields(ld, n, command_keys, MK__N, f);
	cmd->when = load_when(ld, f[MK_VERSION].val, ld->inputs_ok);
	if (f[MK_ON].key != NULL) {
		if (yenum(ld, f[MK_ON].val, "on", on_names, nitems(on_names), &v) == 0)
			cmd->on = (enum place)v;
		else if (ynull(f[MK_ON].val))
			err_node(ld, f[MK_ON].key, "'on' is empty");
	}
	cmd->name = ystr(ld, f[MK_NAME].val);
	if ((f[MK_RUN].key != NULL) + (f[MK_HTTP].key != NULL) + (f[MK_TCP].key != NULL) +
	    (f[MK_RPC].key != NULL) > 1) {
		err_node(ld, n, "a command has one of run, http, tcp or rpc, not several");
		command_clear(cmd);
		return false;
	}
	if (f[MK_HTTP].key != NULL || f[MK_TCP].key != NULL || f[MK_RPC].key != NULL) {
		if (f[MK_HTTP].key != NULL)
			load_http(ld, st, f[MK_HTTP].val, cmd);
		else if (f[MK_TCP].key != NULL)
			load_tcp(ld, st, f[MK_TCP].val, cmd);
		else
			load_rpc(ld, st, f[MK_RPC].val, cmd);
		for (int k = MK_CWD; k <= MK_EXPECT; k++)
			if (f[k].key != NULL)
				err_node(ld, f[k].key, "'%s' belongs to run: commands, not to probes",
				    command_keys[k]);
		load_timeout(ld, f[MK_TIMEOUT].val, &cmd->timeout);
		return true;
	}
	if (f[MK_RUN].key == NULL) {
		err_node(ld, n, "command has no 'run' (or http, tcp, rpc)");
		command_clear(cmd);
		return false;
	}
	cmd->run = ystr_req(ld, n, &f[MK_RUN], "command", "run");
	if (cmd->run != NULL)
		command_scan(ld, st, f[MK_RUN].val, CF_RUN, cmd->on);
	cmd->cwd = ystr(ld, f[MK_CWD].val);
	if (cmd->cwd != NULL)
		command_scan(ld, st, f[MK_CWD].val, CF_CWD, cmd->on);
	load_env(ld, st, f[MK_ENV].val, cmd);
	cmd->stdin_text = ystr(ld, f[MK_STDIN].val);
	if (cmd->stdin_text != NULL)
		command_scan(ld, st, f[MK_STDIN].val, CF_STDIN, cmd->on);
	cmd->expect = ystr(ld, f[MK_EXPECT].val);
	if (cmd->expect != NULL) {
		command_scan(ld, st, f[MK_EXPECT].val, CF_EXPECT, cmd->on);
		check_regex_refs(ld, f[MK_EXPECT].val, "expect", cmd->expect);
	}
	load_timeout(ld, f[MK_TIMEOUT].val, &cmd->timeout);
	if (cmd->run == NULL) {
		command_clear(cmd);
		return false;
	}
	return true;
}

/* Decode a list of commands (check: or action:). */
static void
load_commands(struct loader *ld, struct step *st, const struct ynode *list,
    struct command **out, size_t *nout)
{
	if (!ylist(ld, list, "a list of commands"))
		return;
	*out = xcalloc(list->n, sizeof **out);
	for (size_t i = 0; i < list->n; i++) {
		if (load_command(ld, st, list->kids[i], &(*out)[*nout]))
			(*nout)++;
	}
}

/* Decode the capture: list. */
static void
load_captures(struct loader *ld, struct step *st, const struct ynode *list)
{
	if (!ylist(ld, list, "a list of captures"))
		return;
	st->captures = xcalloc(list->n, sizeof *st->captures);
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->kids[i];
		struct capture *cp = &st->captures[st->ncaptures];
		struct field f[PK__N];
		char *name, *regex;
		int idx;

		if (item->kind != Y_MAP) {
			err_node(ld, item, "expected a capture (a mapping with name and regex), "
			    "got %s", ykind_name(item));
			continue;
		}
		ymap_fields(ld, item, capture_keys, PK__N, f);
		name = ystr_req(ld, item, &f[PK_NAME], "capture", "name");
		regex = ystr_req(ld, item, &f[PK_REGEX], "capture", "regex");
		if (name != NULL && ld->inputs_ok) {
			idx = chain_input_index(ld->c, name);
			if (idx < 0) {
				struct suggest sg;

				suggest_init(&sg, name);
				for (size_t j = 0; j < ld->c->ninputs; j++)
					suggest_try(&sg, ld->c->inputs[j].name);
				err_node(ld, f[PK_NAME].val, "capture names '%s', which is not a "
				    "defined input%s", q(ld, name), suggest_text(ld, &sg));
			} else if (ld->c->inputs[idx].secret) {
				err_node(ld, f[PK_NAME].val, "capture cannot fill secret input '%s' "
				    "(output is redacted before it is matched)", name);
			}
			/* A capture is what the step produces, not what it needs: it is not
			 * added to st->inputs, so it neither gates the step nor makes it stale. */
		}
		if (regex != NULL) {
			if (!load_regex(ld, f[PK_REGEX].val, "regex", regex, &cp->re, RX_LINES))
				freep(&regex);
			else if (rx_groups(cp->re) < 1) {
				err_node(ld, f[PK_REGEX].val, "capture regex '%s' has no group; put "
				    "( ) around the value to capture", q(ld, regex));
				rx_free(&cp->re);
				freep(&regex);
			}
		}
		if (name == NULL || regex == NULL) {
			rx_free(&cp->re);
			free(name);
			free(regex);
			continue;
		}
		cp->name = name;
		cp->regex = regex;
		cp->when = load_when(ld, f[PK_VERSION].val, ld->inputs_ok);
		cp->pos = (struct srcpos){ ld->file, item->line, item->col };
		st->ncaptures++;
	}
}

/* Decode the hints: list. */
static void
load_hints(struct loader *ld, struct step *st, const struct ynode *list)
{
	if (!ylist(ld, list, "a list of hints"))
		return;
	st->hints = xcalloc(list->n, sizeof *st->hints);
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->kids[i];
		struct hint *h = &st->hints[st->nhints];
		struct field f[HK__N];

		if (item->kind != Y_MAP) {
			err_node(ld, item, "expected a hint (a mapping with match and say), got %s",
			    ykind_name(item));
			continue;
		}
		ymap_fields(ld, item, hint_keys, HK__N, f);
		h->match = ystr_req(ld, item, &f[HK_MATCH], "hint", "match");
		h->say = ystr_req(ld, item, &f[HK_SAY], "hint", "say");
		h->fix = ystr(ld, f[HK_FIX].val);
		if (h->match != NULL &&
		    !load_regex(ld, f[HK_MATCH].val, "match", h->match, &h->re, 0))
			freep(&h->match);
		if (h->match == NULL || h->say == NULL) {
			rx_free(&h->re);
			free(h->match);
			free(h->say);
			free(h->fix);
			memset(h, 0, sizeof *h);
			continue;
		}
		h->when = load_when(ld, f[HK_VERSION].val, ld->inputs_ok);
		h->pos = (struct srcpos){ ld->file, item->line, item->col };
		st->nhints++;
	}
}

/* Decode a list of plain strings (checklist). */
static void
load_strings(struct loader *ld, const struct ynode *list, const char *what,
    const char *itemwhat, char ***out, size_t *nout)
{
	if (!ylist(ld, list, what))
		return;
	*out = xcalloc(list->n, sizeof **out);
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->kids[i];

		if (item->kind != Y_SCALAR || ynull(item) || item->len == 0) {
			err_node(ld, item, "expected %s, got %s", itemwhat, ykind_name(item));
			continue;
		}
		(*out)[(*nout)++] = xstrndup(item->s, item->len);
	}
}

/* Decode requires: ids now, indices once every step is known. */
static void
load_requires(struct loader *ld, struct pstep *ps, const struct ynode *list)
{
	struct step *st = &ps->st;

	if (!ylist(ld, list, "a list of step ids"))
		return;
	st->requires = xcalloc(list->n, sizeof *st->requires);
	st->req = xcalloc(list->n, sizeof *st->req);
	ps->reqpos = xcalloc(list->n, sizeof *ps->reqpos);
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->kids[i];
		bool dup = false;

		if (item->kind != Y_SCALAR || ynull(item) || item->len == 0) {
			err_node(ld, item, "expected a step id, got %s", ykind_name(item));
			continue;
		}
		for (size_t j = 0; j < st->nrequires; j++)
			dup = dup || strcmp(st->requires[j], item->s) == 0;
		if (dup) {
			err_node(ld, item, "'%s' is listed twice in requires", q(ld, item->s));
			continue;
		}
		ps->reqpos[st->nrequires] = (struct srcpos){ ld->file, item->line, item->col };
		st->requires[st->nrequires++] = xstrndup(item->s, item->len);
	}
}

/* Decode the inputs: list of a step (names of inputs defined in chain.yaml). */
static void
load_step_inputs(struct loader *ld, struct step *st, const struct ynode *list)
{
	if (!ylist(ld, list, "a list of input names"))
		return;
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->kids[i];
		int idx;

		if (item->kind != Y_SCALAR || ynull(item)) {
			err_node(ld, item, "expected an input name, got %s (inputs are defined in "
			    "chain.yaml)", ykind_name(item));
			continue;
		}
		if (!ld->inputs_ok)
			continue;
		idx = chain_input_index(ld->c, item->s);
		if (idx < 0) {
			struct suggest sg;

			suggest_init(&sg, item->s);
			for (size_t j = 0; j < ld->c->ninputs; j++)
				suggest_try(&sg, ld->c->inputs[j].name);
			err_node(ld, item, "'%s' is not a defined input%s", q(ld, item->s),
			    suggest_text(ld, &sg));
			continue;
		}
		for (size_t j = 0; j < st->ninputs; j++) {
			if (st->inputs[j] == (size_t)idx) {
				err_node(ld, item, "input '%s' is listed twice", item->s);
				idx = -1;
				break;
			}
		}
		if (idx >= 0)
			step_add_input(st, (size_t)idx);
	}
}

/* Decode a step's mapping into ps. */
static void
load_step(struct loader *ld, struct pstep *ps, const struct ynode *root)
{
	struct step *st = &ps->st;
	struct field f[TK__N];
	char *section;
	int v;

	ymap_fields(ld, root, step_keys, TK__N, f);
	st->id = ystr_req(ld, root, &f[TK_ID], "step", "id");
	if (st->id != NULL) {
		st->pos = (struct srcpos){ ld->file, f[TK_ID].val->line, f[TK_ID].val->col };
		if (!valid_id(st->id)) {
			err_node(ld, f[TK_ID].val, "step id '%s' must be lowercase letters, digits "
			    "and '-'", q(ld, st->id));
		}
	} else
		st->pos = (struct srcpos){ ld->file, root->line, root->col };
	section = ystr_req(ld, root, &f[TK_SECTION], "step", "section");
	if (section != NULL && ld->sections_ok) {
		int idx = chain_section_index(ld->c, section);

		if (idx < 0) {
			struct suggest sg;

			suggest_init(&sg, section);
			for (size_t i = 0; i < ld->c->nsections; i++)
				suggest_try(&sg, ld->c->sections[i].id);
			err_node(ld, f[TK_SECTION].val, "unknown section '%s'%s", q(ld, section),
			    suggest_text(ld, &sg));
		} else {
			st->section = (size_t)idx;
			ps->have_section = true;
		}
	}
	free(section);
	st->title = ystr_req(ld, root, &f[TK_TITLE], "step", "title");
	st->summary = ystr(ld, f[TK_SUMMARY].val);
	st->guide = ystr(ld, f[TK_GUIDE].val);
	st->notes = ystr(ld, f[TK_NOTES].val);
	load_takes(ld, f[TK_TAKES].val, &st->takes);
	st->place = PLACE_LOCAL;
	if (f[TK_PLACE].key == NULL)
		err_node(ld, root, "step has no 'place'");
	else if (yenum(ld, f[TK_PLACE].val, "place", place_names, nitems(place_names), &v) == 0)
		st->place = (enum place)v;
	else if (ynull(f[TK_PLACE].val))
		err_node(ld, f[TK_PLACE].key, "'place' is empty");
	if (ylist(ld, f[TK_EFFECTS].val, "a list of effects")) {
		const struct ynode *list = f[TK_EFFECTS].val;

		for (size_t i = 0; i < list->n; i++) {
			if (yenum(ld, list->kids[i], "an effect", effect_names, nitems(effect_names),
			    &v) == 0)
				st->effects |= 1u << v;
			else if (ynull(list->kids[i]))
				err_node(ld, list->kids[i], "an effect is empty");
		}
	}
	load_requires(ld, ps, f[TK_REQUIRES].val);
	load_step_inputs(ld, st, f[TK_INPUTS].val);
	st->nlisted = st->ninputs;
	load_strings(ld, f[TK_CHECKLIST].val, "a list of tasks", "a task (a string)",
	    &st->checklist, &st->nchecklist);
	if (f[TK_CHECK].key == NULL)
		err_node(ld, root, "step has no 'check'; only a passing check marks a step done");
	else if (ynull(f[TK_CHECK].val) ||
	    (f[TK_CHECK].val->kind == Y_SEQ && f[TK_CHECK].val->n == 0))
		err_node(ld, f[TK_CHECK].key, "'check' is empty; only a passing check marks a "
		    "step done");
	load_commands(ld, st, f[TK_CHECK].val, &st->check, &st->ncheck);
	load_commands(ld, st, f[TK_ACTION].val, &st->action, &st->naction);
	load_captures(ld, st, f[TK_CAPTURE].val);
	load_hints(ld, st, f[TK_HINTS].val);
}

/* Free a step that is not (or no longer) part of a chain. */
static void
pstep_free(struct pstep *ps)
{
	struct chain *tp;

	/* Reuse chain_free's step destructor through a one-step chain. */
	tp = xcalloc(1, sizeof *tp);
	tp->steps = xcalloc(1, sizeof *tp->steps);
	tp->steps[0] = ps->st;
	tp->nsteps = 1;
	chain_free(&tp);
	free(ps->reqpos);
	free(ps);
}

/* Load one step file. */
void
load_step_file(struct loader *ld, const char *rel)
{
	struct ynode *root = NULL;
	struct pstep *ps;

	ld->file = intern_file(ld, rel);
	if (read_tree(ld, rel, &root) != 0) {
		ld->ids_ok = false;
		goto out;
	}
	if (root == NULL || ynull(root)) {
		err_at(ld, ld->file, 1, 1, "the step file is empty");
		ld->ids_ok = false;
		goto out;
	}
	if (root->kind != Y_MAP) {
		err_node(ld, root, "expected a mapping (one step), got %s", ykind_name(root));
		ld->ids_ok = false;
		goto out;
	}
	ps = xcalloc(1, sizeof *ps);
	ps->st.file = xstrdup(rel);
	load_step(ld, ps, root);
	if (ps->st.id == NULL) {
		ld->ids_ok = false;
		pstep_free(ps);
		goto out;
	}
	ld->ps = xreallocarray(ld->ps, ld->nps + 1, sizeof *ld->ps);
	ld->ps[ld->nps++] = ps;
out:
	unload_text(ld);
}
