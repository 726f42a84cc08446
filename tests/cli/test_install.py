"""scripts/missing_requirements.py and scripts/install.sh, against hand-made installed metadata.

Each check runs the script in an isolated interpreter (``python -I -S``) whose sys.path starts
with a temp folder of ``NAME-VERSION.dist-info`` folders, so the answers do not depend on what
this machine has installed, and nothing is installed (no network): install.sh is given a fake
``PYTHON`` that logs its arguments, answers ``-m pip`` and ``-c "import ..."`` itself and runs
missing_requirements.py against the temp folder.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "missing_requirements.py"
INSTALL = ROOT / "scripts" / "install.sh"

# run a script with only the stdlib and PATH (os.pathsep-separated folders) first on sys.path:
# python -I -S -c ISOLATED PATH SCRIPT ARGS...
ISOLATED = (
    "import os, runpy, sys; sys.path[:0] = sys.argv[1].split(os.pathsep); sys.argv = sys.argv[2:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def requirement_names() -> list[str]:
    """The distribution names of requirements.txt, as written there."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines())
    return [re.match(r"[A-Za-z0-9._-]+", line)[0] for line in lines if line]


def make_dist(site: Path, name: str, version: str = "99.0", folder: str | None = None,
              direct_url: dict | None = None) -> Path:
    """A minimal installed distribution: FOLDER-VERSION.dist-info/METADATA (+ direct_url.json).

    FOLDER defaults to NAME with ``-`` escaped to ``_``, as installers write it (wheel spec).
    """
    info = site / f"{folder or name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return info


def editable(path: Path) -> dict:
    return {"url": path.resolve().as_uri(), "dir_info": {"editable": True}}


def full_site(site: Path, skip: tuple[str, ...] = ()) -> Path:
    """Every requirements.txt distribution plus srgnn-paddle editable from this checkout."""
    for name in requirement_names():
        if name not in skip:
            make_dist(site, name)
    make_dist(site, "srgnn-paddle", "0.1.0", folder="srgnn_paddle", direct_url=editable(ROOT))
    return site


def missing(site: Path, *args: str, script: Path = SCRIPT, path: tuple[Path, ...] = ()) -> list[str]:
    """Lines printed by missing_requirements.py with `site` (then `path`) on sys.path."""
    sys_path = os.pathsep.join(str(p) for p in (site, *path))
    done = subprocess.run([sys.executable, "-I", "-S", "-c", ISOLATED, sys_path, str(script), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_empty_site_reports_everything(tmp_path):
    assert missing(tmp_path) == [*requirement_names(), "srgnn-paddle"]


def test_missing_tqdm_is_reported(tmp_path):
    assert missing(full_site(tmp_path, skip=("tqdm",))) == ["tqdm"]


def test_everything_installed_prints_nothing(tmp_path):
    assert missing(full_site(tmp_path)) == []


@pytest.mark.parametrize("direct_url", [
    "other checkout",                                # editable, but from another folder
    {"url": ROOT.as_uri(), "dir_info": {}},          # a regular (copied) install of this checkout
    None,                                            # a wheel from an index: no direct_url.json
    {"url": ROOT.as_uri()},                          # no dir_info at all
])
def test_srgnn_paddle_not_from_this_checkout(tmp_path, direct_url):
    site = tmp_path / "site"
    for name in requirement_names():
        make_dist(site, name)
    if direct_url == "other checkout":
        (tmp_path / "other").mkdir()
        direct_url = editable(tmp_path / "other")
    make_dist(site, "srgnn-paddle", "0.1.0", folder="srgnn_paddle", direct_url=direct_url)
    assert missing(site) == ["srgnn-paddle"]


def test_names_are_canonicalised(tmp_path):
    site = full_site(tmp_path, skip=("PyYAML", "scikit-learn"))
    make_dist(site, "pyyaml", "6.0.1")                 # requirements.txt says PyYAML
    make_dist(site, "scikit_learn", "1.5.0")           # requirements.txt says scikit-learn
    assert "PyYAML" in requirement_names() and "scikit-learn" in requirement_names()
    assert missing(site) == []
    assert missing(site, "Scikit.Learn", "PYYAML>=6.0") == []


def test_extra_arguments_are_checked(tmp_path):
    site = full_site(tmp_path)
    assert missing(site, "pytest", "nbclient") == ["pytest", "nbclient"]
    make_dist(site, "pytest", "8.1.0")
    assert missing(site, "pytest", "nbclient") == ["nbclient"]
    assert missing(site, "pytest>=8.0", "pytest>=8.1") == []
    assert missing(site, "pytest>=8.2", "pytest>=9") == ["pytest>=8.2", "pytest>=9"]
    assert missing(site, "pytest<8") == []             # only >= is checked (documented)


def test_alternatives(tmp_path):
    site = full_site(tmp_path)
    assert missing(site, "paddlepaddle|paddlepaddle-gpu") == ["paddlepaddle|paddlepaddle-gpu"]
    make_dist(site, "paddlepaddle-gpu", "3.0.0", folder="paddlepaddle_gpu")
    assert missing(site, "paddlepaddle|paddlepaddle-gpu") == []


@pytest.mark.parametrize("paddle, numpy, pinned", [
    (("paddlepaddle-gpu", "2.6.2"), "2.1.0", True),   # the package index's paddlepaddle-gpu with numpy 2
    (("paddlepaddle", "2.6.2"), "2.0.0", True),
    (("paddlepaddle", "2.6.2"), "1.26.4", False),
    (("paddlepaddle", "3.3.1"), "2.1.0", False),      # Paddle 3 runs with numpy 2
    (None, "2.1.0", False),                           # no Paddle yet: install.sh installs the newest
])
def test_numpy_is_pinned_only_for_a_paddle_2(tmp_path, paddle, numpy, pinned):
    site = tmp_path / "site"
    for name in requirement_names():
        make_dist(site, name, numpy if name == "numpy" else "99.0")
    make_dist(site, "srgnn-paddle", "0.1.0", folder="srgnn_paddle", direct_url=editable(ROOT))
    if paddle:
        make_dist(site, *paddle)
    assert missing(site) == (["numpy<2"] if pinned else [])


def test_malformed_argument_exits_2(tmp_path):
    for bad in ("not a name!", "", "--frobnicate", "pytest>="):
        done = subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), bad], capture_output=True, text=True)
        assert done.returncode == 2, (bad, done.stdout)
        assert "error" in done.stderr


