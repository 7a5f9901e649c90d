/* leader.c - several `skiffd server`s on one etcd: who runs the controllers, and what the
 * servers share.  Mirrors client-go's leaderelection as kube-controller-manager and
 * kube-scheduler use it, on an etcd lease instead of a Lease object.
 *
 *   - Session: each server holds an etcd lease (TTL --leader-lease, renewed every third of
 *     it by the store's keeper thread, so a busy loop does not let it lapse).  Its presence
 *     key /servers/NAME is bound to it.
 *   - Election: the leader key /leader is created-if-absent bound to the lease.  The others
 *     see it in their watch and try again when it goes (lease expired or revoked).
 *   - Stepping down: a leader whose last renewal was *sent* more than TTL - 0.25 s ago stops
 *     running controllers: etcd counts the TTL from when it received that renewal, so the key
 *     cannot have expired yet and no one else can lead before that moment.
 *   - Fencing: every controller txn carries a compare on /leader's revision (cluster_commit adds
 *     it).  Once the key is gone or someone else's, etcd refuses the leader's writes, whatever
 *     its clock says.  That is why there is no split brain.
 *   - Heartbeats stay in memory, per server, as before; each server publishes in its presence
 *     key the nodes it heard within half the node grace (rewritten only when that set
 *     changes), and the leader counts a node heard by any server as alive.
 *   - Trust is not this file's: the CA and every credential live in the store under /auth/
 *     (security.h), so a credential issued by one server is valid on all of them.
 * With SQLite (no leases) there is one server: it always leads and nothing is fenced. */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "leader.h"
#include "model.h"

#define LEADER_KEY "/leader"
#define SERVERS_PREFIX "/servers/"

struct leader
{
  struct cluster *cl;
  struct store *store;
  bool enabled; /* the store has leases: several servers may share it */
  char *name, *url, *started;
  double ttl;
  int64_t lease;
  double renewed_sent; /* monotonic send time of the last successful grant/renewal */
  double next_grant, next_campaign, next_publish, next_merge;
  bool leading;
  int64_t fence_rev;   /* revision of our /leader key while leading */
  json_t *leader;      /* the /leader object (NULL: nobody leads) */
  int64_t leader_rev;  /* its revision */
  json_t *peers;       /* server name -> presence object (ourselves included) */
  json_t *published;   /* the node list we last published */
  bool publish_needed; /* our presence key is missing or stale */
  bool just_gained;    /* became leader since the last leader_step */
  json_t *merged;      /* node -> the heartbeat value the leader merged in from peers */
  json_t *peer_seen;   /* node -> true: in a peer's list at the last merge */
};

static char *default_name(const char *listen)
{
  char host[256] = "";
  if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
    snprintf(host, sizeof(host), "localhost");
  const char *port = strrchr(listen, ':');
  return xasprintf("%s%s", host, port ? port : "");
}

struct leader *leader_new(struct cluster *cl, struct store *s, const struct leader_config *cfg)
{
  struct leader *l = xzalloc(sizeof(*l));
  l->cl = cl;
  l->store = s;
  l->enabled = store_has_leases(s);
  l->name = cfg->name ? xstrdup(cfg->name) : default_name(cfg->listen);
  l->url = cfg->url ? xstrdup(cfg->url) : xasprintf("https://%s", cfg->listen);
  l->started = model_time_string(time(NULL));
  l->ttl = cfg->ttl;
  l->peers = json_object();
  l->published = json_array();
  l->merged = json_object();
  l->peer_seen = json_object();
  l->leading = !l->enabled;
  return l;
}

void leader_free(struct leader *l)
{
  if (l == NULL)
    return;
  json_decref(l->leader);
  json_decref(l->peers);
  json_decref(l->published);
  json_decref(l->merged);
  json_decref(l->peer_seen);
  free(l->name);
  free(l->url);
  free(l->started);
  free(l);
}

bool leader_leading(const struct leader *l)
{
  return l == NULL || l->leading;
}

static const char *leader_name(const struct leader *l)
{
  if (!l->enabled)
    return l->name;
  return model_str(l->leader, "name", "");
}

/* ---- what the store says: /leader and /servers/ ---- */

void leader_on_key(void *data, const struct store_event *ev)
{
  struct leader *l = data;
  const char *key = ev->kv.key;
  bool deleted = ev->type == STORE_DELETE;
  json_t *obj = deleted || ev->kv.value == NULL ? NULL : json_loads(ev->kv.value, 0, NULL);
  if (strcmp(key, LEADER_KEY) == 0)
    {
      json_decref(l->leader);
      l->leader = obj;
      l->leader_rev = obj ? ev->rev : 0;
      if (l->leading && l->enabled && (obj == NULL || ev->rev != l->fence_rev))
        {
          l->leading = false;
          fprintf(stderr, "skiffd: %s: leadership lost (leader key %s)\n", l->name,
                  obj ? "taken" : "gone");
        }
      if (obj == NULL)
        l->next_campaign = 0; /* try at once */
      return;
    }
  if (strncmp(key, SERVERS_PREFIX, strlen(SERVERS_PREFIX)) == 0)
    {
      const char *name = key + strlen(SERVERS_PREFIX);
      if (obj)
        json_object_set_new(l->peers, name, obj);
      else
        json_object_del(l->peers, name);
      if (strcmp(name, l->name) == 0 && obj == NULL)
        l->publish_needed = true;
      return;
    }
  json_decref(obj);
}

