"""Classifying a folder on a Dask distributed cluster: the client side.

The client walks the folder, cuts the sorted paths into chunks (core.classify.shards), and keeps a bounded
window of chunks in flight; each worker classifies its chunks with the model it loaded once
(core.classify.cluster_worker). Rows stream back and go into the same results CSV, sorting and move journal
as a single-machine run, all written here. A worker that dies loses nothing: the scheduler runs its chunks
elsewhere. `distributed` is imported only here, and only when a cluster is asked for."""
from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

from core.errors import DovecoteError, InvalidRequest
from core.images.decode_ahead import cpu_threads
from core.classify import cluster_worker
from core.classify.precision import choose_precision
from core.classify.inference import ClassifyRequest, classify_folder, load_bundle, resolve_request
from core.classify.shards import CHUNK_FILES, chunks

log = logging.getLogger(__name__)

INSTALL_HINT = "Classifying on a cluster needs Dask: pip install 'dovecote[cluster]'"
LOCAL_PREFIX = "local:"
RETRIES = 2  # a chunk whose task fails (not a lost worker: the scheduler re-runs those itself) is tried again
_CONNECT_TIMEOUT = "30s"
# A local cluster shares this machine's cores with the work: Dask's own upkeep is turned down. Its statistical
# profiler samples every thread's stack 100 times a second under the GIL; the event-loop tick (for "blocked
# loop" warnings) and the system monitor (for the dashboard) wake each process 50 and 2 times a second. Idle,
# the scheduler (in this process) and a worker measured 4.7 % and 2.6 % of a core with them, 1.2 % and 0.8 %
# without. Workers fork from one server process that imported Dask once (where the system has it), instead of
# each starting Python and importing Dask again: local:2 was up in 1.6 s instead of 2.1 s.
_LOCAL_CONFIG = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "5s",
                 **({"distributed.worker.multiprocessing-method": "forkserver"}
                    if "forkserver" in multiprocessing.get_all_start_methods() else {})}


def _distributed():
    try:
        import distributed
    except ImportError:
        raise DovecoteError(f"{INSTALL_HINT} (it is not installed here).") from None
    # Dask logs every connection to stderr at INFO: under a progress bar that is noise; its warnings still show.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    return distributed


def classify_on_cluster(request: ClassifyRequest, address: str, bundle=None,
                        chunk_files: int = CHUNK_FILES) -> Iterator[object]:
    """classify_folder's events and CSV, the work done by the cluster at `address` ("tcp://host:8786", or
    "local:N" for a cluster of N worker processes on this machine, started and stopped here)."""
    request = resolve_request(request)
    bundle = bundle if bundle is not None else load_bundle(request)
    engine = ClusterEngine(address, bundle, chunk_files, request.precision, request.device)
    try:
        if request.sort:
            engine.check_reaches(request.into, "--into folder")
        yield from classify_folder(request, bundle, engine=engine)
    finally:
        engine.close()


