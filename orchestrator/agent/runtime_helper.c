/* runtime_helper.c - `skiffd agent-runtime`: the single-threaded process through which the
 * agent creates, signals, removes and enters containers (see runtime.h for why and for the
 * protocol).  It serves one request at a time from fd 3; exec requests run in a child of it
 * and are answered when that child ends (or times out).  It reaps everything it forks,
 * monitors included, and dies with the agent (PR_SET_PDEATHSIG); the containers do not:
 * their monitors live in their own sessions. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cloned_binary.h"
#include "container.h"
#include "image.h"
#include "managed.h"
#include "net.h"

#define HELPER_FD 3
#define HELPER_MAX_EXECS 256
#define HELPER_LINE_MAX (4 * 1024 * 1024)
#define HELPER_PULL_TIMEOUT 600 /* seconds a pull may take */

struct helper
{
  struct rt_config cfg;
  struct net_bridge_config net;
  struct exec_child
  {
    pid_t pid;
    json_int_t id;
    long long deadline_ms;
    double timeout;
    int err_fd; /* pull: the child's error message; -1 for exec */
  } execs[HELPER_MAX_EXECS];
  size_t nexecs;
};

static void answer(json_t *reply)
{
  char *text = json_dumps(reply, JSON_COMPACT);
  json_decref(reply);
  cleanup_free char *line = xasprintf("%s\n", text);
  free(text);
  /* the agent reads as it goes; a dead agent means PDEATHSIG is on its way */
  skiff_write_all(HELPER_FD, line, strlen(line));
}

static void answer_error(json_int_t id, const char *msg)
{
  answer(json_pack("{s:I,s:b,s:s}", "id", id, "ok", 0, "error", msg));
}

static char **strv_of(json_t *arr, size_t skip)
{
  size_t n = json_array_size(arr);
  char **v = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = skip; i < n; i++)
    v[i - skip] = xstrdup(
        json_string_value(json_array_get(arr, i)) ? json_string_value(json_array_get(arr, i)) : "");
  return v;
}

static void strv_free(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static void op_run(struct helper *h, json_int_t id, json_t *req)
{
  const char *name = json_string_value(json_object_get(req, "name"));
  const char *image = json_string_value(json_object_get(req, "image"));
  json_t *command = json_object_get(req, "command");
  cleanup_err struct skiff_err *err = NULL;
  struct image_info *img = NULL;
  if (name == NULL || image == NULL)
    return answer_error(id, "run: name and image are required");
  if (image_resolve(h->cfg.image_root, image, &img, &err) < 0)
    {
      /* a reference naming a registry was pulled before (op pull): missing here means a bare
       * name the node's store lacks, or an image removed since */
      cleanup_free char *msg
          = strstr(err->msg, "no such image") != NULL
                ? xasprintf("image \"%s\" not found on node %s", image, h->cfg.node)
                : xasprintf("image \"%s\" on node %s: %s", image, h->cfg.node, err->msg);
      return answer_error(id, msg);
    }
  char **env = strv_of(json_object_get(req, "env"), 0);
  char **cmd = json_array_size(command) > 0 ? strv_of(command, 1) : NULL;
  cleanup_free char *log = xasprintf("%s/%s.log", h->cfg.log_dir, name);
  json_t *mem = json_object_get(req, "memory"), *cpus = json_object_get(req, "cpus");
  struct managed_run_opts o = {
      .state_root = h->cfg.state_root,
      .store = h->cfg.image_root,
      .name = name,
      .image = image,
      .resolved = img,
      .cmd = cmd,
      .entrypoint = cmd ? json_string_value(json_array_get(command, 0)) : NULL,
      .env = env,
      .memory = json_is_integer(mem) ? (long long)json_integer_value(mem) : 0,
      .cpus = json_is_number(cpus) ? json_number_value(cpus) : 0,
      .detach = true,
      .net = "bridge",
      .data_root = h->cfg.data_root,
      .netcfg = &h->net,
      .log_path = log,
      .log_max = h->cfg.log_max,
  };
  int code = 0;
  int r = managed_run(&o, &code, NULL, &err);
  image_info_free(img);
  strv_free(env);
  strv_free(cmd);
  if (r < 0)
    return answer_error(id, err->msg);
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(h->cfg.state_root, name, &st, &err) < 0)
    return answer_error(id, err->msg);
  const char *ip = "";
  for (size_t i = 0; st->annotations && st->annotations[i] && st->annotations[i + 1]; i += 2)
    if (strcmp(st->annotations[i], "org.skiff.net.ip") == 0)
      ip = st->annotations[i + 1];
  answer(json_pack("{s:I,s:b,s:i,s:i,s:s}", "id", id, "ok", 1, "pid", (int)st->pid, "monitor",
                   (int)st->monitor_pid, "ip", ip));
}

