#!/usr/bin/env python3
"""A fake "internet" host for the seal's packet-capture test: listeners that count everything
that reaches them. Run inside its own network namespace.

  internet_host.py COUNTS_FILE

Listens on TCP 8080 (HTTP: any GET gets a 1x1 PNG, like a tile server; requests for
/page-… are counted apart as the page's own), TCP 5760 (a
SITL-like port: counts connections and bytes), UDP 14550 and UDP 9 (counts datagrams).
Prints "ready" once listening; writes the counts as JSON to COUNTS_FILE on every event, so
the test reads them at any time.
"""
import json
import socket
import sys
import threading

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4c80000000049454e44ae426082"
)

counts = {"http_requests": 0, "http_from_page": 0, "tcp_5760_connections": 0,
          "tcp_5760_bytes": 0, "udp_14550": 0, "udp_9": 0}
lock = threading.Lock()


def bump(key, n=1):
    with lock:
        counts[key] += n
        with open(sys.argv[1] + ".tmp", "w") as f:
            json.dump(counts, f)
        import os
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])


def serve_http(srv):
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=http_one, args=(conn,), daemon=True).start()


def http_one(conn):
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        # The desktop test's page asks for /page-…: counted apart from tile requests.
        path = data.split(b" ", 2)[1] if data.count(b" ") >= 2 else b""
        bump("http_from_page" if path.startswith(b"/page-") else "http_requests")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: "
                     + str(len(PNG_1X1)).encode() + b"\r\nConnection: close\r\n\r\n" + PNG_1X1)


def serve_tcp(srv):
    while True:
        conn, _ = srv.accept()
        bump("tcp_5760_connections")
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def drain(conn):
    with conn:
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                return
            bump("tcp_5760_bytes", len(chunk))


def serve_udp(sock, key):
    while True:
        sock.recvfrom(65536)
        bump(key)


def main():
    threads = []
    for port, target in ((8080, serve_http), (5760, serve_tcp)):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port))
        srv.listen(16)
        threads.append(threading.Thread(target=target, args=(srv,), daemon=True))
    for port, key in ((14550, "udp_14550"), (9, "udp_9")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        threads.append(threading.Thread(target=serve_udp, args=(s, key), daemon=True))
    with open(sys.argv[1], "w") as f:
        json.dump(counts, f)
    for t in threads:
        t.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
