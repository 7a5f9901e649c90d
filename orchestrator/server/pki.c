/* pki.c - the cluster CA and the serving certificate (see pki.h). */
#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "trust.h"

static int gt_error(struct skiff_err **err, int r, const char *what)
{
  return skiff_error(err, 0, "%s: %s", what, gnutls_strerror(r));
}

/* ---- names ---- */

static void add_name(char ***v, size_t *n, const char *name)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*v)[i], name) == 0)
      return;
  *v = xrealloc(*v, (*n + 2) * sizeof(char *));
  (*v)[(*n)++] = xstrdup(name);
  (*v)[*n] = NULL;
}

char **pki_sans(const char *host, const char *extra)
{
  char **v = xzalloc(sizeof(char *));
  size_t n = 0;
  if (host && *host && strcmp(host, "0.0.0.0") != 0)
    add_name(&v, &n, host);
  else
    {
      struct ifaddrs *ifs = NULL;
      if (getifaddrs(&ifs) == 0)
        {
          for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
            if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP))
              {
                char buf[INET_ADDRSTRLEN];
                struct sockaddr_in *sa = (struct sockaddr_in *)i->ifa_addr;
                if (inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof(buf)))
                  add_name(&v, &n, buf);
              }
          freeifaddrs(ifs);
        }
    }
  add_name(&v, &n, "127.0.0.1");
  add_name(&v, &n, "localhost");
  char hostname[256];
  if (gethostname(hostname, sizeof(hostname)) == 0 && hostname[0])
    {
      hostname[sizeof(hostname) - 1] = '\0';
      add_name(&v, &n, hostname);
    }
  if (extra && *extra)
    {
      cleanup_free char *copy = xstrdup(extra);
      char *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t)
          add_name(&v, &n, t);
    }
  return v;
}

void pki_sans_free(char **sans)
{
  for (size_t i = 0; sans && sans[i]; i++)
    free(sans[i]);
  free(sans);
}

/* ---- certificates ---- */

static char *export_crt(gnutls_x509_crt_t crt)
{
  gnutls_datum_t d = {NULL, 0};
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
    return NULL;
  char *s = strndup((char *)d.data, d.size);
  gnutls_free(d.data);
  return s;
}

static char *export_key(gnutls_x509_privkey_t key)
{
  gnutls_datum_t d = {NULL, 0};
  if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d) < 0)
    return NULL;
  char *s = strndup((char *)d.data, d.size);
  gnutls_free(d.data);
  return s;
}

static int add_san(gnutls_x509_crt_t crt, const char *name)
{
  unsigned char ip[16];
  if (inet_pton(AF_INET, name, ip) == 1)
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                GNUTLS_FSAN_APPEND);
  if (inet_pton(AF_INET6, name, ip) == 1)
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
                                                GNUTLS_FSAN_APPEND);
  return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name, (unsigned)strlen(name),
                                              GNUTLS_FSAN_APPEND);
}

