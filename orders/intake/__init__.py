"""Order intake: every channel's orders into one governed entry flow."""
