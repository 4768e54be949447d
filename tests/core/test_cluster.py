"""Classifying on a Dask cluster, and in shards: the same rows as a single-machine run, whatever happens to
the workers. Most tests share one in-process LocalCluster; the killed-worker test starts worker processes."""
import csv
import os
import signal
import subprocess
import sys

import pytest

from colourproject import colour_images
from core.classify import cluster_worker
from core.classify.cluster import classify_on_cluster
from core.classify.inference import ClassifyFinished, ClassifyRequest, classify_folder
from core.classify.merge import merge_results
from core.classify.results_csv import partial_path
from core.classify.shards import chunks, parse_shard, shard_of
from core.errors import DovecoteError, InvalidRequest
from core.events import Progress
from imagegen import bad_files

distributed = pytest.importorskip("distributed")  # in the dev extra; the skip is for a lean install only


def table(path):
    """path -> (predicted, status, probabilities) of every row; fails on a path listed twice."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert len({row[0] for row in body}) == len(body), "a path is listed twice"
    return header, {row[0]: (row[1], row[-1], [float(x) if x else None for x in row[2:-1]]) for row in body}


def assert_same_rows(a, b):
    header_a, rows_a = table(a)
    header_b, rows_b = table(b)
    assert header_a == header_b and rows_a.keys() == rows_b.keys()
    for path, (predicted, status, numbers) in rows_a.items():
        other = rows_b[path]
        assert (predicted, status) == other[:2], path
        assert numbers == pytest.approx(other[2], abs=1e-5), path


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c


@pytest.fixture
def archive(tmp_path):
    root = colour_images(tmp_path / "archive", per_class=12)
    bad_files(root / "inbox")
    return root


@pytest.fixture
def single_run(colour_project, archive, tmp_path):
    out = tmp_path / "single.csv"
    list(classify_folder(ClassifyRequest(archive, model=colour_project[0], output=out)))
    return out


def run_on(address, request, **options):
    return list(classify_on_cluster(request, address, **options))


def test_a_worker_killed_mid_run_loses_and_repeats_no_row(colour_project, archive, single_run, tmp_path):
    """First in the file: its worker processes start before the in-process cluster shares this process's loop."""
    out = tmp_path / "cluster.csv"
    # No second Client in this process: two clients on one in-process cluster's loop raced after the kill.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        request = ClassifyRequest(archive, model=colour_project[0], output=out, batch_size=2)
        killed = None
        for event in classify_on_cluster(request, c.scheduler_address, chunk_files=2):
            if killed is None and isinstance(event, Progress) and event.phase == "Classifying" and event.done:
                killed = next(iter(c.workers.values())).pid  # a Nanny: its worker process; both are busy
                os.kill(killed, signal.SIGKILL)
        assert killed is not None
    assert_same_rows(out, single_run)


def test_a_cluster_run_writes_the_rows_a_single_machine_run_writes(cluster, colour_project, archive, single_run,
                                                                   tmp_path):
    out = tmp_path / "cluster.csv"
    events = run_on(cluster.scheduler_address, ClassifyRequest(archive, model=colour_project[0], output=out),
                    chunk_files=5)
    assert_same_rows(out, single_run)
    summary = events[-1].summary
    assert isinstance(events[-1], ClassifyFinished) and summary.unreadable > 0  # bad files: a row each, as ever
    rows = table(out)[1]
    assert all(rows[p][0] == p.split("/")[0] for p in rows if p.startswith(("red/", "blue/")))
    shown = [e.detail for e in events if isinstance(e, Progress) and e.phase == "Classifying" and e.done]
    assert shown and all("images/s" in d and "ETA" in d and "2 workers alive" in d for d in shown)


def test_a_stopped_cluster_run_is_finished_by_resume(cluster, colour_project, archive, single_run, tmp_path):
    out = tmp_path / "cluster.csv"
    request = ClassifyRequest(archive, model=colour_project[0], output=out)
    events = classify_on_cluster(request, cluster.scheduler_address, chunk_files=3)
    for event in events:
        if isinstance(event, Progress) and event.phase == "Classifying" and event.done:
            break
    events.close()  # what Ctrl+C does
    assert not out.exists() and 0 < len(table(partial_path(out))[1]) < len(table(single_run)[1])
    resumed = run_on(cluster.scheduler_address, ClassifyRequest(archive, model=colour_project[0], output=out,
                                                                resume=True), chunk_files=3)
    assert resumed[-1].summary.already_done > 0
    assert_same_rows(out, single_run)


def test_shards_cover_every_file_once_and_merge_into_the_whole(colour_project, archive, single_run, tmp_path):
    parts = []
    for k in (1, 2, 3):
        parts.append(tmp_path / f"part{k}.csv")
        list(classify_folder(ClassifyRequest(archive, model=colour_project[0], output=parts[-1], shard=(k, 3))))
    sizes = [len(table(p)[1]) for p in parts]
    assert min(sizes) > 0 and max(sizes) - min(sizes) <= 1
    merged = merge_results(tmp_path / "all.csv", parts)
    assert merged.rows == sum(sizes)
    assert_same_rows(tmp_path / "all.csv", single_run)