/* Fill and sign crt for key: a CA (self-signed when ca_crt is NULL) or a server leaf. */
static int fill_and_sign(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, char *const *names,
                         int days, bool is_ca, gnutls_x509_crt_t ca_crt,
                         gnutls_x509_privkey_t ca_key)
{
  unsigned char serial[16];
  if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial))
    return GNUTLS_E_RANDOM_FAILED;
  serial[0] &= 0x7f; /* positive */
  time_t now = time(NULL);
  const char *cn = is_ca ? "skiff-ca" : names && names[0] ? names[0] : "skiffd";
  unsigned char kid[64];
  size_t kid_len = sizeof(kid);
  int r;
  if ((r = gnutls_x509_crt_set_version(crt, 3)) < 0
      || (r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0
      || (r = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0
      || (r = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0
      || (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                            (unsigned)strlen(cn)))
             < 0
      || (r = gnutls_x509_crt_set_key(crt, key)) < 0
      || (r = gnutls_x509_crt_set_basic_constraints(crt, is_ca ? 1 : 0, -1)) < 0
      || (r = gnutls_x509_crt_set_key_usage(crt,
                                            is_ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                                                  : GNUTLS_KEY_DIGITAL_SIGNATURE))
             < 0
      || (r = gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len)) < 0
      || (r = gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len)) < 0)
    return r;
  if (!is_ca)
    {
      if ((r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
        return r;
      for (size_t i = 0; names && names[i]; i++)
        if ((r = add_san(crt, names[i])) < 0)
          return r;
    }
  if (ca_crt)
    {
      kid_len = sizeof(kid);
      if ((r = gnutls_x509_crt_get_subject_key_id(ca_crt, kid, &kid_len, NULL)) < 0
          || (r = gnutls_x509_crt_set_authority_key_id(crt, kid, kid_len)) < 0)
        return r;
    }
  return gnutls_x509_crt_sign2(crt, ca_crt ? ca_crt : crt, ca_key ? ca_key : key, GNUTLS_DIG_SHA256,
                               0);
}

int pki_issue(const char *ca_cert, const char *ca_key, char *const *names, int days, bool is_ca,
              char **cert, char **key, struct skiff_err **err)
{
  gnutls_x509_crt_t crt = NULL, cacrt = NULL;
  gnutls_x509_privkey_t k = NULL, cak = NULL;
  int r = gnutls_x509_crt_init(&crt);
  if (r >= 0)
    r = gnutls_x509_privkey_init(&k);
  if (r >= 0)
    r = gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (r >= 0 && ca_cert)
    {
      gnutls_datum_t c = {(unsigned char *)ca_cert, (unsigned)strlen(ca_cert)};
      gnutls_datum_t kd = {(unsigned char *)ca_key, (unsigned)strlen(ca_key)};
      r = gnutls_x509_crt_init(&cacrt);
      if (r >= 0)
        r = gnutls_x509_crt_import(cacrt, &c, GNUTLS_X509_FMT_PEM);
      if (r >= 0)
        r = gnutls_x509_privkey_init(&cak);
      if (r >= 0)
        r = gnutls_x509_privkey_import(cak, &kd, GNUTLS_X509_FMT_PEM);
    }
  if (r >= 0)
    r = fill_and_sign(crt, k, names, days, is_ca, cacrt, cak);
  if (r >= 0)
    {
      *cert = export_crt(crt);
      *key = export_key(k);
      if (*cert == NULL || *key == NULL)
        {
          free(*cert);
          free(*key);
          *cert = *key = NULL;
          r = GNUTLS_E_MEMORY_ERROR;
        }
    }
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (cacrt)
    gnutls_x509_crt_deinit(cacrt);
  if (k)
    gnutls_x509_privkey_deinit(k);
  if (cak)
    gnutls_x509_privkey_deinit(cak);
  if (r < 0)
    return gt_error(err, r, is_ca ? "make the CA" : "make a certificate");
  return 0;
}

/* ---- the CA: store first, then the data dir, else a new one ---- */

static int ca_from_store(struct store *s, struct pki *p, struct skiff_err **err)
{
  struct store_kv kv = {0};
  int r = store_get(s, PKI_STORE_KEY, &kv, err);
  if (r <= 0)
    return r;
  json_t *o = json_loadb(kv.value, kv.len, 0, NULL);
  store_kv_clear(&kv);
  const char *c = json_string_value(json_object_get(o, "cert"));
  const char *k = json_string_value(json_object_get(o, "key"));
  if (c && k)
    {
      p->ca_cert = xstrdup(c);
      p->ca_key = xstrdup(k);
    }
  json_decref(o);
  if (p->ca_cert == NULL)
    return skiff_error(err, 0, "store: %s holds no CA (want {\"cert\", \"key\"})", PKI_STORE_KEY);
  return 1;
}

/* 0 stored, 1 another server stored one first (read it then), -1 error. */
static int ca_to_store(struct store *s, const struct pki *p, struct skiff_err **err)
{
  json_t *o = json_pack("{s:s,s:s}", "cert", p->ca_cert, "key", p->ca_key);
  char *v = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  int r = store_put(s, PKI_STORE_KEY, v, STORE_ABSENT, NULL, err);
  free(v);
  return r == STORE_CONFLICT ? 1 : r;
}

static int write_if_changed(const char *path, const char *text, int mode, struct skiff_err **err)
{
  cleanup_free char *old = NULL;
  if (skiff_read_file(path, &old, NULL, NULL) == 0 && strcmp(old, text) == 0)
    return chmod(path, (mode_t)mode) < 0 ? skiff_error(err, errno, "chmod `%s`", path) : 0;
  return skiff_write_file_atomic(path, text, strlen(text), mode, err);
}

static int load_ca(struct store *s, const char *dir, struct pki *p, struct skiff_err **err)
{
  int r = ca_from_store(s, p, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_free char *cpath = xasprintf("%s/ca.crt", dir), *kpath = xasprintf("%s/ca.key", dir);
  if (skiff_read_file(cpath, &p->ca_cert, NULL, NULL) == 0
      && skiff_read_file(kpath, &p->ca_key, NULL, NULL) == 0)
    {
      /* adopted: check it is a usable CA before the whole cluster trusts it */
      char *c = NULL, *k = NULL;
      if (pki_issue(p->ca_cert, p->ca_key, NULL, 1, false, &c, &k, err) < 0)
        return skiff_err_prefix(err, "CA in `%s`", dir);
      free(c);
      free(k);
    }
  else
    {
      free(p->ca_cert);
      free(p->ca_key);
      p->ca_cert = p->ca_key = NULL;
      if (pki_issue(NULL, NULL, NULL, 3650, true, &p->ca_cert, &p->ca_key, err) < 0)
        return -1;
      p->created_ca = true;
    }
  r = ca_to_store(s, p, err);
  if (r == 1)
    {
      /* another server of the cluster was first: its CA is the cluster's */
      free(p->ca_cert);
      free(p->ca_key);
      p->ca_cert = p->ca_key = NULL;
      p->created_ca = false;
      return ca_from_store(s, p, err) < 0 ? -1 : 0;
    }
  return r;
}

int pki_load(struct store *s, const char *data_dir, char *const *sans, struct pki *out,
             struct skiff_err **err)
{
  memset(out, 0, sizeof(*out));
  cleanup_free char *ca = xasprintf("%s/ca.crt", data_dir), *cak = xasprintf("%s/ca.key", data_dir);
  cleanup_free char *crt = xasprintf("%s/server.crt", data_dir);
  cleanup_free char *key = xasprintf("%s/server.key", data_dir);
  if (load_ca(s, data_dir, out, err) < 0 || trust_ca_hash(out->ca_cert, out->ca_hash, err) < 0
      || pki_issue(out->ca_cert, out->ca_key, sans, 365, false, &out->cert, &out->key, err) < 0
      || write_if_changed(ca, out->ca_cert, 0644, err) < 0
      || write_if_changed(cak, out->ca_key, 0600, err) < 0
      || skiff_write_file_atomic(key, out->key, strlen(out->key), 0600, err) < 0
      || skiff_write_file_atomic(crt, out->cert, strlen(out->cert), 0644, err) < 0)
    {
      pki_free(out);
      return -1;
    }
  return 0;
}

void pki_free(struct pki *p)
{
  free(p->ca_cert);
  free(p->ca_key);
  free(p->cert);
  free(p->key);
  memset(p, 0, sizeof(*p));
}
