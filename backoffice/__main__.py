"""``python -m backoffice``: the same command line as ``backoffice``."""

from backoffice.agent.cli import run

if __name__ == "__main__":
    run()
