"""The one way the window runs long core work: TaskRunner.run(title, generator_function, *args) runs it off
the GUI thread (a child process by default) and re-emits its events. Imports core only: no widgets, no views."""
from desktop.tasks.child import TaskCrashed
from desktop.tasks.runner import Task, TaskRunner

__all__ = ["Task", "TaskCrashed", "TaskRunner"]
