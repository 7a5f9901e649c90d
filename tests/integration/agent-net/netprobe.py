#!/usr/bin/env python3
"""netprobe.py - clients of a node port for the network tests (run inside a host namespace).

  netprobe.py poll HOST PORT present|absent NAME ROUND TIMEOUT
      Rounds of ROUND requests (each a new connection) to http://HOST:PORT/api/info until
      NAME answers (present) or a whole round passes without it (absent); prints the Unix
      time at which that was seen (present: the answer; absent: the start of the clean
      round).  Prints "started" after the first round that did not end it, so a test can
      make its change once the probe runs.  Exit 1 after TIMEOUT seconds.
  netprobe.py hold HOST PORT
      One keep-alive connection: asks /api/info, prints "replica NAME", then waits for the
      connection to end and prints "closed reset|eof TIME" (or "timeout" after 10 s).
  netprobe.py send HOST PORT TRIGGER
      As hold, but the client talks: once the file TRIGGER exists it sends one byte every
      50 ms until the connection ends ("closed reset|eof TIME"), an answer comes ("answer"),
      or 5 s pass ("timeout").  What a client of a replica that vanished under kernel NAT
      sees: nothing until it sends.
"""
import json
import socket
import sys
import time


def info(host, port, sock=None):
    s = sock or socket.create_connection((host, port), timeout=2)
    s.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the answer")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
         if l.lower().startswith(b"content-length")][0]
    while len(body) < n:
        body += s.recv(4096)
    if sock is None:
        s.close()
    return json.loads(body)["replica"]


def poll(host, port, mode, name, rnd, timeout):
    deadline = time.time() + timeout
    first = True
    while time.time() < deadline:
        start = time.time()
        seen = False
        for _ in range(rnd):
            try:
                who = info(host, port)
            except OSError:
                continue
            if who == name:
                seen = True
                if mode == "present":
                    print("%.3f" % time.time())
                    return 0
        if mode == "absent" and not seen:
            print("%.3f" % start)
            return 0
        if first:
            print("started", flush=True)
            first = False
        time.sleep(0.01)
    print("timeout")
    return 1


def hold(host, port):
    s = socket.create_connection((host, port), timeout=10)
    print("replica", info(host, port, s), flush=True)
    try:
        how = "eof" if s.recv(1) == b"" else "data"
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        print("timeout", flush=True)
        return 1
    print("closed %s %.3f" % (how, time.time()), flush=True)
    return 0


def send(host, port, trigger):
    import os
    s = socket.create_connection((host, port), timeout=10)
    print("replica", info(host, port, s), flush=True)
    deadline = time.time() + 15
    while not os.path.exists(trigger):
        if time.time() > deadline:
            print("timeout")
            return 1
        time.sleep(0.01)
    s.settimeout(0.05)
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            s.send(b"G")
            data = s.recv(1)
            print("answer" if data else "closed eof %.3f" % time.time(), flush=True)
            return 0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            print("closed reset %.3f" % time.time(), flush=True)
            return 0
    print("timeout")
    return 1


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "poll" and len(a) == 7:
        sys.exit(poll(a[1], int(a[2]), a[3], a[4], int(a[5]), float(a[6])))
    if a and a[0] == "hold" and len(a) == 3:
        sys.exit(hold(a[1], int(a[2])))
    if a and a[0] == "send" and len(a) == 4:
        sys.exit(send(a[1], int(a[2]), a[3]))
    sys.exit(__doc__)
