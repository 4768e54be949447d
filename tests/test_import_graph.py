"""No import cycles among the modules of core/ or of desktop/ (issue 9). Every import statement counts, also
one inside a function or under TYPE_CHECKING: a lazy import both ways is a cycle too, and it makes the
order in which modules load load-bearing."""
import grimp
import pytest


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    edges = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(edges[target])))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.mark.parametrize("package", ["core", "desktop"])
def test_no_import_cycles(package):
    graph = grimp.build_graph(package, cache_dir=None)
    found = cycles(graph)
    shown = [" <-> ".join(component) for component in found]
    assert not found, f"import cycles in {package}/: {'; '.join(shown)}"


def test_the_cycle_finder_sees_lazy_imports_both_ways(tmp_path, monkeypatch):
    """The check itself can fail: two modules importing each other inside functions form a cycle."""
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from loop import b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loop import a\n")
    (package / "c.py").write_text("from loop import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(grimp.build_graph("loop", cache_dir=None)) == [["loop.a", "loop.b"]]
