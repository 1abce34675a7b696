"""Serve the guest list: `python app.py` (the same as `guestlist serve`; settings from the
environment, docs/config.md). The app itself is built by guestlist.web.app.create_app."""

from guestlist.web.app import main

if __name__ == "__main__":
    main()