/* ---- session, election, presence ---- */

static void gained(struct leader *l)
{
  /* The server starts its controllers afresh (leader_step's answer): from what the store
   * says, with the grace a restart gives nodes. */
  l->just_gained = true;
  fprintf(stderr, "skiffd: %s: leading (lease %llx, leader key revision %lld)\n", l->name,
          (unsigned long long)l->lease, (long long)l->fence_rev);
}

static void lose(struct leader *l, const char *why)
{
  if (l->leading)
    fprintf(stderr, "skiffd: %s: stopped leading: %s\n", l->name, why);
  l->leading = false;
}

static void session(struct leader *l, double now)
{
  cleanup_err struct skiff_err *err = NULL;
  if (l->lease == 0)
    {
      if (now < l->next_grant)
        return;
      int64_t id = 0;
      /* now is before the grant was sent: a safe start for the TTL's count. */
      if (store_lease_grant(l->store, (int)(l->ttl + 0.5), &id, &err) < 0
          || store_lease_keep(l->store, id, (int)(l->ttl + 0.5), &err) < 0)
        {
          l->next_grant = now + 0.5;
          return;
        }
      l->lease = id;
      l->renewed_sent = now;
      l->publish_needed = true;
      return;
    }
  /* Renewals run in the store's keeper thread (a busy loop must not let the lease lapse);
   * here only what they achieved. */
  double sent = 0;
  int r = store_lease_status(l->store, l->lease, &sent);
  if (r != 0)
    {
      lose(l, r == STORE_EXPIRED ? "lease expired" : "lease no longer kept");
      l->lease = 0;
      return;
    }
  if (sent > l->renewed_sent)
    {
      l->renewed_sent = sent;
      /* Stepped down while etcd was out of reach, but the lease lived through it and the
       * leader key is still the one we created: no one else can have led meanwhile. */
      if (!l->leading && l->fence_rev > 0 && l->leader_rev == l->fence_rev
          && cluster_now() < sent + l->ttl - 0.25)
        {
          l->leading = true;
          gained(l);
        }
    }
  if (l->leading && cluster_now() > l->renewed_sent + l->ttl - 0.25)
    lose(l, "lease not renewed in time (etcd unreachable?)");
}

static void campaign(struct leader *l, double now)
{
  if (l->leading || l->lease == 0 || l->leader != NULL || now < l->next_campaign)
    return;
  l->next_campaign = now + 1.0;
  cleanup_free char *since = model_time_string(time(NULL));
  json_t *v = json_pack("{s:s,s:s,s:s}", "name", l->name, "url", l->url, "since", since);
  cleanup_free char *val = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  cleanup_err struct skiff_err *err = NULL;
  int64_t rev = 0;
  if (store_put_lease(l->store, LEADER_KEY, val, STORE_ABSENT, l->lease, &rev, &err) != 0)
    return; /* another server got there first (its key arrives through the watch) */
  /* Ours from revision rev: a later change of the key (seen in leader_on_change) ends it. */
  l->fence_rev = rev;
  l->leading = true;
  gained(l);
}

/* Nodes this server heard itself within half the grace (not those the leader merged in).
 * Heartbeat times are the cluster's clock (cluster_clock). */
static json_t *heard_nodes(struct leader *l)
{
  json_t *names = json_array();
  double now = cluster_clock(l->cl), grace = cluster_pace(l->cl)->grace;
  for (size_t i = 0; i < l->cl->view.nnodes; i++)
    {
      struct view_node *n = l->cl->view.node_list[i];
      json_t *m = json_object_get(l->merged, n->name);
      if (n->heartbeat <= 0 || (m && json_real_value(m) == n->heartbeat))
        continue;
      if (now - n->heartbeat <= grace / 2)
        json_array_append_new(names, json_string(n->name));
    }
  return names;
}

static void publish(struct leader *l, double now)
{
  if (l->lease == 0 || now < l->next_publish)
    return;
  l->next_publish = now + 0.2;
  json_t *nodes = heard_nodes(l);
  if (!l->publish_needed && json_equal(nodes, l->published))
    {
      json_decref(nodes);
      return;
    }
  json_t *v = json_pack("{s:s,s:s,s:s,s:O}", "name", l->name, "url", l->url, "started", l->started,
                        "nodes", nodes);
  cleanup_free char *val = json_dumps(v, JSON_COMPACT);
  cleanup_free char *key = xasprintf("%s%s", SERVERS_PREFIX, l->name);
  json_decref(v);
  cleanup_err struct skiff_err *err = NULL;
  if (store_put_lease(l->store, key, val, STORE_ANY_REV, l->lease, NULL, &err) == 0)
    {
      json_decref(l->published);
      l->published = nodes;
      l->publish_needed = false;
    }
  else
    json_decref(nodes);
}

