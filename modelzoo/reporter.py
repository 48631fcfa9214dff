"""doit's reporter for zoo builds: live progress on a terminal, a summary after every build.

On a terminal (stdout is a TTY) one live line, drawn with tqdm, says how many models are done
of how many, the failures so far, the task running, the time spent and the time left; a
failure is printed above it as it happens. In a log (not a TTY) the output is doit's own, one
line per task (`.  task` ran, `-- task` up to date), as scripts and tests read it. Either way,
a run that builds models ends with the summary table (`modelzoo.summary`), and the rows are
merged into the state file beside the manifest.
"""
from __future__ import annotations

from doit.exceptions import UnmetDependency
from doit.reporter import ConsoleReporter

from .outcomes import RunOutcomes, one_line
from .summary import format_summary


def reporter_for(zoo) -> type:
    """The reporter class for `DOIT_CONFIG["reporter"]`, bound to the zoo's tasks (doit builds
    the reporter itself, from a class)."""
    return type("ZooReporter", (ZooReporter,), {"zoo": zoo})


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ZooReporter(ConsoleReporter):
    desc = "zoo builds: live progress on a terminal, a summary at the end"
    zoo = None  # the ZooTasks, set by `reporter_for`

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.live = _is_terminal(outstream)
        self.outcomes: RunOutcomes | None = None
        self.progress = None  # the tqdm bar, on a terminal only
        self.running: list[str] = []

    # -- doit's calls -------------------------------------------------------------------------
    def initialize(self, tasks, selected_tasks):
        if self.zoo is not None:
            self.outcomes = RunOutcomes(self.zoo, list(selected_tasks or []))
        if self.live and self.outcomes is not None and self.outcomes.summarized:
            self.progress = LiveLine(self.outstream, self.outcomes)

    def execute_task(self, task):
        if self.progress is None:
            return super().execute_task(task)
        if task.actions and not task.name.startswith("_"):
            self.running.append(task.name)
            self.progress.show(self.running[-1])

    def skip_uptodate(self, task):
        self._succeeded(task, executed=False)
        if self.progress is None:
            super().skip_uptodate(task)

    def add_success(self, task):
        self._succeeded(task, executed=True)

    def add_failure(self, task, fail):
        if self.outcomes is not None:
            self.outcomes.failed(task.name, one_line(fail), isinstance(fail, UnmetDependency))
        self._finished(task)
        if self.progress is None:
            return super().add_failure(task, fail)
        result = {"task": task, "exception": fail}
        if fail.report:
            self.failures.append(result)
            self.progress.write(f"{fail.get_name()} - taskid:{task.name}\n{fail.get_msg()}")

    def complete_run(self):
        if self.progress is not None:
            self.progress.close()
        super().complete_run()
        if self.outcomes is None or not self.outcomes.summarized:
            return
        rows = self.outcomes.final_rows()
        self.outcomes.save(rows)
        self.write(format_summary(rows, self.zoo.manifest.path))

    # -- bookkeeping ----------------------------------------------------------------------
    def _succeeded(self, task, executed: bool) -> None:
        if self.outcomes is not None:
            self.outcomes.succeeded(task.name, executed)
        self._finished(task)

    def _finished(self, task) -> None:
        if task.name in self.running:
            self.running.remove(task.name)
        if self.progress is not None:
            self.progress.show(self.running[-1] if self.running else "")


class LiveLine:
    """One tqdm line: models done / total, failures, the task running, elapsed and left.

    tqdm is imported here, on a terminal only: a logged run never pays for it."""

    def __init__(self, stream, outcomes: RunOutcomes) -> None:
        from tqdm import tqdm

        self.outcomes = outcomes
        self.stream = stream
        self.bar = tqdm(total=outcomes.to_build, file=stream, unit="model", leave=True,
                        dynamic_ncols=True,
                        bar_format="models {n_fmt}/{total_fmt} |{bar:24}| {desc} "
                                   "[{elapsed} elapsed, {remaining} left]")

    def show(self, running: str) -> None:
        self.bar.update(self.outcomes.done - self.bar.n)  # through update: tqdm's rate, hence the time left
        failures = self.outcomes.failures
        self.bar.set_description_str(f"{failures} failed" + (f", {running}" if running else ""),
                                     refresh=False)
        self.bar.refresh()

    def write(self, text: str) -> None:
        self.bar.write(text.rstrip("\n"), file=self.stream)

    def close(self) -> None:
        self.show("")
        self.bar.close()
