/*
 * cli-int.h: what the headless commands' files share (cli.c runs steps and checks;
 * cli-show.c prints what the profile holds: list, status, why, inputs, summary).
 */
#ifndef DW_CLI_INT_H
#define DW_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "util.h"

/* How long why/run/check/status wait for input verifications (eth_getCode) to answer. */
#define CLI_VERIFY_WAIT_MS 20000
/* How many checks `check` of every step runs at once. */
#define CLI_CHECKS_AT_ONCE 8

/* A step's check in `check` of every step: its output is kept until it is its turn. */
enum cli_job_state { JOB_PENDING, JOB_RUNNING, JOB_OVER };
struct cli_job {
	enum cli_job_state state;
	struct strbuf out;
	int rc;
};

struct cli {
	struct engine *e;
	const struct cli_opts *o;
	bool done;
	bool ok;
	bool interrupted;
	size_t step;
	char *unsaved;               /* why the run's outcome could not be saved */
	struct cli_job *jobs;        /* per step, while checks run side by side; else NULL */
	size_t running;
	char *hostkey_note;          /* an unknown host key refused without asking */
	bool pf_done;
	bool pf_ok;
};

/* cli.c */
const char *cli_color(const struct cli_opts *o, enum step_status s);
const char *cli_color_end(const struct cli_opts *o);
const char *cli_place_badge(enum place p);
int cli_find_step(struct engine *e, const char *id);
void cli_print_json(cJSON *root);

/* cli-show.c */
int cmd_list(struct cli *cl, int argc, char **argv);
int cmd_status(struct cli *cl, int argc, char **argv);
int cmd_why(struct cli *cl, int argc, char **argv);
int cmd_inputs(struct cli *cl, int argc, char **argv);
int cmd_summary(struct cli *cl, int argc, char **argv);

#endif
