"""Management commands of the whatsapp app."""
