/* reference_impl.h: the reference engine's kernels, written once for any
 * scalar type. reference.c includes it once per dtype with
 *   T       the scalar type (float or double)
 *   SFX     the suffix of the function names (_f32, _f64)
 *   F_EXP, F_TANH, F_LOG, F_LOG1P, F_EXPM1  the libm functions of type T
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

/* The activations' canonical formulas (the emitter writes the same text).
 * Constants are T casts of double literals; the emitter prints the same
 * T-rounded values so that they round-trip exactly. gelu is PyTorch's
 * approximate='tanh': z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))). */
#ifndef DCR_GELU_K
#define DCR_GELU_K 0.7978845608028654 /* sqrt(2/pi) */
#define DCR_GELU_C 0.044715
#define DCR_GELU_C3 0.134145          /* 3 * 0.044715 */
#endif

/* softplus(v) = log(1 + e^v), without overflow and accurate for large |v| */
static T FN(softplus)(T v)
{
    return v > 0 ? v + F_LOG1P(F_EXP(-v)) : F_LOG1P(F_EXP(v));
}

/* sigma(z) for the element-wise activations; al is the layer's alpha */
static T FN(act_fwd)(dcr_act act, T z, T al)
{
    switch (act) {
    case DCR_ACT_IDENTITY: return z;
    case DCR_ACT_SIGMOID: return 1 / (1 + F_EXP(-z));
    case DCR_ACT_TANH: return F_TANH(z);
    case DCR_ACT_RELU: return z > 0 ? z : 0;
    case DCR_ACT_LEAKY_RELU: return z > 0 ? z : al * z;
    case DCR_ACT_ELU: return z > 0 ? z : al * F_EXPM1(z);
    case DCR_ACT_SOFTPLUS: return FN(softplus)(z);
    case DCR_ACT_GELU:
        return ((T)0.5 * z) * (1 + F_TANH((T)DCR_GELU_K * (z + (T)DCR_GELU_C * ((z * z) * z))));
    case DCR_ACT_SOFTMAX: break;
    }
    DCR_DIE("softmax is not element-wise");
}

/* t * sigma'(z), where a = sigma(z) */
static T FN(act_deriv)(dcr_act act, T t, T z, T a, T al)
{
    switch (act) {
    case DCR_ACT_IDENTITY: return t;
    case DCR_ACT_SIGMOID: return t * (a * (1 - a));
    case DCR_ACT_TANH: return t * (1 - a * a);
    case DCR_ACT_RELU: return z > 0 ? t : 0;
    case DCR_ACT_LEAKY_RELU: return z > 0 ? t : t * al;
    case DCR_ACT_ELU: return z > 0 ? t : t * (al * F_EXP(z));
    case DCR_ACT_SOFTPLUS: return t * (1 / (1 + F_EXP(-z)));
    case DCR_ACT_GELU: {
        T th = F_TANH((T)DCR_GELU_K * (z + (T)DCR_GELU_C * ((z * z) * z)));
        return t * (((T)0.5 * (1 + th)) +
                     (((T)0.5 * z) * (1 - th * th)) * ((T)DCR_GELU_K * (1 + (T)DCR_GELU_C3 * (z * z))));
    }
    case DCR_ACT_SOFTMAX: break;
    }
    DCR_DIE("softmax has no separate derivative (fused with cross_entropy)");
}

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
        case DCR_ACT_SIGMOID:
        case DCR_ACT_TANH:
        case DCR_ACT_RELU:
        case DCR_ACT_LEAKY_RELU:
        case DCR_ACT_ELU:
        case DCR_ACT_SOFTPLUS:
        case DCR_ACT_GELU: {
            T al = (T)A->alpha[l];
            for (size_t k = 0; k < n; k++)
                a[k] = FN(act_fwd)(A->act[l], z[k], al);
            break;
        }
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

/* loss_grad; when delta_abs is not NULL, also adds sum_k |delta(l)[k]| (in
 * double, k in order) into delta_abs[l] for l = 1..L */
