/* plot.c: being written */
