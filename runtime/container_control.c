/* container_control.c - verbs that act on a live container through its cgroup: pause,
 * resume, update (runc's), and the accounting `stats` and `events` read. */
#define _GNU_SOURCE
#include "container.h"

#include <errno.h>
#include <string.h>

/* The container's state and cgroup handle, under its lock. */
struct live
{
  int lock;
  struct skiff_state *st;
  struct skiff_cgroup *cg;
  enum skiff_status status;
};

static void live_release(struct live *l)
{
  if (l->lock >= 0)
    close(l->lock);
  state_free(l->st);
  cgroup_free(l->cg);
}

static int live_open(const char *root, const char *id, struct live *l, struct skiff_err **err)
{
  memset(l, 0, sizeof(*l));
  l->lock = state_lock(root, id, err);
  if (l->lock < 0 || state_load(root, id, &l->st, err) < 0)
    return -1;
  cleanup_free char *path = l->st->cgroup_path ? NULL : xasprintf("/skiff/%s", id);
  if (cgroup_new(path ? path : l->st->cgroup_path, &l->cg, err) < 0)
    return -1;
  l->status = state_status(root, l->st);
  return 0;
}

int container_set_paused(const char *root, const char *id, bool pause, struct skiff_err **err)
{
  struct live l;
  int ret = -1;
  if (live_open(root, id, &l, err) < 0)
    goto out;
  if (pause && l.status != SKIFF_STATUS_RUNNING)
    {
      skiff_error(err, 0, "cannot pause container `%s`: container not running (it is %s)", id,
                  state_status_name(l.status));
      goto out;
    }
  if (!pause && l.status != SKIFF_STATUS_PAUSED)
    {
      skiff_error(err, 0, "cannot resume container `%s`: container not paused (it is %s)", id,
                  state_status_name(l.status));
      goto out;
    }
  if (cgroup_freeze(l.cg, pause, err) < 0)
    {
      skiff_err_prefix(err, "%s container `%s`", pause ? "pause" : "resume", id);
      goto out;
    }
  ret = 0;
out:
  live_release(&l);
  return ret;
}

int container_update(const char *root, const char *id, const struct skiff_resources *r,
                     struct skiff_err **err)
{
  struct live l;
  int ret = -1;
  if (live_open(root, id, &l, err) < 0)
    goto out;
  if (l.status == SKIFF_STATUS_STOPPED || l.status == SKIFF_STATUS_CREATING)
    {
      skiff_error(err, 0, "cannot update container `%s`: container not running (it is %s)", id,
                  state_status_name(l.status));
      goto out;
    }
  /* as runc's update: the limits only; device rules are set once, at create (writing
     them again would deny every device for a moment under a running container) */
  struct skiff_resources limits = *r;
  limits.devices = NULL;
  limits.n_devices = 0;
  if (cgroup_apply(l.cg, &limits, err) < 0)
    {
      skiff_err_prefix(err, "update container `%s`", id);
      goto out;
    }
  ret = 0;
out:
  live_release(&l);
  return ret;
}

int container_stats(const char *root, const char *id, struct cgroup_stats *s,
                    enum skiff_status *status, struct skiff_err **err)
{
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  *status = state_status(root, st);
  cleanup_free char *path = st->cgroup_path ? NULL : xasprintf("/skiff/%s", id);
  struct skiff_cgroup *cg = NULL;
  if (cgroup_new(path ? path : st->cgroup_path, &cg, err) < 0)
    return -1;
  int r = cgroup_stats(cg, s, err);
  cgroup_free(cg);
  return r;
}