def test_legacy_develop_install_needs_its_egg_link(tmp_path):
    """`setup.py develop`: the checkout's own egg-info counts only with an .egg-link naming it."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, checkout / "scripts")
    (checkout / "requirements.txt").write_text("tqdm\n")
    egg_info = checkout / "srgnn_paddle.egg-info"
    egg_info.mkdir()
    (egg_info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: srgnn-paddle\nVersion: 0.1.0\n")
    site = tmp_path / "site"
    make_dist(site, "tqdm", "4.66.0")
    script = checkout / "scripts" / SCRIPT.name
    # the checkout merely on sys.path (PYTHONPATH, as the scripts set it): not installed
    assert missing(site, script=script, path=(checkout,)) == ["srgnn-paddle"]
    (site / "srgnn-paddle.egg-link").write_text(f"{checkout}\n.")
    assert missing(site, script=script, path=(checkout,)) == []
    (site / "srgnn-paddle.egg-link").write_text(f"{tmp_path / 'elsewhere'}\n.")
    assert missing(site, script=script, path=(checkout,)) == ["srgnn-paddle"]


# --- scripts/install.sh with a fake interpreter ----------------------------------------------

FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKEPY_LOG"
case "${1:-}" in
  -m) exit 0 ;;                          # -m pip install ...: pretend it worked
  -c) exit "${FAKEPY_IMPORT_RC:-1}" ;;   # -c "import paddle": importable (0) or not (1)
esac
exec "$FAKEPY_REAL" -I -S -c "$FAKEPY_CODE" "$FAKEPY_SITE" "$@"
"""


def install(tmp_path: Path, site: Path, *args: str, import_rc: int = 1) -> tuple[str, list[str]]:
    """Run install.sh with the fake PYTHON: (its stdout, the fake interpreter's calls)."""
    fake = tmp_path / "fakepy"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    env = {**os.environ, "PYTHON": str(fake), "FAKEPY_LOG": str(log), "FAKEPY_REAL": sys.executable,
           "FAKEPY_CODE": ISOLATED, "FAKEPY_SITE": str(site), "FAKEPY_IMPORT_RC": str(import_rc)}
    done = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout, log.read_text().splitlines()


def test_install_noop_makes_no_pip_call(tmp_path):
    site = full_site(tmp_path / "site")
    make_dist(site, "paddlepaddle", "3.3.1")
    make_dist(site, "faiss-cpu", "1.8.0", folder="faiss_cpu")
    make_dist(site, "pytest", "8.1.0")
    out, calls = install(tmp_path, site, "pytest")
    assert out == ""
    assert len(calls) == 1 and calls[0].startswith("scripts/missing_requirements.py ")  # one check, nothing else


