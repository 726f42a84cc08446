#!/usr/bin/env python3
"""Print, one a line, what the running Python lacks to run this checkout.

    python3 scripts/missing_requirements.py [EXTRA ...]
    python3 scripts/missing_requirements.py --pins     # the pins the installed Paddle needs

Checked, in this order:
  * every requirement line of requirements.txt (beside this scripts/ folder);
  * ``srgnn-paddle`` itself: printed unless the distribution is an editable install of this
    very checkout (so that the ``srgnn-paddle`` console script runs the code here);
  * each EXTRA argument, e.g. ``pytest``. An EXTRA may list alternatives separated by ``|``
    (``paddlepaddle|paddlepaddle-gpu``): any one of them installed satisfies it; when none
    is, the argument is printed as given.

Then ``numpy<2`` when a Paddle 2.x (``paddlepaddle`` or ``paddlepaddle-gpu``; built against
numpy 1.x, it cannot run with numpy 2) is installed beside numpy 2 or newer: the only pin,
for the only Paddle release line that needs one. ``--pins`` prints that pin whenever a Paddle
2.x is installed (whatever numpy is), for install.sh to add to every pip call it makes.

Only installed distributions are looked at (importlib.metadata); nothing is imported, so the
answer takes a few tens of milliseconds and is not fooled by the checkout being on PYTHONPATH
(``import srgnn_paddle`` succeeds from the checkout whether or not it is installed).

Names are compared canonicalised (PEP 503: lowercase, runs of ``-_.`` -> ``-``), so
``PyYAML`` matches a ``pyyaml`` distribution. Versions: only ``>=`` is checked, on the leading
release numbers (``3.0`` < ``3.3.1``; pre-release tags are ignored, an unreadable installed
version passes); other operators (``==``, ``<``, ``~=``, ``!=``) and environment markers
(``; ...``) are not evaluated: the distribution only has to be installed. requirements.txt
holds plain specifiers only (no ``-r``/``-e``/``--option`` lines).

Standard library only, and no import of srgnn_paddle or Paddle: it has to run on a Python
that lacks everything it looks for. Exit status 0 whatever is missing (the output is the
answer); 2 when an argument or a line of requirements.txt is malformed, or the file is absent.
"""
from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent  # the checkout: parent of scripts/
REQUIREMENTS = ROOT / "requirements.txt"
PACKAGE = "srgnn-paddle"

# name [extras] [version specifiers] [; marker]
_REQUIREMENT = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*
    (?:\[[A-Za-z0-9._,\s-]*\])?\s*
    (?P<spec>(?:(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*)
    (?:;.*)?$""",
    re.VERBOSE,
)


def canonical(name: str) -> str:
    """PEP 503 normalised name: ``PyYAML`` -> ``pyyaml``, ``scikit_learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(requirement: str) -> tuple[str, str | None]:
    """(canonical name, minimum version from ``>=`` or None); ValueError when malformed."""
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"not a requirement specifier: {requirement!r}")
    minimum = re.search(r">=\s*([A-Za-z0-9.*+!_-]+)", match["spec"])
    return canonical(match["name"]), minimum[1] if minimum else None


def release(version: str) -> tuple[int, ...] | None:
    """Leading release numbers of a version (``3.3.1rc1`` -> (3, 3, 1)); None if there are none."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in match[1].split(".")) if match else None


def at_least(installed: str | None, minimum: str | None) -> bool:
    if minimum is None or installed is None:
        return True
    have, want = release(installed), release(minimum)
    if have is None or want is None:
        return True  # unreadable: presence is all we check
    width = max(len(have), len(want))
    return have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))


def installed(name: str) -> list[metadata.Distribution]:
    """Distributions on sys.path whose canonical name is ``name`` (the first one is imported)."""
    found = []
    for dist in metadata.distributions(name=name):  # the lookup matches folder names loosely
        meta_name = dist.metadata["Name"]
        if meta_name is not None and canonical(meta_name) == name:
            found.append(dist)
    return found


def satisfied(requirement: str) -> bool:
    """True when any ``|``-separated alternative of ``requirement`` is installed (>= checked)."""
    for alternative in requirement.split("|"):
        name, minimum = parse(alternative)
        if any(at_least(dist.version, minimum) for dist in installed(name)):
            return True
    return False


def _same_path(path: Path) -> bool:
    try:
        return path.resolve() == ROOT
    except OSError:
        return False


def from_this_checkout(dist: metadata.Distribution) -> bool:
    """Is ``dist`` an editable install whose source is this checkout?"""
    text = dist.read_text("direct_url.json")
    if text:  # PEP 610/660 (pip >= 21.3 building a wheel): {"url": "file:///...", "dir_info": {"editable": true}}
        try:
            info = json.loads(text)
        except ValueError:
            return False
        url = urlsplit(str(info.get("url", "")))
        editable = isinstance(info.get("dir_info"), dict) and info["dir_info"].get("editable") is True
        return editable and url.scheme == "file" and _same_path(Path(unquote(url.path)))
    # Legacy `setup.py develop` (a pip that finds the `wheel` package, or an old pip): the
    # metadata is the checkout's own srgnn_paddle.egg-info and an .egg-link in site-packages
    # names the checkout. The egg-info alone proves nothing: it is also found whenever the
    # checkout merely is on sys.path (PYTHONPATH), or was installed into another Python.
    if not _same_path(Path(str(dist.locate_file("")))):
        return False
    for entry in sys.path:
        for link_name in ("srgnn-paddle.egg-link", "srgnn_paddle.egg-link"):
            link = Path(entry or ".") / link_name
            try:
                target = link.read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError):
                continue
            if _same_path(Path(target)):
                return True
    return False


PADDLES = ("paddlepaddle", "paddlepaddle-gpu")
NUMPY_PIN = "numpy<2"  # Paddle 2.x wheels are built against numpy 1.x


def paddle_2_installed() -> bool:
    """A Paddle 2.x distribution is installed (it needs numpy 1.x)."""
    return any((release(dist.version) or (0,))[0] == 2 for name in PADDLES for dist in installed(name))


def numpy_pin_needed() -> bool:
    """An installed Paddle 2.x beside an installed numpy >= 2 (see the module docstring)."""
    return paddle_2_installed() and any((release(dist.version) or (0,))[0] >= 2 for dist in installed("numpy"))


def requirement_lines(path: Path) -> list[str]:
    """requirements.txt's specifiers, without blank lines and # comments (as setup.py reads it)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__.strip())
        return 0
    if argv == ["--pins"]:
        if paddle_2_installed():
            print(NUMPY_PIN)
        return 0
    try:
        for arg in argv:  # validate before looking anything up
            if arg.startswith("-"):
                raise ValueError(f"unknown option {arg!r}")
            for alternative in arg.split("|"):
                parse(alternative)
        lines = requirement_lines(REQUIREMENTS)
        missing = [line for line in lines if not satisfied(line)]
        if not any(from_this_checkout(dist) for dist in installed(PACKAGE)):
            missing.append(PACKAGE)
        missing += [arg for arg in argv if not satisfied(arg)]
        if numpy_pin_needed():
            missing.append(NUMPY_PIN)
    except (OSError, ValueError) as error:
        print(f"missing_requirements.py: error: {error}", file=sys.stderr)
        return 2
    for line in dict.fromkeys(missing):  # once each, in order
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
