/* libseccomp.h - libseccomp's own <seccomp.h>.  runtime/ is on the include path and
 * runtime/seccomp.h has the same name, so <seccomp.h> would find ours; include this file
 * as <libseccomp.h> (angle brackets: #include_next then searches past runtime/). */
#ifndef SKIFF_LIBSECCOMP_H
#define SKIFF_LIBSECCOMP_H
#include_next <seccomp.h>
#endif
