/*
 * chain.h: the chain of steps, as loaded from YAML (assets/chain/, format in
 * assets/chain/README.md). libyaml types never leave steps/chain-yaml.c: the rest of the
 * program sees only these plain structs. A loaded chain is immutable and fully checked:
 * ids unique, requires known and acyclic, every ${name} defined, secrets only in env:/stdin:,
 * no command that runs on the server can see a local-scoped secret, every regex compiled.
 */
#ifndef DW_CHAIN_H
#define DW_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

/* Where a step (or one command of it) runs. */
enum place {
	PLACE_LOCAL,   /* the operator's machine */
	PLACE_SERVER,  /* the TDX host, over SSH */
	PLACE_MANUAL,  /* something only a person can do; probes then say on: local|server */
};
const char *place_name(enum place p);            /* "local", "server", "manual" */

enum input_type {
	IT_TEXT,
	IT_SECRET,       /* text, always secret */
	IT_ETH_ADDRESS,
	IT_IP,           /* ipv4 or ipv6 */
	IT_IPV4,
	IT_IPV6,
	IT_DOMAIN,
	IT_URL,
	IT_PORT,
	IT_EMAIL,
	IT_VERSION,
	IT_PATH,
};
const char *input_type_name(enum input_type t);  /* as written in YAML */
int input_type_parse(const char *s, enum input_type *out);

/* Which commands may see a secret input. */
enum scope {
	SCOPE_ANY,       /* local and server commands */
	SCOPE_LOCAL,     /* never sent to the server (the Ethereum private key) */
};

struct rx;

/* A position in a chain file, for messages: "file:line:column". */
struct srcpos {
	const char *file;   /* points into chain->files */
	int line;           /* 1-based */
	int col;            /* 1-based */
};

/*
 * A condition on the release in use (the input dstack_version), written `version: '>= 0.5.6
 * < 0.5.9'`: every comparison must hold. Versions compare field by field as numbers.
 */
#define VCOND_MAX 4
struct vcond {
	char *text;                 /* as written */
	struct srcpos pos;          /* where it is written (set by the loader) */
	size_t n;
	struct {
		enum { VC_LT, VC_LE, VC_EQ, VC_NE, VC_GE, VC_GT } op;
		unsigned v[3];
	} terms[VCOND_MAX];
};
/* Parse a condition; -1 with a static sentence in *why if malformed. */
int vcond_parse(const char *text, struct vcond *out, const char **why);
/* Does the condition hold for version (a NULL condition always does; a version that is not
 * x.y.z never satisfies one)? */
bool vcond_holds(const struct vcond *c, const char *version);
void vcond_free(struct vcond **cp);
/* Parse "x.y.z" into v; -1 if it is not that. */
int version_parse(const char *s, unsigned v[3]);

/* The name of the input whose value is the release in use. */
#define VERSION_INPUT "dstack_version"


/* Side effects an action has; the UI asks before running such an action. */
#define EFFECT_SUDO         0x1   /* runs commands as root */
#define EFFECT_TRANSACTION  0x2   /* sends a blockchain transaction (costs gas) */
#define EFFECT_REBOOT       0x4   /* reboots the server */
#define EFFECT_LONG         0x8   /* takes many minutes */

struct input_def {
	char *name;          /* [a-z][a-z0-9_]* */
	char *label;         /* short human name */
	char *help;          /* optional longer text */
	enum input_type type;
	bool secret;         /* never stored, logged, shown or put in argv */
	enum scope scope;
	bool optional;       /* an empty value is valid */
	struct input_default *defs;  /* the defaults; the first whose condition holds applies */
	size_t ndefs;
	char **choices;      /* the only values allowed, if any */
	size_t nchoices;
	bool quoted;         /* commands pass it only as "${name}" (lint checks); an input of
	                        type text, url or path needs this or a pattern */
	char *pattern;       /* optional extra regex the value must match */
	struct rx *pattern_re;   /* compiled when pattern != NULL */
	char *verify;        /* optional extra verification, e.g. "contract_code" (remote issue) */
	struct srcpos pos;
};

/* A default of an input; may reference other inputs as ${name}. */
struct input_default {
	char *value;
	struct vcond *when;  /* NULL: always */
};

struct env_var {
	char *name;          /* environment variable name */
	char *value;         /* may reference ${input}, secrets allowed */
};

/* A probe the wizard makes itself (libcurl), instead of running a script. */
enum probe_kind {
	PROBE_NONE,          /* the command is a run: script */
	PROBE_HTTP,
	PROBE_TCP,
	PROBE_RPC,
};

/* What a probe checks. Every string may reference ${input}s (secrets allowed). */
struct probe {
	enum probe_kind kind;
	char *url;                  /* http, rpc */
	char *method;               /* http; NULL: GET, or POST when body is set */
	char *body;                 /* http */
	char **headers;             /* http: "Name: value" */
	size_t nheaders;
	int status;                 /* http: the status wanted; 0: any 2xx */
	bool insecure;              /* http: do not verify TLS (self-signed KMS, PCCS) */
	char **resolve;             /* http: "host:port:address" */
	size_t nresolve;
	char **json;                /* http, rpc eth_call: assertions (jsonpath.h) that must hold */
	size_t njson;
	char *body_match;           /* http: a regex the body must match */
	char **capture_headers;     /* http: response headers to print */
	size_t ncapture_headers;
	char *target;               /* tcp: host:port */
	char *call;                 /* rpc: chain_id, code, balance or eth_call */
	char *chain_id;             /* rpc: decimal chain id wanted */
	char *address;              /* rpc: code, balance, eth_call */
	char *min_eth;              /* rpc balance: decimal ETH */
	char *data;                 /* rpc eth_call: calldata */
};

