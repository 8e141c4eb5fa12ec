/* test_runtime_csv.c: dcr_csv_load, accepted shapes and every error with its
 * exact FILE:LINE:COL. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcr.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/dcr_csv_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/data.csv", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(csv, .init = setup, .fini = teardown);

/* Writes exactly n bytes (the content may hold NULs). */
static void put_n(const char *content, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(content, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void put(const char *content)
{
    put_n(content, strlen(content));
}

static dcr_csv_opts opts(int header, int target_column, dcr_target_kind kind)
{
    dcr_csv_opts o = {header, target_column, kind};
    return o;
}

static const dcr_csv_opts CLASS_LAST = {0, -1, DCR_TARGET_CLASS};

static void load_ok(dcr_dataset *d, const char *content, dcr_csv_opts o, int n_in, int n_out)
{
    dcr_error e = {0};
    put(content);
    memset(d, 0, sizeof *d);
    int rc = dcr_csv_load(d, path, &o, n_in, n_out, &e);
    cr_assert_eq(rc, 0, "unexpected error: %s", e.msg);
    cr_assert_eq(d->n_in, n_in);
    cr_assert_eq(d->n_out, n_out);
}

/* Loads content and expects failure with status st and the message
 * "<path><tail>". */
static void load_err_n(const char *content, size_t n, dcr_csv_opts o, int n_in, int n_out,
                       dcr_status st, const char *tail)
{
    dcr_dataset d = {0};
    dcr_error e = {0};
    put_n(content, n);
    int rc = dcr_csv_load(&d, path, &o, n_in, n_out, &e);
    char want[DCR_MSG_MAX];
    snprintf(want, sizeof want, "%s%s", path, tail);
    cr_assert_eq(rc, -1, "expected failure for %s", tail);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, st, "status %d for %s", e.status, e.msg);
    cr_assert_null(d.x);
    cr_assert_null(d.y);
    cr_assert_null(d.label);
    cr_assert_eq(d.n_rows, 0);
}

static void load_err(const char *content, dcr_csv_opts o, int n_in, int n_out, const char *tail)
{
    load_err_n(content, strlen(content), o, n_in, n_out, DCR_ERR_DATA, tail);
}

/* ---- accepted files -------------------------------------------------------- */

Test(csv, class_one_hot_and_labels)
{
    dcr_dataset d;
    load_ok(&d, "1,2,0\n3.5,-4e1,2\n", CLASS_LAST, 2, 3);
    cr_assert_eq(d.n_rows, 2);
    double x[] = {1, 2, 3.5, -40};
    double y[] = {1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(d.x[i], x[i], "x[%d] = %g", i, d.x[i]);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(d.y[i], y[i], "y[%d] = %g", i, d.y[i]);
    cr_assert_not_null(d.label);
    cr_assert_eq(d.label[0], 0);
    cr_assert_eq(d.label[1], 2);
    dcr_dataset_free(&d);
    cr_assert_null(d.x);
}

Test(csv, class_label_first_column)
{
    dcr_dataset d;
    load_ok(&d, "1,10,20\n0,30,40\n", opts(0, 0, DCR_TARGET_CLASS), 2, 2);
    cr_assert_eq(d.label[0], 1);
    cr_assert_eq(d.label[1], 0);
    cr_assert_eq(d.x[0], 10);
    cr_assert_eq(d.x[1], 20);
    cr_assert_eq(d.x[3], 40);
    cr_assert_eq(d.y[1], 1);
    cr_assert_eq(d.y[2], 1);
    dcr_dataset_free(&d);
}

Test(csv, class_label_middle_negative_column)
{
    dcr_dataset d;
    /* -2 of 3 fields is column 1 */
    load_ok(&d, "10,1,20\n", opts(0, -2, DCR_TARGET_CLASS), 2, 2);
    cr_assert_eq(d.label[0], 1);
    cr_assert_eq(d.x[0], 10);
    cr_assert_eq(d.x[1], 20);
    dcr_dataset_free(&d);
}

Test(csv, values_targets_positive_column)
{
    dcr_dataset d;
    load_ok(&d, "1,2,3,4\n5,6,7,8\n", opts(0, 1, DCR_TARGET_VALUES), 2, 2);
    cr_assert_null(d.label);
    double x[] = {1, 4, 5, 8}, y[] = {2, 3, 6, 7};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(d.x[i], x[i]);
        cr_assert_eq(d.y[i], y[i]);
    }
    dcr_dataset_free(&d);
}

Test(csv, values_targets_negative_column)
{
    dcr_dataset d;
    load_ok(&d, "1,2,3,4\n", opts(0, -2, DCR_TARGET_VALUES), 2, 2);
    cr_assert_eq(d.x[0], 1);
    cr_assert_eq(d.x[1], 2);
    cr_assert_eq(d.y[0], 3);
    cr_assert_eq(d.y[1], 4);
    dcr_dataset_free(&d);
    load_ok(&d, "1,2,3,4\n", opts(0, -3, DCR_TARGET_VALUES), 2, 2);
    cr_assert_eq(d.x[0], 1);
    cr_assert_eq(d.x[1], 4);
    cr_assert_eq(d.y[0], 2);
    cr_assert_eq(d.y[1], 3);
    dcr_dataset_free(&d);
}

Test(csv, bom_crlf_no_final_newline)
{
    dcr_dataset d;
    load_ok(&d, "\xEF\xBB\xBF" "1,2,1\r\n3,4,0", CLASS_LAST, 2, 2);
    cr_assert_eq(d.n_rows, 2);
    cr_assert_eq(d.x[0], 1);
    cr_assert_eq(d.x[3], 4);
    cr_assert_eq(d.label[0], 1);
    cr_assert_eq(d.label[1], 0);
    dcr_dataset_free(&d);
}

Test(csv, header_skipped_and_trailing_blank_lines)
{
    dcr_dataset d;
    load_ok(&d, "a,b,label\r\n1,2,1\r\n\r\n  \n\n", opts(1, -1, DCR_TARGET_CLASS), 2, 2);
    cr_assert_eq(d.n_rows, 1);
    cr_assert_eq(d.label[0], 1);
    dcr_dataset_free(&d);
}

Test(csv, header_with_bom_may_be_anything)
{
    dcr_dataset d;
    load_ok(&d, "\xEF\xBB\xBF" "x;y;\"z\"\n1,2,1\n", opts(1, -1, DCR_TARGET_CLASS), 2, 2);
    cr_assert_eq(d.n_rows, 1);
    dcr_dataset_free(&d);
}

Test(csv, spaces_around_numbers)
{
    dcr_dataset d;
    load_ok(&d, " 1 ,\t-2.5\t,  1  \n", CLASS_LAST, 2, 2);
    cr_assert_eq(d.x[0], 1);
    cr_assert_eq(d.x[1], -2.5);
    cr_assert_eq(d.label[0], 1);
    dcr_dataset_free(&d);
}

Test(csv, integral_label_spellings)
{
    dcr_dataset d;
    load_ok(&d, "0,2.0\n0,1e0\n0,-0\n", CLASS_LAST, 1, 3);
    cr_assert_eq(d.label[0], 2);
    cr_assert_eq(d.label[1], 1);
    cr_assert_eq(d.label[2], 0);
    dcr_dataset_free(&d);
}

/* ---- errors ---------------------------------------------------------------------- */

Test(csv, cannot_open)
{
    dcr_dataset d = {0};
    dcr_error e = {0};
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.csv", dir);
    dcr_csv_opts o = CLASS_LAST;
    cr_assert_eq(dcr_csv_load(&d, missing, &o, 2, 2, &e), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", missing);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_IO);
    cr_assert_null(d.x);
}

Test(csv, directory_cannot_be_read)
{
    dcr_dataset d = {0};
    dcr_error e = {0};
    dcr_csv_opts o = CLASS_LAST;
    cr_assert_eq(dcr_csv_load(&d, dir, &o, 2, 2, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_IO);
    cr_assert(strncmp(e.msg, dir, strlen(dir)) == 0, "%s", e.msg);
    cr_assert_null(d.x);
}

Test(csv, null_error_is_allowed)
{
    dcr_dataset d = {0};
    dcr_csv_opts o = CLASS_LAST;
    put("1,x,0\n");
    cr_assert_eq(dcr_csv_load(&d, path, &o, 2, 2, NULL), -1);
    cr_assert_null(d.x);
}

Test(csv, empty_field)
{
    load_err("1,,0\n", CLASS_LAST, 2, 2, ":1:3: empty field");
    load_err("1,2,0\n1,2,\n", CLASS_LAST, 2, 2, ":2:5: empty field");
    load_err("1,2,0\n  ,2,0\n", CLASS_LAST, 2, 2, ":2:1: empty field");
    load_err(",2,0", CLASS_LAST, 2, 2, ":1:1: empty field");
}

Test(csv, not_a_number)
{
    load_err("1,2,0\n1,x,0\n", CLASS_LAST, 2, 2, ":2:3: 'x' is not a number");
    load_err("1,2,0\n1,  1.5e ,0\n", CLASS_LAST, 2, 2, ":2:3: '1.5e' is not a number");
    load_err("1,2,0\n1,2 3,0\n", CLASS_LAST, 2, 2, ":2:3: '2 3' is not a number");
    load_err("1,2,0\n1,\"2\",0\n", CLASS_LAST, 2, 2, ":2:3: '\"2\"' is not a number");
    load_err("1,2,0\n1,\f2,0\n", CLASS_LAST, 2, 2, ":2:3: '?2' is not a number");
}

Test(csv, first_line_hint)
{
    load_err("a,b,c\n1,2,0\n", CLASS_LAST, 2, 2, ":1:1: 'a' is not a number (is line 1 a header?)");
}

Test(csv, nul_byte_shown)
{
    load_err_n("1,2,0\n1,2\0,0\n", 13, CLASS_LAST, 2, 2, DCR_ERR_DATA,
               ":2:3: '2?' is not a number");
}

Test(csv, long_field_cut)
{
    load_err("1,2,0\n1,abcdefghijklmnopqrstuvwxyz0123456789,0\n", CLASS_LAST, 2, 2,
             ":2:3: 'abcdefghijklmnopqrstuvwxyz012345...' is not a number");
}

Test(csv, not_finite)
{
    load_err("nan,2,0\n", CLASS_LAST, 2, 2, ":1:1: 'nan' is not a finite number");
    load_err("1,2,0\n1, -inf,0\n", CLASS_LAST, 2, 2, ":2:3: '-inf' is not a finite number");
    load_err("1,2,0\n1,1e999,0\n", CLASS_LAST, 2, 2, ":2:3: '1e999' is not a finite number");
    load_err("1,2,0\n1,2,Infinity\n", CLASS_LAST, 2, 2,
             ":2:5: 'Infinity' is not a finite number");
}

Test(csv, ragged_rows)
{
    load_err("1,2,0\n1,2\n", CLASS_LAST, 2, 2, ":2:4: expected 3 fields, got 2");
    load_err("1,2,0\n1,2,0,5\n", CLASS_LAST, 2, 2, ":2:7: expected 3 fields, got 4");
    load_err("1,2,0\r\n3,4,1\r\n1,2,0,,\r\n", CLASS_LAST, 2, 2,
             ":3:7: expected 3 fields, got 5");
}

Test(csv, width_does_not_fit_network)
{
    load_err("1,2\n", CLASS_LAST, 2, 2,
             ":1:1: row has 2 fields; the network needs 2 inputs + 1 target field");
    load_err("1,2,3\n", opts(0, 0, DCR_TARGET_VALUES), 2, 2,
             ":1:1: row has 3 fields; the network needs 2 inputs + 2 target fields");
    load_err("h\n1,2,3,4\n", opts(1, -1, DCR_TARGET_CLASS), 1, 2,
             ":2:1: row has 4 fields; the network needs 1 input + 1 target field");
}

Test(csv, blank_line_in_the_middle)
{
    load_err("1,2,0\n\n3,4,1\n", CLASS_LAST, 2, 2,
             ":2:1: blank line (only blank lines at the end of the file are allowed)");
    load_err("\n1,2,0\n", CLASS_LAST, 2, 2,
             ":1:1: blank line (only blank lines at the end of the file are allowed)");
    load_err("1,2,0\r\n \t\r\n\r\n3,4,1", CLASS_LAST, 2, 2,
             ":2:1: blank line (only blank lines at the end of the file are allowed)");
}

Test(csv, no_data_rows)
{
    load_err("", CLASS_LAST, 2, 2, ": no data rows");
    load_err("\n\n", CLASS_LAST, 2, 2, ": no data rows");
    load_err("\xEF\xBB\xBF", CLASS_LAST, 2, 2, ": no data rows");
    load_err("a,b,c\n", opts(1, -1, DCR_TARGET_CLASS), 2, 2,
             ": no data rows after the header line");
    load_err("a,b,c\n\n", opts(1, -1, DCR_TARGET_CLASS), 2, 2,
             ": no data rows after the header line");
}

Test(csv, header_must_exist)
{
    load_err("", opts(1, -1, DCR_TARGET_CLASS), 2, 2,
             ":1:1: the file is empty (expected a header line)");
}

Test(csv, class_label_not_integer)
{
    load_err("1,2,0\n1,2,1.5\n", CLASS_LAST, 2, 3, ":2:5: class label 1.5 is not an integer");
}

Test(csv, class_label_out_of_range)
{
    load_err("1,2,0\n1,2,7\n", CLASS_LAST, 2, 3,
             ":2:5: class label 7 out of range 0..2 (the output layer has 3 units)");
    load_err("1,2,-1\n", CLASS_LAST, 2, 3,
             ":1:5: class label -1 out of range 0..2 (the output layer has 3 units)");
    load_err("1,2,1\n", CLASS_LAST, 2, 1,
             ":1:5: class label 1 out of range 0..0 (the output layer has 1 unit)");
    load_err("2,1,1\n", opts(0, 0, DCR_TARGET_CLASS), 2, 2,
             ":1:1: class label 2 out of range 0..1 (the output layer has 2 units)");
}

Test(csv, columns_count_after_bom)
{
    load_err("\xEF\xBB\xBF" "1,x,0\n", CLASS_LAST, 2, 2,
             ":1:3: 'x' is not a number (is line 1 a header?)");
}

Test(csv, lines_count_the_header)
{
    load_err("a,b,c\n1,2,\n", opts(1, -1, DCR_TARGET_CLASS), 2, 2, ":2:5: empty field");
}

Test(csv, first_error_in_file_order)
{
    /* the bad number on line 2 comes before the ragged row and the gap */
    load_err("1,2,0\n1,y,0\n1,2\n\n1,2,0\n", CLASS_LAST, 2, 2, ":2:3: 'y' is not a number");
}

static void target_err(dcr_csv_opts o, int n_in, int n_out, const char *want)
{
    dcr_dataset d = {0};
    dcr_error e = {0};
    put("1,2,3,4\n");
    cr_assert_eq(dcr_csv_load(&d, path, &o, n_in, n_out, &e), -1, "%s", want);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(e.status, DCR_ERR_SPEC);
    cr_assert_null(d.x);
}

Test(csv, target_column_out_of_range)
{
    target_err(opts(0, 3, DCR_TARGET_CLASS), 2, 2,
               "target column 3 is out of range: rows have 3 fields, so it must be in 0..2 or "
               "-3..-1");
    target_err(opts(0, -4, DCR_TARGET_CLASS), 2, 2,
               "target column -4 is out of range: rows have 3 fields, so it must be in 0..2 or "
               "-3..-1");
    target_err(opts(0, -1, DCR_TARGET_VALUES), 2, 2,
               "target column -1 is out of range: rows have 4 fields and the 2 targets must fit "
               "from it, so it must be in 0..2 or -4..-2");
    target_err(opts(0, 3, DCR_TARGET_VALUES), 2, 2,
               "target column 3 is out of range: rows have 4 fields and the 2 targets must fit "
               "from it, so it must be in 0..2 or -4..-2");
    target_err(opts(0, -5, DCR_TARGET_VALUES), 2, 2,
               "target column -5 is out of range: rows have 4 fields and the 2 targets must fit "
               "from it, so it must be in 0..2 or -4..-2");
}

Test(csv, bad_arguments)
{
    dcr_dataset d = {0};
    dcr_error e = {0};
    dcr_csv_opts o = CLASS_LAST;
    put("1,2,0\n");
    cr_assert_eq(dcr_csv_load(&d, path, &o, 0, 2, &e), -1);
    cr_assert_eq(e.status, DCR_ERR_USAGE);
    cr_assert_eq(dcr_csv_load(&d, path, NULL, 2, 2, &e), -1);
    cr_assert_eq(dcr_csv_load(&d, path, &o, 2, 0, &e), -1);
    cr_assert_null(d.x);
}
