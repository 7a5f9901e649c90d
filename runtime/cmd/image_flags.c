/* image_flags.c - the flags of `skiff image` and `skiff images`, shared by skiff (for
 * --help, image_delegate.c) and skiff-image (which parses them, image.c). */
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
