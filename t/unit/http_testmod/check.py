#!/usr/bin/env python3
"""Checks of the oauth2 HTTP client through the test module.

Usage: check.py NGINX_PORT SERVER_PORT TLS_PORT CA_FILE [quick]

nginx must serve "location /fetch { oauth2_http_test; }" and
"location /plain { return 200; }"; server.py must run on SERVER_PORT and
TLS_PORT.  Ends with "N passed, N failed".
"""

import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

NGX, SRV, TLS, CA = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                     sys.argv[4])
QUICK = len(sys.argv) > 5
PASSED = 0
FAILED = 0


def fetch(url, **args):
    q = {"url": url}
    q.update({k: str(v) for k, v in args.items()})
    qs = urllib.parse.urlencode(q, quote_via=urllib.parse.quote)
    u = "http://127.0.0.1:%d/fetch?%s" % (NGX, qs)
    t = time.monotonic()
    with urllib.request.urlopen(u, timeout=60) as r:
        body = r.read().decode("latin-1")
    head, _, rest = body.partition("\n")
    res = {"_ms": (time.monotonic() - t) * 1000, "_body": rest}
    # "detail" may hold spaces: split on the known keys
    keys = ["rc", "status", "error", "detail", "elapsed", "total", "done",
            "failed", "second", "ct", "len"]
    for i, k in enumerate(keys):
        start = head.index(k + "=") + len(k) + 1
        end = (head.index(" " + keys[i + 1] + "=", start)
               if i + 1 < len(keys) else len(head))
        res[k] = head[start:end]
    return res


def plain():
    t = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:%d/plain" % NGX,
                                timeout=10) as r:
        r.read()
    return (time.monotonic() - t) * 1000


