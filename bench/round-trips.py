#!/usr/bin/env python3
"""Where a single session's time goes: the mean round trip of each step of one SMTP
transaction (connect to greeting, EHLO, MAIL, RCPT, DATA, message to its 250, QUIT), over
N transactions on one session after another, each a new connection, 2 KB, one recipient
(the shape of bench/run.sh). Run it against mxguard and the peers to see which step differs.

    python3 bench/round-trips.py PORT [N=3000]

Loopback only. The first fifth of the transactions warm up and are not counted.
"""
import socket
import sys
import time

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
body = b"Subject: round trips\r\n\r\n" + (b"x" * 76 + b"\r\n") * 25 + b".\r\n"
commands = [b"EHLO client.example.org\r\n", b"MAIL FROM:<sender@example.org>\r\n",
            b"RCPT TO:<user@example.test>\r\n", b"DATA\r\n", body, b"QUIT\r\n"]
steps = ["connect+greeting", "EHLO", "MAIL", "RCPT", "DATA", "message+250", "QUIT"]


def reply(s: socket.socket) -> bytes:
    """Reads one whole (possibly multi-line) reply; fails on a 4xx/5xx, which would skew the figures."""
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            raise SystemExit(f"connection closed after {buf!r}")
        buf += d
        lines = buf.split(b"\r\n")
        if len(lines) >= 2 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            if buf[:1] in (b"4", b"5"):
                raise SystemExit(f"refused: {buf!r}")
            return buf


total = [0.0] * len(steps)
warm = n // 5
for i in range(n):
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reply(s)
        marks = [time.perf_counter()]
        for c in commands:
            s.sendall(c)
            reply(s)
            marks.append(time.perf_counter())
    if i >= warm:
        total[0] += marks[0] - t
        for j in range(1, len(marks)):
            total[j] += marks[j] - marks[j - 1]
m = n - warm
print(" ".join(f"{k} {1e6 * v / m:.0f}" for k, v in zip(steps, total)), f"| all {1e6 * sum(total) / m:.0f} µs")
