"""Run a parser in a child process with a wall-clock limit and a memory limit.

A pathological PDF or a zip bomb must cost one failed file, never the server: the parse runs in a
forked child that gets `RLIMIT_AS` (its current address space plus `memory_mb`) and is killed after
`timeout_s`; whatever it allocated goes back to the system when it exits.

Why fork and not spawn/forkserver: those start each child by re-running the parent's main script
(an unguarded script would ingest again inside the child, and `yakuba`'s own entry point re-imports
the whole CLI, ~1 s per file here), while a fork shares the already-imported loaders and starts in
milliseconds. The child touches nothing but the parser and the pipe (CPython re-initialises the import
and logging locks after a fork), leaves through `os._exit` (no atexit handlers of the parent run
twice), and never inherits the parent's threads.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Literal, TypeVar

T = TypeVar("T")
CHILD_NICENESS = 10
Reason = Literal["timeout", "memory", "crashed"]

class SandboxError(Exception):
    """The child ran out of time or memory, or died (a signal, a crash in a C extension)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _address_space_bytes() -> int:
    """This process's current virtual size (VmSize), the base the memory limit is added to."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[0])
    return pages * resource.getpagesize()


def _limit_memory(memory_mb: int) -> None:
    with contextlib.suppress(OSError, ValueError):  # no /proc (not Linux): run without the limit
        limit = _address_space_bytes() + memory_mb * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError carrying its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any unpicklable exception
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _child(send: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory_mb: int | None) -> None:
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICENESS)  # a long parse yields the CPU to the searches and answers being served
    if memory_mb:
        _limit_memory(memory_mb)
    try:
        try:
            outcome: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            outcome = ("memory", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, which re-raises it
            outcome = ("raised", _portable(exc))
        try:
            send.send(outcome)
        except MemoryError:
            send.send(("memory", None))
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle is the caller's bug
            send.send(("raised", RuntimeError(f"the result could not be sent back: {type(exc).__name__}: {exc}")))
    finally:
        send.close()


def run_limited(
    fn: Callable[..., T],
    *args: Any,
    timeout_s: float | None,
    memory_mb: int | None,
) -> T:
    """`fn(*args)` in a forked child under the limits; its exceptions are re-raised here.

    The result must pickle (it comes back through a pipe); import what `fn` needs beforehand, so that
    each child does not import it again. Raises `SandboxError` on a
    timeout (the child is killed), a `MemoryError` in the child, or a child that died without answering.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, fn, args, memory_mb), daemon=True, name="yakuba-parse")
    started = False
    try:
        process.start()
        started = True
        send.close()
        if not receive.poll(timeout_s):
            raise SandboxError("timeout", f"{timeout_s:g} s")
        try:
            status, payload = receive.recv()
        except (EOFError, OSError):
            process.join(5)
            raise SandboxError("crashed", f"exit code {process.exitcode}") from None
    finally:
        if started:
            if process.is_alive():
                process.kill()
            process.join()
            process.close()
        send.close()
        receive.close()
    if status == "ok":
        return payload  # type: ignore[no-any-return]
    if status == "memory":
        raise SandboxError("memory", f"{memory_mb} MB")
    raise payload