def check(name, cond, info=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok - %s %s" % (name, info))
    else:
        FAILED += 1
        print("not ok - %s %s" % (name, info))


def srv(path):
    return "http://127.0.0.1:%d%s" % (SRV, path)


def main():
    cases = [
        ("http://127.0.0.1/", 1), ("http://127.1.2.3:8080/x?y", 1),
        ("http://localhost", 1), ("HTTP://LocalHost:1990/cb", 1),
        ("http://[::1]:80/", 1), ("http://[0:0:0:0:0:0:0:1]/", 1),
        ("http://[::ffff:127.0.0.1]/", 1), ("https://127.0.0.1/", 1),
        ("http://user@127.0.0.1/", 1),
        ("http://127.0.0.1@evil.example/", 0),
        ("http://127.0.0.1.evil.example/", 0),
        ("http://localhost.evil.example/", 0), ("http://128.0.0.1/", 0),
        ("http://10.0.0.1/", 0), ("http://[::2]/", 0), ("http://[::1/", 0),
        ("http://127.0.0.1:80x/", 0), ("ftp://127.0.0.1/", 0),
        ("http://", 0), ("127.0.0.1", 0), ("http://example.com/", 0),
        ("http://localhost#frag", 1), ("http://127.0.0.1?q", 1),
    ]
    wrong = []
    for url, want in cases:
        q = urllib.parse.quote(url, safe="")
        with urllib.request.urlopen("http://127.0.0.1:%d/fetch?loopback=%s"
                                    % (NGX, q), timeout=10) as resp:
            got = int(resp.read().decode().strip().split("=")[1])
        if got != want:
            wrong.append(url)
    check("url_is_loopback, %d cases" % len(cases), not wrong, str(wrong))

    r = fetch(srv("/ok"))
    check("200 fetch", r["rc"] == "0" and r["status"] == "200"
          and r["_body"] == '{"ok":true}' and r["ct"] == "application/json",
          "%.1f ms" % r["_ms"])

    r = fetch(srv("/echo?a=1"), post="code=abc&redirect_uri=x",
              auth="Basic c2VjcmV0")
    b = r["_body"]
    check("POST headers and body",
          b.startswith("POST /echo?a=1\n")
          and "Authorization: Basic c2VjcmV0" in b
          and "Content-Type: application/x-www-form-urlencoded" in b
          and "User-Agent: ngx_http_oauth2_module/0.1" in b
          and "Accept: application/json" in b
          and "Expect" not in b
          and b.endswith("code=abc&redirect_uri=x"))

    r = fetch(srv("/status?code=503"))
    check("HTTP error status is rc OK", r["rc"] == "0"
          and r["status"] == "503")

    r = fetch("http://127.0.0.1:1/x")
    check("connection refused", r["rc"] == "-1"
          and r["error"] == "connection refused", r["error"])

    r = fetch(srv("/hang"), timeout=700)
    check("timeout", r["error"] == "timed out"
          and 650 <= int(r["elapsed"]) <= 1500, "elapsed %s ms" % r["elapsed"])

    r = fetch(srv("/big?n=2000"), max=1000)
    check("cap with Content-Length", r["error"] == "response too large"
          and r["len"] == "0")

    r = fetch(srv("/stream?n=300000"), max=100000)
    check("cap while streaming", r["error"] == "response too large"
          and r["len"] == "0")

    r = fetch(srv("/big?n=1000"), max=1000)
    check("exactly max_size", r["rc"] == "0" and r["len"] == "1000")

    r = fetch(srv("/stream?n=1048576"))
    check("1 MiB streamed (default cap)", r["rc"] == "0"
          and r["len"] == "1048576")

    r = fetch(srv("/stream?n=1048577"))
    check("1 MiB + 1 refused (default cap)",
          r["error"] == "response too large")

    r = fetch("https://127.0.0.1:%d/ok" % TLS)
    check("TLS unknown CA", r["error"] ==
          "TLS certificate verification failed", r["detail"])

    r = fetch("https://localhost:%d/ok" % TLS, ca=CA)
    check("TLS with ca_file", r["rc"] == "0" and r["status"] == "200")

    r = fetch("https://127.0.0.1:%d/ok" % TLS, ca="/nonexistent.pem")
    check("bad ca_file", r["rc"] == "-1", r["error"])

    r = fetch("ftp://127.0.0.1:%d/" % SRV)
    check("ftp refused", r["error"] == "unsupported protocol")

    r = fetch(srv("/ok"), chain=20)
    check("21 fetches started from handlers", r["done"] == "21"
          and r["failed"] == "0")

    r = fetch(srv("/ok"), url2=srv("/slow?ms=2000"))
    check("pool destroyed from a handler cancels", r["second"] ==
          "cancelled" and r["_ms"] < 1500, "%.0f ms" % r["_ms"])

    seen = set()
    for _ in range(20):
        seen.add(fetch(srv("/ok"), url2=srv("/ok"))["second"])
    check("two fast fetches, one cancelling the other",
          seen <= {"done", "cancelled"}, str(sorted(seen)))

    # non-blocking: plain requests while slow fetches are pending
    n_slow = 5
    slow = []

    def run_slow():
        slow.append(fetch(srv("/slow?ms=3000")))

    threads = [threading.Thread(target=run_slow) for _ in range(n_slow)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    lat = []
    fast = None
    while len(lat) < 20:
        lat.append(plain())
        if len(lat) == 10:
            fast = fetch(srv("/ok"))
        time.sleep(0.05)
    pending = sum(1 for t in threads if t.is_alive())
    for t in threads:
        t.join()
    lat.sort()
    check("plain requests while %d slow fetches pending" % n_slow,
          pending == n_slow and lat[-1] < 100,
          "median %.1f ms, max %.1f ms, still pending %d"
          % (lat[len(lat) // 2], lat[-1], pending))
    check("fast fetch while slow ones pending", fast["rc"] == "0"
          and fast["_ms"] < 500, "%.1f ms" % fast["_ms"])
    check("slow fetches all done", all(s["rc"] == "0" for s in slow)
          and all(2900 < int(s["elapsed"]) < 4500 for s in slow),
          str([s["elapsed"] for s in slow]))

    # client gone mid-fetch: nothing to check here but the logs
    for _ in range(3 if QUICK else 10):
        s = socket.create_connection(("127.0.0.1", NGX))
        s.sendall(("GET /fetch?url=%s&url2=%s HTTP/1.1\r\nHost: x\r\n\r\n"
                   % (urllib.parse.quote(srv("/slow?ms=1000"), safe=""),
                      urllib.parse.quote(srv("/hang"), safe=""))).encode())
        time.sleep(0.1)
        s.close()
    time.sleep(0.2)
    check("alive after clients left", plain() < 1000)

    # connection reuse: many sequential fetches on few connections
    before = int(fetch(srv("/count"))["_body"].split(":")[1].rstrip("}"))
    for _ in range(20):
        fetch(srv("/ok"))
    after = int(fetch(srv("/count"))["_body"].split(":")[1].rstrip("}"))
    check("connections reused", after - before <= 2,
          "%d new connections for 21 fetches" % (after - before))

    print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
