/*
 * script-check.c: a small bash lexer that finds where an input's value is spliced into code.
 *
 * The script is read once, left to right. Words are split at unquoted blanks, simple commands
 * at newlines and ; & | ( ). Inside a word, single quotes keep everything literal, double
 * quotes keep only $ and ` live; $( ) and backquotes hold commands of their own, lexed the
 * same way (recursively). Each ${name} an input reference (chain_refs' form: lowercase name,
 * no operator) is recorded with how it was quoted. When a simple command ends it is looked at:
 * is it eval, bash/sh -c, python3 -c, sed or awk, and which of its words is the code? A
 * here-document's body is read after the line that opened it, and when its delimiter is not
 * quoted every reference in it is expanded into the document.
 */
#include "config.h"

#include "script-check.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

enum quoting { Q_NONE, Q_DOUBLE, Q_SINGLE };

struct sc_ref {
	char *name;
	enum quoting q;
	int line;
};

struct sc_word {
	struct strbuf text;          /* the word's characters, quotes removed (for options) */
	struct sc_ref *refs;
	size_t nrefs;
};

struct sc_cmd {
	struct sc_word *words;
	size_t n;
	bool open;                   /* a word is being read */
};

struct sc_doc {
	char *delim;
	bool quoted;
	bool tabs;                   /* <<- : leading tabs go */
};

struct sc {
	const char *p;
	int line;
	bool (*must_quote)(const char *, void *);
	void *data;
	struct script_risk *risks;
	size_t nrisks;
	struct sc_doc *docs;         /* here-documents whose bodies start at the next line */
	size_t ndocs;
	int depth;
};

/* Record a risk. */
static void
sc_risk(struct sc *s, const struct sc_ref *r, const char *why)
{
	struct script_risk *k;

	s->risks = xreallocarray(s->risks, s->nrisks + 1, sizeof *s->risks);
	k = &s->risks[s->nrisks++];
	k->line = r->line;
	k->name = xstrdup(r->name);
	k->why = xstrdup(why);
}

/* The current word of cmd, started if need be. */
static struct sc_word *
sc_word(struct sc_cmd *cmd)
{
	if (!cmd->open) {
		cmd->words = xreallocarray(cmd->words, cmd->n + 1, sizeof *cmd->words);
		memset(&cmd->words[cmd->n++], 0, sizeof *cmd->words);
		cmd->open = true;
	}
	return &cmd->words[cmd->n - 1];
}

/* Add a reference to the current word. */
static void
sc_add_ref(struct sc *s, struct sc_cmd *cmd, const char *name, size_t len, enum quoting q)
{
	struct sc_word *w = sc_word(cmd);
	struct sc_ref *r;

	w->refs = xreallocarray(w->refs, w->nrefs + 1, sizeof *w->refs);
	r = &w->refs[w->nrefs++];
	r->name = xstrndup(name, len);
	r->q = q;
	r->line = s->line;
}

