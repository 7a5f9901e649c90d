#!/usr/bin/env python3
"""hostile.py - the clients a stranger on the network would run against skiffd, for the
orchestrator's auth and flood tests.  Every mode talks only to 127.0.0.0/8.

  early PORT CAFILE METHOD PATH [HEADERFILE]
      send a request's headers announcing a 1 MiB body and no byte of it; print the status
      line and the seconds it took: the server must answer on the headers alone.
  flood PORT CAFILE COUNT CONCURRENCY BYTES
      COUNT unauthenticated POST /v1/apply of BYTES each, CONCURRENCY at a time, each one
      sending its whole body as fast as the server takes it; print the statuses seen.
  idle PORT COUNT SECONDS SRC...
      open COUNT TCP connections (round robin over the source addresses SRC), send nothing,
      print "open N", then every second how many the server has closed, for SECONDS.
  many PORT COUNT SRC
      open COUNT TCP connections from SRC, send nothing; print how many the server closed
      within a second (connections over its per-client cap).
  chunked PORT CAFILE PATH HEADERFILE BYTES
      send a chunked body of up to BYTES, 1 KiB a chunk; print how many bytes went out before
      the server answered (its status) or closed the connection.
  pipeline PORT CAFILE COUNT PATH EXPECT
      send COUNT `GET PATH` on one connection with a 4 KiB receive buffer, reading nothing
      for 3 s (the answers fill the server's socket, up to the kernel's 4 MiB send buffer),
      then read them all; print how many answers came whole (200 and a body holding
      EXPECT) and the bytes left over.
"""
import socket
import ssl
import sys
import threading
import time


def tls(port, cafile, src=None):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30,
                                   source_address=(src, 0) if src else None)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def read_status(s):
    data = b""
    while b"\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def early(port, cafile, method, path, header_file=None):
    extra = ""
    if header_file:
        with open(header_file) as f:
            extra = f.read().strip() + "\r\n"
    s = tls(port, cafile)
    t0 = time.time()
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: 1048576\r\n%s\r\n" % (method, path, extra)).encode())
    status = read_status(s)
    print("%s after %.2f s" % (status, time.time() - t0))


def flood(port, cafile, count, conc, size):
    body = b"x" * 65536
    counts = {}
    lock = threading.Lock()
    todo = [count]

    def one():
        try:
            s = tls(port, cafile)
            s.sendall(("POST /v1/apply HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                       % size).encode())
            sent = 0
            try:
                while sent < size:
                    sent += s.send(body[:min(len(body), size - sent)])
            except OSError:
                pass  # the server answered and closed: what it should do
            try:
                st = read_status(s) or "closed"
            except OSError:
                st = "reset"
            s.close()
        except OSError as e:
            st = "connect failed: %s" % e.__class__.__name__
        key = st.split(" ")[1] if st.startswith("HTTP/") else st
        with lock:
            counts[key] = counts.get(key, 0) + 1

    def worker():
        while True:
            with lock:
                if todo[0] == 0:
                    return
                todo[0] -= 1
            one()

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("%d uploads of %d bytes in %.1f s: %s" % (
        count, size, time.time() - t0,
        ", ".join("%s=%d" % kv for kv in sorted(counts.items()))))


def open_raw(port, src):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
    s.setblocking(False)
    return s


def closed(s):
    """True once the server closed s (a TLS alert may come first: read past it)."""
    try:
        while True:
            if s.recv(4096) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def idle(port, count, seconds, srcs):
    socks = []
    for i in range(count):
        socks.append(open_raw(port, srcs[i % len(srcs)]))
    print("open %d" % len(socks), flush=True)
    for t in range(seconds):
        time.sleep(1)
        print("after %d s: %d closed by the server" % (t + 1, sum(closed(s) for s in socks)),
              flush=True)


def many(port, count, src):
    socks = [open_raw(port, src) for _ in range(count)]
    time.sleep(1)
    print("%d of %d closed" % (sum(closed(s) for s in socks), count))


def chunked(port, cafile, path, header_file, total):
    with open(header_file) as f:
        auth = f.read().strip()
    s = tls(port, cafile)
    s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
               "Transfer-Encoding: chunked\r\n\r\n" % (path, auth)).encode())
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    sent, status = 0, None
    s.settimeout(0.05)
    try:
        while sent < total:
            s.sendall(chunk)
            sent += 1024
            try:
                d = s.recv(4096)
                status = d.split(b"\r\n", 1)[0].decode(errors="replace") if d else "closed"
                break
            except socket.timeout:
                pass
    except (OSError, ssl.SSLError):
        status = status or "closed"
    print("%s after %d bytes" % (status or "no answer", sent))


def pipeline(port, cafile, count, path, expect):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    reqs = req * count
    sender = threading.Thread(target=s.sendall, args=(reqs,))
    sender.start()  # the server stops reading once its answers back up: send from a thread
    time.sleep(3)
    data = b""
    whole = 0
    while whole < count:
        try:
            d = s.recv(65536)
        except (OSError, ssl.SSLError):
            break
        if not d:
            break
        data += d
        # each answer: headers with Content-Length, then that many bytes
        while True:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                break
            head = data[:end].decode(errors="replace")
            n = [int(l.split(":", 1)[1]) for l in head.split("\r\n")
                 if l.lower().startswith("content-length:")]
            if not n or len(data) < end + 4 + n[0]:
                break
            if not head.startswith("HTTP/1.1 200") or expect.encode() not in data[end + 4:end + 4 + n[0]]:
                print("bad answer %d: %s" % (whole, head.splitlines()[0]))
                return
            whole += 1
            data = data[end + 4 + n[0]:]
    sender.join()
    print("%d whole answers, %d bytes left over" % (whole, len(data)))


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if mode == "early":
        early(port, a[0], a[1], a[2], a[3] if len(a) > 3 else None)
    elif mode == "flood":
        flood(port, a[0], int(a[1]), int(a[2]), int(a[3]))
    elif mode == "idle":
        idle(port, int(a[0]), int(a[1]), a[2:])
    elif mode == "many":
        many(port, int(a[0]), a[1])
    elif mode == "pipeline":
        pipeline(port, a[0], int(a[1]), a[2], a[3])
    elif mode == "chunked":
        chunked(port, a[0], a[1], a[2], int(a[3]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
