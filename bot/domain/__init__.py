"""The words the rest of Claymate speaks: states and their rules, free of Telegram and SQL."""
