/* pki.h - the cluster's certificate authority and this server's serving certificate (what
 * kubeadm's "certs" phase and k3s's first start make), with GnuTLS.
 *
 * The CA (ECDSA P-256, 10 years) is made by the first server of a cluster and kept in the
 * store under /auth/ca, so every server on the same store (several servers on one etcd)
 * serves under the same CA and a client pinned to its hash trusts all of them; each server
 * copies it to DATA/ca.crt and DATA/ca.key (0600).  A CA already in DATA (an earlier start,
 * or one the operator put there) is adopted into an empty store.  The serving certificate is
 * made anew at every start (no state to go stale: clients pin the CA, not the leaf), signed
 * by the CA, for the listen address (or every local IPv4 address when listening on
 * 0.0.0.0), 127.0.0.1, localhost, the host name and the --tls-san names; DATA/server.crt,
 * DATA/server.key (0600). */
#ifndef SKIFF_PKI_H
#define SKIFF_PKI_H

#include <stdbool.h>
#include "store.h"
#include "util.h"

#define PKI_STORE_KEY "/auth/ca"

struct pki
{
  char *ca_cert, *ca_key; /* PEM */
  char *cert, *key;       /* serving certificate and key, PEM */
  char ca_hash[72];       /* "sha256:<hex>" of the CA's public key */
  bool created_ca;        /* this start made the cluster's CA */
};

/* sans: NULL-terminated DNS names and IPv4/IPv6 addresses for the serving certificate. */
int pki_load(struct store *s, const char *data_dir, char *const *sans, struct pki *out,
             struct skiff_err **err);
void pki_free(struct pki *p);

/* The names a server listening on host (an IPv4 address; "0.0.0.0" = all) answers to, plus
 * extra (comma-separated, may be NULL); NULL-terminated, free with pki_sans_free. */
char **pki_sans(const char *host, const char *extra);
void pki_sans_free(char **sans);

/* A certificate signed by ca for names, valid `days` days (tests make peers and strangers
 * with it).  PEM out. */
int pki_issue(const char *ca_cert, const char *ca_key, char *const *names, int days, bool is_ca,
              char **cert, char **key, struct skiff_err **err);

#endif