static void op_signal(struct helper *h, json_int_t id, json_t *req)
{
  const char *name = json_string_value(json_object_get(req, "name"));
  int sig = (int)json_integer_value(json_object_get(req, "signal"));
  cleanup_err struct skiff_err *err = NULL;
  if (name == NULL
      || container_kill(h->cfg.state_root, name, sig, json_is_true(json_object_get(req, "all")),
                        &err)
             < 0)
    return answer_error(id, err ? err->msg : "signal: name is required");
  answer(json_pack("{s:I,s:b}", "id", id, "ok", 1));
}

static void op_remove(struct helper *h, json_int_t id, json_t *req)
{
  const char *name = json_string_value(json_object_get(req, "name"));
  cleanup_err struct skiff_err *err = NULL;
  if (name == NULL || state_validate_id(name, &err) < 0)
    return answer_error(id, err ? err->msg : "remove: name is required");
  /* the container (processes, cgroup, state, veth, lease, overlay dirs); a create killed
   * half-way may have left only its data dir, which managed_remove looks for elsewhere */
  cleanup_free char *dir = xasprintf("%s/containers/%s", h->cfg.data_root, name);
  struct stat sb;
  cleanup_free char *sd = state_dir(h->cfg.state_root, name);
  if (stat(sd, &sb) == 0
      && managed_remove(h->cfg.state_root, h->cfg.image_root, name, true, &err) < 0)
    return answer_error(id, err->msg);
  if (stat(dir, &sb) == 0 && skiff_rm_rf(dir, &err) < 0)
    return answer_error(id, err->msg);
  net_ipam_release(&h->net, name, NULL);
  answer(json_pack("{s:I,s:b}", "id", id, "ok", 1));
}

static void op_exec(struct helper *h, json_int_t id, json_t *req)
{
  const char *name = json_string_value(json_object_get(req, "name"));
  json_t *argv = json_object_get(req, "argv");
  double timeout = json_number_value(json_object_get(req, "timeout"));
  if (name == NULL || json_array_size(argv) == 0)
    return answer_error(id, "exec: name and argv are required");
  if (h->nexecs == HELPER_MAX_EXECS)
    return answer_error(id, "exec: too many probes running");
  pid_t pid = fork();
  if (pid < 0)
    return answer_error(id, "exec: fork failed");
  if (pid == 0)
    {
      int null = open("/dev/null", O_RDWR | O_CLOEXEC);
      for (int i = 0; i < 3 && null >= 0; i++)
        dup2(null, i);
      close(HELPER_FD);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, NULL);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      char **args = strv_of(argv, 0);
      struct container_exec_opts eo = {.args = args};
      int code = 0;
      struct skiff_err *err = NULL;
      if (container_exec(h->cfg.state_root, name, &eo, &code, &err) < 0)
        _exit(126);
      _exit(code & 0xff);
    }
  h->execs[h->nexecs++] = (struct exec_child){
      .pid = pid,
      .id = id,
      .deadline_ms = skiff_now_ms() + (long long)(timeout * 1000),
      .timeout = timeout,
      .err_fd = -1,
  };
}

/* Pull an image from its registry in a child, so the helper serves other requests
 * meanwhile; answered when the child ends (its error comes through a pipe). */
