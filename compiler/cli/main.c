/* deltac: the command-line client of libdeltac and the runtime. Exit
 * status: 0 success, 1 an error in the input, 2 a usage error. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_main[] =
    "usage: deltac COMMAND [options] ARG\n"
    "\n"
    "deltac compiles a neural-network spec (JSON) to C in which every dimension is a\n"
    "constant and the forward and backward passes are fully unrolled, JIT-compiles it\n"
    "with libtcc and trains it, or writes it out as a library or a standalone trainer.\n"
    "\n"
    "commands:\n"
    "  check SPEC             validate a spec and print a summary\n"
    "  emit SPEC              write the generated C (a library, or a standalone trainer)\n"
    "  train SPEC             JIT-compile the network and train it\n"
    "  eval SPEC --init CKPT  loss and accuracy of saved parameters\n"
    "  predict SPEC --init CKPT --data FILE\n"
    "                         the network's outputs for rows of features, as CSV\n"
    "  gradcheck SPEC         compare the backward pass with finite differences\n"
    "  export CKPT --npy DIR  a checkpoint's parameters as NumPy .npy files\n"
    "  import DIR --spec SPEC -o CKPT\n"
    "                         .npy files back into a checkpoint\n"
    "  bench SPEC             time the same training steps through every engine\n"
    "\n"
    "  deltac --version       print the version\n"
    "  deltac COMMAND --help  the options of a command\n"
    "\n"
    "Exit status: 0 success, 1 an error in the input, 2 a usage error, 130 training\n"
    "interrupted by Ctrl-C (after the current batch; saved with --save).\n"
    "docs/spec.md documents the spec format, docs/cli.md the commands.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0) {
        printf("deltac %s\n", dc_version());
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } cmds[] = {
        {"check", cmd_check}, {"emit", cmd_emit},     {"train", cmd_train},   {"eval", cmd_eval},
        {"predict", cmd_predict}, {"gradcheck", cmd_gradcheck}, {"export", cmd_export}, {"import", cmd_import},
        {"bench", cmd_bench},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (strcmp(c, cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    cli_usage_error("unknown command '%s'", c);
}
