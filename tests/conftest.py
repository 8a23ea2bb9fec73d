"""Shared fixtures. Keep this file small: put helpers in the test modules that use them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from zoo_recordings import ZooRecording

pytest_plugins = ["golden"]  # the golden fixture and --update-golden


@pytest.fixture(scope="session")
def zoo_binary() -> Path:
    """Build (or reuse the cached) zoo binary; skip loudly when Go is missing."""
    from leakhunter.harness.build import GoNotFoundError, build_zoo

    try:
        return build_zoo()
    except GoNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def zoo_recordings(
    zoo_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ZooRecording]:
    """Every zoo scenario recorded once (LEAKHUNTER_ZOO_ONLY=name,name: a subset)."""
    from zoo_recordings import record_all, selected_scenarios

    return record_all(selected_scenarios(), zoo_binary, tmp_path_factory.mktemp("zoo"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip @pytest.mark.go / .prometheus tests with a clear reason when the tools are missing."""
    if item.get_closest_marker("prometheus") is not None:
        from mixin_helpers import MISSING_HINT, missing_tools

        missing = missing_tools()
        if missing:
            pytest.skip(f"{', '.join(missing)} not found: {MISSING_HINT}")
    if item.get_closest_marker("go") is None:
        return
    from leakhunter.harness.build import GoNotFoundError, find_go

    try:
        find_go()
    except GoNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["native", "numpy"])
def sample_walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through the compiled sample walk and again through the numpy one."""
    if request.param == "numpy":
        monkeypatch.setenv("LEAKHUNTER_NATIVE", "0")
    else:
        from leakhunter.native import kernels

        if kernels() is None:
            pytest.skip("leakhunter's compiled kernels are not built here (no C compiler?)")
    return str(request.param)
