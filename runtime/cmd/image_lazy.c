/* image_lazy.c - skiff-image: the shared libraries under its static libcurl that a pull
 * never calls, loaded on their first call instead of at every start.
 *
 * Debian's libcurl.a is built with GSS-API (Kerberos: SPNEGO and SOCKS5 authentication),
 * and the static OpenLDAP and librtmp it pulls in bring GnuTLS (PKCS#11 through p11-kit)
 * and SASL.  Debian ships those three only as shared libraries; linked normally, the
 * loader maps nine of them (libgssapi_krb5, libkrb5, libk5crypto, libcom_err,
 * libkrb5support, libkeyutils, libresolv, libp11-kit, libffi; plus libsasl2) and runs
 * their constructors at every start: measured, ~2.4 ms of skiff-image's ~7.5 (perf stat
 * -r 60, README).  skiff's pulls and pushes speak HTTP(S) with basic and bearer
 * authentication (registry_http.c limits libcurl to http and https) and reach none of
 * these functions.
 *
 * So skiff-image is linked without them, and each function libcurl.a, libldap.a and
 * libgnutls.a call is defined here with the library header's own prototype (the compiler
 * checks each against it): the first call opens the library (lazylib.h) and every call
 * goes to the library's function.  Nothing is lost: a registry behind Kerberos would load
 * Kerberos then.  When the library is missing, the call fails the way the library
 * reports failure (GSS_S_FAILURE, SASL_FAIL, NULL, ...), and one line on stderr (the first
 * time) names it.  Linked only into the static skiff-image (Makefile, SKIFF_IMAGE_STATIC).
 *
 * In the same spirit, GnuTLS (there for libldap.a and librtmp.a, both of which call
 * gnutls_global_init() before they use it) is told not to initialise itself at load
 * (GNUTLS_SKIP_GLOBAL_INIT, its header's way): its constructor built two ASN.1 trees,
 * probed the CPU and read /etc/gnutls/config at every start, ~0.4 ms. */
#define P11_KIT_FUTURE_UNSTABLE_API 1
#include <gnutls/gnutls.h>
#include <gssapi/gssapi.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pin.h>
#include <p11-kit/uri.h>
#include <sasl/sasl.h>
#include <stdio.h>

#include "lazylib.h"

GNUTLS_SKIP_GLOBAL_INIT

static struct lazylib gss = LAZYLIB_INIT("libgssapi_krb5.so.2");
static struct lazylib p11 = LAZYLIB_INIT("libp11-kit.so.0");
static struct lazylib sasl = LAZYLIB_INIT("libsasl2.so.2");

static void *resolve(struct lazylib *lib, const char *name)
{
  void *fn = lazylib_sym(lib, name);
  if (fn == NULL && !__atomic_exchange_n(&lib->reported, 1, __ATOMIC_RELAXED))
    fprintf(stderr, "skiff-image: %s\n", lib->error);
  return fn;
}

/* NAME forwarded to LIB's NAME, resolved once; FAIL is what it returns when the library
 * or the symbol is missing (empty for a void function). */
