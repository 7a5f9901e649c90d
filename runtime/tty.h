/* tty.h - a host pseudo-terminal for `skiff exec -t` and `skiff run -t IMAGE`: the
 * process gets the slave as its controlling terminal, skiff copies between its own
 * stdin/stdout and the master, in raw mode, and passes window size changes on. */
#ifndef SKIFF_TTY_H
#define SKIFF_TTY_H

#include <stdbool.h>
#include <sys/types.h>
#include "util.h"

/* Open a pty pair (master O_CLOEXEC; slave without, to be handed to a child), sized
 * like our stdout when that is a terminal. */
int tty_open_pair(int *master, int *slave, struct skiff_err **err);

/* A pty pair of the current root's /dev/ptmx (the container's devpts, after joining its
 * mount namespace), so that the process finds its terminal under /dev/pts (ttyname, `tty`).
 * The slave is checked to be a real pty slave (CVE-2025-52565: a symlink planted in the
 * container must not hand us another file).  name gets its path; both fds O_CLOEXEC. */
int tty_open_in_root(int *master, int *slave, char *name, size_t len, struct skiff_err **err);

/* runc's console socket protocol: the pty master travels as one SCM_RIGHTS fd with the
 * bytes "/dev/ptmx".  send: over a connected socket; recv: *fd gets it (O_CLOEXEC). */
int tty_send_fd(int sock, int fd, struct skiff_err **err);
int tty_recv_fd(int sock, int *fd, struct skiff_err **err);

/* In the child: new session, slave as controlling terminal and as fds 0-2. */
int tty_make_controlling(int slave, struct skiff_err **err);

/* Copy stdin -> master and master -> stdout until the master hangs up and done() says
 * the process is gone (pidfd readable).  Our terminal is put in raw mode meanwhile and
 * restored after; SIGWINCH resizes the pty. */
void tty_proxy(int master, int pidfd);

#endif
