"""Studio tabs that live in their own modules."""
