from . import _log


def enable_custom_widget_manager() -> None:
    _log("enable_custom_widget_manager")
