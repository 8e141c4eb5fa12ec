/* progress.c: being written */
