"""Orchestration: procedures, planners, the gate, the chat and the command line."""
