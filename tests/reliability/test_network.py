"""Nothing leaves the machine: `lantern ingest`, `status`, `ask` and `ui` (with a question asked
through it) connect to nothing outside 127.0.0.1 or Unix sockets, with OPENAI_API_KEY and
OPENAI_BASE_URL exported and no Lantern LLM setting.

Two guards watch each command. In Python, a `sitecustomize` module installs an audit hook
(`sys.addaudithook`) on socket connects, sends and name lookups: each is logged, and any to an
address outside loopback is refused. Where `strace` is installed, it also records every native
connect() and sendto() (a C library's telemetry, a DNS query) of the command and its children.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import SAMPLE_CORPUS

from core.local_server import free_port, stop_process
from core.settings import Settings

from .harness import REPO, clean_env, lantern_argv, record

pytestmark = pytest.mark.promise("network")

GUARD = r'''
import json, os, socket, sys

_LOG = os.environ.get("LANTERN_GUARD_LOG")
_NETS = (getattr(socket, "AF_INET", 2), getattr(socket, "AF_INET6", 10))


def _loopback(host):
    host = str(host or "")
    return host in ("", "localhost", "::1", "0.0.0.0") or host.startswith(("127.", "::ffff:127."))


def _note(event, where, allowed):
    if _LOG:
        with open(_LOG, "a") as fh:
            fh.write(json.dumps({"event": event, "where": str(where), "allowed": allowed, "pid": os.getpid()}) + "\n")


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[-1]
        if getattr(sock, "family", None) not in _NETS or not isinstance(address, tuple):
            return
        host = address[0]
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        host = args[0]
    else:
        return
    allowed = _loopback(host.decode() if isinstance(host, bytes) else host)
    _note(event, host, allowed)
    if not allowed:
        raise OSError(f"Lantern test guard: {event} to {host} refused")


sys.addaudithook(_hook)
'''

LOCAL = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|inet_pton\(AF_INET6, "::ffff:127\.')


def _native_outside(trace: Path) -> list[str]:
    """strace lines of connect/sendto to an inet address that is not loopback."""
    if not trace.exists():
        return []
    lines = trace.read_text(errors="replace").splitlines()
    return [line for line in lines if re.search(r"sa_family=AF_INET6?\b", line) and not LOCAL.search(line)]


class Guard:
    def __init__(self, root: Path):
        self.root = root
        (root / "guard").mkdir()
        (root / "guard" / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
        self.log = root / "guard.jsonl"
        self.strace = shutil.which("strace")
        self.env = clean_env(PYTHONPATH=f"{root / 'guard'}:{REPO}", LANTERN_GUARD_LOG=str(self.log),
                             OPENAI_API_KEY="sk-guard-test", OPENAI_BASE_URL="https://api.openai.com/v1")

    def argv(self, name: str, *args: str | Path) -> list[str]:
        command = lantern_argv(*args)
        if self.strace:
            command = [self.strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto",
                       "-o", str(self.root / f"strace-{name}.log"), *command]
        return command

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def native(self) -> list[str]:
        return [line for trace in sorted(self.root.glob("strace-*.log")) for line in _native_outside(trace)]


@pytest.mark.integration
def test_ingest_status_ask_and_ui_connect_to_nothing_outside_loopback(tmp_path: Path) -> None:
    guard = Guard(tmp_path)
    store = tmp_path / "store"
    run = lambda name, *args: subprocess.run(guard.argv(name, *args), capture_output=True, text=True,  # noqa: E731
                                             env=guard.env, cwd=tmp_path, timeout=600)
    commands = {
        "ingest": ("ingest", SAMPLE_CORPUS, "--store", store),
        "status": ("status", "--store", store),
        "ask": ("ask", "Who can refer a potential victim to the National Referral Mechanism?", "--store", store),
    }
    for name, args in commands.items():
        proc = run(name, *args)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr
    answer = proc.stdout

    port = free_port()
    ui = subprocess.Popen(guard.argv("ui", "ui", "--store", store, "--port", str(port)), env=guard.env, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while True:
            assert ui.poll() is None, ui.stderr.read()[-3000:] if ui.stderr else "the UI exited"
            try:
                with urllib.request.urlopen(url, timeout=5) as page:
                    assert page.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not come up"
                time.sleep(0.5)
        from gradio_client import Client

        client = Client(url, verbose=False)
        job = client.submit(message="Who can refer a potential victim?", history=[], api_name="/ask")
        history = job.result(timeout=180)[0]
        assert history and history[-1]["role"] == "assistant"
    finally:
        stop_process(ui, 30, group=True)  # strace and the UI it runs

    events = guard.events()
    outside = [e for e in events if not e["allowed"]]
    assert outside == [], outside
    native = guard.native()
    assert native == [], native[:5]
    assert "[1]" in answer  # the offline, extractive answer: no LLM was asked
    record("network", commands=len(commands) + 1, python_socket_events=len(events), outside_loopback=0,
           strace="on" if guard.strace else "not installed", native_outside=len(native))


def test_openai_api_key_alone_does_not_switch_on_remote_calls() -> None:
    alone = Settings.load(environ={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "https://api.openai.com/v1"})
    assert not alone.use_llm and not alone.llm_api_key and not alone.llm_model
    named = Settings.load(environ={"OPENAI_API_KEY": "sk-test", "LANTERN_LLM_MODEL": "gpt-4o-mini"})
    assert named.use_llm and named.llm_api_key == "sk-test"
    local = Settings.load(environ={"OPENAI_API_KEY": "sk-test"}, llm_base_url="http://127.0.0.1:8080/v1",
                          llm_model="local")
    assert local.use_llm and local.llm_api_key == ""  # OpenAI's key never goes to another endpoint


@pytest.mark.integration
def test_onnx_session_switches_off_onnxruntime_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    from ingest.embed import OnnxMiniLM

    if not hasattr(onnxruntime, "disable_telemetry_events"):
        pytest.skip("this onnxruntime has no telemetry switch")
    calls: list[int] = []
    monkeypatch.setattr(onnxruntime, "disable_telemetry_events", lambda: calls.append(1))
    OnnxMiniLM(quantized=True, threads=1)
    assert calls
