"""Peak memory of a gunicorn worker answering hostile uploads (issue #10, item 5).

Starts gunicorn (1 sync worker, DEBUG=False) on a free loopback port with a throwaway SQLite database, logs in
as a staff user and warms the worker up with a valid XLSX import. Then, for each hostile upload, it resets the
worker's peak RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux), posts the file to /api/billing/import and reads
the worker's VmHWM: the figure is the peak above the RSS of the idle, warmed-up worker.

    .venv/bin/python bench/bench_upload_bomb.py [--bomb-mb 400]

Cases: the issue's ZIP bomb (a ~1.6 MB XLSX whose sheet expands to 400 MB), a billion-laughs entity bomb, a
shared-strings table of 51 MB packed into ~125 KB (under the total cap, over the ratio cap), an external
entity (XXE), an archive with 20,000 members, and a 200 MB body (declared; only 1 MB is sent).
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import HOST, free_port, manage, prepare_database, server_env, start_gunicorn, stop
from tests.security import payloads

USERNAME = "bench-staff"
PASSWORD = "Bench-Staff-" + "p" * 12
BOUNDARY = "----bench-bomb"


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"{field} not in /proc/{pid}/status")


def _worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise SystemExit("no gunicorn worker")


def _login(port: int) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request(
        "POST", "/auth/login", body=json.dumps({"username": USERNAME, "password": PASSWORD}),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"login failed: {response.status} {data[:200]!r}")
    return json.loads(data)["access"]


def _post_file(port: int, token: str, content: bytes, *, declared: int | None = None) -> tuple[int, dict]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="planilha.xlsx"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    conn.putrequest("POST", "/api/billing/import")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(declared or len(body)))
    conn.endheaders()
    try:
        conn.send(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered (413) and closed before we finished sending: expected
    response = conn.getresponse()
    data = response.read()
    conn.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, {"raw": data[:200].decode(errors="replace")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-mb", type=int, default=400, help="uncompressed size of the ZIP bomb's sheet")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-bomb-"))
    env = server_env(
        tmp,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        UPLOADS_DIR=str(tmp / "uploads"),
        WAHA_WEBHOOK_HMAC_KEY="bench-hmac-" + "k" * 20,
    )
    for key in ("DATABASE_URL", "REDIS_URL", "Q_SYNC"):
        env.pop(key, None)
    server = None
    try:
        prepare_database(env)
        manage(
            env, "createsuperuser", "--noinput", "--username", USERNAME, "--email", "b@x.local", quiet=True
        )
        port = free_port()
        server = start_gunicorn(
            env, port, workers=1, threads=1, worker_class="sync", extra=["--timeout", "600"]
        )
        worker = _worker_pid(server.pid)
        token = _login(port)
        bomb = payloads.xlsx_zip_bomb(uncompressed_mb=args.bomb_mb)
        cases = [
            (f"ZIP bomb ({len(bomb) / 1e6:.1f} MB → {args.bomb_mb} MB)", bomb, None),
            ("billion laughs (entity bomb)", payloads.xlsx_entity_bomb(), None),
            ("shared strings: 3,000,000 × <si><t>a</t></si>", payloads.xlsx_shared_strings_bomb(), None),
            ("external entity (XXE)", payloads.xlsx_external_entity(), None),
            ("20,000 archive members", payloads.xlsx_with_many_members(20_000), None),
            ("200 MB body (1 MB sent)", b"x" * (1024 * 1024), 200 * 1024 * 1024),
        ]
        for _ in range(2):  # warm-up: imports, connections, openpyxl and defusedxml loaded
            status, _body = _post_file(port, token, payloads.workbook_bytes())
            assert status == 200, (status, _body)
        idle = _status(worker, "VmRSS")
        print(f"idle worker RSS after warm-up: {idle / 2**20:.1f} MiB (pid {worker})")
        print("| upload | answer | time | peak RSS above idle |")
        print("|---|---|---|---|")
        for label, content, declared in cases:
            Path(f"/proc/{worker}/clear_refs").write_text("5")
            base = _status(worker, "VmRSS")
            started = time.perf_counter()
            status, body = _post_file(port, token, content, declared=declared)
            elapsed = time.perf_counter() - started
            peak = _status(worker, "VmHWM")
            reason = body.get("extra", {}).get("code") or body.get("message", "")[:40]
            print(
                f"| {label} | {status} {reason} | {elapsed * 1000:.0f} ms | "
                f"{(peak - idle) / 2**20:+.1f} MiB (from {base / 2**20:.1f}) |",
                flush=True,
            )
    finally:
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