static void op_pull(struct helper *h, json_int_t id, json_t *req)
{
  const char *ref = json_string_value(json_object_get(req, "image"));
  int pfd[2];
  if (ref == NULL)
    return answer_error(id, "pull: image is required");
  if (h->nexecs == HELPER_MAX_EXECS)
    return answer_error(id, "pull: too many children running");
  if (pipe2(pfd, O_CLOEXEC) < 0)
    return answer_error(id, "pull: pipe failed");
  pid_t pid = fork();
  if (pid < 0)
    {
      close(pfd[0]);
      close(pfd[1]);
      return answer_error(id, "pull: fork failed");
    }
  if (pid == 0)
    {
      close(pfd[0]);
      close(HELPER_FD);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, NULL);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      /* registries, credentials and plain-HTTP exceptions as `skiff pull` takes them */
      struct image_pull_opts o
          = {.store = h->cfg.image_root,
             .ref = ref,
             .policy = IMAGE_PULL_MISSING,
             .registry = {.insecure_registries = getenv("SKIFF_INSECURE_REGISTRIES")}};
      struct skiff_err *err = NULL;
      if (image_pull(&o, NULL, &err) < 0)
        {
          skiff_write_all(pfd[1], err->msg, strlen(err->msg));
          _exit(1);
        }
      _exit(0);
    }
  close(pfd[1]);
  h->execs[h->nexecs++] = (struct exec_child){
      .pid = pid,
      .id = id,
      .deadline_ms = skiff_now_ms() + HELPER_PULL_TIMEOUT * 1000LL,
      .timeout = HELPER_PULL_TIMEOUT,
      .err_fd = pfd[0],
  };
}

static void handle_line(struct helper *h, const char *line, size_t len)
{
  json_t *req = json_loadb(line, len, 0, NULL);
  json_int_t id = json_integer_value(json_object_get(req, "id"));
  const char *op = json_string_value(json_object_get(req, "op"));
  if (op == NULL)
    answer_error(id, "request without op");
  else if (strcmp(op, "run") == 0)
    op_run(h, id, req);
  else if (strcmp(op, "signal") == 0)
    op_signal(h, id, req);
  else if (strcmp(op, "remove") == 0)
    op_remove(h, id, req);
  else if (strcmp(op, "exec") == 0)
    op_exec(h, id, req);
  else if (strcmp(op, "pull") == 0)
    op_pull(h, id, req);
  else
    answer_error(id, "unknown op");
  json_decref(req);
}

static void exec_done(struct helper *h, size_t i, json_t *reply)
{
  answer(reply);
  if (h->execs[i].err_fd >= 0)
    close(h->execs[i].err_fd);
  h->execs[i] = h->execs[--h->nexecs];
}

/* Every child that ended: monitors (nothing to say) and exec probes (answer them). */
static void reap(struct helper *h)
{
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
    for (size_t i = 0; i < h->nexecs; i++)
      if (h->execs[i].pid == pid)
        {
          int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          if (h->execs[i].err_fd >= 0 && code != 0)
            {
              /* a pull that failed: its message */
              char msg[1024];
              ssize_t n = read(h->execs[i].err_fd, msg, sizeof(msg) - 1);
              msg[n > 0 ? n : 0] = '\0';
              exec_done(h, i,
                        json_pack("{s:I,s:b,s:s}", "id", h->execs[i].id, "ok", 0, "error",
                                  n > 0 ? msg : "pull failed"));
            }
          else
            exec_done(h, i,
                      json_pack("{s:I,s:b,s:i}", "id", h->execs[i].id, "ok", 1, "code", code));
          break;
        }
}

static void expire(struct helper *h)
{
  long long now = skiff_now_ms();
  for (size_t i = 0; i < h->nexecs;)
    if (now >= h->execs[i].deadline_ms)
      {
        cleanup_free char *msg = xasprintf("timed out after %gs", h->execs[i].timeout);
        kill(h->execs[i].pid, SIGKILL); /* its command goes too: PDEATHSIG of exec */
        exec_done(h, i, json_pack("{s:I,s:b,s:s}", "id", h->execs[i].id, "ok", 0, "error", msg));
      }
    else
      i++;
}

static void helper_report(const char *line)
{
  fprintf(stderr, "skiffd agent-runtime: %s\n", line);
}

