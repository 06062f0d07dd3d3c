#!/usr/bin/env python3
"""Hostile-client runs against the release binary, one fresh exporter per attack, each on
loopback with a bounded number of requests. Prints one line of figures per attack; BENCHMARKS.md
reports them.

    cargo build --release --bin platformsh-exporter --example h2_attack
    python3 scripts/hostile.py [attack ...]

Attacks: idle, http2, stalled, bcrypt, combinations, brim, amplify, unread, tombstones,
commits, contention (default: all).
"""
import base64
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# Another build (e.g. an older commit's) to compare: HOSTILE_BINARY=path/to/platformsh-exporter.
BINARY = os.environ.get("HOSTILE_BINARY", "target/release/platformsh-exporter")
PORT = 19970
SEED = json.load(open("tests/fixtures/push-success-seed.json"))
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Exporter:
    """The release binary on 127.0.0.1:PORT with a fresh store."""

    def __init__(self, *flags):
        self.dir = tempfile.mkdtemp()
        self.process = subprocess.Popen(
            [BINARY, f"--web.listen-address=127.0.0.1:{PORT}",
             f"--storage.path={self.dir}/store.db", "--log.level=error", *flags])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", PORT)).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the exporter did not start")

    def status(self, key):
        """A VmRSS/VmHWM line of /proc/PID/status, in MB."""
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait()


def request(method, path, body=None, headers=None, timeout=60):
    """One request on a new connection: (status, body, seconds); status "no answer" when none
    came within `timeout`."""
    started = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data, time.monotonic() - started
    except OSError:
        return "no answer", b"", time.monotonic() - started


def delivery(n, **fields):
    body = dict(SEED, id=f"hostile-{n}-{time.monotonic_ns()}")
    body.update(fields)
    return json.dumps(body)


def small_delivery(n):
    return json.dumps({"id": f"small-{n}-{time.monotonic_ns()}", "type": "environment.push",
                       "project": "p", "state": "complete", "result": "success",
                       "completed_at": "2026-11-29T10:00:00Z",
                       "payload": {"environment": {"name": "main"}}})


