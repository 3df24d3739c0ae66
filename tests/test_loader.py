"""One road for user code: reference.adapters.loader loads every file a command is given. While the
file imports, its folder is first on sys.path (so it imports the files beside it); afterwards sys.path
is as it was, the file lives under a name no installed package has, and the files it imported beside
it are out of sys.modules again, where their plain names would answer a later import."""

import sys

import pytest

from reference.adapters.loader import USER_MODULE_PREFIX, ImplementationError, load_module, load_object
from reference.cli import main as cli

HELPER = "helper_beside_the_user_file"


def user_file(folder, name="mine.py", body="VALUE = helper_beside_the_user_file.VALUE\n"):
    (folder / f"{HELPER}.py").write_text("VALUE = 42\n")
    path = folder / name
    path.write_text(f"import sys\nimport {HELPER}\nPATH_WHILE_IMPORTING = list(sys.path)\n{body}")
    return path


def test_the_folder_is_on_sys_path_only_while_the_file_imports(tmp_path):
    before = list(sys.path)
    module = load_module(user_file(tmp_path))
    assert module.PATH_WHILE_IMPORTING[0] == str(tmp_path) and module.VALUE == 42
    assert sys.path == before


def test_a_file_named_as_a_package_shadows_nothing(tmp_path):
    import json

    module = load_module(user_file(tmp_path, "json.py"))
    assert module.__name__ == f"{USER_MODULE_PREFIX}json" and sys.modules["json"] is json
    assert sys.modules[module.__name__] is module  # as an import keeps it: its objects pickle


def test_the_files_it_imported_beside_it_leave_sys_modules(tmp_path):
    load_module(user_file(tmp_path))
    assert HELPER not in sys.modules


def test_a_file_that_raises_leaves_nothing_behind(tmp_path):
    before, modules = list(sys.path), set(sys.modules)
    with pytest.raises(ImplementationError, match="raised ZeroDivisionError"):
        load_module(user_file(tmp_path, "broken.py", "1 / 0\n"))
    assert sys.path == before and set(sys.modules) == modules


def test_an_object_is_found_by_name_or_refused_in_one_line(tmp_path):
    path = user_file(tmp_path, body="class Thing:\n    pass\n")
    assert load_object(f"{path}:Thing", "--x", callable, "class").__name__ == "Thing"
    with pytest.raises(ImplementationError, match="has no class Other"):
        load_object(f"{path}:Other", "--x", callable, "class")


@pytest.mark.parametrize("argv", [
    ["check", "layer", "{path}:Missing"],
    ["check", "implementation", "{path}:missing"],
    ["check", "whole-network", "{path}:Missing"],
    ["check", "engine", "{path}:Missing"],
    ["check", "update-rule", "{path}:missing"],
    ["train", "--implementation", "{path}:missing", "--no-progress"],
], ids=lambda argv: " ".join(argv[:2]))
def test_every_command_loads_user_files_by_the_loader(argv, tmp_path, capsys):
    """The file imports the one beside it (only the loader puts its folder on sys.path), then the
    name asked for is missing: exit 2, one line, and sys.path and sys.modules as they were."""
    path = user_file(tmp_path, f"mine_{argv[1].replace('-', '_')}.py")
    before = list(sys.path)
    assert cli.main([arg.format(path=path) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err.lower() and "could not import" not in err, err
    assert sys.path == before and HELPER not in sys.modules
