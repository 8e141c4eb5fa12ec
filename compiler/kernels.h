/* kernels.h: the inner-loop kernels libtcc-compiled code calls (kernels.c).
 * The generated code declares them itself under the same names; jit_tcc.c
 * hands libtcc their addresses. */
#ifndef DC_KERNELS_H
#define DC_KERNELS_H

/* z[r] = bias[r] + sum_j w[r * nin + j] * in[j], r < rows <= 8, j in order */
void dck_rows8f(float *z, const float *w, int nin, const float *in, const float *bias, int rows);
void dck_rows8d(double *z, const double *w, int nin, const double *in, const double *bias, int rows);
/* d[j] = w[j] * s */
void dck_scalef(float *d, const float *w, float s, int n);
void dck_scaled(double *d, const double *w, double s, int n);
/* d[j] += w[j] * s */
void dck_axpyf(float *d, const float *w, float s, int n);
void dck_axpyd(double *d, const double *w, double s, int n);
/* p[j] -= scale * (d * in[j]): one row of the fused SGD step */
void dck_sgdrowf(float *p, const float *in, float d, float scale, int n);
void dck_sgdrowd(double *p, const double *in, double d, double scale, int n);
/* a layer's fused SGD step: b[k] -= scale * d[k], W[k][j] -= scale * (d[k] * in[j]) */
void dck_sgdlayerf(float *w, float *b, const float *d, const float *in, float scale, int nout, int nin);
void dck_sgdlayerd(double *w, double *b, const double *d, const double *in, double scale, int nout, int nin);
/* p[0..n) = 0 (a loop under libtcc costs several cycles per element) */
void dck_zerof(float *p, long n);
void dck_zerod(double *p, long n);
/* p[i] -= scale * g[i] */
void dck_sgdf(float *p, const float *g, float scale, long n);
void dck_sgdd(double *p, const double *g, double scale, long n);

/* kernels_act.c, fast mode only (compiler/fastmath.h, not libm):
 * a[k] = tanh(z[k]), sigmoid(z[k]), exp(z[k] - m) for k < n */
void dck_tanhf(float *a, const float *z, int n);
void dck_tanhd(double *a, const double *z, int n);
void dck_sigmoidf(float *a, const float *z, int n);
void dck_sigmoidd(double *a, const double *z, int n);
void dck_expsubf(float *a, const float *z, float m, int n);
void dck_expsubd(double *a, const double *z, double m, int n);

#endif
