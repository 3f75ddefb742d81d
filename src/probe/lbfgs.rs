//! Limited-memory BFGS for the smooth, convex objectives of linear probes.
//!
//! Probe fits are small (thousands of rows, hundreds of dimensions): each objective
//! evaluation is two matrix-vector products, so a tight Rust loop beats calling a general
//! solver per layer, fold and control task.

/// Settings of [`minimize`].
#[derive(Clone, Copy, Debug)]
pub struct LbfgsOptions {
    /// Number of correction pairs kept.
    pub memory: usize,
    /// Iteration limit.
    pub max_iter: usize,
    /// Stop when the gradient's max-norm falls below this.
    pub grad_tol: f64,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            memory: 10,
            max_iter: 500,
            grad_tol: 1e-6,
        }
    }
}

/// Result of [`minimize`].
#[derive(Clone, Debug)]
pub struct LbfgsResult {
    /// The minimiser found.
    pub x: Vec<f64>,
    /// Objective value there.
    pub value: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Whether the gradient tolerance was reached.
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `f` from `x0`. `f(x, grad)` returns the objective and writes its gradient.
pub fn minimize(mut f: impl FnMut(&[f64], &mut [f64]) -> f64, x0: Vec<f64>, opts: LbfgsOptions) -> LbfgsResult {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    for it in 0..opts.max_iter {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < opts.grad_tol {
            return LbfgsResult {
                x,
                value: fx,
                iterations: it,
                converged: true,
            };
        }
        // Two-loop recursion for the search direction d = -H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let k = s_hist.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            alpha[i] = rho[i] * dot(&s_hist[i], &d);
            d.iter_mut().zip(&y_hist[i]).for_each(|(di, yi)| *di -= alpha[i] * yi);
        }
        if k > 0 {
            let gamma = dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1]);
            d.iter_mut().for_each(|v| *v *= gamma);
        } else {
            let gn = dot(&g, &g).sqrt().max(1e-12);
            d.iter_mut().for_each(|v| *v /= gn);
        }
        for i in 0..k {
            let beta = rho[i] * dot(&y_hist[i], &d);
            d.iter_mut()
                .zip(&s_hist[i])
                .for_each(|(di, si)| *di += (alpha[i] - beta) * si);
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart with steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dot(&g, &d);
        }
        // Backtracking line search with the Armijo condition.
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&d)
                .for_each(|((xn, xi), di)| *xn = xi + step * di);
            let f_new = f(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 {
                    if s_hist.len() == opts.memory {
                        s_hist.remove(0);
                        y_hist.remove(0);
                        rho.remove(0);
                    }
                    rho.push(1.0 / sy);
                    s_hist.push(s);
                    y_hist.push(y);
                }
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                let improvement = fx - f_new;
                fx = f_new;
                accepted = true;
                if improvement.abs() <= 1e-12 * fx.abs().max(1.0) {
                    return LbfgsResult {
                        x,
                        value: fx,
                        iterations: it + 1,
                        converged: true,
                    };
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            return LbfgsResult {
                x,
                value: fx,
                iterations: it + 1,
                converged: false,
            };
        }
    }
    LbfgsResult {
        x,
        value: fx,
        iterations: opts.max_iter,
        converged: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_an_ill_conditioned_quadratic_and_rosenbrock() {
        let r = minimize(
            |x, g| {
                g[0] = 2.0 * (x[0] - 3.0);
                g[1] = 200.0 * (x[1] + 1.0);
                (x[0] - 3.0).powi(2) + 100.0 * (x[1] + 1.0).powi(2)
            },
            vec![0.0, 0.0],
            LbfgsOptions::default(),
        );
        assert!((r.x[0] - 3.0).abs() < 1e-5 && (r.x[1] + 1.0).abs() < 1e-5, "{:?}", r.x);
        let r = minimize(
            |x, g| {
                let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
                g[0] = -2.0 * a - 400.0 * x[0] * b;
                g[1] = 200.0 * b;
                a * a + 100.0 * b * b
            },
            vec![-1.2, 1.0],
            LbfgsOptions {
                max_iter: 2000,
                ..Default::default()
            },
        );
        assert!((r.x[0] - 1.0).abs() < 1e-3 && (r.x[1] - 1.0).abs() < 1e-3, "{:?}", r.x);
    }
}
