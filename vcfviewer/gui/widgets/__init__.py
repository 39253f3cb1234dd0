"""Qt widgets of the main window: study browser, progress panel, message banner, dialogs."""