def close_times(sockets, seconds):
    """When (seconds from now) the server closed each of `sockets`, watched in parallel; None
    if still open after `seconds`."""
    started = time.monotonic()
    times = [None] * len(sockets)

    def watch(i, s):
        s.settimeout(seconds)
        try:
            while s.recv(65536):
                pass
        except socket.timeout:
            return
        except OSError:
            pass
        times[i] = time.monotonic() - started
    threads = [threading.Thread(target=watch, args=(i, s)) for i, s in enumerate(sockets)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return times


def closed_within(sockets, seconds):
    """How many of `sockets` the server closed within `seconds`."""
    return sum(t is not None for t in close_times(sockets, seconds))


def idle():
    """1 100 connections that send nothing and 100 that send half an HTTP/2 preface, with the
    default --web.max-connections=1024: a delivery sent after them must get its 202 within the
    request timeout plus a second, and every held connection must be closed by then."""
    e = Exporter("--web.request-timeout=5s")
    held = []

    def hold(n, preface):
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
            except OSError:
                continue  # never accepted: the slots stayed held
            if preface:
                s.sendall(H2_PREFACE[:10])
            held.append(s)
    # In parallel: the kernel retries a connection past the accept queue after a second.
    threads = [threading.Thread(target=hold, args=(55, False)) for _ in range(20)]
    threads += [threading.Thread(target=hold, args=(5, True)) for _ in range(20)]
    started = time.monotonic()
    [t.start() for t in threads]
    time.sleep(1)
    status, _, seconds = request("POST", "/webhook", delivery(0))
    [t.join() for t in threads]
    opened = time.monotonic() - started
    closed = closed_within(held, 7)
    print(f"idle: 1100 idle + 100 partial-preface connections (all open after {opened:.1f} s); "
          f"a delivery sent 1 s in, every slot held, got {status} after {seconds:.2f} s "
          f"(request timeout 5 s); {closed}/{len(held)} held connections closed by the server; "
          f"peak RSS {e.status('VmHWM'):.1f} MB")
    e.stop()


def http2():
    """600 HTTP/2 connections (h2c) each sending 1 MiB of a body and stalling, with a 16 MiB
    body budget (examples/h2_attack.rs: Python's standard library speaks no HTTP/2)."""
    e = Exporter("--webhook.body-memory-bytes=16777216")
    attack = "target/release/examples/h2_attack"
    if not os.path.exists(attack):
        subprocess.run(["cargo", "build", "--release", "--example", "h2_attack"], check=True)
    subprocess.run([attack, f"127.0.0.1:{PORT}", "600", str(e.process.pid)], check=True)
    e.stop()


def stalled():
    """Four bodies just under 1 MiB that stall, with a 4 MiB budget: a 300-byte delivery must
    not wait for them."""
    e = Exporter("--webhook.body-memory-bytes=4194304", "--webhook.max-body-bytes=1048576",
                 "--web.request-timeout=30s")
    held = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
        s.sendall(b" " * (1048576 - 100))
        held.append(s)
    time.sleep(0.3)
    body = small_delivery(0)
    status, _, seconds = request("POST", "/webhook", body)
    cut = close_times(held, 40)
    cut = ", ".join("open" if t is None else f"{t + 0.3:.1f} s" for t in sorted(cut))
    print(f"stalled: 4 stalled bodies of 1 MiB - 100 B (budget 4 MiB); a {len(body)}-byte "
          f"delivery got {status} after {seconds * 1000:.1f} ms; the stalled ones were cut off "
          f"with 408 after {cut} (gap timeout 10 s; those still waiting for budget then are cut "
          f"a gap later)")
    e.stop()


def timed_post(c, body):
    """Seconds for one delivery on connection `c`, which must be accepted."""
    started = time.monotonic()
    c.request("POST", "/webhook", body)
    r = c.getresponse()
    r.read()
    assert r.status in (200, 202), r.status
    return time.monotonic() - started


def latencies(n, body_of):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    times = sorted(timed_post(c, body_of(i)) for i in range(n))
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000


def basic_auth():
    """64 clients sending wrong passwords (for a known and an unknown user) while deliveries
    are timed; and how long each kind of refusal takes."""
    # A bcrypt hash of "s3cret" at cost 10, as `htpasswd -nBC 10` makes (Python's crypt
    # module, in Debian's Python 3.11).
    import crypt
    hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
    web = os.path.join(tempfile.mkdtemp(), "web.yml")
    open(web, "w").write(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    e = Exporter(f"--web.config.file={web}")

    def auth(user_password):
        return {"Authorization": "Basic " + base64.b64encode(user_password.encode()).decode()}
    known = sorted(request("GET", "/metrics", headers=auth("prometheus:wrong"))[2]
                   for _ in range(5))[2]
    unknown = sorted(request("GET", "/metrics", headers=auth("mallory:wrong"))[2]
                     for _ in range(5))[2]
    right = request("GET", "/metrics", headers=auth("prometheus:s3cret"))[0]
    quiet = latencies(300, lambda i: delivery(f"q{i}"))
    stop = threading.Event()
    refused = [0]

    def flood(t):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        i = 0
        while not stop.is_set():
            user = "prometheus" if t % 2 else f"user{t}"
            c.request("GET", "/metrics", headers=auth(f"{user}:wrong{i}"))
            r = c.getresponse()
            r.read()
            refused[0] += r.status == 401
            i += 1
    threads = [threading.Thread(target=flood, args=(t,)) for t in range(64)]
    [t.start() for t in threads]
    time.sleep(1)
    loud = latencies(300, lambda i: delivery(f"l{i}"))
    scrape = request("GET", "/metrics", headers=auth("prometheus:s3cret"))
    stop.set()
    [t.join() for t in threads]
    print(f"bcrypt: refusal of a known user {known * 1000:.0f} ms, unknown user "
          f"{unknown * 1000:.0f} ms; right password {right}; webhook p50/p99 "
          f"{quiet[0]:.1f}/{quiet[1]:.1f} ms quiet, {loud[0]:.1f}/{loud[1]:.1f} ms under 64 "
          f"wrong-password clients ({refused[0]} refused); scrape with the right password "
          f"during the flood {scrape[0]} in {scrape[2] * 1000:.0f} ms")
    e.stop()


def combinations():
    """100 000 deliveries, each a new (project, environment, type) combination within every
    label cap, from 8 senders while 200 clients hold half-sent bodies."""
    e = Exporter()
    idle_rss = e.status("VmRSS")
    slow = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"id\":")
        slow.append(s)
    template = json.dumps(dict(SEED, id="@ID@", project="@P@", type="@T@", payload=dict(
        SEED["payload"], environment=dict(SEED["payload"]["environment"], name="@E@"))))
    total, senders = 100_000, 8

    def flood(t):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for i in range(t, total, senders):
            body = (template.replace("@ID@", f"c{i}").replace("@P@", f"p{i % 499}")
                    .replace("@E@", f"e{i % 10}").replace("@T@", f"environment.t{i % 299}"))
            c.request("POST", "/webhook", body)
            r = c.getresponse()
            r.read()
            assert r.status == 202, r.status
    threads = [threading.Thread(target=flood, args=(t,)) for t in range(senders)]
    started = time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    flooded = time.monotonic() - started
    scrapes = sorted(request("GET", "/metrics") for _ in range(11))
    times = sorted(s[2] for s in scrapes)
    text = scrapes[0][1]
    lines = text.count(b"\n")
    print(f"combinations: {total} deliveries of distinct (project, environment, type) in "
          f"{flooded:.1f} s; /metrics {len(text) / 1e6:.1f} MB, {lines} lines, median "
          f"{times[5] * 1000:.0f} ms; RSS idle {idle_rss:.1f} MB, after {e.status('VmRSS'):.1f} "
          f"MB, peak {e.status('VmHWM'):.1f} MB")
    e.stop()


def fill_brim():
    """Fills every default cap (see brim); returns the number of deliveries."""
    template = json.dumps(dict(SEED, id="@ID@", project="@P@", type="@T@", state="@S@",
                               result="@R@", timings={"wait": 1, "build": 20, "deploy": 30,
                                                      "execute": 2},
                               payload=dict(SEED["payload"], environment=dict(
                                   SEED["payload"]["environment"], name="@E@"))))
    bodies = []
    for c in range(2000):
        for result, state in (("success", "complete"), ("failure", "complete"),
                              ("failure", "cancelled")):
            bodies.append((f"b{c}{result}{state}", f"p{c % 500}", f"e{c % 10}",
                           f"environment.t{c // 500}", state, result))
    for env in range(5000):
        bodies.append((f"d{env}", f"p{env % 500}", f"e{env // 500}", "environment.push",
                       "complete", "success"))
    for u in range(10_000):
        state = ("pending", "scheduled", "staged", "in_progress")[u % 4]
        bodies.append((f"u{u}", f"p{(u // 4) % 500}", f"e{(u // 4) // 500}",
                       "environment.push", state, "success"))

    def flood(t):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for (i, p, env, kind, state, result) in bodies[t::8]:
            body = (template.replace("@ID@", i).replace("@P@", p).replace("@E@", env)
                    .replace("@T@", kind).replace("@S@", state).replace("@R@", result))
            c.request("POST", "/webhook", body)
            r = c.getresponse()
            r.read()
            assert r.status == 202, (r.status, body[:200])
    threads = [threading.Thread(target=flood, args=(t,)) for t in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return len(bodies)


def brim():
    """Every cap filled to the brim with the default flags: 2 000 label sets each with a
    success, a failure and a cancellation carrying all four phase timings, a deployment on each
    of 5 000 environments, and 10 000 unfinished activities in every state. The most series
    the defaults allow."""
    e = Exporter()
    delivered = fill_brim()
    scrapes = sorted(request("GET", "/metrics") for _ in range(11))
    text = scrapes[0][1]
    times = sorted(s[2] for s in scrapes)
    activity = [line for line in text.split(b"\n")
                if line.startswith(b"platformsh_") and not line.startswith(b"platformsh_exp")]
    print(f"brim: {delivered} deliveries filling every default cap; /metrics "
          f"{len(text) / 1e6:.1f} MB, {len(activity)} activity sample lines, median "
          f"{times[5] * 1000:.0f} ms; RSS after {e.status('VmRSS'):.1f} MB, peak "
          f"{e.status('VmHWM'):.1f} MB")
    e.stop()


def amplify():
    """12 bodies of 16 MiB at once, each an `environments` array of 5.6 million empty
    strings."""
    e = Exporter()
    seed = {k: v for k, v in SEED.items() if k != "environments"}
    size = 16 * 1024 * 1024 - 1

    def post(n):
        body = json.dumps(dict(seed, id=f"amp-{n}"))[:-1].encode() + b',"environments":["main"'
        body += b',""' * ((size - len(body) - 2) // 3) + b"]}"
        status, _, _ = request("POST", "/webhook", body)
        assert status == 202, status
    threads = [threading.Thread(target=post, args=(n,)) for n in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(f"amplify: 12 concurrent 16 MiB bodies of 5.6 M empty strings accepted; peak RSS "
          f"{e.status('VmHWM'):.1f} MB")
    e.stop()


def closed_unread(sockets, seconds):
    """When (seconds from now, plus the 2 s already waited) the server let go of each of
    `sockets`, sorted, without reading them: from the server side's TCP state (`ss`), which
    leaves ESTABLISHED when the exporter closes or resets it (a FIN behind an unread answer
    never reaches the client, so the client's side cannot tell)."""
    started = time.monotonic()
    ports = {s.getsockname()[1]: i for i, s in enumerate(sockets)}
    times = {}
    while len(times) < len(sockets) and time.monotonic() - started < seconds:
        listed = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{PORT} )"],
                                capture_output=True, text=True).stdout
        open_ports = {int(line.split()[-1].rsplit(":", 1)[1]) for line in listed.splitlines()}
        for port, i in ports.items():
            if i not in times and port not in open_ports:
                times[i] = time.monotonic() - started + 2
        time.sleep(0.1)
    return sorted(times.values())


def unread():
    """At the caps (brim), 100 scrapes whose client sends the request and never reads the
    answer (a 4 KiB receive buffer), `--web.request-timeout=10s`; a delivery sent 2 s in."""
    e = Exporter("--web.request-timeout=10s")
    fill_brim()
    before = e.status("VmRSS")
    held = []
    for n in range(100):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", PORT))
        encoding = "gzip" if n % 2 else "identity"
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {encoding}\r\n\r\n"
                  .encode())
        held.append(s)
    time.sleep(2)
    status, _, seconds = request("POST", "/webhook", delivery("unread"))
    closed = closed_unread(held, 58)
    scrape = request("GET", "/metrics")
    print(f"unread: 100 unread scrapes at the caps (half gzip; request timeout 10 s); a delivery "
          f"2 s in got {status} after {seconds * 1000:.1f} ms; {len(closed)}/100 closed by the "
          f"server, the first after {closed[0] if closed else float('nan'):.1f} s, the median "
          f"{closed[len(closed) // 2] if closed else float('nan'):.1f} s, the last "
          f"{closed[-1] if closed else float('nan'):.1f} s; RSS before "
          f"{before:.1f} MB, peak {e.status('VmHWM'):.1f} MB, after {e.status('VmRSS'):.1f} MB; "
          f"a scrape after them {scrape[0]} in {scrape[2] * 1000:.0f} ms")
    e.stop()


def tombstones():
    """30 000 deletions of new environments, all dated the same instant: the time per
    delivery for the first and the last thousand (each delete scanned every tombstone)."""
    e = Exporter()
    total = 30_000
    at = "2026-11-29T10:00:00Z"

    def body(i):
        return json.dumps({"id": f"del-{i}", "type": "environment.delete", "project": "p",
                           "state": "complete", "result": "success", "created_at": at,
                           "started_at": at, "completed_at": at, "updated_at": at,
                           "payload": {"environment": {"name": f"gone-{i}",
                                                       "type": "development"}}})
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    times = [timed_post(c, body(i)) for i in range(total)]

    def median(xs):
        return sorted(xs)[len(xs) // 2] * 1000
    print(f"tombstones: {total} deletions dated the same instant, one sender; median per "
          f"delivery {median(times[:1000]):.2f} ms for the first thousand, "
          f"{median(times[-1000:]):.2f} ms for the last; peak RSS {e.status('VmHWM'):.1f} MB")
    e.stop()


def commits():
    """Pushes of 16 MiB listing as many commits as fit (about 290 000, one authored in the
    year 1): one, then 8 at once."""
    e = Exporter()
    size = 16 * 1024 * 1024 - 1
    # author.date is epoch seconds: 2026-11-29 09:00, and 0001-01-01 for one of them.
    entry = '{"sha":"%040x","author":{"date":1796288400}}'
    year_one = '{"sha":"%040x","author":{"date":-62135596800}}' % 0

    def body(n):
        head = json.dumps(dict(SEED, id=f"commits-{n}-{time.monotonic_ns()}",
                               payload=dict(SEED["payload"], commits=[])))
        head, tail = head.split('"commits": []')
        parts = [head, '"commits": [', year_one]
        length = sum(map(len, parts)) + len(tail) + 2
        i = 1
        while length + len(entry % i) + 1 < size:
            piece = "," + entry % (n * 10_000_000 + i)
            parts.append(piece)
            length += len(piece)
            i += 1
        parts += ["]", tail]
        return "".join(parts).encode(), i

    one, listed = body(0)
    status, _, seconds = request("POST", "/webhook", one)
    single = e.status("VmHWM")
    bodies = [body(n)[0] for n in range(1, 9)]
    statuses = []

    def post(b):
        statuses.append(request("POST", "/webhook", b)[0])
    threads = [threading.Thread(target=post, args=(b,)) for b in bodies]
    started = time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    eight = time.monotonic() - started
    text = request("GET", "/metrics")[1].decode()
    skipped = {}
    for line in text.splitlines():
        if line.startswith("platformsh_exporter_observations_skipped_total{") and (
                "lead_time" in line) and not line.endswith(" 0"):
            skipped[line.split("{")[1].split("}")[0]] = float(line.split()[-1])
    stored = subprocess.run(["sqlite3", f"{e.dir}/store.db",
                             "select sum(length(commit_list)) from activities"],
                            capture_output=True, text=True).stdout.strip() or "(no sqlite3)"
    print(f"commits: a {len(one) / 1e6:.1f} MB push listing {listed} commits got {status} in "
          f"{seconds:.2f} s, peak RSS {single:.1f} MB; 8 more at once {sorted(set(statuses))} in "
          f"{eight:.1f} s, peak RSS {e.status('VmHWM'):.1f} MB; skipped {skipped}; bytes of "
          f"commit lists stored {stored}")
    e.stop()


def scrape_until(n, stop, scraped):
    """Scrapes in a loop until `stop`: text, gzip or OpenMetrics by `n`; counts into `scraped`
    (scrapes, bytes)."""
    headers = [{}, {"Accept-Encoding": "gzip"},
               {"Accept": "application/openmetrics-text; version=1.0.0"}][n % 3]
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    while not stop.is_set():
        c.request("GET", "/metrics", headers=headers)
        r = c.getresponse()
        data = r.read()
        with scraped.get_lock():
            scraped[0] += 1
            scraped[1] += len(data)


def contention():
    """At the caps (brim), 16 senders post while 16 scrapers loop over text, gzip and
    OpenMetrics: the senders' latency against the same senders with no scraper."""
    e = Exporter()
    fill_brim()
    senders, per_sender = 16, 150

    def timed(tag):
        times = []
        lock = threading.Lock()

        def send(t):
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
            mine = [timed_post(c, delivery(f"{tag}-{t}-{i}")) for i in range(per_sender)]
            with lock:
                times.extend(mine)
        threads = [threading.Thread(target=send, args=(t,)) for t in range(senders)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        times.sort()
        return times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000

    quiet = timed("quiet")
    # Scrapers in processes of their own: in the senders' interpreter, reading megabytes would
    # hold its lock and delay the senders' timing, not the exporter's answers.
    stop = multiprocessing.Event()
    scraped = multiprocessing.Array("d", [0, 0])
    scrapers = [multiprocessing.Process(target=scrape_until, args=(n, stop, scraped))
                for n in range(16)]
    [p.start() for p in scrapers]
    time.sleep(1)
    loud = timed("loud")
    stop.set()
    [p.join() for p in scrapers]
    print(f"contention: at the caps, {senders} senders x {per_sender} deliveries: webhook "
          f"p50/p99 {quiet[0]:.1f}/{quiet[1]:.1f} ms alone, {loud[0]:.1f}/{loud[1]:.1f} ms "
          f"under 16 scrapers (text, gzip, OpenMetrics; {scraped[0]:.0f} scrapes, "
          f"{scraped[1] / 1e6:.0f} MB); p99 ratio {loud[1] / quiet[1]:.1f}; peak RSS "
          f"{e.status('VmHWM'):.1f} MB")
    e.stop()


ATTACKS = {"idle": idle, "http2": http2, "stalled": stalled, "bcrypt": basic_auth,
           "combinations": combinations, "brim": brim, "amplify": amplify, "unread": unread,
           "tombstones": tombstones, "commits": commits, "contention": contention}

if __name__ == "__main__":
    for name in sys.argv[1:] or ATTACKS:
        ATTACKS[name]()
