/* reference_impl.h: the reference engine's kernels, written once for any
 * scalar type. reference.c includes it once per dtype with
 *   T       the scalar type (float or double)
 *   SFX     the suffix of the function names (_f32, _f64)
 *   F_EXP, F_TANH, F_LOG  the libm functions of type T
 * defined. No include guard: being included twice is the point.
 *
 * The arithmetic is the canonical one the generated code also follows, in
 * the same order and in T throughout (literals are ints or T casts, so float
 * never widens to double): change one and float64 results stop agreeing bit
 * for bit. Accumulating in a local instead of z[k] or t in memory changes
 * nothing, since every operation still rounds to T (FLT_EVAL_METHOD 0). */

#define RI_CAT2(a, b) a##b
#define RI_CAT(a, b) RI_CAT2(a, b)
#define FN(name) RI_CAT(name, SFX)

/* Runs the network on x, leaving z and a of every layer in the scratch. For a
 * softmax output also returns its max and sum, which the loss needs. */
static void FN(run_forward)(ref *r, const T *P, const T *x, T *sm_max, T *sm_sum)
{
    const dcr_arch *A = &r->arch;
    T *S = r->scratch;
    const T *prev = x;
    for (int l = 1; l <= A->n_layers; l++) {
        size_t n_in = (size_t)A->sizes[l - 1], n = (size_t)A->sizes[l];
        const T *W = P + r->w_off[l], *b = P + r->b_off[l];
        T *z = S + r->z_off[l], *a = S + r->a_off[l];
        for (size_t k = 0; k < n; k++) {
            const T *Wk = W + k * n_in;
            T acc = b[k];
            for (size_t j = 0; j < n_in; j++)
                acc += Wk[j] * prev[j];
            z[k] = acc;
        }
        switch (A->act[l]) {
        case DCR_ACT_IDENTITY:
            for (size_t k = 0; k < n; k++)
                a[k] = z[k];
            break;
        case DCR_ACT_SIGMOID:
            for (size_t k = 0; k < n; k++)
                a[k] = 1 / (1 + F_EXP(-z[k]));
            break;
        case DCR_ACT_TANH:
            for (size_t k = 0; k < n; k++)
                a[k] = F_TANH(z[k]);
            break;
        case DCR_ACT_RELU:
            for (size_t k = 0; k < n; k++)
                a[k] = z[k] > 0 ? z[k] : 0;
            break;
        case DCR_ACT_SOFTMAX: {
            T m = z[0];
            for (size_t k = 1; k < n; k++)
                if (z[k] > m)
                    m = z[k];
            for (size_t k = 0; k < n; k++)
                a[k] = F_EXP(z[k] - m);
            T s = a[0];
            for (size_t k = 1; k < n; k++)
                s += a[k];
            for (size_t k = 0; k < n; k++)
                a[k] = a[k] / s;
            *sm_max = m;
            *sm_sum = s;
            break;
        }
        }
        prev = a;
    }
}

static void FN(ref_forward)(void *self, void *out, const void *params, const void *x)
{
    ref *r = self;
    T m = 0, s = 0;
    FN(run_forward)(r, params, x, &m, &s);
    int L = r->arch.n_layers;
    const T *a = (const T *)r->scratch + r->a_off[L];
    T *o = out;
    for (int k = 0; k < r->arch.sizes[L]; k++)
        o[k] = a[k];
}

static double FN(ref_loss_grad)(void *self, void *grad, const void *params, const void *x_v,
                                const void *y_v)
{
    ref *r = self;
    const dcr_arch *A = &r->arch;
    const T *P = params, *x = x_v, *y = y_v;
    T *G = grad, *S = r->scratch;
    T m = 0, s = 0;
    FN(run_forward)(r, P, x, &m, &s);

    int L = A->n_layers;
    size_t n = (size_t)A->sizes[L];
    const T *z = S + r->z_off[L], *a = S + r->a_off[L];
    T *d = S + r->d_off[L];
    T loss = 0;
    if (A->loss == DCR_LOSS_MSE) {
        for (size_t k = 0; k < n; k++) {
            T e = a[k] - y[k];
            loss += e * e;
            switch (A->act[L]) {
            case DCR_ACT_IDENTITY: d[k] = e; break;
            case DCR_ACT_SIGMOID: d[k] = e * (a[k] * (1 - a[k])); break;
            case DCR_ACT_TANH: d[k] = e * (1 - a[k] * a[k]); break;
            case DCR_ACT_RELU: d[k] = z[k] > 0 ? e : 0; break;
            case DCR_ACT_SOFTMAX: DCR_DIE("softmax output with mse loss");
            }
        }
        loss = (T)0.5 * loss;
    } else {
        T ls = F_LOG(s);
        for (size_t k = 0; k < n; k++) {
            loss += y[k] * ((z[k] - m) - ls);
            d[k] = a[k] - y[k];
        }
        loss = -loss;
    }

    for (int l = L - 1; l >= 1; l--) {
        size_t nl = (size_t)A->sizes[l], nn = (size_t)A->sizes[l + 1];
        const T *W = P + r->w_off[l + 1], *dn = S + r->d_off[l + 1];
        const T *zl = S + r->z_off[l], *al = S + r->a_off[l];
        T *dl = S + r->d_off[l];
        for (size_t j = 0; j < nl; j++) {
            T t = W[j] * dn[0];
            for (size_t k = 1; k < nn; k++)
                t += W[k * nl + j] * dn[k];
            switch (A->act[l]) {
            case DCR_ACT_IDENTITY: dl[j] = t; break;
            case DCR_ACT_SIGMOID: dl[j] = t * (al[j] * (1 - al[j])); break;
            case DCR_ACT_TANH: dl[j] = t * (1 - al[j] * al[j]); break;
            case DCR_ACT_RELU: dl[j] = zl[j] > 0 ? t : 0; break;
            case DCR_ACT_SOFTMAX: DCR_DIE("softmax on a hidden layer");
            }
        }
    }

    const T *prev = x;
    for (int l = 1; l <= L; l++) {
        size_t n_in = (size_t)A->sizes[l - 1], nl = (size_t)A->sizes[l];
        const T *dl = S + r->d_off[l];
        T *gW = G + r->w_off[l], *gb = G + r->b_off[l];
        for (size_t k = 0; k < nl; k++) {
            gb[k] += dl[k];
            T *gWk = gW + k * n_in;
            for (size_t j = 0; j < n_in; j++)
                gWk[j] += dl[k] * prev[j];
        }
        prev = S + r->a_off[l];
    }
    return (double)loss;
}

static double FN(ref_batch_grad)(void *self, void *grad, const void *params, const void *X_v,
                                 const void *Y_v, int n)
{
    ref *r = self;
    DCR_ASSERT(n > 0);
    T *G = grad;
    const T *P = params, *X = X_v, *Y = Y_v;
    size_t np = r->n_params, n_in = (size_t)r->arch.sizes[0],
           n_out = (size_t)r->arch.sizes[r->arch.n_layers];
    for (size_t i = 0; i < np; i++)
        G[i] = 0;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += FN(ref_loss_grad)(self, G, P, X + (size_t)i * n_in, Y + (size_t)i * n_out);
    return sum / n;
}

static void FN(ref_update)(void *self, void *params, void *state, const void *grad, const dcr_step *s)
{
    ref *r = self;
    T *P = params;
    const T *G = grad;
    (void)state;
    T scale = (T)(s->lr * s->grad_scale);
    for (size_t i = 0; i < r->n_params; i++)
        P[i] -= scale * G[i];
}

#undef FN
#undef RI_CAT
#undef RI_CAT2
