"""Build the Lambda layers for python3.12 / x86_64 and measure every function against the 250 MB limit.

What ``sam build`` does for each ``AWS::Serverless::LayerVersion`` (pip install of the
layer's requirements.txt into ``python/``), plus the trimming ``sam build`` does not do:

- wheels for CPython 3.12 on glibc x86_64, with both the ``manylinux_2_28`` and the
  ``manylinux2014`` tags (either one alone picks old releases or finds no wheel);
- boto3/botocore are left out (the runtime has them);
- tests, caches, C/Cython sources and headers removed, shared objects stripped
  (never inside ``*.libs/``: those vendored libraries stop loading when stripped);
- ``.pyc`` compiled by python3.12 (the runtime cannot use other versions' caches,
  and importing without them is 3x slower); the largest trees ship bytecode only;
- ``--smoke`` then runs ``layers/smoke.py`` on the built layers alone (``python3.12 -I -S``):
  imports, a fit, a safe artifact round trip, drift tests, a Parquet round trip, with timings.

Then, reading template.yaml, each function's unzipped size is its code plus all its
layers (Globals' and its own), printed against Lambda's 250 MB limit.

    python layers/build.py --out .aws-layers
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from retrain.local.template import function_properties, load_template  # noqa: E402

LIMIT_MB = 250.0
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


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def python312() -> str:
    found = subprocess.run([str(ROOT / "scripts" / "find-python312")], capture_output=True, text=True, check=True)
    return found.stdout.strip()


def trim(site: Path) -> None:
    for name in UNUSED:
        for path in site.glob(f"{name}*"):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
    for name in RUNTIME_PROVIDED:
        for path in site.glob(f"{name}*"):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
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


def build_layer(name: str, content: Path, out: Path, interpreter: str) -> Path:
    target = out / name / "python"
    shutil.rmtree(out / name, ignore_errors=True)
    target.mkdir(parents=True)
    requirements = content / "requirements.txt"
    if requirements.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--only-binary=:all:", *PLATFORM]
            + ["--target", str(target), "-r", str(requirements)],
            check=True,
        )
        trim(target)
    else:
        shutil.copytree(content, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for package in SOURCELESS:
        tree = target / package
        if not tree.is_dir():
            continue
        subprocess.run([interpreter, "-m", "compileall", "-q", "-b", "-j", "2", str(tree)], check=True)
        for source in tree.rglob("*.py"):
            if source.with_suffix(".pyc").exists():
                source.unlink()
        for cache in tree.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "2", str(target)], check=False)
    return out / name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / ".aws-layers"))
    parser.add_argument("--smoke", action="store_true", help="run layers/smoke.py on the built layers alone")
    args = parser.parse_args()
    out = Path(args.out)
    template = load_template(ROOT / "template.yaml")
    interpreter = python312()
    layers: dict[str, float] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            built = build_layer(logical_id, ROOT / resource["Properties"]["ContentUri"], out, interpreter)
            layers[logical_id] = size_mb(built)
            print(f"layer {logical_id:<16} {layers[logical_id]:7.1f} MB unzipped")
    print(f"\n{'function':<22} {'code MB':>8} {'layers MB':>10} {'total MB':>9}  limit {LIMIT_MB:.0f} MB")
    worst = 0.0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = function_properties(template, logical_id)
        names = [layer["Ref"] for layer in props.get("Layers", []) if isinstance(layer, dict) and "Ref" in layer]
        code = size_mb(ROOT / props["CodeUri"])
        total = code + sum(layers[n] for n in names)
        worst = max(worst, total)
        verdict = "ok" if total < LIMIT_MB else "OVER"
        print(f"{logical_id:<22} {code:8.2f} {total - code:10.1f} {total:9.1f}  {verdict}  ({', '.join(names)})")
    if args.smoke:
        runtime = out / "_runtime"  # what the python3.12 runtime provides; not counted above
        if not runtime.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--target", str(runtime), "boto3", "python-dateutil<3"],
                check=True,
            )
        paths = [str(out / name / "python") for name in layers] + [str(runtime)]
        smoke = str(ROOT / "layers" / "smoke.py")
        code = f"import sys, runpy; sys.path[:0] = {paths!r}; runpy.run_path({smoke!r}, run_name='__main__')"
        print("\nsmoke test on the built layers only (python3.12 -I -S):")
        if subprocess.run([interpreter, "-I", "-S", "-c", code], check=False).returncode != 0:
            return 1
    return 0 if worst < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
