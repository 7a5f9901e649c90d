/* test_image_lazy.c - skiff-image's forwarders (runtime/cmd/image_lazy.c), linked here as
 * in skiff-image: without libgssapi_krb5, libp11-kit or libsasl2.  Each library must be
 * absent until its first call, present after it, and every call must reach the library's
 * own function and give its answer; and lazylib's errors name what is missing. */
#define P11_KIT_FUTURE_UNSTABLE_API 1
#include "check.h"
#include "lazylib.h"

#include <dlfcn.h>
#include <gssapi/gssapi.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>
#include <sasl/sasl.h>
#include <stdlib.h>

static int loaded(const char *soname)
{
  void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  if (h)
    dlclose(h);
  return h != NULL;
}

/* the library's own definition of NAME (not the forwarder, which the executable holds) */
static void *real(const char *soname, const char *name)
{
  void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  void *sym = h ? dlsym(h, name) : NULL;
  if (h)
    dlclose(h);
  return sym;
}

static void test_gssapi(void)
{
  CHECK(!loaded("libgssapi_krb5.so.2"));
  OM_uint32 minor = 0, ctx = 0;
  gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
  CHECK(gss_display_status(&minor, GSS_S_BAD_NAME, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &msg)
        == GSS_S_COMPLETE);
  CHECK(loaded("libgssapi_krb5.so.2"));
  CHECK(msg.length > 0 && msg.value != NULL);
  CHECK_CONTAINS(msg.value, "invalid name");
  CHECK(gss_release_buffer(&minor, &msg) == GSS_S_COMPLETE && msg.value == NULL);

  /* our copy of the GSS_C_NT_HOSTBASED_SERVICE OID equals the library's, and the library
   * accepts it: a service name imports and displays back with that type */
  gss_OID *theirs = real("libgssapi_krb5.so.2", "GSS_C_NT_HOSTBASED_SERVICE");
  CHECK(theirs != NULL && (void *)theirs != (void *)&GSS_C_NT_HOSTBASED_SERVICE);
  if (theirs)
    CHECK((*theirs)->length == GSS_C_NT_HOSTBASED_SERVICE->length
          && memcmp((*theirs)->elements, GSS_C_NT_HOSTBASED_SERVICE->elements,
                    GSS_C_NT_HOSTBASED_SERVICE->length)
                 == 0);
  gss_buffer_desc in = {strlen("HTTP@registry.test"), "HTTP@registry.test"};
  gss_name_t name = GSS_C_NO_NAME;
  CHECK(gss_import_name(&minor, &in, GSS_C_NT_HOSTBASED_SERVICE, &name) == GSS_S_COMPLETE);
  gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
  gss_OID type = GSS_C_NO_OID;
  CHECK(gss_display_name(&minor, name, &out, &type) == GSS_S_COMPLETE);
  CHECK(out.length == in.length && memcmp(out.value, in.value, in.length) == 0);
  CHECK(type != GSS_C_NO_OID && type->length == 10
        && memcmp(type->elements, GSS_C_NT_HOSTBASED_SERVICE->elements, 10) == 0);
  gss_release_buffer(&minor, &out);
  CHECK(gss_release_name(&minor, &name) == GSS_S_COMPLETE && name == GSS_C_NO_NAME);
}

static void test_p11_kit(void)
{
  CHECK(!loaded("libp11-kit.so.0"));
  const char *(*their_strerror)(CK_RV) = NULL;
  CHECK_CONTAINS(p11_kit_strerror(CKR_PIN_INCORRECT), "PIN is incorrect");
  CHECK(loaded("libp11-kit.so.0"));
  *(void **)&their_strerror = real("libp11-kit.so.0", "p11_kit_strerror");
  CHECK(their_strerror != NULL && their_strerror != p11_kit_strerror);
  if (their_strerror)
    CHECK_STR_EQ(p11_kit_strerror(CKR_TOKEN_NOT_PRESENT), their_strerror(CKR_TOKEN_NOT_PRESENT));

  P11KitUri *uri = p11_kit_uri_new();
  CHECK(uri != NULL);
  CHECK(
      p11_kit_uri_parse("pkcs11:token=skiff%20token;manufacturer=test", P11_KIT_URI_FOR_TOKEN, uri)
      == P11_KIT_URI_OK);
  CK_TOKEN_INFO *tok = p11_kit_uri_get_token_info(uri);
  CHECK(tok != NULL);
  if (tok)
    CHECK(p11_kit_space_strlen(tok->label, sizeof(tok->label)) == strlen("skiff token"));
  char *s = NULL;
  CHECK(p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, &s) == P11_KIT_URI_OK);
  CHECK_CONTAINS(s, "token=skiff%20token");
  free(s);
  p11_kit_uri_free(uri);
}

static void test_sasl(void)
{
  CHECK(!loaded("libsasl2.so.2"));
  CHECK_STR_EQ(sasl_errstring(SASL_NOMEM, NULL, NULL), "no memory available");
  CHECK(loaded("libsasl2.so.2"));
  CHECK_STR_EQ(sasl_errstring(SASL_BADAUTH, NULL, NULL), "authentication failure");
}

static void test_lazylib_errors(void)
{
  struct lazylib none = LAZYLIB_INIT("libskiff-no-such-library.so.0");
  CHECK(lazylib_sym(&none, "f") == NULL);
  CHECK_CONTAINS(none.error, "dlopen libskiff-no-such-library.so.0: ");
  CHECK(lazylib_open(&none) == NULL); /* remembered, not retried */

  struct lazylib c = LAZYLIB_INIT("libc.so.6");
  CHECK(lazylib_sym(&c, "strlen") != NULL);
  CHECK(lazylib_sym(&c, "skiff_no_such_symbol") == NULL);
  CHECK_STR_EQ(c.error, "libc.so.6: no symbol skiff_no_such_symbol");
}

int main(void)
{
  RUN_TEST(test_gssapi);
  RUN_TEST(test_p11_kit);
  RUN_TEST(test_sasl);
  RUN_TEST(test_lazylib_errors);
  return CHECK_DONE();
}
