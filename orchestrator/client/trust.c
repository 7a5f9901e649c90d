/* trust.c - CA hashes, join tokens and credentials (see trust.h).  GnuTLS parses the
 * certificate and hashes; nothing here does I/O but getrandom. */
#include "trust.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

static void hex(const unsigned char *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = digits[in[i] >> 4];
      out[2 * i + 1] = digits[in[i] & 15];
    }
  out[2 * n] = '\0';
}

int trust_ca_hash(const char *pem, char out[72], struct skiff_err **err)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, der = {NULL, 0};
  unsigned char digest[32];
  int r = gnutls_x509_crt_init(&crt);
  if (r >= 0)
    r = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
  if (r >= 0)
    r = gnutls_pubkey_init(&pub);
  if (r >= 0)
    r = gnutls_pubkey_import_x509(pub, crt, 0);
  if (r >= 0)
    r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der);
  if (r >= 0)
    r = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest);
  gnutls_free(der.data);
  if (pub)
    gnutls_pubkey_deinit(pub);
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (r < 0)
    return skiff_error(err, 0, "CA certificate: %s", gnutls_strerror(r));
  memcpy(out, "sha256:", 7);
  hex(digest, sizeof(digest), out + 7);
  return 0;
}

static bool all_of(const char *s, size_t n, bool hexonly)
{
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char)s[i];
      bool ok
          = hexonly ? isdigit(c) || (c >= 'a' && c <= 'f') : isdigit(c) || (c >= 'a' && c <= 'z');
      if (!ok)
        return false;
    }
  return true;
}

bool trust_credential_parse(const char *s, char id[TRUST_ID_LEN + 1], const char **secret)
{
  if (s == NULL || strlen(s) != TRUST_ID_LEN + 1 + TRUST_SECRET_LEN || s[TRUST_ID_LEN] != '.'
      || !all_of(s, TRUST_ID_LEN, false) || !all_of(s + TRUST_ID_LEN + 1, TRUST_SECRET_LEN, false))
    return false;
  memcpy(id, s, TRUST_ID_LEN);
  id[TRUST_ID_LEN] = '\0';
  if (secret)
    *secret = s + TRUST_ID_LEN + 1;
  return true;
}

int trust_join_parse(const char *s, char ca_hash[72], const char **credential,
                     struct skiff_err **err)
{
  size_t np = strlen(TRUST_JOIN_PREFIX);
  char id[TRUST_ID_LEN + 1];
  if (s == NULL || strncmp(s, TRUST_JOIN_PREFIX, np) != 0)
    return skiff_error(err, 0, "join token: expected `%s<CA hash>::<id>.<secret>`",
                       TRUST_JOIN_PREFIX);
  const char *h = s + np;
  if (strlen(h) < TRUST_HASH_HEX + 2 || !all_of(h, TRUST_HASH_HEX, true)
      || strncmp(h + TRUST_HASH_HEX, "::", 2) != 0)
    return skiff_error(err, 0, "join token: the CA hash is not 64 lowercase hex digits");
  const char *cred = h + TRUST_HASH_HEX + 2;
  if (!trust_credential_parse(cred, id, NULL))
    return skiff_error(err, 0, "join token: the credential is not <6 of a-z0-9>.<32 of a-z0-9>");
  memcpy(ca_hash, "sha256:", 7);
  memcpy(ca_hash + 7, h, TRUST_HASH_HEX);
  ca_hash[7 + TRUST_HASH_HEX] = '\0';
  *credential = cred;
  return 0;
}

static void random_chars(char *out, size_t n)
{
  static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char buf[64];
  size_t i = 0;
  while (i < n)
    {
      if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
        abort(); /* no entropy: nothing safe to hand out */
      for (size_t k = 0; k < sizeof(buf) && i < n; k++)
        if (buf[k] < 252) /* 252 = 7 * 36: no modulo bias */
          out[i++] = set[buf[k] % 36];
    }
  out[n] = '\0';
}

char *trust_new_credential(void)
{
  char *s = xmalloc(TRUST_ID_LEN + 1 + TRUST_SECRET_LEN + 1);
  random_chars(s, TRUST_ID_LEN);
  s[TRUST_ID_LEN] = '.';
  random_chars(s + TRUST_ID_LEN + 1, TRUST_SECRET_LEN);
  return s;
}

char *trust_join_format(const char *ca_hash, const char *credential)
{
  const char *h = strncmp(ca_hash, "sha256:", 7) == 0 ? ca_hash + 7 : ca_hash;
  return xasprintf("%s%s::%s", TRUST_JOIN_PREFIX, h, credential);
}

void trust_secret_hash(const char *secret, char out[65])
{
  unsigned char digest[32];
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), digest) < 0)
    abort(); /* SHA-256 is always there */
  hex(digest, sizeof(digest), out);
}

bool trust_equal(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = la != lb;
  for (size_t i = 0; i < la; i++)
    diff |= (unsigned char)(a[i] ^ (i < lb ? b[i] : 0));
  return diff == 0;
}
