"""The JSON Schema contracts of the stores. A package only so that they ship inside backoffice and
are found with importlib.resources wherever it is installed (wheel, zip, editable checkout)."""
