/* image_libarchive.h - libarchive, loaded on first use (dlopen) instead of at program
 * start.  libarchive brings libxml2, ICU, libstdc++, liblzma, libbz2, liblz4 and libacl
 * with it: the dynamic loader's work for them was ~6 ms of a warm `skiff pull` (40.0 ->
 * 33.5 ms median of 40 interleaved runs, load ~2), which a warm pull (nothing to unpack)
 * or a push never needs.
 *
 * The files that use libarchive include this after <archive.h>/<archive_entry.h>: each
 * archive_* call they make goes through the table below, filled by dlsym the first time.
 * Each public entry point that reaches libarchive calls image_libarchive_load() first, so
 * a missing libarchive is an error naming it; a call made without it loads the library
 * then and aborts if it cannot (a programming error, like xmalloc's out of memory). */
#ifndef SKIFF_IMAGE_LIBARCHIVE_H
#define SKIFF_IMAGE_LIBARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "util.h"

/* every libarchive function runtime/image calls */
#define IMAGE_LIBARCHIVE_FUNCS(X)                                                                  \
  X(archive_entry_acl_types)                                                                       \
  X(archive_entry_atime)                                                                           \
  X(archive_entry_atime_is_set)                                                                    \
  X(archive_entry_atime_nsec)                                                                      \
  X(archive_entry_copy_pathname)                                                                   \
  X(archive_entry_copy_sourcepath)                                                                 \
  X(archive_entry_filetype)                                                                        \
  X(archive_entry_free)                                                                            \
  X(archive_entry_gid)                                                                             \
  X(archive_entry_hardlink)                                                                        \
  X(archive_entry_linkify)                                                                         \
  X(archive_entry_linkresolver_free)                                                               \
  X(archive_entry_linkresolver_new)                                                                \
  X(archive_entry_linkresolver_set_strategy)                                                       \
  X(archive_entry_mtime)                                                                           \
  X(archive_entry_mtime_nsec)                                                                      \
  X(archive_entry_new)                                                                             \
  X(archive_entry_pathname)                                                                        \
  X(archive_entry_perm)                                                                            \
  X(archive_entry_set_filetype)                                                                    \
  X(archive_entry_set_gname)                                                                       \
  X(archive_entry_set_hardlink)                                                                    \
  X(archive_entry_set_mtime)                                                                       \
  X(archive_entry_set_pathname)                                                                    \
  X(archive_entry_set_perm)                                                                        \
  X(archive_entry_set_size)                                                                        \
  X(archive_entry_set_uname)                                                                       \
  X(archive_entry_size)                                                                            \
  X(archive_entry_symlink)                                                                         \
  X(archive_entry_uid)                                                                             \
  X(archive_entry_unset_atime)                                                                     \
  X(archive_entry_unset_birthtime)                                                                 \
  X(archive_entry_unset_ctime)                                                                     \
  X(archive_entry_xattr_add_entry)                                                                 \
  X(archive_entry_xattr_clear)                                                                     \
  X(archive_entry_xattr_count)                                                                     \
  X(archive_entry_xattr_next)                                                                      \
  X(archive_entry_xattr_reset)                                                                     \
  X(archive_errno)                                                                                 \
  X(archive_error_string)                                                                          \
  X(archive_read_data)                                                                             \
  X(archive_read_data_block)                                                                       \
  X(archive_read_disk_entry_from_file)                                                             \
  X(archive_read_disk_new)                                                                         \
  X(archive_read_free)                                                                             \
  X(archive_read_new)                                                                              \
  X(archive_read_next_header)                                                                      \
  X(archive_read_open)                                                                             \
  X(archive_read_open_fd)                                                                          \
  X(archive_read_open_filename)                                                                    \
  X(archive_read_support_filter_all)                                                               \
  X(archive_read_support_format_raw)                                                               \
  X(archive_read_support_format_tar)                                                               \
  X(archive_set_error)                                                                             \
  X(archive_write_add_filter_gzip)                                                                 \
  X(archive_write_close)                                                                           \
  X(archive_write_data)                                                                            \
  X(archive_write_data_block)                                                                      \
  X(archive_write_disk_new)                                                                        \
  X(archive_write_disk_set_options)                                                                \
  X(archive_write_finish_entry)                                                                    \
  X(archive_write_free)                                                                            \
  X(archive_write_header)                                                                          \
  X(archive_write_new)                                                                             \
  X(archive_write_open)                                                                            \
  X(archive_write_open_filename)                                                                   \
  X(archive_write_set_bytes_in_last_block)                                                         \
  X(archive_write_set_format_pax_restricted)                                                       \
  X(archive_write_set_format_raw)                                                                  \
  X(archive_write_set_options)
struct image_libarchive
{
#define IMAGE_LIBARCHIVE_MEMBER(f) __typeof__(f) *f;
  IMAGE_LIBARCHIVE_FUNCS(IMAGE_LIBARCHIVE_MEMBER)
#undef IMAGE_LIBARCHIVE_MEMBER
};

/* Load libarchive (once per process, thread-safe). */
int image_libarchive_load(struct skiff_err **err);
/* The table, loaded if needed (aborts when libarchive cannot be loaded). */
const struct image_libarchive *image_libarchive(void);

