#!/usr/bin/env python3
"""Hostile-client run against the release binary (durable mode): 200 connections hold
half-sent bodies while 8 senders post 10 000 deliveries with random project, environment and
type; /-/healthy and /metrics are polled throughout. Prints the time, the worst health+metrics
latency, the activity series and RSS (idle, after, peak).

    cargo build --release && python3 scripts/hostile.py
"""
import http.client
import json
import os
import random
import socket
import subprocess
import tempfile
import threading
import time

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
port = 19970
d = tempfile.mkdtemp()
p = subprocess.Popen(["target/release/platformsh-exporter", f"--web.listen-address=127.0.0.1:{port}", f"--storage.path={d}/s.db", "--log.level=error"])
time.sleep(0.5)
def rss(k): 
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith(k): return int(l.split()[1])
print("idle VmRSS KB", rss("VmRSS"))
seed = json.load(open("tests/fixtures/push-success-seed.json"))
# 200 slow clients holding half-sent bodies
slow = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"id\":"); slow.append(s)
def flood(t):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(1250):
        b = dict(seed); b["id"] = f"h{t}-{i}"; b["project"] = f"p{random.getrandbits(64):x}"; b["type"] = f"t{random.getrandbits(64):x}"
        b["payload"] = dict(seed["payload"]); b["payload"]["environment"] = dict(seed["payload"]["environment"], name=f"e{random.getrandbits(64):x}")
        c.request("POST", "/webhook", json.dumps(b)); r = c.getresponse(); r.read(); assert r.status == 202, r.status
ths = [threading.Thread(target=flood, args=(t,)) for t in range(8)]
t0 = time.time(); [t.start() for t in ths]
worst = 0
while any(t.is_alive() for t in ths):
    s0 = time.time(); c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/-/healthy"); assert c.getresponse().status == 200
    c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/metrics"); r = c.getresponse(); body = r.read(); assert r.status == 200
    worst = max(worst, time.time() - s0); time.sleep(0.1)
[t.join() for t in ths]
print(f"10000 deliveries with distinct project/environment/type in {time.time()-t0:.1f}s; worst /-/healthy+/metrics {worst*1000:.0f} ms")
series = sum(1 for l in body.decode().splitlines() if l.startswith("platformsh_") and not l.startswith("platformsh_exporter"))
print("activity series after flood", series)
print("after VmRSS KB", rss("VmRSS"), "peak VmHWM KB", rss("VmHWM"))
p.terminate(); p.wait()
