/* embed.c: build-time tool that turns the runtime's sources into one C
 * string, so that `deltac emit --standalone` can paste the runtime into a
 * trainer without a second, hand-kept copy of it.
 *
 * usage: embed OUTPUT.c SYMBOL FILE...
 * Writes `const char SYMBOL[]` holding the files in order, each preceded by
 * a banner, with their local includes (#include "...") removed: in the
 * pasted text every header comes before the files that use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_literal_line(FILE *out, const char *s, size_t n)
{
    fputs("    \"", out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == '"')
            fprintf(out, "\\%c", c);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 32 || c >= 127)
            fprintf(out, "\\%03o", c);
        else
            fputc(c, out);
    }
    fputs("\\n\"\n", out);
}

static int is_local_include(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line++ != '#')
        return 0;
    while (*line == ' ' || *line == '\t')
        line++;
    return strncmp(line, "include", 7) == 0 && strchr(line, '"') != NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: embed OUTPUT.c SYMBOL FILE...\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out, "/* Made by compiler/tools/embed.c at build time. Do not edit. */\n");
    fprintf(out, "#include <stddef.h>\n\nconst char %s[] =\n", argv[2]);
    char line[4096];
    for (int i = 3; i < argc; i++) {
        FILE *in = fopen(argv[i], "r");
        if (!in) {
            perror(argv[i]);
            fclose(out);
            return 1;
        }
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        char banner[512];
        snprintf(banner, sizeof banner, "/* ==== deltac runtime: runtime/%s ==== */", base);
        put_literal_line(out, "", 0);
        put_literal_line(out, banner, strlen(banner));
        while (fgets(line, sizeof line, in)) {
            size_t n = strlen(line);
            if (n && line[n - 1] == '\n')
                n--;
            else if (!feof(in)) {
                fprintf(stderr, "%s: line longer than %zu bytes\n", argv[i], sizeof line);
                return 1;
            }
            if (!is_local_include(line))
                put_literal_line(out, line, n);
        }
        fclose(in);
    }
    fprintf(out, "    ;\nconst size_t %s_len = sizeof %s - 1;\n", argv[2], argv[2]);
    return fclose(out) == 0 ? 0 : 1;
}
