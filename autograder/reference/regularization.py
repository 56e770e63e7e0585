"""Instructor reference for lab 03 (regularization): one function per `ref=` name.

Plain NumPy, written independently of the solution notebook: polynomial fits through an
explicit Vandermonde matrix and one least-squares solve per training set, batch
normalization's backward pass from the chain rule through the normalized input (not the
notebook's compact formula), crops by index arithmetic, batch-norm statistics from a
NumPy forward pass of the query's small network. Each function takes the inputs of the
check's query (docs/checks.md) and returns what the student's code must produce; for a
`run` query, a dict keyed by the query's output names.
"""
from __future__ import annotations

import numpy as np

# Keras's BatchNormalization defaults, which the lab's NumPy layer follows.
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3


# ---------------------------------------------------------------------------------------
# Part 1: bias and variance

def poly_fit_predict(x_train, y_train, degree, x_eval):
    """Least-squares polynomials of `degree`, one per row of (x_train, y_train), at x_eval."""
    x_train, y_train = np.atleast_2d(x_train), np.atleast_2d(y_train)
    powers = np.arange(int(degree) + 1)
    eval_basis = np.asarray(x_eval, dtype=float)[:, None] ** powers           # (M, d+1)
    out = []
    for xs, ys in zip(x_train, y_train):
        coef, *_ = np.linalg.lstsq(np.asarray(xs, float)[:, None] ** powers, ys, rcond=None)
        out.append(eval_basis @ coef)
    return np.array(out)


def bias_variance(preds, f_eval):
    """(squared bias, variance), each averaged over the evaluation points."""
    preds = np.asarray(preds, dtype=float)
    mean = preds.mean(axis=0)
    return (float(np.mean((mean - np.asarray(f_eval, float)) ** 2)),
            float(np.mean((preds - mean) ** 2)))


# ---------------------------------------------------------------------------------------
# Part 2: early stopping

def best_epoch(history, patience):
    """(epoch whose weights early stopping keeps, last epoch trained), both 0-based.

    Keras's rule: an epoch improves when its val_loss is strictly below the best so far;
    training stops at the epoch that makes `patience` epochs in a row without improvement.
    """
    losses = [float(v) for v in history["val_loss"]]
    best, waited = 0, 0
    for epoch in range(1, len(losses)):
        if losses[epoch] < losses[best]:
            best, waited = epoch, 0
            continue
        waited += 1
        if waited >= patience:
            return best, epoch
    return best, len(losses) - 1


# ---------------------------------------------------------------------------------------
# Part 3: feature scaling and gradient descent

def standardize(x_train, x_test):
    """Both sets scaled with the TRAINING mean and standard deviation of each column."""
    x_train, x_test = np.asarray(x_train, float), np.asarray(x_test, float)
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mu) / sd, (x_test - mu) / sd


def standardize_run(x, t, s, o):
    """The lab's run query: standardize(x * s + o, t * s + o)."""
    z_train, z_test = standardize(np.asarray(x) * s + o, np.asarray(t) * s + o)
    return {"train": z_train, "test": z_test}


def gradient_descent(X, y, lr, n_steps):
    """Weights w_0 = 0, ..., w_n of plain gradient descent on mean((Xw - y)^2) / 2."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    hessian, target = X.T @ X / len(X), X.T @ y / len(X)   # gradient = H w - X^T y / N
    path = [np.zeros(X.shape[1])]
    for _ in range(int(n_steps)):
        path.append(path[-1] - lr * (hessian @ path[-1] - target))
    return np.array(path)


def steps_to_converge(path, w_star, tol):
    """First t with |w_t - w*| <= tol |w*|; len(path) - 1 when no step gets there."""
    dist = np.linalg.norm(np.asarray(path, float) - np.asarray(w_star, float), axis=1)
    hits = np.flatnonzero(dist <= tol * np.linalg.norm(w_star))
    return int(hits[0]) if hits.size else len(dist) - 1


def steps_on_problem(Z, scales, offsets, y, lr_factor, n_steps, tol):
    """The lab's run query: gradient descent on X = Z * scales + offsets at lr = factor / L."""
    X = np.asarray(Z, float) * np.asarray(scales, float) + np.asarray(offsets, float)
    lr = lr_factor / np.linalg.eigvalsh(X.T @ X / len(X)).max()
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    return {"steps": steps_to_converge(gradient_descent(X, y, lr, n_steps), w_star, tol)}


# ---------------------------------------------------------------------------------------
# Part 4: weight decay

def decays(path):
    """Weight decay applies to kernels only: not to biases, nor to batch norm's variables."""
    return str(path).rsplit("/", 1)[-1] == "kernel"


