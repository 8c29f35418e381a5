"""Property-based fuzzing of the parsers that take user input."""
