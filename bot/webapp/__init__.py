"""The storyboard as a Telegram Mini App: init data checks, the JSON API and the page."""
