/* test_mount_parse.c - mount.c's pure helpers: propagation names, the uid_map test for
 * user namespaces, cgroup v1 hierarchies and mount points from mountinfo text. */
#include "check.h"
#include "mount.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

static void test_parse_propagation(void)
{
  unsigned long f = 0;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(mount_parse_propagation("rprivate", &f, &err) == 0 && f == (MS_REC | MS_PRIVATE));
  CHECK(mount_parse_propagation("slave", &f, &err) == 0 && f == MS_SLAVE);
  CHECK(mount_parse_propagation("rshared", &f, &err) == 0 && f == (MS_REC | MS_SHARED));
  CHECK(mount_parse_propagation("runbindable", &f, &err) == 0 && f == (MS_REC | MS_UNBINDABLE));
  CHECK(mount_parse_propagation("sideways", &f, &err) < 0);
  CHECK(err != NULL);
  if (err)
    CHECK_CONTAINS(err->msg, "unknown propagation `sideways`");
}

static void test_uid_map(void)
{
  CHECK(mount_uid_map_is_initial("         0          0 4294967295\n"));
  CHECK(!mount_uid_map_is_initial("         0       1000      65536\n"));
  CHECK(!mount_uid_map_is_initial("0 0 4294967295\n1 1 1\n"));
  CHECK(!mount_uid_map_is_initial(""));
  CHECK(!mount_uid_map_is_initial(NULL));
}

static const char hybrid_mountinfo[]
    = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup "
      "rw,xattr,cpu,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
      "rw,xattr,release_agent=/x,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
      "50 22 0:32 / /mnt/memory\\040again rw - cgroup cgroup rw,memory\n"
      "51 22 0:45 / /mnt/data rw - ext4 /dev/vdb rw\n"
      "52 51 0:46 / /mnt/data/sub rw - tmpfs tmpfs rw\n";

static void test_cgroup_hierarchies(void)
{
  char **h = mount_cgroup_v1_hierarchies(hybrid_mountinfo);
  size_t n = 0;
  while (h[n])
    n++;
  CHECK(n == 3);
  if (n == 3)
    {
      CHECK_STR_EQ(h[0], "cpu,cpuacct");
      CHECK_STR_EQ(h[1], "memory"); /* the second memory mount is the same hierarchy */
      CHECK_STR_EQ(h[2], "name=systemd");
    }
  mount_strv_free(h);
  h = mount_cgroup_v1_hierarchies("22 1 254:0 / / rw - ext4 /dev/vda rw\n");
  CHECK(h[0] == NULL);
  mount_strv_free(h);

  char *d = mount_cgroup_dir_name("name=systemd");
  CHECK_STR_EQ(d, "systemd");
  free(d);
  d = mount_cgroup_dir_name("cpu,cpuacct");
  CHECK_STR_EQ(d, "cpu,cpuacct");
  free(d);
}

static void test_find_mountpoint(void)
{
  char *m = mount_find_mountpoint(hybrid_mountinfo, "/mnt/data/sub/x/rootfs");
  CHECK_STR_EQ(m, "/mnt/data/sub");
  free(m);
  m = mount_find_mountpoint(hybrid_mountinfo, "/mnt/database");
  CHECK_STR_EQ(m, "/");
  free(m);
  m = mount_find_mountpoint(hybrid_mountinfo, "/mnt/memory again/x");
  CHECK_STR_EQ(m, "/mnt/memory again");
  free(m);
  m = mount_find_mountpoint(hybrid_mountinfo, "/mnt/data");
  CHECK_STR_EQ(m, "/mnt/data");
  free(m);
}

int main(void)
{
  RUN_TEST(test_parse_propagation);
  RUN_TEST(test_uid_map);
  RUN_TEST(test_cgroup_hierarchies);
  RUN_TEST(test_find_mountpoint);
  return CHECK_DONE();
}
