"""Debian 13's python3.13 on a Debian 12 machine, without a system upgrade.

`apt-get download` fetches the packages of Debian 13 (trixie) with an apt configuration of its
own (its own sources list, lists and cache directories, so the system's apt state is untouched),
from the same mirror the system's Debian sources name; `dpkg -x` unpacks them into a cache
directory; the interpreter then runs through Debian 13's own dynamic loader with Debian 13's
libc (`<root>/usr/lib/<triplet>/ld-linux-*.so --library-path ... <root>/usr/bin/python3.13`).
Python finds its standard library from the binary's own path, so `-I` (isolated) suffices.

The unpacked root is cached per user (`$AIGW_CACHE_DIR`, else `$XDG_CACHE_HOME/aigw`, else
`~/.cache/aigw`), under a lock, so concurrent synths fetch once; later synths start at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from infra.interpreter import Interpreter, RegistryUnreachable, Unavailable, probe

SUITE = "trixie"
# The interpreter, its standard library, and what they link against (the loader comes with libc6):
# enough to compile, and to run the gateway like the Lambda runtime for bench/cold_start.py (ssl, ctypes).
PACKAGES = ("python3.13-minimal", "libpython3.13-minimal", "libpython3.13-stdlib", "libc6", "zlib1g", "libexpat1",
            "libssl3t64", "libffi8", "liblzma5", "libbz2-1.0", "libuuid1")
KEYRINGS = (Path(f"/usr/share/keyrings/debian-archive-{SUITE}-stable.gpg"),
            Path("/usr/share/keyrings/debian-archive-keyring.gpg"))
APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))
_UNREACHABLE = re.compile(r"Could not resolve|Temporary failure|Connection failed|Unable to connect|timed out|"
                          r"Network is unreachable|No route to host|Could not connect", re.I)


def cache_dir() -> Path:
    base = os.environ.get("AIGW_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aigw"
    return Path(base)


def architecture() -> str:
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        raise Unavailable("no dpkg here: not a Debian-family machine") from None


def interpreter(*, fetch: bool = True) -> Interpreter:
    """The cached Debian 13 python3.13, fetching it first if needed (and allowed)."""
    arch = architecture()
    packages = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:8]
    root = cache_dir() / f"debian-{SUITE}-python3.13-{arch}-{packages}"
    with _locked(root.parent / f"{root.name}.lock"):
        found = _run(root)
        if found is not None:
            return found
        if not fetch:
            raise Unavailable(f"no cached Debian {SUITE} python3.13 in {root}")
        _fetch(root, arch)
    found = _run(root)
    if found is None:
        raise Unavailable(f"Debian {SUITE}'s python3.13 was unpacked in {root} but does not run")
    return found


def _run(root: Path) -> Interpreter | None:
    loaders = sorted(root.glob("usr/lib/*-linux-gnu*/ld-linux*.so.*"))
    python = root / "usr" / "bin" / "python3.13"
    if not loaders or not python.exists():
        return None
    libs = ":".join(str(p) for p in sorted(root.glob("usr/lib/*-linux-gnu*")) if p.is_dir())
    argv = (str(loaders[0]), "--library-path", libs, str(python))
    return probe(argv, f"Debian {SUITE} python3.13 in {root}")


def mirror() -> str:
    """The Debian mirror this machine's own apt sources use (one-line or deb822 format)."""
    texts: list[str] = []
    for source in APT_SOURCES:
        files = sorted(source.glob("*.sources")) + sorted(source.glob("*.list")) if source.is_dir() else [source]
        texts.extend(f.read_text(errors="replace") for f in files if f.is_file())
    for text in texts:
        for match in re.finditer(r"^URIs:\s*(\S+)|^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M):
            uri = (match.group(1) or match.group(2)).rstrip("/")
            if uri.endswith("/debian"):
                return uri
    raise Unavailable("no Debian mirror in this machine's apt sources (/etc/apt)")


def _fetch(root: Path, arch: str) -> None:
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise Unavailable("apt-get and dpkg are needed to fetch Debian's python3.13")
    keyring = next((k for k in KEYRINGS if k.exists()), None)
    if keyring is None:
        raise Unavailable(f"no Debian archive keyring for {SUITE} in /usr/share/keyrings")
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".fetch-") as work:
        apt = Path(work) / "apt"
        debs = Path(work) / "debs"
        for sub in ("etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d", "lists/partial",
                    "cache/archives/partial"):
            (apt / sub).mkdir(parents=True)
        debs.mkdir()
        (apt / "etc" / "sources.list").write_text(f"deb [signed-by={keyring}] {mirror()} {SUITE} main\n")
        options = [
            f"-oDir::Etc={apt / 'etc'}", f"-oDir::Etc::sourcelist={apt / 'etc' / 'sources.list'}",
            f"-oDir::Etc::sourceparts={apt / 'etc' / 'sources.list.d'}", f"-oDir::State={apt}",
            f"-oDir::State::Lists={apt / 'lists'}", "-oDir::State::status=/dev/null", f"-oDir::Cache={apt / 'cache'}",
            "-oAcquire::Languages=none", f"-oAPT::Architectures={arch}",
            "-oDebug::NoLocking=1", "-oAcquire::Retries=3", "-oAcquire::http::Timeout=30",
        ]
        if os.geteuid() == 0:  # apt would hand the download to its `_apt` user, who cannot write our dirs
            options.append("-oAPT::Sandbox::User=root")
        update = _apt(["apt-get", *options, "update"], cwd=debs)
        if not list((apt / "lists").glob(f"*_dists_{SUITE}_*Packages*")):
            output = update.stdout + update.stderr
            if _UNREACHABLE.search(output) or "Failed to fetch" in output:
                raise RegistryUnreachable(f"the Debian package registry did not answer: {output.strip()[-600:]}")
            raise Unavailable(f"apt-get update for {SUITE} failed: {output.strip()[-600:]}")
        download = _apt(["apt-get", *options, "download", *PACKAGES], cwd=debs)
        if download.returncode != 0:
            output = download.stdout + download.stderr
            kind = RegistryUnreachable if _UNREACHABLE.search(output) else Unavailable
            raise kind(f"apt-get download of {SUITE}'s python3.13 failed: {output.strip()[-600:]}")
        staging = Path(work) / "root"
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(staging)], check=True, capture_output=True, timeout=300)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)


def _apt(command: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        raise RegistryUnreachable(f"{' '.join(command[:1] + command[-1:])} timed out after 600 s") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
