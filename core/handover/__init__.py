"""What a finished run hands over: its bundle of files, a standalone script, a promotion."""