#define LAZY(lib, ret, name, fail, params, args)                                                   \
  ret name params                                                                                  \
  {                                                                                                \
    static __typeof__(name) *slot;                                                                 \
    __typeof__(name) *fn = __atomic_load_n(&slot, __ATOMIC_ACQUIRE);                               \
    if (fn == NULL)                                                                                \
      {                                                                                            \
        void *p = resolve(&lib, #name);                                                            \
        if (p == NULL)                                                                             \
          return fail;                                                                             \
        *(void **)&fn = p;                                                                         \
        __atomic_store_n(&slot, fn, __ATOMIC_RELEASE);                                             \
      }                                                                                            \
    return fn args;                                                                                \
  }

/* ---- GSS-API (libcurl: SPNEGO/Negotiate and SOCKS5 GSS-API authentication) */

/* RFC 2744's GSS_C_NT_HOSTBASED_SERVICE, {iso(1) member-body(2) US(840) mit(113554)
 * infosys(1) gssapi(2) generic(1) service_name(4)}: a data symbol cannot be forwarded, and
 * the mechanisms compare name types by value. */
static gss_OID_desc nt_hostbased_service = {10, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &nt_hostbased_service;

LAZY(gss, OM_uint32, gss_delete_sec_context, GSS_S_FAILURE,
     (OM_uint32 * m, gss_ctx_id_t *ctx, gss_buffer_t out), (m, ctx, out))
LAZY(gss, OM_uint32, gss_display_name, GSS_S_FAILURE,
     (OM_uint32 * m, gss_name_t name, gss_buffer_t out, gss_OID *type), (m, name, out, type))
LAZY(gss, OM_uint32, gss_display_status, GSS_S_FAILURE,
     (OM_uint32 * m, OM_uint32 status, int type, gss_OID mech, OM_uint32 *ctx, gss_buffer_t out),
     (m, status, type, mech, ctx, out))
LAZY(gss, OM_uint32, gss_import_name, GSS_S_FAILURE,
     (OM_uint32 * m, gss_buffer_t in, gss_OID type, gss_name_t *out), (m, in, type, out))
LAZY(gss, OM_uint32, gss_init_sec_context, GSS_S_FAILURE,
     (OM_uint32 * m, gss_cred_id_t cred, gss_ctx_id_t *ctx, gss_name_t target, gss_OID mech,
      OM_uint32 req_flags, OM_uint32 time_req, gss_channel_bindings_t cb, gss_buffer_t in,
      gss_OID *actual_mech, gss_buffer_t out, OM_uint32 *ret_flags, OM_uint32 *time_rec),
     (m, cred, ctx, target, mech, req_flags, time_req, cb, in, actual_mech, out, ret_flags,
      time_rec))
LAZY(gss, OM_uint32, gss_inquire_context, GSS_S_FAILURE,
     (OM_uint32 * m, gss_ctx_id_t ctx, gss_name_t *src, gss_name_t *targ, OM_uint32 *lifetime,
      gss_OID *mech, OM_uint32 *flags, int *local, int *open),
     (m, ctx, src, targ, lifetime, mech, flags, local, open))
LAZY(gss, OM_uint32, gss_release_buffer, GSS_S_FAILURE, (OM_uint32 * m, gss_buffer_t buf), (m, buf))
LAZY(gss, OM_uint32, gss_release_name, GSS_S_FAILURE, (OM_uint32 * m, gss_name_t *name), (m, name))
LAZY(gss, OM_uint32, gss_unwrap, GSS_S_FAILURE,
     (OM_uint32 * m, gss_ctx_id_t ctx, gss_buffer_t in, gss_buffer_t out, int *conf,
      gss_qop_t *qop),
     (m, ctx, in, out, conf, qop))
LAZY(gss, OM_uint32, gss_wrap, GSS_S_FAILURE,
     (OM_uint32 * m, gss_ctx_id_t ctx, int conf_req, gss_qop_t qop, gss_buffer_t in, int *conf,
      gss_buffer_t out),
     (m, ctx, conf_req, qop, in, conf, out))

/* ---- p11-kit (GnuTLS's PKCS#11 tokens and URIs) */

LAZY(p11, char *, p11_kit_config_option, NULL, (CK_FUNCTION_LIST * module, const char *option),
     (module, option))
LAZY(p11, const char *, p11_kit_message, p11.error, (void), ())
LAZY(p11, CK_RV, p11_kit_module_finalize, CKR_GENERAL_ERROR, (CK_FUNCTION_LIST * module), (module))
LAZY(p11, int, p11_kit_module_get_flags, 0, (CK_FUNCTION_LIST * module), (module))
LAZY(p11, char *, p11_kit_module_get_name, NULL, (CK_FUNCTION_LIST * module), (module))
LAZY(p11, CK_FUNCTION_LIST *, p11_kit_module_load, NULL, (const char *path, int flags),
     (path, flags))
LAZY(p11, void, p11_kit_module_release, , (CK_FUNCTION_LIST * module), (module))
LAZY(p11, CK_FUNCTION_LIST **, p11_kit_modules_load, NULL, (const char *reserved, int flags),
     (reserved, flags))
LAZY(p11, P11KitPin *, p11_kit_pin_file_callback, NULL,
     (const char *source, P11KitUri *uri, const char *description, P11KitPinFlags flags,
      void *data),
     (source, uri, description, flags, data))
LAZY(p11, size_t, p11_kit_pin_get_length, 0, (P11KitPin * pin), (pin))
LAZY(p11, const unsigned char *, p11_kit_pin_get_value, NULL, (P11KitPin * pin, size_t *length),
     (pin, length))
LAZY(p11, P11KitPin *, p11_kit_pin_new_for_string, NULL, (const char *value), (value))
LAZY(p11, int, p11_kit_pin_register_callback, -1,
     (const char *source, p11_kit_pin_callback callback, void *data,
      p11_kit_pin_destroy_func destroy),
     (source, callback, data, destroy))
LAZY(p11, P11KitPin *, p11_kit_pin_request, NULL,
     (const char *source, P11KitUri *uri, const char *description, P11KitPinFlags flags),
     (source, uri, description, flags))
LAZY(p11, void, p11_kit_pin_unref, , (P11KitPin * pin), (pin))
LAZY(p11, void, p11_kit_pin_unregister_callback, ,
     (const char *source, p11_kit_pin_callback callback, void *data), (source, callback, data))
LAZY(p11, char *, p11_kit_space_strdup, NULL, (const unsigned char *string, size_t max),
     (string, max))
LAZY(p11, size_t, p11_kit_space_strlen, 0, (const unsigned char *string, size_t max), (string, max))
LAZY(p11, const char *, p11_kit_strerror, p11.error, (CK_RV rv), (rv))
LAZY(p11, int, p11_kit_uri_format, P11_KIT_URI_UNEXPECTED,
     (P11KitUri * uri, P11KitUriType type, char **string), (uri, type, string))
LAZY(p11, void, p11_kit_uri_free, , (P11KitUri * uri), (uri))
LAZY(p11, CK_ATTRIBUTE_PTR, p11_kit_uri_get_attribute, NULL,
     (P11KitUri * uri, CK_ATTRIBUTE_TYPE type), (uri, type))
LAZY(p11, CK_ATTRIBUTE_PTR, p11_kit_uri_get_attributes, NULL, (P11KitUri * uri, CK_ULONG *n),
     (uri, n))
LAZY(p11, CK_INFO_PTR, p11_kit_uri_get_module_info, NULL, (P11KitUri * uri), (uri))
LAZY(p11, const char *, p11_kit_uri_get_pin_source, NULL, (const P11KitUri *uri), (uri))
LAZY(p11, const char *, p11_kit_uri_get_pin_value, NULL, (const P11KitUri *uri), (uri))
LAZY(p11, CK_TOKEN_INFO_PTR, p11_kit_uri_get_token_info, NULL, (P11KitUri * uri), (uri))
LAZY(p11, int, p11_kit_uri_match_module_info, 0, (const P11KitUri *uri, const CK_INFO *info),
     (uri, info))
LAZY(p11, int, p11_kit_uri_match_token_info, 0, (const P11KitUri *uri, const CK_TOKEN_INFO *info),
     (uri, info))
LAZY(p11, P11KitUri *, p11_kit_uri_new, NULL, (void), ())
LAZY(p11, int, p11_kit_uri_parse, P11_KIT_URI_UNEXPECTED,
     (const char *string, P11KitUriType type, P11KitUri *uri), (string, type, uri))
LAZY(p11, int, p11_kit_uri_set_attribute, P11_KIT_URI_UNEXPECTED,
     (P11KitUri * uri, CK_ATTRIBUTE_PTR attr), (uri, attr))

/* ---- SASL (OpenLDAP's SASL binds) */

LAZY(sasl, int, sasl_client_init, SASL_FAIL, (const sasl_callback_t *callbacks), (callbacks))
LAZY(sasl, int, sasl_client_new, SASL_FAIL,
     (const char *service, const char *fqdn, const char *local, const char *remote,
      const sasl_callback_t *prompt, unsigned flags, sasl_conn_t **conn),
     (service, fqdn, local, remote, prompt, flags, conn))
LAZY(sasl, int, sasl_client_start, SASL_FAIL,
     (sasl_conn_t * conn, const char *mechlist, sasl_interact_t **prompt, const char **out,
      unsigned *outlen, const char **mech),
     (conn, mechlist, prompt, out, outlen, mech))
LAZY(sasl, int, sasl_client_step, SASL_FAIL,
     (sasl_conn_t * conn, const char *in, unsigned inlen, sasl_interact_t **prompt,
      const char **out, unsigned *outlen),
     (conn, in, inlen, prompt, out, outlen))
LAZY(sasl, int, sasl_decode, SASL_FAIL,
     (sasl_conn_t * conn, const char *in, unsigned inlen, const char **out, unsigned *outlen),
     (conn, in, inlen, out, outlen))
LAZY(sasl, void, sasl_dispose, , (sasl_conn_t * *conn), (conn))
LAZY(sasl, int, sasl_encode, SASL_FAIL,
     (sasl_conn_t * conn, const char *in, unsigned inlen, const char **out, unsigned *outlen),
     (conn, in, inlen, out, outlen))
LAZY(sasl, const char *, sasl_errdetail, sasl.error, (sasl_conn_t * conn), (conn))
LAZY(sasl, const char *, sasl_errstring, sasl.error,
     (int error, const char *langlist, const char **outlang), (error, langlist, outlang))
LAZY(sasl, int, sasl_getprop, SASL_FAIL, (sasl_conn_t * conn, int prop, const void **value),
     (conn, prop, value))
LAZY(sasl, const char **, sasl_global_listmech, NULL, (void), ())
LAZY(sasl, void, sasl_set_mutex, ,
     (sasl_mutex_alloc_t * alloc, sasl_mutex_lock_t *lock, sasl_mutex_unlock_t *unlock,
      sasl_mutex_free_t *free),
     (alloc, lock, unlock, free))
LAZY(sasl, int, sasl_setprop, SASL_FAIL, (sasl_conn_t * conn, int prop, const void *value),
     (conn, prop, value))
