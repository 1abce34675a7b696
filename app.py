"""Serve the guest list: `python app.py` is `guestlist serve` (settings from the environment,
docs/config.md); the app itself is guestlist.web.app.create_app."""

from guestlist.web.app import serve

if __name__ == "__main__":
    serve()