/* map[key] = t, as a JSON real. */
static void set_time(json_t *map, const char *key, double t)
{
  json_t *v = json_object_get(map, key);
  if (v)
    json_real_set(v, t);
  else
    json_object_set_new(map, key, json_real(t));
}

/* The leader: a node in another server's list is alive now; one that just left every list
 * was last heard half a grace ago (that is when its server dropped it). */
static void merge_peer_heartbeats(struct leader *l, double now)
{
  if (now < l->next_merge)
    return;
  l->next_merge = now + 0.25;
  double hbnow = cluster_clock(l->cl), grace = cluster_pace(l->cl)->grace;
  json_t *seen = json_object();
  const char *pname, *node;
  json_t *p, *v;
  json_object_foreach(l->peers, pname, p)
  {
    if (strcmp(pname, l->name) == 0)
      continue;
    size_t i;
    json_array_foreach(json_object_get(p, "nodes"), i, v)
    {
      if (json_is_string(v))
        json_object_set_new(seen, json_string_value(v), json_true());
    }
  }
  json_object_foreach(seen, node, v)
  {
    if (view_node(&l->cl->view, node) == NULL)
      continue;
    cluster_heartbeat(l->cl, node, hbnow);
    set_time(l->merged, node, hbnow);
  }
  json_object_foreach(l->peer_seen, node, v)
  {
    struct view_node *n = view_node(&l->cl->view, node);
    json_t *m = json_object_get(l->merged, node);
    if (json_object_get(seen, node) || n == NULL || m == NULL || json_real_value(m) != n->heartbeat)
      continue;
    n->heartbeat = hbnow - grace / 2;
    json_real_set(m, n->heartbeat);
  }
  json_decref(l->peer_seen);
  l->peer_seen = seen;
}

bool leader_step(struct leader *l, double now)
{
  if (l == NULL || !l->enabled)
    return false;
  session(l, now);
  campaign(l, now);
  publish(l, now);
  if (l->leading)
    merge_peer_heartbeats(l, now);
  bool gained_now = l->just_gained && l->leading;
  l->just_gained = false;
  return gained_now;
}

void leader_resign(struct leader *l)
{
  if (l == NULL || !l->enabled || l->lease == 0)
    return;
  /* Revoking the lease deletes /leader and our presence at once: the next leader need not
   * wait for the TTL. */
  cleanup_err struct skiff_err *err = NULL;
  if (store_lease_revoke(l->store, l->lease, &err) < 0)
    fprintf(stderr, "skiffd: %s: resign: %s\n", l->name, err->msg);
  l->lease = 0;
  l->leading = false;
}

/* ---- fencing ---- */

bool leader_fence(const struct leader *l, struct store_op *op)
{
  if (l == NULL || !l->enabled)
    return false;
  *op = (struct store_op){.type = STORE_CHECK, .key = LEADER_KEY, .expect_rev = l->fence_rev};
  return true;
}

void leader_fence_failed(struct leader *l)
{
  lose(l, "a controller write was fenced off (leader key changed)");
}

/* ---- what the API shows ---- */

json_t *leader_servers(void *data)
{
  struct leader *l = data;
  json_t *items = json_array();
  if (!l->enabled)
    {
      json_t *nodes = heard_nodes(l);
      json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:b,s:b,s:I}", "name", l->name, "url",
                                             l->url, "started", l->started, "leader", 1, "self", 1,
                                             "nodes", (json_int_t)json_array_size(nodes)));
      json_decref(nodes);
      return items;
    }
  const char *name;
  json_t *p;
  json_object_foreach(l->peers, name, p)
  {
    json_array_append_new(
        items, json_pack("{s:s,s:s,s:s,s:b,s:b,s:I}", "name", name, "url", model_str(p, "url", ""),
                         "started", model_str(p, "started", ""), "leader",
                         strcmp(name, leader_name(l)) == 0, "self", strcmp(name, l->name) == 0,
                         "nodes", (json_int_t)json_array_size(json_object_get(p, "nodes"))));
  }
  return items;
}

json_t *leader_status(void *data)
{
  struct leader *l = data;
  return json_pack("{s:s,s:s,s:b,s:s}", "server", l->name, "leader", leader_name(l), "leading",
                   leader_leading(l), "store", store_backend(l->store));
}

void leader_write_metrics(const struct leader *l, FILE *f)
{
  fprintf(f, "# TYPE skiff_leader gauge\nskiff_leader %d\n", leader_leading(l) ? 1 : 0);
}
