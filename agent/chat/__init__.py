"""The terminal chat: ``loop`` reads the owner's lines and answers the gate's questions; ``screen`` draws replies."""
