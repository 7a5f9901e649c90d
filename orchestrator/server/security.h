/* security.h - what `skiffd server` sets up at start so that it can be trusted and can tell
 * who calls it (k3s's first start in small):
 *   - the cluster CA and this server's serving certificate (pki.h), in DATA and the store;
 *   - the credential table (auth.h), loaded from the store and kept current by the store's
 *     commit callback (security_store_event);
 *   - the admin credential in DATA/token (0600): made when DATA has none that the store
 *     knows, so each server of a cluster has one and every server accepts all of them;
 *   - at the cluster's first start, a join token (24 h) in DATA/join-token (0600).
 * The secrets go to files only, never to the log: the server prints where they are and the
 * command that joins a node. */
#ifndef SKIFF_SECURITY_H
#define SKIFF_SECURITY_H

#include <stdbool.h>
#include <time.h>
#include "auth.h"
#include "cluster.h"
#include "pki.h"

struct security
{
  struct pki pki;
  struct auth auth;
  char *data_dir;
  bool first_start; /* this start made the cluster's CA */
  bool join_token_made;
};

/* listen: ADDR:PORT (names for the certificate); tls_san: extra names, comma-separated. */
int security_open(struct security *s, struct store *store, const char *data_dir, const char *listen,
                  const char *tls_san, struct skiff_err **err);
void security_close(struct security *s);
/* The store's commit callback hands every event here (cluster_set_store_observer). */
void security_store_event(void *data, const struct store_event *ev);
/* The store lost the thread of changes (etcd compacted past this server's view): load the
 * credential table again, so a credential revoked meanwhile is not kept.  Best effort: on a
 * store error the old table stays (and the error is logged). */
void security_relist(struct security *s, struct store *store);
/* Delete the join tokens that expired (kubeadm's token cleaner).  Best effort. */
void security_sweep(struct security *s, struct cluster *cl, time_t now);
/* The lines an operator needs: where the credentials are, how a node joins.  url: how
 * clients reach this server. */
void security_announce(const struct security *s, const char *url, FILE *f);

/* Pure: is ADDR:PORT's address a loopback one (127.0.0.0/8, localhost)?  --insecure-http is
 * refused anywhere else. */
bool security_listen_is_loopback(const char *listen);

#endif
