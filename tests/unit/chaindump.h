/*
 * chaindump.h: every field of a loaded chain as text, positions included, so that two loads
 * can be compared whole (test-chain's cache tests and fuzz-chain). Header-only.
 */
#ifndef DW_CHAINDUMP_H
#define DW_CHAINDUMP_H

#include "chain.h"
#include "util.h"

static void
dump_str(struct strbuf *sb, const char *key, const char *v)
{
	sb_addf(sb, " %s=%s", key, v ? v : "(null)");
}

static void
dump_pos(struct strbuf *sb, const struct srcpos *p)
{
	sb_addf(sb, " @%s:%d:%d", p->file ? p->file : "(null)", p->line, p->col);
}

static void
dump_strs(struct strbuf *sb, const char *key, char **v, size_t n)
{
	sb_addf(sb, " %s[%zu]", key, n);
	for (size_t i = 0; i < n; i++)
		sb_addf(sb, " <%s>", v[i]);
}

static void
dump_commands(struct strbuf *sb, const char *what, const struct command *c, size_t n)
{
	static const struct probe none;

	for (size_t i = 0; i < n; i++, c++) {
		const struct probe *p = c->probe != NULL ? c->probe : &none;

		sb_addf(sb, "\n  %s %zu on=%d timeout=%d kind=%d status=%d insecure=%d", what, i,
		    (int)c->on, c->timeout, (int)p->kind, p->status, (int)p->insecure);
		dump_pos(sb, &c->pos);
		dump_str(sb, "name", c->name);
		dump_str(sb, "run", c->run);
		dump_str(sb, "cwd", c->cwd);
		dump_str(sb, "stdin", c->stdin_text);
		dump_str(sb, "expect", c->expect);
		for (size_t k = 0; k < c->nenv; k++)
			sb_addf(sb, " env %s=%s", c->env[k].name, c->env[k].value);
		dump_str(sb, "url", p->url);
		dump_str(sb, "method", p->method);
		dump_str(sb, "body", p->body);
		dump_strs(sb, "headers", p->headers, p->nheaders);
		dump_strs(sb, "resolve", p->resolve, p->nresolve);
		dump_strs(sb, "json", p->json, p->njson);
		dump_str(sb, "body_match", p->body_match);
		dump_strs(sb, "capture_headers", p->capture_headers, p->ncapture_headers);
		dump_str(sb, "target", p->target);
		dump_str(sb, "call", p->call);
		dump_str(sb, "chain_id", p->chain_id);
		dump_str(sb, "address", p->address);
		dump_str(sb, "min_eth", p->min_eth);
		dump_str(sb, "data", p->data);
	}
}

/* The chain as text (allocated). */
static char *
chain_dump(const struct chain *c)
{
	struct strbuf sb = {0};

	dump_str(&sb, "title", c->title);
	for (size_t i = 0; i < c->nsections; i++) {
		sb_addf(&sb, "\nsection %s %s", c->sections[i].id, c->sections[i].title);
		dump_pos(&sb, &c->sections[i].pos);
	}
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct input_def *in = &c->inputs[i];

		sb_addf(&sb, "\ninput %s type=%d secret=%d scope=%d optional=%d", in->name,
		    (int)in->type, (int)in->secret, (int)in->scope, (int)in->optional);
		dump_pos(&sb, &in->pos);
		dump_str(&sb, "label", in->label);
		dump_str(&sb, "help", in->help);
		dump_str(&sb, "default", in->def);
		dump_str(&sb, "pattern", in->pattern);
		dump_str(&sb, "verify", in->verify);
	}
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *st = &c->steps[i];

		sb_addf(&sb, "\nstep %s section=%zu place=%d effects=%u file=%s", st->id,
		    st->section, (int)st->place, st->effects, st->file);
		dump_pos(&sb, &st->pos);
		dump_str(&sb, "title", st->title);
		dump_str(&sb, "summary", st->summary);
		dump_str(&sb, "guide", st->guide);
		dump_strs(&sb, "requires", st->requires, st->nrequires);
		for (size_t k = 0; k < st->nrequires; k++)
			sb_addf(&sb, " req%zu=%zu", k, st->req[k]);
		for (size_t k = 0; k < st->ninputs; k++)
			sb_addf(&sb, " in%zu=%zu", k, st->inputs[k]);
		dump_strs(&sb, "checklist", st->checklist, st->nchecklist);
		dump_commands(&sb, "check", st->check, st->ncheck);
		dump_commands(&sb, "action", st->action, st->naction);
		for (size_t k = 0; k < st->ncaptures; k++) {
			sb_addf(&sb, "\n  capture %s /%s/", st->captures[k].name, st->captures[k].regex);
			dump_pos(&sb, &st->captures[k].pos);
		}
		for (size_t k = 0; k < st->nhints; k++) {
			sb_addf(&sb, "\n  hint /%s/", st->hints[k].match);
			dump_pos(&sb, &st->hints[k].pos);
			dump_str(&sb, "say", st->hints[k].say);
			dump_str(&sb, "fix", st->hints[k].fix);
		}
	}
	return sb_detach(&sb);
}

#endif
