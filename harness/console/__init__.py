"""What a lab engineer sees on the console during and after a run: live progress, one line per failure."""
