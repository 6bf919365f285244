/*
 * demo.h: the demo host (--demo). A sandbox directory stands in for the TDX server (its files,
 * devices and services), stand-in programs under assets/demo/bin play the programs the chain
 * calls, and assets/demo/server.py answers the chain's HTTP services on loopback ports.
 * assets/demo/README.md is the contract between this module, the stand-ins and the server.
 */
#ifndef DW_DEMO_H
#define DW_DEMO_H

#include <stdbool.h>

struct demo;
struct probe;
struct run_cmd;

/* The domain the demo host serves (its certificates and DNS). */
#define DEMO_DOMAIN "dstack-demo.example"

struct demo_opts {
	const char *assets;     /* the assets/demo directory */
	const char *state_dir;  /* the profile's state directory; the sandbox goes in it */
	double speed;           /* DEMO_SPEED: 1 realistic (compressed), 0 no sleeping */
	bool speed_set;         /* speed was given; else the sandbox's setting stays */
	const char *fail;       /* DEMO_FAIL: a step id whose failure is injected, "" to clear
	                           it, or NULL: the sandbox's setting stays */
};

/* An input value the demo sets in advance (public test values only). */
struct demo_preset {
	const char *name;
	const char *value;      /* NULL for root: use demo_root() */
	bool secret;            /* a secret in the chain: held in memory only (the chain decides) */
	bool force;             /* replaces a stored value (root) */
};
extern const struct demo_preset demo_presets[];
extern const unsigned demo_npresets;

/*
 * Open the demo: create the sandbox with init.sh when it is missing. The speed and the
 * injected failure given are written to the sandbox, where every wizard and the demo server
 * read them; a setting not given is read from there (so a command that gives none changes
 * none).
 */
int demo_open(const struct demo_opts *o, struct demo **out, char **cause);
/* Stop the demo server (if this process started it) and free. */
void demo_close(struct demo **dp);

const char *demo_sandbox(const struct demo *d);
/* The speed and the injected failure (a step id, or NULL) in use; changing them (a running
 * wizard's demo menu) applies to the commands started from then on, and writes them to the
 * sandbox as --demo-speed and --demo-fail do. */
double demo_speed(const struct demo *d);
const char *demo_fail(const struct demo *d);
void demo_set_speed(struct demo *d, double speed);
void demo_set_fail(struct demo *d, const char *step);
/* Why the demo host cannot serve this value of input name (allocated), or NULL if it can. */
char *demo_refusal(const struct demo *d, const char *name, const char *value);
/* The simulated server's file tree, the value of the root input. */
const char *demo_root(const struct demo *d);

/* The demo's environment for a step's commands (DEMO_*, PATH, HOME): a NULL-terminated
 * vector of allocated NAME=VALUE strings, freed by the caller. */
char **demo_env(const struct demo *d, const char *step_id);
/* Give a built command the demo's environment and a sandbox cwd. */
int demo_cmd(struct demo *d, const char *step_id, struct run_cmd *rc, char **cause);
/*
 * Point a probe at the demo server: tcp: and rpc: targets are rewritten in place, an http:
 * probe gets *connect_to (allocated, or NULL). *ca_file is the demo CA (allocated).
 */
int demo_probe(struct demo *d, struct probe *p, char **connect_to, char **ca_file, char **cause);
/* url (http or https) sent to the demo server: host and port replaced (allocated). */
char *demo_url(struct demo *d, const char *url);
/* The loopback port answering for a simulated service port, 0 if none (starts the server). */
unsigned demo_port(struct demo *d, unsigned port);

#endif
