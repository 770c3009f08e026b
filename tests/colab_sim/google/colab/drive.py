from . import _log


def mount(path: str, force_remount: bool = False) -> None:
    _log(f"drive.mount {path}")