def test_the_partition_is_of_the_sorted_paths_whatever_their_order():
    paths = [f"d{i % 7}/img{i:03}.jpg" for i in range(100)]
    shuffled = paths[::-1]
    parts = [shard_of(shuffled, k, 6) for k in range(1, 7)]
    assert sum(parts, []) == sorted(paths)
    assert sum(chunks(shuffled, 9), []) == sorted(paths) and len(list(chunks(paths, 9))) == 12
    # On a cluster: small first chunks (results soon), shrinking last ones (no thread left alone at the end).
    sizes = [len(c) for c in chunks(shuffled, 16, streams=2)]
    assert sum(chunks(shuffled, 16, streams=2), []) == sorted(paths) and max(sizes) == 16
    assert sizes[:3] == [2, 4, 8] and sizes[-1] < 16 and sizes == [len(c) for c in chunks(paths, 16, streams=2)]
    assert parse_shard("2/5") == (2, 5)
    for bad in ("0/3", "4/3", "3", "a/b"):
        with pytest.raises(InvalidRequest):
            parse_shard(bad)


def test_merge_refuses_unfinished_or_disagreeing_parts(colour_project, archive, single_run, tmp_path):
    unfinished = tmp_path / "unfinished.csv"
    partial_path(unfinished).write_text("path,predicted\n")
    with pytest.raises(DovecoteError, match="--resume"):
        merge_results(tmp_path / "all.csv", [single_run, unfinished])
    header = single_run.read_text().splitlines()[0]
    first = single_run.read_text().splitlines()[1].split(",")
    other = tmp_path / "other.csv"
    other.write_text(f"{header}\n{first[0]},{'blue' if first[1] == 'red' else 'red'},{','.join(first[2:])}\n")
    with pytest.raises(InvalidRequest, match="different results"):
        merge_results(tmp_path / "all.csv", [single_run, other])
    assert not (tmp_path / "all.csv").exists()


def test_sorting_on_a_cluster_is_refused_where_a_worker_cannot_reach_the_folder(cluster, colour_project, archive,
                                                                               tmp_path, monkeypatch):
    into = tmp_path / "sorted"
    monkeypatch.setattr(cluster_worker, "sees_file", lambda path, content: False)
    with pytest.raises(InvalidRequest, match="every worker can reach"):
        run_on(cluster.scheduler_address, ClassifyRequest(archive, model=colour_project[0], sort="copy", into=into))
    assert not into.exists() and not (archive / "dovecote-predictions.partial.csv").exists()


def test_a_move_on_a_cluster_keeps_one_journal_that_undo_reads(cluster, colour_project, archive, tmp_path):
    from core.classify.sorting import undo_moves

    into = tmp_path / "sorted"
    before = sorted(p.relative_to(archive) for p in archive.rglob("*.png"))
    events = run_on(cluster.scheduler_address, ClassifyRequest(archive, model=colour_project[0], sort="move",
                                                               into=into), chunk_files=4)
    summary = events[-1].summary
    journal = summary.journal
    moved = [p for p in into.rglob("*") if p.is_file() and p.parent != into]
    assert journal.is_file() and len(moved) == sum(summary.counts.values()) + summary.unsure > 24
    list(undo_moves(journal))
    assert sorted(p.relative_to(archive) for p in archive.rglob("*.png")) == before


def test_without_dask_the_option_says_how_to_install_it(colour_project, archive, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(DovecoteError, match=r"pip install 'dovecote\[cluster\]'"):
        run_on("local:2", ClassifyRequest(archive, model=colour_project[0]))


def test_the_single_machine_command_never_imports_dask(colour_project, tmp_path):
    folder = colour_images(tmp_path / "few", per_class=2)
    code = ("import sys; from core.cli import main; "
            f"status = main(['classify', {str(folder)!r}, '--model', {str(colour_project[0])!r}, '--json']); "
            "assert status == 0; assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_cli_runs_on_a_cluster_and_joins_shards(cluster, colour_project, archive, single_run, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "cli.csv"
    assert main(["classify", str(archive), "--model", str(colour_project[0]), "--cluster",
                 cluster.scheduler_address, "--output", str(out)]) == 0
    assert "Dask cluster" in capsys.readouterr().out
    assert_same_rows(out, single_run)
    for k in (1, 2):
        assert main(["classify", str(archive), "--model", str(colour_project[0]), "--shard", f"{k}/2",
                     "--output", str(tmp_path / f"p{k}.csv")]) == 0
    assert main(["merge-results", str(tmp_path / "m.csv"), str(tmp_path / "p1.csv"), str(tmp_path / "p2.csv")]) == 0
    assert_same_rows(tmp_path / "m.csv", single_run)


def test_the_window_does_not_take_cluster_options(colour_project, archive, capsys):
    from core.cli import main

    opened = []
    assert main(["classify", str(archive), "--model", str(colour_project[0]), "--gui", "--cluster", "local:2"],
                gui=opened.append) == 1
    assert not opened and "not --gui" in capsys.readouterr().err


def test_each_worker_loads_the_model_as_it_joins_and_runs_it_on_one_thread_per_chunk(colour_project):
    """A worker runs as many chunks at once as it has threads, each chunk's network on one thread: never more
    threads than cores (local:N on 2 cores), and less CPU per image than runs sharing their threads."""
    from core.classify.cluster_plugin import ModelLoader
    from core.models.bundles import load_model

    def network_threads(key):
        session = cluster_worker.loaded_predictor(key)._embedder._session
        return session.get_session_options().intra_op_num_threads

    loader = ModelLoader("threads-test", load_model(colour_project[0]), "cpu", "fp32")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, \
            distributed.Client(c.scheduler_address) as client:
        client.register_plugin(loader)  # no chunk submitted: the worker loads the model on its own
        assert client.submit(network_threads, loader.key, pure=False).result() == 1
        client.unregister_worker_plugin(loader.name)
    with pytest.raises(RuntimeError, match="not been given the run's model"):
        cluster_worker.loaded_predictor(loader.key)  # dropped with the plugin: a long-lived worker frees it
