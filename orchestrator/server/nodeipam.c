/* nodeipam.c - the podCIDR of a registering node (see nodeipam.h). */
#include "nodeipam.h"

#include <string.h>
#include "model.h"

static bool pod_of(json_t *node, struct cidr *out)
{
  const char *s = model_str(node, "podCIDR", "");
  return *s && cidr_parse(s, out, NULL) == 0;
}

int nodeipam_assign(const struct cidr_pool *pool, struct view *v, struct recorder *events,
                    const char *name, json_t *reg, json_t *old, json_t *obj, struct skiff_err **err)
{
  size_t n = 0, cap = v->nnodes;
  cleanup_free struct cidr_node *others = xzalloc((cap + 1) * sizeof(*others));
  struct cidr req, stored, out;
  bool has_req = pod_of(reg, &req), has_stored = old && pod_of(old, &stored);
  uint32_t self = 0;
  bool has_self = cidr_parse_addr(model_str(obj, "address", ""), &self) == 0;
  for (size_t i = 0; i < v->nnodes; i++)
    {
      const struct view_node *vn = v->node_list[i];
      if (strcmp(vn->name, name) == 0)
        continue;
      others[n].name = vn->name;
      others[n].has_pod = pod_of(vn->obj, &others[n].pod);
      others[n].has_addr = cidr_parse_addr(model_str(vn->obj, "address", ""), &others[n].addr) == 0;
      n++;
    }
  switch (cidr_assign(pool, has_req ? &req : NULL, has_stored ? &stored : NULL, has_self, self,
                      others, n, &out, err))
    {
      case CIDR_ASSIGNED:
        {
          char s[CIDR_STRLEN];
          cidr_format(&out, s);
          json_object_set_new(obj, "podCIDR", json_string(s));
          return 0;
        }
      case CIDR_NONE:
        /* Registered without a subnet, as Kubernetes does when the range is exhausted: the
         * node works, its replicas cannot get addresses until a subnet frees up. */
        json_object_set_new(obj, "podCIDR", json_string(""));
        if (*err)
          {
            recorder_event(events, "Warning", "Node", name, "CIDRNotAvailable", "%s", (*err)->msg);
            skiff_err_free(err);
          }
        return 0;
      case CIDR_INVALID:
        return 400;
      case CIDR_CONFLICT:
      default:
        return 409;
    }
}
