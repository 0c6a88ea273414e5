"""Campaign dispatch: lifecycle services, the paced driver, send windows and progress selectors."""
