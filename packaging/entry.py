"""The frozen app's main script: the `dovecote` console script behind multiprocessing's check.

Every background task of the window (import, large label changes, training, classifying) runs in a child
process started with "spawn", which runs this same executable again; freeze_support() turns that run into
the child and exits, instead of opening a second window. It must come before anything else of ours."""
import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from desktop.launcher import main

    main()
