"""The owner's scheduled reports: the morning digest, the weekly pipeline and the monthly win/loss.

``schedule`` says when each is due and produces it once; ``render`` says how it reads;
``notifications`` keeps what was produced for the chat to show."""
