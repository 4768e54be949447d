"""The Review view: the confusion matrix whose cells open their images, suspected mistakes, predictions to accept.
May import desktop.project, desktop.tasks, desktop.widgets; never another view."""
