/* server.h - `skiffd server`, the control plane (server.c): called by skiffd.c. */
#ifndef SKIFF_SERVER_H
#define SKIFF_SERVER_H

/* Entry point of `skiffd server ...` (argv[0] is "server"); returns the exit code. */
int server_main(int argc, char **argv);

#endif
