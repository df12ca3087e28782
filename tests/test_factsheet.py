"""Fact sheets per municipality: one PDF each, four pages, the figures of the balance in words,
the same bytes for the same inputs, and a folder replaced as a whole."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

import landuse.io
from landuse import factsheet
from landuse.cli import main
from landuse.config import load_region
from landuse.criteria import load_rule_sets
from landuse.factsheet import (
    PAGES,
    SheetInputs,
    balance_bars,
    factsheet_files,
    missing_data,
    slug,
    write_factsheet,
    write_factsheets,
)
from landuse.io import clean_temporary

NAMES = {"Nordheim": "nordheim.pdf", "Südheim": "suedheim.pdf"}


def _pages(pdf: bytes) -> int:
    """Page objects of a PDF (matplotlib writes its object dictionaries uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def _text(path) -> str:
    """The text of a PDF with pdftotext (poppler-utils) or pypdf; skip when neither is there."""
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                              text=True).stdout
    try:
        from pypdf import PdfReader
    except ImportError:
        pytest.skip("no PDF text extraction: install poppler-utils (pdftotext) or pypdf to check the sheets' text")
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


@pytest.fixture(scope="module")
def inputs(tiny_region, tiny_run) -> SheetInputs:
    """What the pipeline hands the fact sheets, from the tiny region's run."""
    cfg, _ = tiny_region
    res, _ = tiny_run
    region = load_region(cfg)
    summary, _, parts = res["balance"].data
    layers = res["layers"].data
    return SheetInputs(results=res["suitability"].data, boundaries=layers["boundaries"], summary=summary,
                       allocation=parts, suitability=res["suitability"].summary, rule_sets=load_rule_sets(),
                       manifest=layers.manifest, attribution=layers.attribution, title=region.title,
                       baseline=region.baseline)


def test_run_writes_one_sheet_per_municipality(tiny_run):
    res, out = tiny_run
    folder = out / "factsheets"
    assert folder in res["outputs"].files
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES.values())
    for name, file in NAMES.items():
        data = (folder / file).read_bytes()
        assert data.startswith(b"%PDF-")
        assert _pages(data) == PAGES == 4
        text = _text(folder / file)
        assert name in text
        # a figure of the balance: the realistic tier's avoided emissions and sinks, as on page 2
        summary = res["balance"].summary
        row = summary[(summary["level"] == "municipality") & (summary["tier"] == "realistic")
                      & (summary["share_realised"] == 1.0)].loc[name]
        total = row["avoided_t_co2e_a"] + row["sequestered_t_co2e_a"]
        assert factsheet._num(total) in text
        # the frames and tiers are named; the top sites come with reasons in words
        for words in ("Avoided-emissions frame", "Territorial frame", "Realistic tier", "Technical tier",
                      "t CO2e/a", "MWh/a", "What data was missing", "Sources", "Strong:"):
            assert words in text, words
        assert "OpenStreetMap contributors" in text