/* Is s[0..len) an input name ([a-z][a-z0-9_]*)? */
static bool
sc_input_name(const char *s, size_t len)
{
	if (len == 0 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* At "${": take the expansion (to its "}"), recording an input reference. */
static void
sc_brace(struct sc *s, struct sc_cmd *cmd, enum quoting q)
{
	const char *start = s->p + 2, *end = start;

	while (*end != '\0' && *end != '}' && *end != '\n')
		end++;
	if (*end == '}' && sc_input_name(start, (size_t)(end - start)))
		sc_add_ref(s, cmd, start, (size_t)(end - start), q);
	else
		sb_addc(&sc_word(cmd)->text, '$');   /* a shell expansion: some text */
	s->p = *end == '}' ? end + 1 : end;
}

static void sc_commands(struct sc *s, char end);

/* Free a command's words. */
static void
sc_cmd_clear(struct sc_cmd *cmd)
{
	for (size_t i = 0; i < cmd->n; i++) {
		for (size_t k = 0; k < cmd->words[i].nrefs; k++)
			free(cmd->words[i].refs[k].name);
		free(cmd->words[i].refs);
		sb_free(&cmd->words[i].text);
	}
	free(cmd->words);
	memset(cmd, 0, sizeof *cmd);
}

/* The text of word i of cmd ("" past the end). */
static const char *
sc_text(const struct sc_cmd *cmd, size_t i)
{
	return i < cmd->n && cmd->words[i].text.s != NULL ? cmd->words[i].text.s : "";
}

/* Every expanded reference in word i is spliced into code. */
static void
sc_code_word(struct sc *s, const struct sc_cmd *cmd, size_t i, const char *why)
{
	if (i >= cmd->n)
		return;
	for (size_t k = 0; k < cmd->words[i].nrefs; k++)
		if (cmd->words[i].refs[k].q != Q_SINGLE)
			sc_risk(s, &cmd->words[i].refs[k], why);
}

/* The index of the program word of sed or awk (options before it), or cmd->n if none. */
static size_t
sc_program(struct sc *s, const struct sc_cmd *cmd, size_t i, bool sed)
{
	bool given = false;

	for (i++; i < cmd->n; i++) {
		const char *w = sc_text(cmd, i);

		if (w[0] != '-' || strcmp(w, "-") == 0)
			return given ? cmd->n : i;
		if (strcmp(w, "--") == 0)
			return given ? cmd->n : i + 1;
		if (sed && (strcmp(w, "-e") == 0 || strcmp(w, "--expression") == 0)) {
			sc_code_word(s, cmd, ++i, "is spliced into a sed program");
			given = true;
		} else if (sed && str_has_prefix(w, "--expression=")) {
			sc_code_word(s, cmd, i, "is spliced into a sed program");
			given = true;
		} else if (strcmp(w, "-f") == 0 || strcmp(w, "--file") == 0) {
			i++;
			given = true;
		} else if (sed ? strcmp(w, "-l") == 0 : (strcmp(w, "-F") == 0 ||
		    strcmp(w, "-v") == 0))
			i++;   /* an option's own argument */
	}
	return cmd->n;
}

/* A simple command ended: look at what it runs, and at its references. */
static void
sc_command(struct sc *s, struct sc_cmd *cmd)
{
	static const char *const skip[] = {
		"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time",
		"exec", "command", "nohup", "sudo", "env",
	};
	const char *name, *slash;
	size_t i = 0, prog;

	for (size_t w = 0; w < cmd->n && s->must_quote != NULL; w++)
		for (size_t k = 0; k < cmd->words[w].nrefs; k++) {
			const struct sc_ref *r = &cmd->words[w].refs[k];

			if (r->q == Q_NONE && s->must_quote(r->name, s->data))
				sc_risk(s, r, "is not in double quotes; its value may hold characters "
				    "the shell would act on: write \"${...}\"");
		}
	for (; i < cmd->n; i++) {
		const char *w = sc_text(cmd, i), *eq = strchr(w, '=');
		bool assign = eq != NULL && eq > w && !(w[0] >= '0' && w[0] <= '9') &&
		    strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
		    (size_t)(eq - w);
		bool skipped = false;

		for (size_t k = 0; k < nitems(skip); k++)
			skipped |= strcmp(w, skip[k]) == 0;
		if (!assign && !skipped && !(w[0] == '-' && i > 0))
			break;
	}
	if (i >= cmd->n)
		return;
	name = sc_text(cmd, i);
	if ((slash = strrchr(name, '/')) != NULL)
		name = slash + 1;
	if (strcmp(name, "eval") == 0) {
		for (size_t w = i + 1; w < cmd->n; w++)
			sc_code_word(s, cmd, w, "is spliced into an eval");
	} else if (strcmp(name, "bash") == 0 || strcmp(name, "sh") == 0 ||
	    strcmp(name, "dash") == 0 || strcmp(name, "python3") == 0 ||
	    strcmp(name, "python") == 0) {
		for (size_t w = i + 1; w < cmd->n; w++) {
			const char *o = sc_text(cmd, w);

			if (o[0] == '-' && o[1] != '-' && strchr(o, 'c') != NULL) {
				sc_code_word(s, cmd, w + 1, name[0] == 'p' ? "is spliced into the code "
				    "of python -c" : "is spliced into the code of a shell's -c");
				break;
			}
		}
	} else if (strcmp(name, "sed") == 0) {
		prog = sc_program(s, cmd, i, true);
		sc_code_word(s, cmd, prog, "is spliced into a sed program");
	} else if (strcmp(name, "awk") == 0 || strcmp(name, "gawk") == 0 ||
	    strcmp(name, "mawk") == 0) {
		prog = sc_program(s, cmd, i, false);
		sc_code_word(s, cmd, prog, "is spliced into an awk program");
	}
}

/* End the current simple command. */
static void
sc_end(struct sc *s, struct sc_cmd *cmd)
{
	sc_command(s, cmd);
	sc_cmd_clear(cmd);
}

/* At "<<" (not "<<<"): note the here-document whose body follows the current line. */
static void
sc_heredoc(struct sc *s)
{
	struct sc_doc d = {0};
	struct strbuf sb = {0};
	char quote = 0;

	s->p += 2;
	if (*s->p == '-') {
		d.tabs = true;
		s->p++;
	}
	while (*s->p == ' ' || *s->p == '\t')
		s->p++;
	while (*s->p != '\0' && *s->p != '\n' && (quote != 0 ||
	    strchr(" \t;&|<>()", *s->p) == NULL)) {
		if (quote == 0 && (*s->p == '\'' || *s->p == '"')) {
			quote = *s->p++;
			d.quoted = true;
			continue;
		}
		if (quote != 0 && *s->p == quote) {
			quote = 0;
			s->p++;
			continue;
		}
		if (quote == 0 && *s->p == '\\') {
			d.quoted = true;
			s->p++;
			continue;
		}
		sb_addc(&sb, *s->p++);
	}
	d.delim = sb_detach(&sb);
	s->docs = xreallocarray(s->docs, s->ndocs + 1, sizeof *s->docs);
	s->docs[s->ndocs++] = d;
}

/* After a newline: read the bodies of the pending here-documents. */
static void
sc_bodies(struct sc *s)
{
	for (size_t i = 0; i < s->ndocs; i++) {
		struct sc_doc *d = &s->docs[i];
		char *why = xprintf("is written into a here-document whose delimiter is not quoted "
		    "(<<%s): whatever reads the document (a shell sourcing it, a config parser) takes "
		    "the value as written; quote each value as that reader wants, with printf",
		    d->delim);

		while (*s->p != '\0') {
			const char *eol = strchr(s->p, '\n'), *l = s->p;
			size_t len;

			if (eol == NULL)
				eol = s->p + strlen(s->p);
			while (d->tabs && *l == '\t')
				l++;
			len = (size_t)(eol - l);
			if (len == strlen(d->delim) && memcmp(l, d->delim, len) == 0) {
				s->p = *eol ? eol + 1 : eol;
				s->line++;
				break;
			}
			for (const char *q = s->p; !d->quoted && q + 1 < eol; q++) {
				const char *e;

				if (q[0] != '$' || q[1] != '{')
					continue;
				for (e = q + 2; e < eol && *e != '}'; e++)
					;
				if (e < eol && sc_input_name(q + 2, (size_t)(e - q - 2))) {
					struct sc_ref r = { xstrndup(q + 2, (size_t)(e - q - 2)), Q_NONE,
					    s->line };

					sc_risk(s, &r, why);
					free(r.name);
				}
			}
			s->p = *eol ? eol + 1 : eol;
			s->line++;
		}
		free(why);
		free(d->delim);
	}
	free(s->docs);
	s->docs = NULL;
	s->ndocs = 0;
}

/* Inside double quotes (s->p just after the opening one), to the closing one. */
static void
sc_double(struct sc *s, struct sc_cmd *cmd)
{
	struct sc_word *w = sc_word(cmd);

	while (*s->p != '\0' && *s->p != '"') {
		if (*s->p == '\\' && s->p[1] != '\0') {
			if (s->p[1] == '\n')
				s->line++;
			sb_addc(&w->text, s->p[1]);
			s->p += 2;
		} else if (s->p[0] == '$' && s->p[1] == '{') {
			sc_brace(s, cmd, Q_DOUBLE);
		} else if ((s->p[0] == '$' && s->p[1] == '(') || s->p[0] == '`') {
			char end = *s->p == '`' ? '`' : ')';

			s->p += end == '`' ? 1 : 2;
			sc_commands(s, end);
			sb_addc(&w->text, '$');
		} else {
			if (*s->p == '\n')
				s->line++;
			sb_addc(&w->text, *s->p++);
		}
		w = sc_word(cmd);
	}
	if (*s->p == '"')
		s->p++;
}

/* Lex commands until end (')' or '`' for a command substitution, '\0' for the script). */
static void
sc_commands(struct sc *s, char end)
{
	struct sc_cmd cmd = {0};

	if (++s->depth > 64) {   /* nesting this deep is not a step's script */
		while (*s->p != '\0')
			s->p++;
		s->depth--;
		return;
	}
	while (*s->p != '\0') {
		char c = *s->p;

		if (c == end && end != '\0') {
			s->p++;
			break;
		}
		if (c == ' ' || c == '\t') {
			cmd.open = false;
			s->p++;
		} else if (c == '\n') {
			sc_end(s, &cmd);
			s->p++;
			s->line++;
			sc_bodies(s);
		} else if (c == '#' && !cmd.open) {
			while (*s->p != '\0' && *s->p != '\n')
				s->p++;
		} else if (strchr(";&|()", c) != NULL) {
			sc_end(s, &cmd);
			if (c == '(') {
				s->p++;
				sc_commands(s, ')');
			} else
				s->p++;
		} else if (c == '<' && s->p[1] == '<' && s->p[2] != '<') {
			cmd.open = false;
			sc_heredoc(s);
		} else if (c == '\'') {
			const char *q = strchr(s->p + 1, '\'');
			struct sc_word *w = sc_word(&cmd);

			if (q == NULL)
				q = s->p + strlen(s->p);
			for (const char *t = s->p + 1; t < q; t++) {
				if (t[0] == '$' && t[1] == '{') {
					const char *e = strchr(t + 2, '}');

					if (e != NULL && e < q && sc_input_name(t + 2, (size_t)(e - t - 2)))
						sc_add_ref(s, &cmd, t + 2, (size_t)(e - t - 2), Q_SINGLE);
				}
				if (*t == '\n')
					s->line++;
				sb_addc(&w->text, *t);
			}
			s->p = *q ? q + 1 : q;
		} else if (c == '"') {
			s->p++;
			sc_double(s, &cmd);
		} else if (c == '\\' && s->p[1] != '\0') {
			if (s->p[1] == '\n')
				s->line++;
			else
				sb_addc(&sc_word(&cmd)->text, s->p[1]);
			s->p += 2;
		} else if (c == '$' && s->p[1] == '{') {
			sc_brace(s, &cmd, Q_NONE);
		} else if ((c == '$' && s->p[1] == '(') || c == '`') {
			char e = c == '`' ? '`' : ')';

			sc_word(&cmd);
			s->p += e == '`' ? 1 : 2;
			sc_commands(s, e);
			sb_addc(&sc_word(&cmd)->text, '$');
		} else {
			sb_addc(&sc_word(&cmd)->text, c);
			s->p++;
		}
	}
	sc_end(s, &cmd);
	s->depth--;
}

size_t
script_risks(const char *script, bool (*must_quote)(const char *name, void *data), void *data,
    struct script_risk **out)
{
	struct sc s = { script, 1, must_quote, data, NULL, 0, NULL, 0, 0 };

	sc_commands(&s, '\0');
	sc_bodies(&s);
	*out = s.risks;
	return s.nrisks;
}

void
script_risks_free(struct script_risk **risks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((*risks)[i].name);
		free((*risks)[i].why);
	}
	free(*risks);
	*risks = NULL;
}
