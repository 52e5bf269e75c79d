"""rnnscope.settings: every environment variable is read there, documented, and checked."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from rnnscope import settings as settings_module
from rnnscope.settings import Settings, export

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "rnnscope" / "settings.py"
#: The folders whose code runs in rnnscope's processes.
SOURCE_DIRS = ("analysis", "app", "workers", "bench", "rnnscope")
NAME = re.compile(r"^(RNNSCOPE_\w+|REDIS_URL)$")


def table_variables(text: str) -> list[str]:
    """Variables named in the first column of the settings module's docstring table."""
    return re.findall(r"^``(RNNSCOPE_\w+|REDIS_URL)``", text, flags=re.MULTILINE)


def readme_variables() -> set[str]:
    """Variables in the first column of README.md's "## Settings" table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in rows for name in re.findall(r"`(RNNSCOPE_\w+|REDIS_URL)`", cell)}


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" \
        and isinstance(node.value, ast.Name) and node.value.id == "os"


def _mentions_environ(node: ast.AST) -> bool:
    return any(_is_environ(n) for n in ast.walk(node))


def environment_uses(path: Path) -> list[tuple[int, str]]:
    """(line, variable) of each ``os.environ`` / ``os.getenv`` read or write of a setting name.

    Catches ``os.environ.get(NAME)``, ``os.environ[NAME]``, ``os.environ.setdefault/pop(NAME)``,
    ``os.getenv(NAME)``, ``NAME in os.environ`` and ``(os.environ if ... else env).get(NAME)``,
    where NAME is a string literal or a module-level constant bound to one.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for t in node.targets if isinstance(t, ast.Name)}

    def name_of(arg: ast.AST) -> str | None:
        value = arg.value if isinstance(arg, ast.Constant) else \
            constants.get(arg.id) if isinstance(arg, ast.Name) else None
        return value if isinstance(value, str) and NAME.match(value) else None

    found = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            func = node.func
            if (func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os") \
                    or _mentions_environ(func.value):
                key = name_of(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = name_of(node.slice)
        elif isinstance(node, ast.Compare) and any(_mentions_environ(c) for c in node.comparators):
            key = name_of(node.left)
        if key:
            found.append((node.lineno, key))
    return found


def test_the_scanner_sees_every_form_of_reading_a_setting(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('import os\nKEY = "RNNSCOPE_X"\n'
                    'a = os.environ.get("RNNSCOPE_HOME")\nb = os.environ["REDIS_URL"]\n'
                    'c = os.getenv("RNNSCOPE_Y")\nd = "RNNSCOPE_Z" in os.environ\n'
                    'e = (os.environ if a else {}).get(KEY)\nos.environ.setdefault("RNNSCOPE_W", "1")\n'
                    'os.environ["RNNSCOPE_V"] = "1"\nf = os.environ.get("PATH")\n'
                    'g = {**os.environ, "REDIS_URL": "x"}\n')
    assert [k for _, k in sorted(environment_uses(path))] == [
        "RNNSCOPE_HOME", "REDIS_URL", "RNNSCOPE_Y", "RNNSCOPE_Z", "RNNSCOPE_X", "RNNSCOPE_W", "RNNSCOPE_V"]


def test_settings_are_read_from_the_environment_only_in_the_settings_module():
    offenders = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == SETTINGS_FILE:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{line}: {key}" for line, key in environment_uses(path)]
    assert offenders == [], "read these through rnnscope.settings.Settings (or export())"


def test_every_variable_the_settings_module_reads_is_in_its_table():
    text = SETTINGS_FILE.read_text(encoding="utf-8")
    documented = set(table_variables(settings_module.__doc__))
    read = set(re.findall(r'"(RNNSCOPE_\w+|REDIS_URL)"', text.split('"""', 2)[2]))
    assert read - documented == set()
    assert set(settings_module.EXPORTABLE.values()) <= documented


def test_every_variable_in_the_settings_table_is_in_the_readme():
    documented = table_variables(settings_module.__doc__)
    assert len(documented) == len(set(documented)) >= 18
    assert set(documented) - readme_variables() == set()
    assert readme_variables() - set(documented) == set()


def test_defaults():
    s = Settings.from_env({})
    assert s.home == Path("~/.cache/rnnscope").expanduser() and s.store == s.home / "store"
    assert s.redis_url is None and s.archives is None and s.torch_threads is None
    assert s.analysis_params == {} and s.secret_key is None and s.fetch_data is False
    assert s.hard_time_limit_s == s.soft_time_limit_s + 300 and s.device == "cpu"
    assert s.demo_dir == ROOT / "models" / "demo"


def test_the_new_fields_are_read():
    s = Settings.from_env({"RNNSCOPE_ARCHIVES": "/tmp/wheels", "RNNSCOPE_TORCH_THREADS": " 3 ",
                           "RNNSCOPE_ANALYSIS_PARAMS": '{"n_docs": 40}', "RNNSCOPE_SECRET_KEY": "k3y"})
    assert s.archives == Path("/tmp/wheels") and s.torch_threads == 3
    assert s.analysis_params == {"n_docs": 40} and s.secret_key == "k3y"
    assert "k3y" not in repr(s)
    assert hash(s) == hash(Settings.from_env({"RNNSCOPE_ARCHIVES": "/tmp/wheels", "RNNSCOPE_TORCH_THREADS": "3",
                                              "RNNSCOPE_SECRET_KEY": "k3y"}))


@pytest.mark.parametrize("name, value, message", [
    ("RNNSCOPE_TORCH_THREADS", "two", "must be a positive integer"),
    ("RNNSCOPE_TORCH_THREADS", "0", "must be a positive integer"),
    ("RNNSCOPE_ANALYSIS_PARAMS", "{nope", "is not valid JSON"),
    ("RNNSCOPE_ANALYSIS_PARAMS", "[1, 2]", "must be a JSON object, got list"),
    ("RNNSCOPE_DEVICE", "tpu", "must be one of cpu, cuda"),
    ("RNNSCOPE_FETCH_DATA", "maybe", "must be 1 or 0"),
    ("RNNSCOPE_LOCK_TTL_S", "-1", "must be a positive number"),
    ("RNNSCOPE_JOB_HARD_LIMIT_S", "10", "must exceed RNNSCOPE_JOB_SOFT_LIMIT_S"),
])
def test_bad_values_raise_naming_the_variable(name, value, message):
    with pytest.raises(ValueError, match=f"{name}.*{message}|{message}.*{name}"):
        Settings.from_env({name: value})


def test_export_hands_settings_to_children_as_from_env_reads_them():
    env = {"RNNSCOPE_SECRET_KEY": "kept"}
    export(env, device="cuda", fetch_data=True, torch_threads=2)
    export(env, replace=False, secret_key="new", torch_threads=5)
    assert env == {"RNNSCOPE_SECRET_KEY": "kept", "RNNSCOPE_DEVICE": "cuda", "RNNSCOPE_FETCH_DATA": "1",
                   "RNNSCOPE_TORCH_THREADS": "2"}
    s = Settings.from_env(env)
    assert (s.device, s.fetch_data, s.torch_threads, s.secret_key) == ("cuda", True, 2, "kept")
    export(env, fetch_data=False)
    assert Settings.from_env(env).fetch_data is False
    with pytest.raises(TypeError, match="cannot hand over 'home'"):
        export(env, home="/elsewhere")


def test_export_writes_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("RNNSCOPE_TORCH_THREADS", "")  # restored as it was after the test
    monkeypatch.delenv("RNNSCOPE_TORCH_THREADS")
    export(torch_threads=1, replace=False)
    assert Settings.from_env().torch_threads == 1


def test_a_bad_setting_stops_the_cli_in_words_without_a_traceback():
    """Every command reads the whole Settings: one bad variable is named, exit status 2."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "RNNSCOPE_DEVICE": "tpu"}
    done = subprocess.run([sys.executable, "-m", "rnnscope.app.cli", "data", "list"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "RNNSCOPE_DEVICE must be one of cpu, cuda, got 'tpu'" in done.stderr
    assert "Traceback" not in done.stderr
    ok = subprocess.run([sys.executable, "-m", "rnnscope.app.cli", "data", "list"],
                        env={**env, "RNNSCOPE_DEVICE": "cpu"}, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
