from typing import Any

from django.db.models import Manager, Model

class HistoricalRecords:
    context: Any
    def __init__(self, **kwargs: Any) -> None: ...
    # On a model class, contribute_to_class() replaces this with a descriptor
    # that returns the model's history manager.
    def __get__(self, instance: Model | None, owner: type[Model]) -> Manager[Any]: ...
