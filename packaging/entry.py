"""The frozen app's main script: the `dovecote` console script behind multiprocessing's check.

The GUI imports a folder in a child process started with "spawn", which runs this same executable again;
freeze_support() turns that run into the child and exits, instead of opening a second window."""
import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from desktop.launcher import main

    main()
