"""A user-defined task: ``task`` (the Task, its problems and examples files), ``model`` (the
config, options, rationales), ``check`` (answer normalisation). It has no generator (problems
come from a file) and no step checker (feedback comes from the LLM expert)."""

from tripost.tasks.custom.check import normalize_answer
from tripost.tasks.custom.model import CustomTaskConfig
from tripost.tasks.custom.task import CustomTask

__all__ = ["CustomTask", "CustomTaskConfig", "normalize_answer"]
