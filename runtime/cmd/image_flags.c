/* image_flags.c - the flags of `skiff image`, `images`, `pull` and `push`, shared by skiff
 * (for --help, image_delegate.c) and skiff-image (which parses them, image.c, pull.c). */
#define _GNU_SOURCE
#include "cmd.h"

const struct cmd_flag cmd_image_flags[]
    = {{"store", 's', "DIR", "the image store (default $SKIFF_IMAGE_ROOT or /var/lib/skiff)"},
       {"name", 'n', "NAME[:TAG]", "import, build: the name to give the image"},
       {"rootfs", 'r', "DIR", "build: the directory that becomes the image's one layer"},
       {"config", 'c', "JSON|@FILE", "build: the image config (Cmd, Env, WorkingDir...)"},
       {"quiet", 'q', NULL, "ls: only the names"},
       {0}};

const struct cmd_flag cmd_images_flags[]
    = {{"store", 's', "DIR", "the image store (default $SKIFF_IMAGE_ROOT or /var/lib/skiff)"},
       {"quiet", 'q', NULL, "only the names"},
       {0}};

#define REGISTRY_FLAGS                                                                             \
  {"store", CMD_LONG(1), "DIR", "the image store (default $SKIFF_IMAGE_ROOT or /var/lib/skiff)"},  \
      {"authfile", CMD_LONG(2), "FILE",                                                            \
       "docker-style config.json with the registry's credentials"},                                \
      {"creds", CMD_LONG(3), "USER:PASS", "credentials for the registry (hidden from ps)"},        \
      {"insecure", CMD_LONG(4), NULL, "plain HTTP, or TLS without verification"},                  \
  {                                                                                                \
    "quiet", 'q', NULL, "no progress, no summary"                                                  \
  }

const struct cmd_flag cmd_pull_flags[]
    = {REGISTRY_FLAGS,
       {"platform", CMD_LONG(5), "OS/ARCH[/VARIANT]", "the platform to pick from an image index"},
       {0}};

const struct cmd_flag cmd_push_flags[] = {REGISTRY_FLAGS, {0}};
