/*
 * record.h: terminal recordings (tui/record.c). --record FILE runs the wizard on a
 * pseudo-terminal and writes what it shows into FILE as an asciicast v2 recording
 * (asciicast.h), which `asciinema play FILE` and `dstack-wizard replay FILE` play.
 */
#ifndef DW_RECORD_H
#define DW_RECORD_H

#include <stdbool.h>
#include <sys/types.h>

struct record;

/*
 * Start recording into path (created 0600, or truncated): needs a terminal on stdin and
 * stdout. Forks: returns 0 in the child, which goes on as the wizard on a new
 * pseudo-terminal of the same size and modes (its 0, 1, 2 and controlling terminal); the
 * child's pid in the parent, with *out for record_relay; -1 with *cause on error (nothing
 * forked, path removed).
 */
pid_t record_fork(const char *path, const char *title, struct record **out, char **cause);
/*
 * In the parent: relay keys to the wizard and its output to the terminal and the recording
 * (resizes too) until the wizard ends; signals that would end the parent go to the wizard.
 * Returns the wizard's exit status (128 + N when killed by signal N). Frees *rp.
 */
int record_relay(struct record **rp);

/*
 * replay FILE: play a recording in this terminal at speed (1: as recorded), gaps between
 * events cut to idle seconds (0: the recording's idle_time_limit, if any). Keys: space
 * pauses, + and - double and halve the speed, q quits. Returns an exit code (cli.h).
 */
int record_replay(const char *path, double speed, double idle);

#endif
