"""The procedure files the agent follows. A package only so that they ship inside backoffice and are
found with importlib.resources wherever it is installed (wheel, zip, editable checkout)."""
