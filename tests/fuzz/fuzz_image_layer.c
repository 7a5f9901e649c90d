/* fuzz_image_layer.c - libFuzzer harness for layer extraction: arbitrary bytes unpacked
 * as a layer (tar, gzip'd or not) into a fresh dir next to a canary dir.  Whatever the
 * archive holds, nothing may appear outside the layer dir (the canary stays empty, the
 * parent holds only the two), and failure comes with a message.  Run as root (whiteouts
 * are device nodes).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE= -Iruntime \
 *     tests/fuzz/fuzz_image_layer.c runtime/image/*.c runtime/util/util.c \
 *     -ljansson -larchive -lcrypto -o build/fuzz_image_layer
 *   build/fuzz_image_layer tests/fuzz/corpus/image_layer */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int entries(const char *dir)
{
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *de;
  if (d == NULL)
    abort();
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static char base[64];

static void remove_base(void)
{
  char blob[128];
  snprintf(blob, sizeof(blob), "%s.blob", base);
  unlink(blob);
  skiff_rm_rf(base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (base[0] == '\0')
    {
      snprintf(base, sizeof(base), "/tmp/skiff-fuzz-layer-XXXXXX");
      if (mkdtemp(base) == NULL)
        abort();
      atexit(remove_base);
    }
  char blob[128], dest[128], canary[128];
  snprintf(blob, sizeof(blob), "%s.blob", base);
  snprintf(dest, sizeof(dest), "%s/layer", base);
  snprintf(canary, sizeof(canary), "%s/canary", base);
  int fd = open(blob, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || skiff_write_all(fd, data, size) < 0)
    abort();
  close(fd);
  if (mkdir(dest, 0755) < 0 || mkdir(canary, 0755) < 0)
    abort();
  struct skiff_err *err = NULL;
  if (image_layer_unpack(blob, dest, NULL, &err) < 0)
    {
      if (err == NULL || err->msg == NULL || err->msg[0] == '\0')
        abort();
      skiff_err_free(&err);
    }
  if (entries(canary) != 0 || entries(base) != 2)
    abort();
  if (skiff_rm_rf(dest, NULL) < 0 || rmdir(canary) < 0)
    abort();
  unlink(blob);
  return 0;
}
