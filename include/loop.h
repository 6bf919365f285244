/*
 * loop.h: the one event loop. Keyboard, child ptys and pipes, sockets (SSH, curl) and timers
 * all wake the same poll(). Signals (SIGCHLD, SIGWINCH, SIGINT, SIGTERM, SIGHUP) only write a
 * byte to a self-pipe from the handler; their callbacks run from the loop, never in the
 * handler. Nothing here blocks except the poll itself.
 */
#ifndef DW_LOOP_H
#define DW_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;

typedef void (*loop_fd_cb)(int fd, short revents, void *data);
typedef void (*loop_timer_cb)(void *data);
typedef void (*loop_signal_cb)(int sig, void *data);

struct loop *loop_new(void);
void loop_free(struct loop **lp);

/* Watch fd for events (POLLIN, POLLOUT). One watch per fd; adding again replaces it. */
void loop_add_fd(struct loop *l, int fd, short events, loop_fd_cb cb, void *data);
void loop_set_events(struct loop *l, int fd, short events);
void loop_del_fd(struct loop *l, int fd);

/* One-shot timer after ms milliseconds. Returns an id > 0 for loop_del_timer. */
uint64_t loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *data);
void loop_del_timer(struct loop *l, uint64_t id);

/*
 * Call cb from the loop whenever sig arrives. Several callbacks may watch one signal (the
 * local transport and the TUI both watch SIGCHLD / SIGWINCH). Returns an id for
 * loop_del_signal.
 */
uint64_t loop_on_signal(struct loop *l, int sig, loop_signal_cb cb, void *data);
void loop_del_signal(struct loop *l, uint64_t id);

/*
 * Wait up to timeout_ms (-1: until something happens; timers shorten it) and dispatch
 * everything ready. Returns the number of callbacks run, or -1 on a poll error.
 */
int loop_run_once(struct loop *l, int timeout_ms);

#endif
