/* trust.h - how a client decides it talks to the right server: the cluster CA's hash (the
 * SHA-256 of its DER SubjectPublicKeyInfo, the value kubeadm's
 * --discovery-token-ca-cert-hash carries) and the join token that carries it.
 *
 * A join token is one line:  SKIFF1::sha256:<64 hex>::<id>.<secret>
 * (id: 6 of [a-z0-9], secret: 32 of [a-z0-9]).  A credential (admin, node) is <id>.<secret>
 * alone.  Pure functions, unit-tested (tests/unit/test_auth.c). */
#ifndef SKIFF_TRUST_H
#define SKIFF_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

#define TRUST_ID_LEN 6
#define TRUST_SECRET_LEN 32
#define TRUST_HASH_HEX 64
#define TRUST_JOIN_PREFIX "SKIFF1::sha256:"

/* "sha256:<hex>" of the first certificate in pem (its SubjectPublicKeyInfo).  out: 72 bytes. */
int trust_ca_hash(const char *pem, char out[72], struct skiff_err **err);

/* id.secret: true when well formed; id copied out (TRUST_ID_LEN + 1 bytes). */
bool trust_credential_parse(const char *s, char id[TRUST_ID_LEN + 1], const char **secret);
/* SKIFF1::sha256:<hex>::<id>.<secret> -> ca_hash ("sha256:<hex>", 72 bytes) and the
 * credential part (a pointer into s).  -1 with a one-line error naming what is wrong. */
int trust_join_parse(const char *s, char ca_hash[72], const char **credential,
                     struct skiff_err **err);
/* A fresh random id.secret (malloc'd). */
char *trust_new_credential(void);
/* The join token for a credential and a CA hash (malloc'd). */
char *trust_join_format(const char *ca_hash, const char *credential);
/* SHA-256 of a secret as 64 hex digits (what the server stores; out: 65 bytes). */
void trust_secret_hash(const char *secret, char out[65]);
/* Constant-time equality of two strings of the same length (false when lengths differ). */
bool trust_equal(const char *a, const char *b);

#endif
