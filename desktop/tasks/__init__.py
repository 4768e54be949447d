"""The one way the window runs long core work: a core generator off the GUI thread, its events re-emitted.
Imports core only (child processes import it): no widgets, no views."""