def l2(W, b, gamma, beta, lam):
    """Penalty lam * sum of squared kernel entries and its gradients, for the query's four
    variables: a kernel, a bias, and batch norm's gamma and beta."""
    params = {"dense/kernel": W, "dense/bias": b, "bn/gamma": gamma, "bn/beta": beta}
    grads = {k: 2 * lam * np.asarray(p, float) * decays(k) for k, p in params.items()}
    return {"penalty": float(sum(lam * np.sum(np.asarray(p, float) ** 2)
                                 for k, p in params.items() if decays(k))),
            "d_dense_kernel": grads["dense/kernel"],
            "rest": np.concatenate([grads["dense/bias"], grads["bn/gamma"], grads["bn/beta"]])}


# ---------------------------------------------------------------------------------------
# Part 5: inverted dropout

def dropout_run(x, rate, training, mask, dout):
    """Forward and backward of inverted dropout with a given keep-mask."""
    x, dout = np.asarray(x, float), np.asarray(dout, float)
    scale = np.asarray(mask, bool) / (1.0 - rate) if training else np.ones_like(x)
    return {"out": x * scale, "dx": dout * scale}


# ---------------------------------------------------------------------------------------
# Part 6: batch normalization

def batchnorm(x, gamma, beta, mean, var, training, dout, momentum=BN_MOMENTUM,
              eps=BN_EPSILON):
    """Forward (both modes), the moving statistics after it, and the training backward."""
    x, gamma, beta, dout = (np.asarray(a, float) for a in (x, gamma, beta, dout))
    mean, var = np.asarray(mean, float), np.asarray(var, float)
    if not training:
        return {"out": gamma * (x - mean) / np.sqrt(var + eps) + beta, "mean": mean, "var": var}
    n = len(x)
    mu = x.sum(axis=0) / n
    centered = x - mu
    v = (centered ** 2).sum(axis=0) / n
    inv_std = 1.0 / np.sqrt(v + eps)
    xhat = centered * inv_std
    # the chain rule through xhat = (x - mu) * (v + eps)^(-1/2), v and mu functions of x
    dxhat = dout * gamma
    dv = np.sum(dxhat * centered, axis=0) * -0.5 * inv_std ** 3
    dmu = -np.sum(dxhat * inv_std, axis=0) + dv * np.mean(-2.0 * centered, axis=0)
    dx = dxhat * inv_std + dv * 2.0 * centered / n + dmu / n
    return {"out": gamma * xhat + beta,
            "mean": momentum * mean + (1 - momentum) * mu,
            "var": momentum * var + (1 - momentum) * v,
            "dx": dx, "dgamma": np.sum(dout * xhat, axis=0), "dbeta": dout.sum(axis=0)}


# ---------------------------------------------------------------------------------------
# Part 7: data as a regularizer

def ten_crops(images, size):
    """(10, N, size, size, C): center, top-left, top-right, bottom-left, bottom-right, then
    the same five mirrored left-right (AlexNet's test-time crops)."""
    images = np.asarray(images)
    _, h, w = images.shape[:3]
    corners = [((h - size) // 2, (w - size) // 2), (0, 0), (0, w - size), (h - size, 0),
               (h - size, w - size)]
    rows, cols = np.arange(size), np.arange(size)
    crops = [images[:, r + rows[:, None], c + cols[None, :]] for r, c in corners]
    return np.stack(crops + [crop[:, :, ::-1] for crop in crops])


def mixup(x, y, alpha, seed):
    """Mixup with one lambda ~ Beta(alpha, alpha) drawn first, then the partner permutation."""
    rng = np.random.default_rng(seed)
    x, y = np.asarray(x, float), np.asarray(y, float)
    lam = rng.beta(alpha, alpha)
    partner = rng.permutation(len(x))
    return {"xm": lam * x + (1 - lam) * x[partner], "ym": lam * y + (1 - lam) * y[partner]}


# ---------------------------------------------------------------------------------------
# Part 9: weight averaging

def average_weights(**arrays):
    """The run query passes checkpoints as a1, b1, a2, b2, ...: the mean of the a's and b's."""
    return {"w0": np.mean([v for k, v in sorted(arrays.items()) if k[0] == "a"], axis=0),
            "w1": np.mean([v for k, v in sorted(arrays.items()) if k[0] == "b"], axis=0)}


def bn_statistics(x, W1, b1, g1, be1, W2, b2, eps=BN_EPSILON, **_):
    """Population mean and variance of each batch-norm layer's input over all of x, for
    the query's network Dense -> BN -> ReLU -> Dense -> BN, the first BN normalizing with
    its own recomputed statistics: means and variances of bn1, then of bn2, concatenated."""
    a1 = np.asarray(x, float) @ W1 + b1
    m1, v1 = a1.mean(axis=0), a1.var(axis=0)
    h = np.maximum(g1 * (a1 - m1) / np.sqrt(v1 + eps) + be1, 0.0)
    a2 = h @ W2 + b2
    return {"stats": np.concatenate([m1, v1, a2.mean(axis=0), a2.var(axis=0)])}
