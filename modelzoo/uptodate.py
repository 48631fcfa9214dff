"""One up-to-date check shared by every task of a zoo, in place of a `config_changed` per task.

A task is up to date while its content key (see `modelzoo.tasks`) equals the key saved at its
last success. The saved value keeps doit's `_config_changed` name, so the task state written
by earlier builds stays valid.

Why a shared instance: doit inspects the signature of every uptodate callable on every run;
a `config_changed` instance costs a bound-method signature per task (about 10 us, times 400
tasks on a 100-model no-op). This class states its signature once, as a class attribute,
which `inspect.signature` returns at once.
"""
from __future__ import annotations

import functools
import inspect

SAVED_VALUE = "_config_changed"
_ARG = inspect.Parameter.POSITIONAL_OR_KEYWORD


class ContentKeys:
    """`uptodate: [keys.check(task_name, key)]`: up to date while the key is unchanged."""

    # doit passes the task and its saved values to an uptodate callable whose first two
    # parameters have these names.
    __signature__ = inspect.Signature([inspect.Parameter("task", _ARG),
                                       inspect.Parameter("values", _ARG)])

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}

    def check(self, task_name: str, key: str) -> "ContentKeys":
        """Register the content key of the task `task_name` (`stage:name`); returns the checker
        to put in the task's `uptodate` list."""
        self._keys[task_name] = key
        return self

    def configure_task(self, task) -> None:
        """Called by doit once per task: save the key when the task succeeds."""
        task.value_savers.append(functools.partial(dict, {SAVED_VALUE: self._keys[task.name]}))

    def __call__(self, task, values) -> bool:
        return values.get(SAVED_VALUE) == self._keys[task.name]

    def key_of(self, task_name: str) -> str | None:
        return self._keys.get(task_name)