@pytest.fixture
def keep_logging():
    """The CLI configures the root logger (-q: errors only); later tests get it back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


def test_factsheet_command_and_identical_bytes(tiny_region, tiny_run, tmp_path, keep_logging):
    cfg, data = tiny_region
    res, out = tiny_run
    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["-q", "factsheet", "--region", str(cfg), "--data", str(data), "--out",
                                       str(again), "--layers-dir", str(res["layers"].files[0].parent)])
    assert result.exit_code == 0, result.output
    assert "factsheets" in result.output
    # only the fact sheets: no maps, no exports
    assert sorted(p.name for p in again.iterdir() if not p.name.startswith(".")) == ["factsheets"]
    for file in NAMES.values():  # a second run, its own stage cache: the same bytes
        assert (again / "factsheets" / file).read_bytes() == (out / "factsheets" / file).read_bytes(), file
    assert str(tmp_path).encode() not in (again / "factsheets" / "nordheim.pdf").read_bytes()


def test_text_in_the_standard_fonts_and_bullets_level_with_their_lines(inputs, tmp_path, monkeypatch):
    from matplotlib.backends.backend_pdf import RendererPdf

    drawn = []
    draw_text = RendererPdf.draw_text

    def spy(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        drawn.append((s, round(x, 2), round(y, 2)))
        return draw_text(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    monkeypatch.setattr(RendererPdf, "draw_text", spy)
    write_factsheet(inputs, "Südheim", tmp_path / "s.pdf")
    data = (tmp_path / "s.pdf").read_bytes()
    # nothing embedded: the PDF standard fonts, which every reader has
    assert b"/BaseFont /Helvetica" in data and b"/FontFile" not in data
    texts = [s for s, _, _ in drawn]
    assert len(texts) > 100 and "Südheim" in texts
    # every character is in the fonts' encoding (WinAnsi): none would print as "?"
    assert {c for s in texts for c in s if c != "?" and c.encode("cp1252", "replace") == b"?"} == set()
    # each bullet stands on the baseline of its item's first line, apostrophes or not
    bullets = [(x, y) for s, x, y in drawn if s == "•"]
    assert len(bullets) > 10
    for x, y in bullets:
        first = [s for s, tx, ty in drawn if ty == y and tx > x and s != "•"]
        assert len(first) == 1, (x, y)
    assert any("'" in s for s, _, y in drawn if y in {by for _, by in bullets})


def test_creation_date_only_from_source_date_epoch(inputs, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    a = write_factsheet(inputs, "Nordheim", tmp_path / "a.pdf").read_bytes()
    b = write_factsheet(inputs, "Nordheim", tmp_path / "b.pdf").read_bytes()
    assert a == b and b"/CreationDate" not in a
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    c = write_factsheet(inputs, "Nordheim", tmp_path / "c.pdf").read_bytes()
    assert b"/CreationDate (D:20231114221320Z)" in c
    assert write_factsheet(inputs, "Nordheim", tmp_path / "d.pdf").read_bytes() == c


def test_balance_figures_from_the_summary(inputs):
    summary = inputs.summary
    row = summary[(summary["level"] == "municipality") & (summary["tier"] == "realistic")
                  & (summary["share_realised"] == 1.0)].loc["Nordheim"]
    real = balance_bars(summary, "Nordheim", inputs.techs, tier="realistic", measure="avoided_frame")
    total = [b for b in real if b.total]
    assert len(total) == 1
    assert total[0].value == pytest.approx(row["avoided_t_co2e_a"] + row["sequestered_t_co2e_a"])
    # the realistic tier adds up: its technologies' bars sum to its total
    assert sum(b.value for b in real if not b.total) == pytest.approx(total[0].value)
    assert [b.label for b in real if not b.total] == ["Wind", "Open-space PV", "Agroforestry / coppice"]
    # the technical tier: per technology, never a total
    tech = balance_bars(summary, "Nordheim", inputs.techs, tier="technical", measure="avoided_frame")
    assert not any(b.total for b in tech) and len(tech) == 3
    trow = summary[(summary["level"] == "municipality") & (summary["tier"] == "technical")
                   & (summary["share_realised"] == 1.0)].loc["Nordheim"]
    assert tech[1].value == pytest.approx(trow["pv_avoided_t_co2e_a"])
    assert tech[1].low <= tech[1].value <= tech[1].high
    # territorial frame: only what replaces fossil heat, and its share of the load
    heat = balance_bars(summary, "Nordheim", inputs.techs, tier="realistic", measure="heat")
    assert [b.label for b in heat] == ["Agroforestry / coppice"]
    assert heat[0].value == pytest.approx(row["territorial_t_co2e_a"])
    assert heat[0].note.endswith("of the load")


def test_missing_data_in_words(inputs):
    lines = " ".join(missing_data(inputs, "Nordheim"))
    # the tiny region has no rasters: the soil criteria are left out
    assert "soil quality" in lines and "nfk_mean" in lines
    assert "energy-use figure" in lines  # the baseline has none


def test_file_names():
    assert slug("Leipzig") == "leipzig"
    assert slug("Südheim") == "suedheim"
    assert slug("Groß Särchen / Wendisch") == "gross-saerchen-wendisch"
    assert factsheet_files(["Au", "AU"], ["1", "2"]) == {"Au": "au-1.pdf", "AU": "au-2.pdf"}


def test_folder_swapped_as_a_whole(inputs, tmp_path, monkeypatch):
    folder = tmp_path / "factsheets"
    write_factsheets(inputs, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "stale.pdf").write_bytes(b"old")  # the folder is replaced, not added to

    def die(point):
        if point == "between-renames:factsheets":
            raise SystemExit("killed")

    monkeypatch.setattr(landuse.io, "crash_point", die)  # the swap (landuse.io.swap_folder)
    with pytest.raises(SystemExit):
        write_factsheets(inputs, folder)
    assert not folder.exists() and (tmp_path / ".factsheets.old").is_dir()
    clean_temporary(tmp_path)  # what the next run does first: the previous sheets are back
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "stale.pdf"])
    monkeypatch.setattr(landuse.io, "crash_point", lambda point: None)
    write_factsheets(inputs, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sheets_in_processes_equal_sheets_one_by_one(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("LANDUSE_THREADS", "1")
    write_factsheets(inputs, tmp_path / "one")
    monkeypatch.setenv("LANDUSE_THREADS", "2")  # two sheet processes
    write_factsheets(inputs, tmp_path / "two")
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    assert len(one) == len(NAMES) >= 2
    assert one == {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}


def test_other_work_runs_while_the_sheet_processes_draw(inputs, tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("LANDUSE_THREADS", "2")
    seen = []
    write_factsheets(inputs, tmp_path / "sheets", meanwhile=lambda: seen.append(len(multiprocessing.active_children())))
    assert seen == [2]  # called once, with the two sheet processes already started
    assert len(list((tmp_path / "sheets").glob("*.pdf"))) == len(NAMES)


def test_the_sheet_processes_end_when_their_sheets_are_done_not_after_the_other_work(inputs, tmp_path,
                                                                                     monkeypatch):
    import multiprocessing
    import time

    monkeypatch.setenv("LANDUSE_THREADS", "2")
    folder = tmp_path / "sheets"
    alive = []

    def other_work():  # longer than the sheets: it waits for them (at most a minute)
        alive.append(len(multiprocessing.active_children()))
        deadline = time.monotonic() + 60
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        alive.append(len(multiprocessing.active_children()))

    write_factsheets(inputs, folder, meanwhile=other_work)
    assert alive == [2, 0]  # both processes drew, then ended while the other work still ran
    assert len(list(folder.glob("*.pdf"))) == len(NAMES)


def test_sheet_processes_started_ahead_draw_the_same_sheets_and_end_with_them(inputs, tmp_path, monkeypatch):
    import multiprocessing

    from landuse.factsheet import start_sheet_processes

    monkeypatch.setenv("LANDUSE_THREADS", "2")
    started = start_sheet_processes(len(NAMES))
    assert started is not None and started.processes == 2
    assert len(multiprocessing.active_children()) == 2  # running before any sheet exists
    seen = []
    write_factsheets(inputs, tmp_path / "ahead", processes=started,
                     meanwhile=lambda: seen.append(len(multiprocessing.active_children())))
    assert seen == [2]  # the started processes drew, no others
    assert multiprocessing.active_children() == []  # and ended with their sheets
    write_factsheets(inputs, tmp_path / "now")
    ahead = {p.name: p.read_bytes() for p in (tmp_path / "ahead").iterdir()}
    assert len(ahead) == len(NAMES) and ahead == {p.name: p.read_bytes() for p in (tmp_path / "now").iterdir()}
    # one core, or one sheet: drawn in this process, nothing started
    monkeypatch.setenv("LANDUSE_THREADS", "1")
    assert start_sheet_processes(len(NAMES)) is None
    monkeypatch.setenv("LANDUSE_THREADS", "2")
    assert start_sheet_processes(1) is None
    # started for another number of sheets: ended, and the sheets drawn by processes of their own
    other = start_sheet_processes(len(NAMES))
    monkeypatch.setattr(other, "processes", 3)
    write_factsheets(inputs, tmp_path / "other", processes=other)
    assert multiprocessing.active_children() == []
    with pytest.raises(RuntimeError):  # shut down
        other.pool.submit(int)
    assert {p.name: p.read_bytes() for p in (tmp_path / "other").iterdir()} == ahead


def test_a_script_without_a_main_guard_runs_once_with_the_sheet_processes(inputs, tmp_path):
    """The sheet processes are spawned (they share none of this process's memory, so the work
    done meanwhile does not duplicate it), and they do not import the calling script: a script
    without an ``if __name__ == "__main__"`` guard would otherwise run again in each of them."""
    import pickle
    import sys
    import textwrap

    (tmp_path / "inputs.pickle").write_bytes(pickle.dumps(inputs))
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import os, pickle
        from pathlib import Path
        base = Path({str(tmp_path)!r})
        with open(base / "runs.txt", "a") as f:
            f.write(f"{{os.getpid()}}\\n")
        from landuse.factsheet import write_factsheets
        write_factsheets(pickle.loads((base / "inputs.pickle").read_bytes()), base / "sheets")
    """))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env={**os.environ, "LANDUSE_THREADS": "2"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "runs.txt").read_text().split()) == 1  # the script's top level ran once
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == sorted(NAMES.values())


