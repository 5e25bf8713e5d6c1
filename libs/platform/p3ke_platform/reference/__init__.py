"""Reference data every service reads the same way (one loader, one copy, its licence beside it)."""