class ClusterEngine:
    """Runs classify_folder's work on a Dask cluster; see classify_on_cluster."""

    def __init__(self, address: str, bundle, chunk_files: int = CHUNK_FILES, precision: str = "auto",
                 device: str = "auto"):
        distributed = _distributed()
        import dask  # there with distributed

        self.address = address
        self.chunk_files = chunk_files
        self._key = secrets.token_hex(8)  # this run's model on the workers
        self._loader = None
        # Decided here, for CPU workers; a GPU worker runs fp32 (precision.worker_precision).
        self.precision, self.precision_note = choose_precision(bundle, precision, on_cpu=True)
        self._cluster = None
        if address.startswith(LOCAL_PREFIX):
            workers = _worker_count(address)
            # Ctrl+C ignored is inherited: Ctrl+C in a terminal stops the client, which stops the workers.
            with _ctrl_c_ignored(), dask.config.set(_LOCAL_CONFIG):
                self._cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=max(1, cpu_threads() // workers), processes=True,
                    dashboard_address=":0", silence_logs=logging.CRITICAL)  # task errors reach the client
            address = self._cluster.scheduler_address
        try:
            self.client = distributed.Client(address, timeout=_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            self.close()
            raise DovecoteError(f"Cannot reach the Dask scheduler at {address} ({error}). Start it with "
                                "'dask scheduler' and give its address, e.g. tcp://host:8786.") from None
        workers = self.client.nthreads()
        if not workers:
            self.close()
            raise DovecoteError(f"The Dask scheduler at {address} has no workers. Start some with "
                                f"'dask worker {address}'.")
        self.device = (f"a Dask cluster at {self.address} ({_count(len(workers), 'worker')}, "
                       f"{_count(sum(workers.values()), 'thread')})")
        from core.classify.cluster_plugin import ModelLoader

        # Every worker starts loading the model now, while the client walks the folder; one that joins later
        # loads it as it joins.
        self._loader = ModelLoader(self._key, bundle, device, self.precision)
        self.client.register_plugin(self._loader)

    def check_reaches(self, folder: Path, what: str) -> None:
        """Refuse unless every worker sees `folder` at the same path (a shared disk): a probe file is
        written there and read back by each worker, then removed."""
        created = not folder.exists()
        probe = folder / f".dovecote-cluster-probe-{secrets.token_hex(4)}"
        token = secrets.token_hex(8)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_text(token, encoding="utf-8")
            seen = self.client.run(cluster_worker.sees_file, str(probe), token)
        except OSError as error:
            raise DovecoteError(f"Cannot write in {folder} ({error.strerror or error}).") from None
        finally:
            probe.unlink(missing_ok=True)
        blind = sorted(worker for worker, ok in seen.items() if not ok)
        if blind:
            if created:
                folder.rmdir()
            raise InvalidRequest(
                f"The {what} {folder} is not on storage every worker can reach ({len(blind)} of {len(seen)} "
                f"cannot see it, e.g. {blind[0]}). Give a folder on a disk all the workers share, at the same path.")

    def rows(self, root: Path, todo: Iterator[str], prep, batch_size: int) -> Iterator[list[tuple[str, object]]]:
        """Chunks of rows as workers finish them (not in path order); at most a few chunks per worker thread
        are in flight, so the client's memory and a stop's lost work stay small."""
        distributed = _distributed()
        streams = max(1, sum(self.client.nthreads().values()))
        pending = chunks(list(todo), self.chunk_files, streams)
        first = next(pending, None)
        if first is None:
            return
        self._check_same_files(root, first)
        window = 2 * streams
        running = distributed.as_completed()
        futures = set()

        def submit(paths: list[str]) -> None:
            future = self.client.submit(cluster_worker.classify_files, self._key, str(root), paths, batch_size,
                                        prep, retries=RETRIES, pure=False)
            futures.add(future)
            running.add(future)

        try:
            submit(first)
            for paths in pending:
                submit(paths)
                if len(futures) >= window:
                    break
            for future in running:
                try:
                    rows = future.result()
                except Exception as error:  # the chunk failed after its retries, or the cluster dropped it
                    log.warning("A cluster chunk failed", exc_info=error)
                    raise DovecoteError(
                        f"The cluster did not finish a chunk of files ({type(error).__name__}: {error}). The rows "
                        "so far are kept: run the same command with --resume.") from None
                futures.discard(future)
                next_paths = next(pending, None)
                if next_paths is not None:
                    submit(next_paths)
                yield rows
        finally:  # a stop: what is in flight is dropped (the CSV has every row that arrived)
            if futures:
                self.client.cancel(list(futures))

    def detail(self, done: int, total: int, seconds: float) -> str:
        rate = done / seconds if seconds > 0 else 0.0
        left = (total - done) / rate if rate > 0 else math.inf
        eta = "?" if math.isinf(left) else time.strftime("%H:%M:%S", time.gmtime(left))
        return f"{rate:,.1f} images/s, ETA {eta}, {_count(len(self.client.nthreads()), 'worker')} alive"

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            if self._loader is not None and self._cluster is None:  # a cluster that lives on: free its memory
                with contextlib.suppress(Exception):  # a cluster gone already has nothing to free
                    client.unregister_worker_plugin(self._loader.name)
            client.close()
        if self._cluster is not None:
            self._cluster.close()

    def _check_same_files(self, root: Path, sample: list[str]) -> None:
        """Workers read the images by the client's path: refuse early where one sees another folder there."""
        sample = sample[:3]
        here = cluster_worker.file_identity(str(root), sample)
        seen = self.client.run(cluster_worker.file_identity, str(root), sample)
        blind = sorted(worker for worker, identities in seen.items() if identities != here)
        if blind:
            raise InvalidRequest(
                f"{len(blind)} of {len(seen)} workers do not see the images of {root} at that path (e.g. "
                f"{blind[0]}). The folder must be on a disk every worker shares, at the same path.")


@contextlib.contextmanager
def _ctrl_c_ignored():
    """A terminal's Ctrl+C goes to the whole process group; local workers started meanwhile ignore it, so that
    the client can stop cleanly (leaving a partial CSV) instead of its workers dying under it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_count(address: str) -> int:
    text = address[len(LOCAL_PREFIX):]
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest(f"--cluster local:N needs a number of worker processes, e.g. local:4, not {address!r}.")
    return int(text)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