static double FN(loss_grad_common)(void *self, void *grad, const void *params, const void *x_v,
                                   const void *y_v, double *delta_abs)
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
        T al = (T)A->alpha[L];
        for (size_t k = 0; k < n; k++) {
            T e = a[k] - y[k];
            loss += e * e;
            d[k] = FN(act_deriv)(A->act[L], e, z[k], a[k], al);
        }
        loss = (T)0.5 * loss;
    } else if (A->loss == DCR_LOSS_BINARY_CROSS_ENTROPY) {
        /* -(y log a + (1 - y) log(1 - a)) with log a = -softplus(-z) and
         * log(1 - a) = -softplus(z): no log(0) */
        for (size_t k = 0; k < n; k++) {
            T v = -z[k];
            T sn = FN(softplus)(v), sp = FN(softplus)(z[k]);
            loss += y[k] * sn + (1 - y[k]) * sp;
            d[k] = a[k] - y[k];
        }
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
        T alpha = (T)A->alpha[l];
        for (size_t j = 0; j < nl; j++) {
            T t = W[j] * dn[0];
            for (size_t k = 1; k < nn; k++)
                t += W[k * nl + j] * dn[k];
            dl[j] = FN(act_deriv)(A->act[l], t, zl[j], al[j], alpha);
        }
    }

    if (delta_abs)
        for (int l = 1; l <= L; l++) {
            const T *dl = S + r->d_off[l];
            for (size_t k = 0; k < (size_t)A->sizes[l]; k++)
                delta_abs[l] += (double)(dl[k] < 0 ? -dl[k] : dl[k]);
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

static double FN(ref_loss_grad)(void *self, void *grad, const void *params, const void *x_v,
                                const void *y_v)
{
    return FN(loss_grad_common)(self, grad, params, x_v, y_v, NULL);
}

static double FN(ref_loss_grad_trace)(void *self, void *grad, const void *params, const void *x_v,
                                      const void *y_v, double *delta_abs)
{
    return FN(loss_grad_common)(self, grad, params, x_v, y_v, delta_abs);
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

/* The canonical optimizer step, which compiler/emit_unrolled.c emits in the
 * same order (docs/training.md has the equations). lr, grad_scale and t come
 * from the dcr_step; the per-step scalars are computed in double and rounded
 * to T once; the hyper-parameters are rounded to T once (the emitter writes
 * them as literals that round-trip exactly); everything per parameter is in
 * T, one operation at a time, left to right as written:
 *
 *   plain SGD (momentum 0, weight_decay 0), in one statement:
 *     sc = (T)(lr * grad_scale);            p[i] -= sc * g[i]
 *   otherwise, with gs = (T)grad_scale:
 *     d = gs * g[i]                         the mean, clipped gradient
 *   sgd:   lr_ = (T)lr
 *     wd > 0:        d = d + wd * p[i]
 *     momentum > 0:  b[i] = mom * b[i] + d   (b = state[0 .. n): the buffer)
 *       nesterov:    d = d + mom * b[i]
 *       otherwise:   d = b[i]
 *     p[i] = p[i] - lr_ * d
 *   adam, adamw:  (m = state[0 .. n), v = state[n .. 2n))
 *     c1 = (T)(1 - beta1), c2 = (T)(1 - beta2),
 *     ss = (T)(lr / (1 - pow(beta1, t))), bc = (T)sqrt(1 - pow(beta2, t)),
 *     dec = (T)(1 - lr * wd)
 *     adam, wd > 0:  d = d + wd * p[i]
 *     adamw, wd > 0: p[i] = p[i] * dec
 *     m[i] = b1 * m[i] + c1 * d
 *     v[i] = b2 * v[i] + c2 * d * d
 *     den = sqrt(v[i]) / bc + eps
 *     p[i] = p[i] - ss * m[i] / den
 *
 * sqrt in T is (T)sqrt((double)x) here and sqrtf/sqrt in the generated
 * code: the same value, since a square root rounded to double and then to
 * float is the correctly rounded float square root. */
static void FN(ref_update)(void *self, void *params, void *state, const void *grad, const dcr_step *s)
{
    ref *r = self;
    const dcr_optim *o = &r->opt;
    T *P = params;
    const T *G = grad;
    size_t n = r->n_params;
    if (o->type == DCR_OPT_SGD && !(o->momentum > 0) && !(o->weight_decay > 0)) {
        T scale = (T)(s->lr * s->grad_scale);
        for (size_t i = 0; i < n; i++)
            P[i] -= scale * G[i];
        return;
    }
    T gs = (T)s->grad_scale, wd = (T)o->weight_decay;
    int decay = o->weight_decay > 0;
    if (o->type == DCR_OPT_SGD) {
        T lr = (T)s->lr, mom = (T)o->momentum;
        T *B = state;
        int has_mom = o->momentum > 0;
        DCR_ASSERT(!has_mom || B);
        for (size_t i = 0; i < n; i++) {
            T d = gs * G[i];
            if (decay)
                d = d + wd * P[i];
            if (has_mom) {
                B[i] = mom * B[i] + d;
                if (o->nesterov)
                    d = d + mom * B[i];
                else
                    d = B[i];
            }
            P[i] = P[i] - lr * d;
        }
        return;
    }
    DCR_ASSERT(state);
    double t = (double)s->t;
    T b1 = (T)o->beta1, b2 = (T)o->beta2, eps = (T)o->eps;
    T c1 = (T)(1 - o->beta1), c2 = (T)(1 - o->beta2);
    T ss = (T)(s->lr / (1 - pow(o->beta1, t)));
    T bc = (T)sqrt(1 - pow(o->beta2, t));
    T dec = (T)(1 - s->lr * o->weight_decay);
    int adamw = o->type == DCR_OPT_ADAMW;
    T *M = state, *V = (T *)state + n;
    for (size_t i = 0; i < n; i++) {
        T d = gs * G[i];
        if (decay && !adamw)
            d = d + wd * P[i];
        if (decay && adamw)
            P[i] = P[i] * dec;
        M[i] = b1 * M[i] + c1 * d;
        V[i] = b2 * V[i] + c2 * d * d;
        T den = (T)sqrt((double)V[i]) / bc + eps;
        P[i] = P[i] - ss * M[i] / den;
    }
}

#undef FN
#undef RI_CAT
#undef RI_CAT2