@pytest.mark.parametrize("threads", ["1", "2"])
def test_an_error_in_the_other_work_keeps_the_previous_sheets(inputs, tmp_path, monkeypatch, threads):
    monkeypatch.setenv("LANDUSE_THREADS", threads)
    folder = tmp_path / "sheets"
    write_factsheets(inputs, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def fail():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_factsheets(inputs, folder, meanwhile=fail)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_scale_bar_takes_the_bottom_corner_that_hides_less_of_the_municipality():
    from shapely.geometry import Polygon

    from landuse.factsheet import MapView

    # a triangle with its right angle bottom left fills that corner; mirrored, the other one
    left_heavy = MapView.around(Polygon([(0, 0), (10_000, 0), (0, 10_000)]), 1.0)
    right_heavy = MapView.around(Polygon([(0, 0), (10_000, 0), (10_000, 10_000)]), 1.0)
    assert left_heavy.scale_right and not right_heavy.scale_right
    x0, y0, x1, y1 = left_heavy.scale_box()
    assert x1 == pytest.approx(left_heavy.x0 + left_heavy.w) and y0 == left_heavy.y0
    assert right_heavy.scale_box()[0] == right_heavy.x0


def test_a_sheet_takes_only_its_municipalitys_features(inputs):
    from landuse.factsheet import municipality_inputs, rows_by_municipality

    # a layer that knows its parcels only is cut by the parcels' municipality
    eligible = next(g for k, g in inputs.results.items()
                    if k.endswith("_eligible") and g["municipality"].nunique() == 2)
    inputs = dataclasses.replace(inputs, results={**inputs.results,
                                                  "by_parcel": eligible.drop(columns="municipality")})
    rows = rows_by_municipality(inputs)
    parcels = inputs.results["parcels"]
    muni_of = parcels.set_index("parcel_id")["municipality"]
    layers = {**inputs.results, "allocation": inputs.allocation}
    for name in NAMES:
        mine = municipality_inputs(inputs, name, rows)
        for key, gdf in layers.items():
            cut = mine.allocation if key == "allocation" else mine.results[key]
            if "municipality" not in gdf and "parcel_id" not in gdf:  # cut by geometry where drawn
                assert cut is gdf
                continue
            munis = gdf["municipality"] if "municipality" in gdf else gdf["parcel_id"].map(muni_of)
            expected = gdf[munis.to_numpy() == name]
            assert cut.index.equals(expected.index), key
            assert cut.geometry.area.sum() == pytest.approx(expected.geometry.area.sum(), rel=1e-12)
        assert mine.boundaries is inputs.boundaries and mine.summary is inputs.summary
    # each of the two municipalities gets some of the parcels and of the by-parcel layer, together all
    for key in ("parcels", "by_parcel"):
        counts = [len(municipality_inputs(inputs, n, rows).results[key]) for n in NAMES]
        assert min(counts) > 0 and sum(counts) == len(inputs.results[key])


def _sheets_with_a_plugin(inputs, tmp_path, name: str, in_sheet_process: str) -> subprocess.CompletedProcess:
    """Write the sheets on two processes in a new Python, with the plugin technology ``name``
    (the miscanthus plugin under another name) registered from ``<tmp_path>/<name>.py``, whose
    ``in_sheet_process`` code runs only when a sheet process loads it. A subprocess with a
    timeout, so that a hang fails the test and not the whole test run; a LanduseError ends it
    with ``Error: <message>`` as the CLI does."""
    import pickle
    import sys
    import textwrap
    from pathlib import Path

    plugin = Path(__file__).with_name("plugins") / "miscanthus.py"
    (tmp_path / "inputs.pickle").write_bytes(pickle.dumps(inputs))
    child = textwrap.indent(textwrap.dedent(in_sheet_process).strip(), "    ")
    (tmp_path / f"{name}.py").write_text("import importlib.util, multiprocessing, os, signal\n"
                                         "if multiprocessing.parent_process() is not None:\n"
                                         f"{child}\n" + textwrap.dedent(f"""
        spec = importlib.util.spec_from_file_location("miscanthus_plugin", {str(plugin)!r})
        miscanthus = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(miscanthus)

        class Plugin(miscanthus.Miscanthus):
            name = {name!r}
    """))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.util, pickle, sys
        from pathlib import Path
        from landuse import technologies
        from landuse.errors import LanduseError
        from landuse.factsheet import write_factsheets
        base = Path({str(tmp_path)!r})
        spec = importlib.util.spec_from_file_location({name!r}, base / "{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[{name!r}] = module
        spec.loader.exec_module(module)
        with technologies.registered(module.Plugin()):
            try:
                write_factsheets(pickle.loads((base / "inputs.pickle").read_bytes()), base / "sheets")
            except LanduseError as exc:
                sys.exit(f"Error: {{exc}}")
    """))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env={**os.environ, "LANDUSE_THREADS": "2"},
                          capture_output=True, text=True, timeout=120)


def test_a_sheet_process_that_cannot_load_a_technology_stops_the_sheets_not_hangs(inputs, tmp_path):
    """A pool replaces a process whose start failed, again and again: an error in loading the
    parent's registry in a sheet process must come back as an error."""
    done = _sheets_with_a_plugin(inputs, tmp_path, "parent_only", """
        raise ImportError("this plugin loads in the main process only")
    """)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: A fact sheet process could not load the technologies of the run "
        "(ImportError('this plugin loads in the main process only')). Register plugins through the "
        "'landuse.technologies' entry point, or set LANDUSE_THREADS=1 to draw the sheets in this process.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.pickle", "parent_only.py", "run.py"]


def test_a_technology_defined_in_a_function_is_drawn_in_this_process(inputs, tmp_path, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    from landuse import technologies

    spec = importlib.util.spec_from_file_location("miscanthus_plugin",
                                                  Path(__file__).with_name("plugins") / "miscanthus.py")
    miscanthus = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = miscanthus
    spec.loader.exec_module(miscanthus)
    with technologies.registered(miscanthus.Miscanthus()):  # loaded from a path: its file goes along
        assert factsheet._plugin_modules() == [("miscanthus_plugin", miscanthus.__file__)]
        assert factsheet._pickled_for_processes(inputs, tmp_path / "inputs.pickle")

    class Local(miscanthus.Miscanthus):
        name = "local"

    monkeypatch.setenv("LANDUSE_THREADS", "2")
    seen = []
    with technologies.registered(Local()):
        assert not factsheet._pickled_for_processes(inputs, tmp_path / "inputs.pickle")  # a class in a function
        write_factsheets(inputs, tmp_path / "sheets",
                         meanwhile=lambda: seen.append(len(multiprocessing.active_children())))
    assert seen == [0]  # no sheet process started
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == sorted(NAMES.values())


def test_a_sheet_process_killed_while_drawing_stops_the_sheets_with_one_line(inputs, tmp_path):
    """A sheet process killed mid-sheet (the kernel's out-of-memory killer) ends the sheets with
    an error that says what to do, and leaves no half-written folder; it does not wait for ever."""
    done = _sheets_with_a_plugin(inputs, tmp_path, "killed", """
        import landuse.factsheet  # die at the first sheet
        landuse.factsheet.write_factsheet = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: A fact sheet process ended before its sheet was drawn (killed, perhaps for lack of memory). "
        "Set LANDUSE_THREADS=1 to draw the sheets in this process.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.pickle", "killed.py", "run.py"]
