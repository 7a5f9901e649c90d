/* etcd_proc.h - start and stop real etcd members for a unit test: free loopback ports
 * (asked of the kernel), a temp data dir per run, every member stopped by the PID this file
 * started (SIGTERM, then SIGKILL) and its dir removed.  Skips (error) when /usr/bin/etcd is
 * missing. */
#ifndef SKIFF_TEST_ETCD_PROC_H
#define SKIFF_TEST_ETCD_PROC_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "store.h"

#define ETCD_PROC_MAX 3

struct etcd_proc
{
  int n;
  pid_t pid[ETCD_PROC_MAX];
  int client_port[ETCD_PROC_MAX], peer_port[ETCD_PROC_MAX];
  char dir[64];
  char endpoints[256];
};

static int etcd_proc_free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
      && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
    port = ntohs(sa.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static pid_t etcd_proc_spawn(struct etcd_proc *p, int i, const char *cluster)
{
  char name[16], data[128], listen_c[64], listen_p[64], log[128];
  snprintf(name, sizeof(name), "m%d", i);
  snprintf(data, sizeof(data), "%s/%s", p->dir, name);
  snprintf(listen_c, sizeof(listen_c), "http://127.0.0.1:%d", p->client_port[i]);
  snprintf(listen_p, sizeof(listen_p), "http://127.0.0.1:%d", p->peer_port[i]);
  snprintf(log, sizeof(log), "%s/%s.log", p->dir, name);
  fflush(stdout);
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      dup2(fd, 1);
      dup2(fd, 2);
    }
  execl("/usr/bin/etcd", "etcd", "--name", name, "--data-dir", data, "--listen-client-urls",
        listen_c, "--advertise-client-urls", listen_c, "--listen-peer-urls", listen_p,
        "--initial-advertise-peer-urls", listen_p, "--initial-cluster", cluster,
        "--initial-cluster-state", "new", "--initial-cluster-token", p->dir, (char *)NULL);
  _exit(127);
}

/* Start members (1..3) and wait until they answer.  0, or -1 with the reason. */
static int etcd_proc_start(struct etcd_proc *p, int members, struct skiff_err **err)
{
  memset(p, 0, sizeof(*p));
  if (access("/usr/bin/etcd", X_OK) != 0)
    return skiff_error(err, errno, "no /usr/bin/etcd (make deps installs etcd-server)");
  snprintf(p->dir, sizeof(p->dir), "/tmp/skiff-etcd.XXXXXX");
  if (mkdtemp(p->dir) == NULL)
    return skiff_error(err, errno, "mkdtemp");
  p->n = members;
  char cluster[512] = "";
  for (int i = 0; i < members; i++)
    {
      p->client_port[i] = etcd_proc_free_port();
      p->peer_port[i] = etcd_proc_free_port();
      char m[96];
      snprintf(m, sizeof(m), "%sm%d=http://127.0.0.1:%d", i ? "," : "", i, p->peer_port[i]);
      strcat(cluster, m);
      char e[64];
      snprintf(e, sizeof(e), "%shttp://127.0.0.1:%d", i ? "," : "", p->client_port[i]);
      strcat(p->endpoints, e);
    }
  for (int i = 0; i < members; i++)
    p->pid[i] = etcd_proc_spawn(p, i, cluster);
  for (int tries = 0; tries < 100; tries++)
    {
      struct store *s = NULL;
      struct skiff_err *e = NULL;
      if (store_etcd_open(p->endpoints, "/probe/", &s, &e) == 0)
        {
          store_close(s);
          return 0;
        }
      skiff_err_free(&e);
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  return skiff_error(err, 0, "etcd did not answer on %s (logs in %s)", p->endpoints, p->dir);
}

static void etcd_proc_kill(struct etcd_proc *p, int i, int sig)
{
  if (p->pid[i] <= 0)
    return;
  kill(p->pid[i], sig);
  for (int t = 0; t < 50; t++)
    {
      if (waitpid(p->pid[i], NULL, WNOHANG) == p->pid[i])
        {
          p->pid[i] = 0;
          return;
        }
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  kill(p->pid[i], SIGKILL);
  waitpid(p->pid[i], NULL, 0);
  p->pid[i] = 0;
}

static void etcd_proc_stop(struct etcd_proc *p)
{
  for (int i = 0; i < p->n; i++)
    etcd_proc_kill(p, i, SIGTERM);
  if (p->dir[0])
    skiff_rm_rf(p->dir, NULL);
  p->dir[0] = '\0';
}

#endif