def test_install_missing_tqdm_installs_the_checkout(tmp_path):
    site = full_site(tmp_path / "site", skip=("tqdm",))
    make_dist(site, "paddlepaddle", "3.3.1")
    make_dist(site, "faiss-cpu", "1.8.0", folder="faiss_cpu")
    out, calls = install(tmp_path, site, "pytest")
    assert out == "[install] installed: tqdm pytest\n"
    assert calls[1:] == ["scripts/missing_requirements.py --pins",  # (no Paddle 2.x: no pin)
                         "-m pip install --disable-pip-version-check -q -e . pytest"]


def test_install_keeps_gpu_paddle_and_faiss(tmp_path):
    site = full_site(tmp_path / "site", skip=("tqdm",))
    make_dist(site, "paddlepaddle-gpu", "3.0.0", folder="paddlepaddle_gpu")
    make_dist(site, "faiss-gpu-cu12", "1.8.0", folder="faiss_gpu_cu12")
    out, calls = install(tmp_path, site)
    assert out == "[install] installed: tqdm\n"
    assert calls[1:] == ["scripts/missing_requirements.py --pins",
                         "-m pip install --disable-pip-version-check -q -e ."]  # no Paddle/Faiss, no import


@pytest.mark.parametrize("importable", [False, True])
def test_install_paddle_and_faiss_only_when_absent(tmp_path, importable):
    site = full_site(tmp_path / "site")               # no Paddle or Faiss distribution
    out, calls = install(tmp_path, site, import_rc=0 if importable else 1)
    assert [call for call in calls if call.startswith("-c")] == ["-c import paddle", "-c import faiss"]
    pip_calls = [call for call in calls if call.startswith("-m pip")]
    if importable:  # e.g. conda builds without pip metadata: nothing to install
        assert out == "" and pip_calls == []
    else:
        assert out == "[install] installed: paddlepaddle>=3.0 faiss-cpu\n"
        assert pip_calls == ["-m pip install --disable-pip-version-check -q paddlepaddle>=3.0",
                             "-m pip install --disable-pip-version-check -q faiss-cpu"]


@pytest.mark.parametrize("flavour", ["paddlepaddle", "paddlepaddle-gpu"])
def test_install_keeps_a_paddle_2_6_and_pins_numpy_below_2_for_it(tmp_path, flavour):
    site = full_site(tmp_path / "site")                # numpy 99.0
    make_dist(site, flavour, "2.6.2")
    make_dist(site, "faiss-cpu", "1.8.0", folder="faiss_cpu")
    out, calls = install(tmp_path, site)
    assert out == "[install] installed: numpy<2\n"
    # Paddle kept; numpy<2 resolved together with every requirement (pandas 3.1 would need numpy 2)
    assert calls[1:] == ["scripts/missing_requirements.py --pins",
                         "-m pip install --disable-pip-version-check -q -e . numpy<2"]


def test_install_resolves_missing_requirements_with_numpy_1_beside_a_paddle_2_6(tmp_path):
    site = tmp_path / "site"
    for name in requirement_names():
        if name != "pandas":
            make_dist(site, name, "1.26.4" if name == "numpy" else "99.0")
    make_dist(site, "srgnn-paddle", "0.1.0", folder="srgnn_paddle", direct_url=editable(ROOT))
    make_dist(site, "paddlepaddle", "2.6.2")
    make_dist(site, "faiss-cpu", "1.8.0", folder="faiss_cpu")
    out, calls = install(tmp_path, site, "pytest")
    assert out == "[install] installed: pandas pytest\n"
    assert calls[-1] == "-m pip install --disable-pip-version-check -q -e . pytest numpy<2"


def test_install_adds_no_pin_beside_a_paddle_3(tmp_path):
    site = full_site(tmp_path / "site", skip=("tqdm",))
    make_dist(site, "paddlepaddle", "3.3.1")
    make_dist(site, "faiss-cpu", "1.8.0", folder="faiss_cpu")
    out, calls = install(tmp_path, site)
    assert calls[-1] == "-m pip install --disable-pip-version-check -q -e ."


def test_install_keeps_a_paddle_2_6_with_numpy_1(tmp_path):
    site = tmp_path / "site"
    for name in requirement_names():
        make_dist(site, name, "1.26.4" if name == "numpy" else "99.0")
    make_dist(site, "srgnn-paddle", "0.1.0", folder="srgnn_paddle", direct_url=editable(ROOT))
    make_dist(site, "paddlepaddle-gpu", "2.6.2", folder="paddlepaddle_gpu")
    make_dist(site, "faiss-gpu", "1.15.1", folder="faiss_gpu")
    out, calls = install(tmp_path, site)
    assert out == "" and len(calls) == 1  # a silent no-op
