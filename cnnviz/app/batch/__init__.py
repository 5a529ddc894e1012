"""``cnnviz batch``: expand the arguments, run the tasks on an executor, write the contact sheet."""

from __future__ import annotations

from .expand import expand_configs, expand_images
from .runner import BatchReport, BatchRequest, run_batch
from .tasks import Task, run_task

__all__ = ["BatchReport", "BatchRequest", "Task", "expand_configs", "expand_images", "run_batch", "run_task"]
