"""The strategy editor pages: a user's saved strategies, writing, checking and saving them."""
