# django-simple-history ships no types and has no stub package. These stubs
# declare only what this project uses, so that mypy checks the admin classes
# built on SimpleHistoryAdmin against Django's ModelAdmin instead of Any.
