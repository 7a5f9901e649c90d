#!/usr/bin/env python3
"""slow_proxy.py - a reverse proxy in front of a test registry that sends blob bodies slowly,
so that a test can kill a pull in the middle of a layer, and logs every request with its
Range header, so that it can see the next pull resume.

usage: slow_proxy.py PORTFILE LOG UPSTREAM_PORT BYTES_PER_SECOND [no-range]
(binds 127.0.0.1 on a free port, writes it to PORTFILE; each request adds a line
"METHOD PATH range=<Range or ->" to LOG when it starts and "done METHOD PATH" when it ends;
with no-range the Range header is not passed on,
as from a registry that always sends whole blobs)"""
import http.client
import http.server
import os
import sys
import time

PORTFILE, LOG, UPSTREAM, RATE = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
NO_RANGE = len(sys.argv) > 5 and sys.argv[5] == "no-range"
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
if NO_RANGE:
    HOP.add("range")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        with open(LOG, "a") as f:
            f.write("%s %s range=%s\n" % (self.command, self.path, self.headers.get("Range", "-")))
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else None
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body, headers=headers)
        r = up.getresponse()
        self.send_response(r.status)
        length = r.getheader("Content-Length")
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        slow = self.command == "GET" and "/blobs/" in self.path
        chunk = max(RATE // 20, 1024) if slow else 65536
        while True:
            data = r.read(chunk)
            if not data:
                break
            self.wfile.write(data)
            self.wfile.flush()
            if slow:
                time.sleep(len(data) / RATE)
        up.close()
        with open(LOG, "a") as f:
            f.write("done %s %s\n" % (self.command, self.path))

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = relay


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