/* One command of a check or an action: a run: script, or a probe. */
struct command {
	char *name;          /* optional label, e.g. "node is 18 or newer" */
	struct probe *probe; /* a probe (its kind is not PROBE_NONE), and run is NULL; or NULL */
	char *run;           /* bash script; ${input} refers to inputs, exported to its env */
	char *cwd;           /* optional; "~" and ${input} are expanded; NULL = home */
	struct env_var *env; /* extra environment */
	size_t nenv;
	char *stdin_text;    /* optional text fed to stdin; may reference secrets */
	char *expect;        /* optional regex stdout must match (checks), ${input} expanded */
	int timeout;         /* seconds; 0 = the default (checks 60, actions 3600) */
	enum place on;       /* PLACE_LOCAL or PLACE_SERVER (never MANUAL) */
	struct vcond *when;  /* the releases it is for; NULL: all */
	struct srcpos pos;
};

struct capture {
	char *name;          /* an input name: the captured value becomes that input */
	char *regex;         /* a regex with at least one group (rx.h) */
	struct rx *re;       /* regex, compiled */
	struct vcond *when;  /* the releases it is for; NULL: all */
	struct srcpos pos;
};

struct hint {
	char *match;         /* a regex matched against each output line */
	struct rx *re;       /* match, compiled */
	char *say;           /* the cause, in one line */
	char *fix;           /* what to do (optional) */
	struct vcond *when;  /* the releases it is for; NULL: all */
	struct srcpos pos;
};

struct section {
	char *id;
	char *title;
	struct srcpos pos;
};

struct step {
	char *id;
	size_t section;      /* index into chain->sections */
	char *title;
	char *summary;       /* one line; may be NULL */
	char *guide;         /* may be NULL */
	char *notes;         /* the presenter's notes (what to say, point at, be asked); or NULL */
	enum place place;
	unsigned effects;    /* EFFECT_* */
	int takes;           /* typical seconds its action takes on real hardware; 0: not said */

	char **requires;     /* step ids, as written */
	size_t *req;         /* indices into chain->steps */
	size_t nrequires;

	size_t *inputs;      /* indices into chain->inputs: listed + referenced by ${name} in its
	                        commands, no duplicates; NOT its captures (those are outputs) */
	size_t ninputs;
	size_t nlisted;      /* the first nlisted of inputs are listed in inputs: */

	char **checklist;    /* manual tasks for the operator; may be empty */
	size_t nchecklist;
	struct command *check;
	size_t ncheck;
	struct command *action;
	size_t naction;
	struct capture *captures;
	size_t ncaptures;
	struct hint *hints;
	size_t nhints;

	char *file;          /* the step's file, relative to the chain dir */
	struct srcpos pos;   /* position of its id */
};

struct chain {
	char *dir;
	char *title;               /* from chain.yaml; may be NULL */
	struct section *sections;
	size_t nsections;
	struct input_def *inputs;
	size_t ninputs;
	struct step *steps;        /* in walking order: section order, then file name order */
	size_t nsteps;
	char **files;              /* interned file names for srcpos */
	size_t nfiles;
};

/*
 * Load the chain in dir: dir/chain.yaml names the sections (in order) and defines the inputs;
 * every other *.yaml file below dir (one level of subdirectories too) is one step. The files
 * are read and checked whole every time. On error returns -1 and *cause lists every problem
 * found, one per line, each starting "file:line:column: ".
 */
int chain_load(const char *dir, struct chain **out, char **cause);
void chain_free(struct chain **chainp);

/* Free what an input definition, a command or a probe holds (strings and arrays), and zero
 * it. */
void input_def_clear(struct input_def *in);
void command_clear(struct command *cmd);
void probe_clear(struct probe *p);

/* Look-ups; -1 when unknown. */
int chain_step_index(const struct chain *c, const char *id);
int chain_input_index(const struct chain *c, const char *name);
int chain_section_index(const struct chain *c, const char *id);

/* The default of input d for the release version (NULL if none applies). */
const char *chain_input_default(const struct input_def *d, const char *version);
/* Does command cmd refer to the input named name (in any field)? */
bool command_uses(const struct command *cmd, const char *name);

/* Does step a require b, directly or transitively? */
bool chain_depends_on(const struct chain *c, size_t a, size_t b);

/*
 * Call fn for every ${name} reference in s (name = [a-z][a-z0-9_]*). Other $ forms, and
 * ${UPPER_CASE} shell variables, are not references. Returns how many were found.
 */
size_t chain_refs(const char *s, void (*fn)(const char *name, size_t len, void *data), void *data);

#endif
