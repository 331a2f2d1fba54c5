"""Build the Lambda layers for python3.12 / x86_64, and measure every built function against the 250 MB limit.

``sam build`` calls this for each ``AWS::Serverless::LayerVersion`` (``BuildMethod: makefile``:
``layers/Makefile`` has one ``build-<LayerLogicalId>`` target per layer), so ``.aws-sam/build``
holds exactly these layers. What a plain ``BuildMethod: python3.12`` layer would not do:

- wheels for CPython 3.12 on glibc x86_64, with both the ``manylinux_2_28`` and the
  ``manylinux2014`` tags (either one alone picks old releases or finds no wheel), every
  version pinned by ``layers/constraints.txt`` (written by ``layers/lock.py``);
- boto3/botocore are left out (the runtime has them);
- tests, caches, C/Cython sources and headers removed, shared objects stripped
  (never inside ``*.libs/``: those vendored libraries stop loading when stripped);
- ``.pyc`` compiled by python3.12 (the runtime cannot use other versions' caches,
  and importing without them is 3x slower); the largest trees ship bytecode only.

Commands::

    python3.12 layers/build.py layer ScienceLayer --into DIR   # one layer into DIR/python (sam build runs this)
    python layers/build.py size [--build-dir .aws-sam/build]    # code + layers per function, fails over 250 MB
    python layers/build.py smoke [--build-dir .aws-sam/build]   # layers/smoke.py on the built layers alone

The ``layer`` command needs only the standard library and pip (``sam build`` runs it with python3.12).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCK = HERE / "constraints.txt"
#: What each dependency layer installs; ``RetrainLibLayer`` is the package itself (``src/retrain``).
REQUIREMENTS = {
    "CoreDepsLayer": HERE / "core" / "requirements.txt",
    "ScienceLayer": HERE / "science" / "requirements.txt",
}
LIBRARY = {"RetrainLibLayer": ROOT / "src" / "retrain"}
#: Lambda's limit on a function's unzipped code plus all its layers: 262,144,000 bytes.
LIMIT_BYTES = 262_144_000
#: What every function must stay under (a margin below the limit for growth), in MiB as AWS counts "MB".
GOAL_MB = 220.0
MB = 1024 * 1024
# Every glibc tag the python3.12 runtime (Amazon Linux 2023, glibc 2.34) runs. Naming only
# manylinux2014 picks old releases; naming only manylinux_2_28 finds no pydantic-core wheel.
PLATFORM = [
    *("--platform", "manylinux_2_28_x86_64"),
    *("--platform", "manylinux_2_17_x86_64"),
    *("--platform", "manylinux2014_x86_64"),
    *("--implementation", "cp", "--python-version", "3.12"),
]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python_dateutil", "dateutil", "six")
TRIM_DIRS = ("tests", "test", "__pycache__")
TRIM_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".cpp", ".h", ".hpp", ".f", ".f90", ".pyi")
KEEP_TEST_PACKAGES = ("numpy/testing", "pandas/_testing", "scipy/_lib")
#: Only model cards (skops.card) use these; the steps never make cards.
UNUSED = ("prettytable", "wcwidth", "skops/card")
#: Large pure-Python trees shipped as bytecode only (legacy ``.pyc`` beside the module, no ``.py``):
#: about 40 MB less, same import speed; tracebacks inside them show file and line but no source text.
SOURCELESS = ("numpy", "pandas", "scipy", "sklearn", "narwhals")


class BuildError(Exception):
    """A build that cannot go on; its message is the one line the user sees."""


def size_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def trim(site: Path) -> None:
    for name in (*UNUSED, *RUNTIME_PROVIDED):
        for path in site.glob(f"{name}*"):
            _remove(path)
    for path in sorted(site.rglob("*"), key=lambda p: -len(p.parts)):
        relative = path.relative_to(site).as_posix()
        if any(relative.startswith(keep) for keep in KEEP_TEST_PACKAGES):
            continue
        if path.is_dir() and path.name in TRIM_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in TRIM_SUFFIXES:
            path.unlink()
    strip = shutil.which("strip")
    if strip:
        for lib in site.rglob("*.so*"):
            if any(part.endswith(".libs") for part in lib.relative_to(site).parts):
                continue
            subprocess.run([strip, "--strip-unneeded", str(lib)], capture_output=True, check=False)


def compile_tree(target: Path) -> None:
    """Bytecode for python3.12: the largest trees sourceless, the rest beside their sources."""
    for package in SOURCELESS:
        tree = target / package
        if not tree.is_dir():
            continue
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-b", "-j", "2", str(tree)], check=True)
        for source in tree.rglob("*.py"):
            if source.with_suffix(".pyc").exists():
                source.unlink()
        for cache in tree.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "2", str(target)], check=False)


def pip_install(name: str, requirements: Path, target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--only-binary=:all:", *PLATFORM]
    command += ["--disable-pip-version-check", "--target", str(target), "-r", str(requirements), "-c", str(LOCK)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
        last = lines[-1].strip() if lines else f"pip exited {done.returncode}"
        raise BuildError(
            f"{name}: pip could not install {requirements.relative_to(ROOT)} for python3.12/manylinux x86_64 "
            f"(is PyPI reachable?): {last}"
        )


def build_layer(name: str, into: Path) -> Path:
    """Build layer ``name`` into ``into/python`` (what Lambda mounts at ``/opt/python``)."""
    if sys.version_info[:2] != (3, 12):
        raise BuildError(
            f"{name}: layers must be built by python3.12 (its bytecode is what the runtime loads); "
            f"this is {sys.version.split()[0]} at {sys.executable}"
        )
    target = into / "python"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if name in REQUIREMENTS:
        pip_install(name, REQUIREMENTS[name], target)
        trim(target)
    elif name in LIBRARY:
        source = LIBRARY[name]
        shutil.copytree(source, target / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    else:
        raise BuildError(f"no recipe for layer {name!r}; known: {', '.join([*REQUIREMENTS, *LIBRARY])}")
    compile_tree(target)
    return target


# ----------------------------------------------------------------- measuring a build
def built_functions(build_dir: Path) -> list[dict[str, Any]]:
    """Each function of ``build_dir/template.yaml``: its code dir and the built dirs of every layer it uses."""
    sys.path.insert(0, str(ROOT / "src"))
    from retrain.local.template import function_properties, load_template

    template_path = build_dir / "template.yaml"
    if not template_path.exists():
        raise BuildError(f"{template_path} does not exist: run `make build` first")
    template = load_template(template_path)
    resources = template["Resources"]
    functions = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = function_properties(template, logical_id)
        layers = []
        for layer in props.get("Layers", []):
            ref = layer.get("Ref") if isinstance(layer, dict) else None
            if ref not in resources:
                raise BuildError(f"{logical_id}: layer {layer!r} is not a layer of this template; cannot measure it")
            layers.append((ref, build_dir / resources[ref]["Properties"]["ContentUri"]))
        functions.append({"name": logical_id, "code": build_dir / props["CodeUri"], "layers": layers})
    return functions


def measure(build_dir: Path, write: Any = print) -> bool:
    """Print every function's unzipped size (code + layers); ``False`` if one is over Lambda's limit."""
    layer_sizes: dict[Path, int] = {}
    header = f"{'function':<22} {'code MB':>8} {'layers MB':>10} {'total MB':>9}"
    write(f"{header}  (MB = MiB; limit {LIMIT_BYTES / MB:.0f} MB)")
    fits = True
    for function in built_functions(build_dir):
        code = size_bytes(function["code"])
        for _, path in function["layers"]:
            layer_sizes.setdefault(path, size_bytes(path))
        total = code + sum(layer_sizes[path] for _, path in function["layers"])
        verdict = "ok" if total <= GOAL_MB * MB else ("over goal" if total <= LIMIT_BYTES else "OVER LIMIT")
        fits &= total <= LIMIT_BYTES
        names = ", ".join(name for name, _ in function["layers"])
        sizes = f"{code / MB:8.2f} {(total - code) / MB:10.1f} {total / MB:9.1f}"
        write(f"{function['name']:<22} {sizes}  {verdict}  ({names})")
    return fits


def smoke(build_dir: Path) -> int:
    """Run layers/smoke.py with only the built layers and the runtime's SDK on ``sys.path``."""
    from retrain.local.runtime import lambda_runtime_dir, python312

    paths = sorted({str(path / "python") for f in built_functions(build_dir) for _, path in f["layers"]})
    paths.append(str(lambda_runtime_dir()))
    script = str(HERE / "smoke.py")
    code = f"import sys, runpy; sys.path[:0] = {paths!r}; runpy.run_path({script!r}, run_name='__main__')"
    print("smoke test on the built layers only (python3.12 -I -S):")
    return subprocess.run([python312(), "-I", "-S", "-c", code], check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    layer = sub.add_parser("layer", help="build one layer (sam build's makefile target calls this)")
    layer.add_argument("name", help="the layer's logical id in template.yaml")
    layer.add_argument("--into", default=os.environ.get("ARTIFACTS_DIR"), help="default: $ARTIFACTS_DIR")
    for command in ("size", "smoke"):
        sub.add_parser(command).add_argument("--build-dir", default=str(ROOT / ".aws-sam" / "build"))
    args = parser.parse_args(argv)
    try:
        if args.command == "layer":
            if not args.into:
                raise BuildError("give --into DIR (sam build sets ARTIFACTS_DIR)")
            target = build_layer(args.name, Path(args.into))
            print(f"layer {args.name}: {size_bytes(target) / MB:.1f} MiB unzipped in {target}")
            return 0
        if args.command == "size":
            return 0 if measure(Path(args.build_dir)) else 1
        return smoke(Path(args.build_dir))
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