#ifndef IMAGE_LIBARCHIVE_IMPL
#define archive_entry_acl_types (image_libarchive()->archive_entry_acl_types)
#define archive_entry_atime (image_libarchive()->archive_entry_atime)
#define archive_entry_atime_is_set (image_libarchive()->archive_entry_atime_is_set)
#define archive_entry_atime_nsec (image_libarchive()->archive_entry_atime_nsec)
#define archive_entry_copy_pathname (image_libarchive()->archive_entry_copy_pathname)
#define archive_entry_copy_sourcepath (image_libarchive()->archive_entry_copy_sourcepath)
#define archive_entry_filetype (image_libarchive()->archive_entry_filetype)
#define archive_entry_free (image_libarchive()->archive_entry_free)
#define archive_entry_gid (image_libarchive()->archive_entry_gid)
#define archive_entry_hardlink (image_libarchive()->archive_entry_hardlink)
#define archive_entry_linkify (image_libarchive()->archive_entry_linkify)
#define archive_entry_linkresolver_free (image_libarchive()->archive_entry_linkresolver_free)
#define archive_entry_linkresolver_new (image_libarchive()->archive_entry_linkresolver_new)
#define archive_entry_linkresolver_set_strategy                                                    \
  (image_libarchive()->archive_entry_linkresolver_set_strategy)
#define archive_entry_mtime (image_libarchive()->archive_entry_mtime)
#define archive_entry_mtime_nsec (image_libarchive()->archive_entry_mtime_nsec)
#define archive_entry_new (image_libarchive()->archive_entry_new)
#define archive_entry_pathname (image_libarchive()->archive_entry_pathname)
#define archive_entry_perm (image_libarchive()->archive_entry_perm)
#define archive_entry_set_filetype (image_libarchive()->archive_entry_set_filetype)
#define archive_entry_set_gname (image_libarchive()->archive_entry_set_gname)
#define archive_entry_set_hardlink (image_libarchive()->archive_entry_set_hardlink)
#define archive_entry_set_mtime (image_libarchive()->archive_entry_set_mtime)
#define archive_entry_set_pathname (image_libarchive()->archive_entry_set_pathname)
#define archive_entry_set_perm (image_libarchive()->archive_entry_set_perm)
#define archive_entry_set_size (image_libarchive()->archive_entry_set_size)
#define archive_entry_set_uname (image_libarchive()->archive_entry_set_uname)
#define archive_entry_size (image_libarchive()->archive_entry_size)
#define archive_entry_symlink (image_libarchive()->archive_entry_symlink)
#define archive_entry_uid (image_libarchive()->archive_entry_uid)
#define archive_entry_unset_atime (image_libarchive()->archive_entry_unset_atime)
#define archive_entry_unset_birthtime (image_libarchive()->archive_entry_unset_birthtime)
#define archive_entry_unset_ctime (image_libarchive()->archive_entry_unset_ctime)
#define archive_entry_xattr_add_entry (image_libarchive()->archive_entry_xattr_add_entry)
#define archive_entry_xattr_clear (image_libarchive()->archive_entry_xattr_clear)
#define archive_entry_xattr_count (image_libarchive()->archive_entry_xattr_count)
#define archive_entry_xattr_next (image_libarchive()->archive_entry_xattr_next)
#define archive_entry_xattr_reset (image_libarchive()->archive_entry_xattr_reset)
#define archive_errno (image_libarchive()->archive_errno)
#define archive_error_string (image_libarchive()->archive_error_string)
#define archive_read_data (image_libarchive()->archive_read_data)
#define archive_read_data_block (image_libarchive()->archive_read_data_block)
#define archive_read_disk_entry_from_file (image_libarchive()->archive_read_disk_entry_from_file)
#define archive_read_disk_new (image_libarchive()->archive_read_disk_new)
#define archive_read_free (image_libarchive()->archive_read_free)
#define archive_read_new (image_libarchive()->archive_read_new)
#define archive_read_next_header (image_libarchive()->archive_read_next_header)
#define archive_read_open (image_libarchive()->archive_read_open)
#define archive_read_open_fd (image_libarchive()->archive_read_open_fd)
#define archive_read_open_filename (image_libarchive()->archive_read_open_filename)
#define archive_read_support_filter_all (image_libarchive()->archive_read_support_filter_all)
#define archive_read_support_format_raw (image_libarchive()->archive_read_support_format_raw)
#define archive_read_support_format_tar (image_libarchive()->archive_read_support_format_tar)
#define archive_set_error (image_libarchive()->archive_set_error)
#define archive_write_add_filter_gzip (image_libarchive()->archive_write_add_filter_gzip)
#define archive_write_close (image_libarchive()->archive_write_close)
#define archive_write_data (image_libarchive()->archive_write_data)
#define archive_write_data_block (image_libarchive()->archive_write_data_block)
#define archive_write_disk_new (image_libarchive()->archive_write_disk_new)
#define archive_write_disk_set_options (image_libarchive()->archive_write_disk_set_options)
#define archive_write_finish_entry (image_libarchive()->archive_write_finish_entry)
#define archive_write_free (image_libarchive()->archive_write_free)
#define archive_write_header (image_libarchive()->archive_write_header)
#define archive_write_new (image_libarchive()->archive_write_new)
#define archive_write_open (image_libarchive()->archive_write_open)
#define archive_write_open_filename (image_libarchive()->archive_write_open_filename)
#define archive_write_set_bytes_in_last_block                                                      \
  (image_libarchive()->archive_write_set_bytes_in_last_block)
#define archive_write_set_format_pax_restricted                                                    \
  (image_libarchive()->archive_write_set_format_pax_restricted)
#define archive_write_set_format_raw (image_libarchive()->archive_write_set_format_raw)
#define archive_write_set_options (image_libarchive()->archive_write_set_options)
#endif

#endif
