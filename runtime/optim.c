/* optim.c: being written */