int agent_runtime_main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"node", required_argument, NULL, 'n'},       {"state-root", required_argument, NULL, 's'},
      {"image-root", required_argument, NULL, 'i'}, {"data-root", required_argument, NULL, 'd'},
      {"log-dir", required_argument, NULL, 'l'},    {"log-max", required_argument, NULL, 'm'},
      {"bridge", required_argument, NULL, 'b'},     {"subnet", required_argument, NULL, 'c'},
      {"net-dir", required_argument, NULL, 'N'},    {NULL, 0, NULL, 0},
  };
  struct helper *h = xzalloc(sizeof(*h));
  cleanup_err struct skiff_err *err = NULL;
  int opt;
  /* CVE-2019-5736: run from a sealed copy, so /proc/PID/exe of every monitor, init and
   * exec child is never the skiffd file (re-executes; argv and fd 3 carry over).  The
   * copy, not the overlay skiff's verbs use: this helper lives as long as the agent, so
   * the copy is made once, and the state root is not known before argv is parsed. */
  if (cloned_binary_ensure(argv, NULL, false, &err) < 0)
    {
      fprintf(stderr, "skiffd agent-runtime: %s\n", err->msg);
      return 1;
    }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1)
    return 1; /* the agent died before we armed the signal */
  prctl(PR_SET_NAME, "skiff-runtime");
  optind = 2; /* argv[1] is "agent-runtime" */
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
    switch (opt)
      {
        case 'n':
          h->cfg.node = optarg;
          break;
        case 's':
          h->cfg.state_root = optarg;
          break;
        case 'i':
          h->cfg.image_root = optarg;
          break;
        case 'd':
          h->cfg.data_root = optarg;
          break;
        case 'l':
          h->cfg.log_dir = optarg;
          break;
        case 'm':
          h->cfg.log_max = strtoll(optarg, NULL, 10);
          break;
        case 'b':
          h->cfg.bridge = optarg;
          break;
        case 'c':
          h->cfg.subnet = optarg;
          break;
        case 'N':
          h->cfg.net_dir = optarg;
          break;
        default:
          return 2;
      }
  if (!h->cfg.node || !h->cfg.state_root || !h->cfg.image_root || !h->cfg.data_root
      || !h->cfg.log_dir || !h->cfg.bridge || !h->cfg.subnet || !h->cfg.net_dir)
    {
      fprintf(stderr, "skiffd agent-runtime: internal command of `skiffd agent`\n");
      return 2;
    }
  skiff_set_reporter(helper_report);
  signal(SIGPIPE, SIG_IGN);
  h->net = (struct net_bridge_config){
      .bridge = h->cfg.bridge, .subnet = h->cfg.subnet, .state_dir = h->cfg.net_dir};
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  fcntl(HELPER_FD, F_SETFD, FD_CLOEXEC);
  char *buf = xmalloc(65536);
  size_t len = 0, cap = 65536;
  for (;;)
    {
      int timeout = -1;
      long long now = skiff_now_ms();
      for (size_t i = 0; i < h->nexecs; i++)
        {
          long long left = h->execs[i].deadline_ms - now;
          if (timeout < 0 || left < timeout)
            timeout = left < 0 ? 0 : (int)left;
        }
      struct pollfd p[2] = {{.fd = HELPER_FD, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
      if (poll(p, 2, timeout) < 0 && errno != EINTR)
        break;
      if (p[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            ;
          reap(h);
        }
      expire(h);
      if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (cap - len < 4096)
        {
          if (cap >= HELPER_LINE_MAX)
            break; /* a line this long is not from our agent */
          buf = xrealloc(buf, cap *= 2);
        }
      ssize_t n = read(HELPER_FD, buf + len, cap - len);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        break; /* the agent closed the socket: leave, the containers stay */
      if (n < 0)
        continue;
      len += (size_t)n;
      char *start = buf, *nl;
      while ((nl = memchr(start, '\n', len - (size_t)(start - buf))) != NULL)
        {
          handle_line(h, start, (size_t)(nl - start));
          start = nl + 1;
        }
      len -= (size_t)(start - buf);
      memmove(buf, start, len);
    }
  for (size_t i = 0; i < h->nexecs; i++)
    kill(h->execs[i].pid, SIGKILL);
  free(buf);
  free(h);
  return 0;
}
