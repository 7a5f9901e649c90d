/* api.h - the HTTP/JSON API of `skiffd server` (kube-apiserver's front): libmicrohttpd in
 * external-polling mode, driven by the server loop, over TLS by default.  It reads and writes
 * through the cluster (cluster.h) and owns what is its own: the HTTP metrics and the open
 * watch streams; who may call it is auth.h's. */
#ifndef SKIFF_API_H
#define SKIFF_API_H

#include <stdbool.h>
#include <stdio.h>
#include "cidr.h"
#include "cluster.h"

struct api;

struct auth;

struct api_config
{
  const char *listen; /* ADDR:PORT */
  /* Who may do what (auth.h): every request but GET /healthz and GET /v1/ca carries a
   * credential of this table.  Owned by the caller, kept current by the store callback. */
  struct auth *auth;
  /* TLS: the serving certificate and key (PEM); NULL = plain HTTP (--insecure-http). */
  const char *tls_cert, *tls_key;
  /* The cluster CA (PEM) and its hash, served at GET /v1/ca and put in join tokens. */
  const char *ca_cert, *ca_hash;
  /* The CA's key (PEM): signs the serving certificate of an agent that joins. */
  const char *ca_key;
  /* Connections in all and per client address; seconds a connection may stay silent (a
   * connection that has not yet authenticated a request gets API_HANDSHAKE_TIMEOUT). */
  unsigned max_conns, max_conns_per_client, idle_timeout;
  const struct cidr_pool *pod_pool; /* node podCIDRs (nodeipam.h); NULL: none allocated */
  /* More /metrics lines (the controller's), may be NULL. */
  void (*write_metrics)(void *data, FILE *f);
  void *metrics_data;
  /* Several servers on one store (leader.c), may be NULL: GET /v1/servers lists them
   * (servers: the items), /healthz tells who this server is and who leads (status: the
   * fields added). */
  json_t *(*servers)(void *data);
  json_t *(*status)(void *data);
  void *servers_data;
};

struct api *api_start(struct cluster *c, const struct api_config *cfg, struct skiff_err **err);
/* The epoll fd to wait on, and how long at most before api_run must be called (ms). */
int api_fd(struct api *a);
int api_timeout_ms(struct api *a, int max);
/* Serve what is ready (never blocks). */
void api_run(struct api *a);
/* End of a loop pass: commit the pass's grouped writes, answer the requests that waited for
 * them, write the queued Events. */
void api_flush(struct api *a);
/* Resume parked watch streams: new changes or a bookmark are due. */
void api_wake_watchers(struct api *a);
/* End every watch stream and stop listening. */
void api_stop(struct api *a);

#endif
