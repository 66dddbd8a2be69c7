"""Host tools for the open syringe pump."""
